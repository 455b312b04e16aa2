#!/usr/bin/env bash
# `modelseal trust update` against a TUF repository on loopback made with python-tuf
# (scripts/tuf-repo.py; Sigstore's layout: consistent snapshots, ECDSA P-256 keys, root and
# targets 2 of 3), from a cold cache (bootstrap root v1, a root rotation to v2, every role and
# both targets fetched and checked) and from a warm one (cached root v2, nothing new: root v3
# looked for, timestamp, snapshot, targets and targets fetched and checked again), beside
# python-tuf's own ngclient Updater doing the same on the same repository, in one run:
#   bench/trust-update.sh [RUNS]   (default 21; median wall milliseconds, one process per run)
# Public-good's CDN needs the network; this measures the client, not the Internet.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-21}
DATA=${BENCH_DATA:-/tmp/modelseal-bench}
source bench/lib.sh
scripts/setup-peers.sh >/dev/null
release_modelseal
PY=$PWD/.venv/bin/python
W=$DATA/trust-update
rm -rf "$W"; mkdir -p "$W"
$PY scripts/tuf-repo.py init "$W/tuf" kernel/trust/production-trusted-root.json kernel/trust/production-signing-config.json
$PY scripts/tuf-repo.py rotate-root "$W/tuf"
$PY scripts/tuf-repo.py publish "$W/tuf" kernel/trust/production-trusted-root.json kernel/trust/production-signing-config.json
$PY scripts/tuf-repo.py serve "$W/tuf" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$W/tuf/url" ] && break; sleep 0.1; done
URL=$(cat "$W/tuf/url")

ms() {
  local label=$1; shift
  local t=()
  for _ in $(seq "$RUNS"); do
    local a b
    [ -n "${COLD:-}" ] && rm -rf "$W/cache" "$W/pycache"
    a=$(date +%s%N)
    if ! "$@" >/dev/null 2>"$W/.stderr"; then echo "bench: '$label' failed" >&2; cat "$W/.stderr" >&2; exit 1; fi
    b=$(date +%s%N)
    t+=($(( (b - a) / 1000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v l="$label" '{a[NR]=$1} END {printf "| %-52s | %8.1f |\n", l, a[int((NR+1)/2)]/1000}'
}
ours() { XDG_CACHE_HOME=$W/cache "$MS" trust update --mirror "$URL" --root "$W/tuf/root.json"; }
theirs() {
  mkdir -p "$W/pycache/meta" "$W/pycache/targets"
  $PY - "$URL" "$W/pycache" "$W/tuf/root.json" <<'PYEOF'
import sys
from tuf.ngclient import Updater
url, d, root = sys.argv[1:]
u = Updater(d + "/meta", url, d + "/targets", url + "/targets/", bootstrap=open(root, "rb").read())
u.refresh()
for t in ("trusted_root.json", "signing_config.v0.2.json"):
    u.download_target(u.get_targetinfo(t))
PYEOF
}

machine_line
echo "| trust update against a loopback TUF repository | ms, median of $RUNS |"
echo "|---|---|"
COLD=1 ms "cold cache: modelseal trust update" ours
COLD=1 ms "cold cache: python-tuf 7.0.1 ngclient" theirs
ms "warm cache: modelseal trust update" ours
ms "warm cache: python-tuf 7.0.1 ngclient" theirs
