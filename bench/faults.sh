#!/usr/bin/env bash
# What the retries cost: modelseal-init fetching, verifying and placing a 1 GiB object from
# loopback s3rver, clean and with a fault every ~100 MiB (every 17th 6 MiB range: 10 faults per
# run), beside the floor row. The faults come from testkit's proxy (`fault-proxy`), which opens a
# fresh upstream connection per request, so the fair baseline is the clean run through the same
# proxy; the direct run is shown too.
#
#   bench/faults.sh [RUNS]      (default 3; source files in bench/data, kept for reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${BENCH_DATA:-bench/data}
# shellcheck source=bench/lib.sh
source bench/lib.sh
PROXY_PID=
stop_proxy() { [ -z "$PROXY_PID" ] || { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null || true; }; PROXY_PID=; }
BENCH_AT_EXIT=stop_proxy
bench_s3_begin init proxy

mkdir -p "$DATA"
make_file "$DATA/s3-1g/model.bin" 1024
serve s3-1g

# start_proxy FAULT: a proxy in front of s3rver; sets PROXY_URL.
start_proxy() {
  stop_proxy
  "$PROXY" "$S3RVER_URL" "$1" s3-1g/model.bin 17 16 "$OUT/stats" >"$OUT/proxy-url" &
  PROXY_PID=$!
  for _ in $(seq 50); do [ -s "$OUT/proxy-url" ] && break; sleep 0.1; done
  PROXY_URL=$(head -1 "$OUT/proxy-url")
}
# proxy_note FAULT: requests and faults per run, as the proxy counted them; a proxy that saw
# nothing means the runs went around it, and the figures would be a lie.
proxy_note() {
  awk -v r="$RUNS" -v f="$1" '{ if ($1 == 0) exit 1; printf "%s: %.0f requests and %.1f faults per run\n", f, $1 / r, $2 / r }' "$OUT/stats" \
    || { echo "bench: no request went through the proxy" >&2; exit 1; }
}

echo
machine_line
echo "server: s3rver 3.7.1 on 127.0.0.1; modelseal-init defaults (6 MiB ranges, 6 in flight, 5 attempts)"
echo
table_head
b=$((1 << 30))
before="rm -rf $OUT/init"
AWS_ENDPOINT_URL=$S3RVER_URL MEASURE_BEFORE=$before \
  measure "modelseal-init, direct" s3-1g "$b" "$INIT" "s3://$B/s3-1g" "$OUT/init"
notes=()
for fault in none reset 503; do
  start_proxy "$fault"
  AWS_ENDPOINT_URL=$PROXY_URL MEASURE_BEFORE=$before \
    measure "modelseal-init via proxy, faults: $fault" s3-1g "$b" "$INIT" "s3://$B/s3-1g" "$OUT/init"
  sleep 0.3
  note=$(proxy_note "$fault") || exit 1
  notes+=("$note")
  stop_proxy
done
MEASURE_BEFORE="" measure "floor: 6 ranges to /dev/null + sha256" s3-1g "$b" bench/floor.sh "$OUT/floor-s3-1g.cfg" "$DATA/s3-1g"
echo
printf '%s\n' "${notes[@]}"
echo "reset: the connection is reset after 1 MiB of the range's body; the range resumes from there."
echo "503: SlowDown without Retry-After; the range is retried after the backoff (100 ms, then 200 ms)."
