#!/usr/bin/env bash
# Tests deploy/: strict schema validation (Kubernetes OpenAPI via kubernetes-validate; KServe and
# Istio CRDs vendored in testdata/deploy/crds), the layer properties on the manifests and on
# known-bad copies, the admission policy's CEL (cel-python), and checkov. Installs its tools into
# ./.venv-deploy (idempotent), and kubectl (for `kubectl kustomize`; Debian's kubernetes-client
# when none is on PATH). Needs the debug modelseal binary for the bucket-policy comparison
# (scripts/test.sh builds it first; found through cargo, or named by MODELSEAL_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv-deploy/bin/python -c 'import celpy, jsonschema, yaml' 2>/dev/null \
   || [ ! -x .venv-deploy/bin/kubernetes-validate ] || [ ! -x .venv-deploy/bin/checkov ]; then
  echo "test-deploy: installing kubernetes-validate, cel-python, checkov into .venv-deploy" >&2
  python3 -m venv .venv-deploy
  .venv-deploy/bin/pip install -q --disable-pip-version-check \
    'kubernetes-validate==1.37.0' 'cel-python==0.5.0' 'checkov==3.3.30' 'jsonschema==4.26.0' pyyaml
fi
if ! command -v kubectl >/dev/null; then
  echo "test-deploy: installing kubectl (Debian kubernetes-client)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
  else
    echo "test-deploy: please install kubectl (Debian: kubernetes-client)" >&2
    exit 2
  fi
fi
# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh
MODELSEAL_BIN=${MODELSEAL_BIN:-$(cargo_target_dir)/debug/modelseal}
export MODELSEAL_BIN
.venv-deploy/bin/python -m unittest discover -s tests/deploy -v
