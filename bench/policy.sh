#!/usr/bin/env bash
# What a trust policy costs a verification: the same keyless model (model_signing 1.1.0's,
# testdata/model-signing-keyless) verified under the shorthand flags (a one-rule policy of one
# authority) and under a policy of 20 authorities whose matching one is last (19 other keyless
# identities, exact and regexp, before it), and first.
#   bench/policy.sh [RUNS]     (default 51; median wall milliseconds, one process per run)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-51}
DATA=${BENCH_DATA:-/tmp/modelseal-bench}
source bench/lib.sh
release_modelseal
K=testdata/model-signing-keyless/v1.1.0-sigstore
ID=stefanb@us.ibm.com
ISS=https://sigstore.verify.ibm.com/oauth2
mkdir -p "$DATA"

# policy FILE FIRST_OR_LAST: 19 keyless authorities for other identities, and the one that signed.
policy() {
  python3 - "$1" "$2" "$ID" "$ISS" <<'EOF'
import json, sys
path, where, ident, iss = sys.argv[1:]
others = []
for i in range(19):
    if i % 2:
        others.append({"name": f"team-{i}", "keyless": {"identity": f"ml-{i}@us.ibm.com", "issuer": iss}})
    else:
        others.append({"name": f"team-{i}", "keyless": {"identityRegexp": f"ci-{i}-[a-z]+@example\\.com",
                                                         "issuerRegexp": "https://token\\.example/.*"}})
signer = {"name": "signer", "keyless": {"identity": ident, "issuer": iss}}
authorities = [signer] + others if where == "first" else others + [signer]
json.dump({"apiVersion": "modelseal.dev/v1", "kind": "TrustPolicy",
           "rules": [{"name": "all", "models": ["**"], "authorities": authorities}]}, open(path, "w"))
EOF
}
policy "$DATA/policy-last.json" last
policy "$DATA/policy-first.json" first

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
  printf '%s\n' "${t[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "| %-62s | %8.2f |\n", l, a[int((NR+1)/2)]/1000}'
}

machine_line
echo "| verify of model_signing 1.1.0's keyless model (2 files) | ms, median of $RUNS |"
echo "|---|---|"
# Interleaved rounds, so drift in the machine's load lands on every variant alike.
for round in 1 2; do
  ms "round $round: --certificate-identity + --certificate-oidc-issuer" \
    $MS verify $K --certificate-identity $ID --certificate-oidc-issuer $ISS
  ms "round $round: --policy, 20 authorities, the signer's last" \
    $MS verify $K --policy "$DATA/policy-last.json"
  ms "round $round: --policy, 20 authorities, the signer's first" \
    $MS verify $K --policy "$DATA/policy-first.json"
done
