#!/usr/bin/env bash
# Installs the peer tools the tests and benchmarks run against, on a fresh machine:
#   openssl and curl (Debian); model_signing 1.1.1 + pyopenssl and moto[server] 5.2.5 (PyPI) in
#   ./.venv; model_signing 0.2.0 in ./.venv-legacy; s3rver 3.7.1 (npm) in ./.tools.
# Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup-peers: please install: $*" >&2
    exit 2
  fi
}

command -v openssl >/dev/null || apt_install openssl
command -v curl >/dev/null || apt_install curl
command -v python3 >/dev/null || apt_install python3 python3-venv

if ! .venv/bin/model_signing --help >/dev/null 2>&1; then
  echo "setup-peers: installing model-signing==1.1.1 into .venv" >&2
  python3 -m venv .venv || { apt_install python3-venv && python3 -m venv .venv; }
  # model_signing 1.1.1 imports pyOpenSSL without declaring it.
  .venv/bin/pip install -q --disable-pip-version-check 'model-signing==1.1.1' pyopenssl
fi

# model_signing 0.2.0 signs the deprecated Digests/v0.1 predicate verifiers still accept
# (scripts/model-signing-0.2.py); its protobuf specs are that era's.
if ! .venv-legacy/bin/python -c 'import model_signing.signing.in_toto_signature, model_signing.signature.pki' 2>/dev/null; then
  echo "setup-peers: installing model-signing==0.2.0 into .venv-legacy" >&2
  python3 -m venv .venv-legacy
  .venv-legacy/bin/pip install -q --disable-pip-version-check 'model-signing==0.2.0' 'sigstore-protobuf-specs==0.3.2' pyopenssl
fi

if [ ! -x .venv/bin/moto_server ]; then
  echo "setup-peers: installing moto[server]==5.2.5 into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check 'moto[server]==5.2.5'
fi

# The private Sigstore instance (scripts/sigstore-instance.py) mints tokens with PyJWT and
# builds RFC 3161 replies with asn1crypto; sigstore-python (its `sigstore` CLI) comes with
# model_signing, named here so its version is pinned.
if ! .venv/bin/python -c 'import jwt, asn1crypto' 2>/dev/null || ! .venv/bin/sigstore --version >/dev/null 2>&1; then
  echo "setup-peers: installing sigstore==4.5.1, PyJWT and asn1crypto into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check 'sigstore==4.5.1' 'pyjwt>=2.8' 'asn1crypto>=1.5'
fi

# The JSON contract test judges --json output with the reference JSON Schema validator.
if ! .venv/bin/python -c 'import jsonschema' 2>/dev/null; then
  echo "setup-peers: installing jsonschema==4.26.0 into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check 'jsonschema==4.26.0'
fi

if [ ! -x .tools/node_modules/.bin/s3rver ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  echo "setup-peers: installing s3rver@3.7.1 into .tools" >&2
  mkdir -p .tools && (cd .tools && npm install --silent --no-audit --no-fund s3rver@3.7.1 >/dev/null)
fi
