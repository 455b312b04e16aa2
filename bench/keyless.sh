#!/usr/bin/env bash
# Keyless verification beside key-based, and beside sigstore-python, on the same bundles:
#   bench/keyless.sh [RUNS]     (default 21; medians in milliseconds, one process per run)
# 1. verify-blob on a conformance case (keyless, Rekor v1 SET + inclusion proof + SCT), the same
#    file's key-based case with a Rekor entry and an RFC 3161 timestamp, and sigstore-python 4.5.1
#    `verify identity --offline` on the keyless case.
# 2. verify of model_signing's keyless model (testdata/model-signing-keyless, 2 small files)
#    beside a key-signed model of the same files.
# 3. verify of a 1 GiB model signed with a key, beside the same model signed keyless through a
#    private Sigstore instance (scripts/keyless-instance.py: its own Fulcio CA, CT log and
#    Rekor-like log, made with Python's cryptography; public Sigstore needs the network).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-21}
DATA=${BENCH_DATA:-/tmp/modelseal-bench}
source bench/lib.sh
scripts/setup-peers.sh >/dev/null
release_modelseal
C=testdata/sigstore-conformance/bundle-verify
ID=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
ISS=https://token.actions.githubusercontent.com

# ms LABEL CMD...: median wall milliseconds of RUNS runs (a failing run stops the benchmark).
ms() {
  local label=$1; shift
  local t=()
  for _ in $(seq "$RUNS"); do
    local a b
    a=$(date +%s%N)
    if ! "$@" >/dev/null 2>"$DATA/.stderr"; then echo "bench: '$label' failed" >&2; cat "$DATA/.stderr" >&2; exit 1; fi
    b=$(date +%s%N)
    t+=($(( (b - a) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "| %-58s | %8.1f |\n", l, a[int((NR+1)/2)]/1000}'
}

mkdir -p "$DATA"
echo "## verify-blob (milliseconds, median of $RUNS)"
echo "| command | ms |"
echo "|---|---|"
ms "modelseal verify-blob, keyless (happy-path-v0.3)" \
  $MS verify-blob $C/a.txt --bundle $C/happy-path-v0.3/bundle.sigstore.json --certificate-identity "$ID" --certificate-oidc-issuer $ISS
ms "sigstore-python 4.5.1 verify identity --offline (same)" \
  .venv/bin/sigstore verify identity --offline --bundle $C/happy-path-v0.3/bundle.sigstore.json --cert-identity "$ID" --cert-oidc-issuer $ISS $C/a.txt
ms "modelseal verify-blob --key, Rekor entry + TSA (managed-key)" \
  $MS verify-blob $C/a.txt --bundle $C/managed-key-happy-path/bundle.sigstore.json --key $C/managed-key-happy-path/key.pub
ms "modelseal verify-blob --key, no log entry (cosign-generated)" \
  $MS verify-blob testdata/cosign-generated/model.bin --bundle testdata/cosign-generated/model.bin.sigstore.json --key testdata/cosign-generated/sigstore-rs.pub

echo
echo "## verify of a small model (milliseconds, median of $RUNS)"
K=testdata/model-signing-keyless/v1.1.0-sigstore
small="$DATA/small-keyed"
rm -rf "$small"; mkdir -p "$small"; cp $K/signme-1 $K/signme-2 "$small/"
COSIGN_PASSWORD= $MS generate-key-pair --output-key-prefix "$DATA/bench" --force >/dev/null 2>&1
COSIGN_PASSWORD= $MS sign "$small" --key "$DATA/bench.key" >/dev/null
echo "| command | ms |"
echo "|---|---|"
ms "modelseal verify, keyless (model_signing 1.1.0 sigstore model)" \
  $MS verify $K --certificate-identity stefanb@us.ibm.com --certificate-oidc-issuer https://sigstore.verify.ibm.com/oauth2
ms "modelseal verify --key (same two files, key-signed)" \
  $MS verify "$small" --key "$DATA/bench.pub"

echo
echo "## verify of a 1 GiB model (seconds, median of 3)"
big="$DATA/keyless-1g"
make_file "$big/weights.bin" 1024
COSIGN_PASSWORD= $MS sign "$big" --key "$DATA/bench.key" --signature "$DATA/big-keyed.sig" >/dev/null
.venv/bin/python scripts/keyless-instance.py "$DATA/big-keyed.sig" "$DATA/big-keyless.sig" \
  "$DATA/big-root.json" ml@models.example https://issuer.example
RUNS=3
table_head
measure "modelseal verify --key" 1GiB $((1024*1048576)) \
  $MS verify "$big" --key "$DATA/bench.pub" --signature "$DATA/big-keyed.sig"
measure "modelseal verify, keyless (private instance)" 1GiB $((1024*1048576)) \
  $MS verify "$big" --signature "$DATA/big-keyless.sig" --trusted-root "$DATA/big-root.json" \
  --certificate-identity ml@models.example --certificate-oidc-issuer https://issuer.example
measure "openssl dgst -sha256 (floor)" 1GiB $((1024*1048576)) openssl dgst -sha256 "$big/weights.bin"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
