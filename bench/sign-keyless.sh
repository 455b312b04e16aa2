#!/usr/bin/env bash
# Keyless signing against a private Sigstore instance on loopback (scripts/sigstore-instance.py:
# OIDC, Fulcio, Rekor v1 and v2, TSA), beside model_signing 1.1.1 (its Python API, the same token
# kind and ClientTrustConfig) and sigstore-python 4.5.1 (`sigstore sign`, a blob) on the same
# instance and data, in one run:
#   bench/sign-keyless.sh [RUNS]   (default 5; median wall seconds, one process per run)
# Models: a small one (2 files, 1 KiB) and a 1 GiB one (one file). Each run gets a fresh token
# (every tool asks Fulcio for a certificate, Rekor for an entry; modelseal also checks the
# bundle it made before writing it). Then `sign --key` of the same models for the cost of
# the services (its cosign.key is scrypt-encrypted: opening it costs about 0.15 s), and
# `openssl dgst -sha256` of the 1 GiB file (one core's SHA-256 with SHA-NI: the hashing floor).
# The small model is also signed through the instance's Rekor v2 log (trust_config.rekor2.json:
# a hashedrekord 0.0.2 entry and the TSA timestamp it needs), by modelseal and model_signing.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DATA=${BENCH_DATA:-/tmp/modelseal-bench}
source bench/lib.sh
scripts/setup-peers.sh >/dev/null
release_modelseal
PY=$PWD/.venv/bin/python
SIGSTORE=$PWD/.venv/bin/sigstore
mkdir -p "$DATA/keyless-sign"
W=$DATA/keyless-sign
rm -rf "$W/instance"
.venv/bin/python scripts/sigstore-instance.py serve "$W/instance" >/dev/null 2>&1 &
INSTANCE=$!
trap 'kill $INSTANCE 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$W/instance/url" ] && break; sleep 0.1; done
URL=$(cat "$W/instance/url")
TC=$W/instance/trust_config.json
TC2=$W/instance/trust_config.rekor2.json
token() { curl -s "$URL/oidc/token?sub=bench&email=bench@example.com"; }

mkdir -p "$W/small" "$W/big"
head -c 512 /dev/urandom >"$W/small/weights.bin"; echo '{"a":1}' >"$W/small/config.json"
[ -s "$W/big/model.safetensors" ] || head -c $((1 << 30)) /dev/urandom >"$W/big/model.safetensors"
export COSIGN_PASSWORD=bench
[ -f "$W/cosign.key" ] || (cd "$W" && "$MS" generate-key-pair >/dev/null 2>&1)

# secs LABEL CMD...: median wall seconds of RUNS runs; the command runs in $W.
secs() {
  local label=$1; shift
  local t=()
  for _ in $(seq "$RUNS"); do
    local a b
    a=$(date +%s%N)
    if ! (cd "$W" && "$@") >/dev/null 2>"$W/.stderr"; then echo "bench: '$label' failed" >&2; cat "$W/.stderr" >&2; exit 1; fi
    b=$(date +%s%N)
    t+=($(( (b - a) / 1000000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "| %-58s | %8.3f |\n", l, a[int((NR+1)/2)]/1000}'
}
ms_sign() { "$MS" sign "$1" --identity-token "$(token)" --trust-config "$TC"; }
ms_sign_ts() { "$MS" sign "$1" --identity-token "$(token)" --trust-config "$TC" --timestamp; }
ms_sign_v2() { "$MS" sign "$1" --identity-token "$(token)" --trust-config "$TC2"; }
mls_sign_v2() { TC=$TC2 mls_sign "$1"; }
ms_blob() { "$MS" sign-blob "$1" --identity-token "$(token)" --trust-config "$TC" --bundle "$1.bundle"; }
mls_sign() {
  "$PY" -c 'import pathlib, sys
from model_signing import signing
signing.Config().use_sigstore_signer(identity_token=sys.argv[1], trust_config=pathlib.Path(sys.argv[2])).sign(sys.argv[3], sys.argv[3] + "/model.sig")' "$(token)" "$TC" "$1"
}
sp_blob() { "$SIGSTORE" --trust-config "$TC" sign --identity-token "$(token)" --overwrite --bundle "$1.bundle" "$1"; }
key_sign() { "$MS" sign "$1" --key cosign.key; }

machine_line
echo "| keyless signing on a loopback Sigstore instance | s, median of $RUNS |"
echo "|---|---|"
for m in small big; do
  secs "$m: modelseal sign (keyless)" ms_sign "$m"
  secs "$m: modelseal sign (keyless, + TSA timestamp)" ms_sign_ts "$m"
  secs "$m: model_signing 1.1.1 sign (sigstore method, API)" mls_sign "$m"
  secs "$m: modelseal sign --key (no services)" key_sign "$m"
done
secs "small: modelseal sign (keyless, Rekor v2 + TSA timestamp)" ms_sign_v2 small
secs "small: model_signing 1.1.1 sign (Rekor v2 + TSA timestamp)" mls_sign_v2 small
secs "big file: modelseal sign-blob (keyless)" ms_blob big/model.safetensors
secs "big file: sigstore-python 4.5.1 sign (blob)" sp_blob big/model.safetensors
secs "floor: openssl dgst -sha256 of the 1 GiB file" openssl dgst -sha256 big/model.safetensors
