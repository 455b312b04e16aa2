#!/usr/bin/env bash
# S3 download benchmark on loopback s3rver: `modelseal pull` (download + hash + verify + place)
# and `modelseal verify s3://` beside `aws s3 cp --recursive` (PyPI awscli) and plain curl of the
# same bytes, in one run, with peak RSS. Data: a 1 GiB object and 8 x 128 MiB objects.
#
#   bench/s3.sh [RUNS]      (default 3; source files in bench/data, kept for reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${BENCH_DATA:-bench/data}
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_s3_begin

mkdir -p "$DATA"
make_file "$DATA/s3-1g/model.bin" 1024
for i in 0 1 2 3 4 5 6 7; do make_file "$DATA/s3-8x128m/shard-0000$i.safetensors" 128; done
serve s3-1g s3-8x128m
cat "$S3RVER_DIR"/"$B"/* >/dev/null 2>&1 || true
curl_configs "$OUT" s3-1g s3-8x128m

echo
machine_line
echo "server: s3rver 3.7.1 on 127.0.0.1 (object data in page cache); destination: $OUT"
echo
table_head
declare -A BYTES=([s3-1g]=$((1 << 30)) [s3-8x128m]=$((1 << 30)))
for m in s3-1g s3-8x128m; do
  b=${BYTES[$m]}
  MEASURE_BEFORE="rm -rf $OUT/pull" measure "modelseal pull (verify + place)" "$m" "$b" $MS pull "s3://$B/$m" "$OUT/pull" --key "$DATA/key.pub"
  MEASURE_BEFORE="" measure "modelseal verify s3:// (keeps nothing)" "$m" "$b" $MS verify "s3://$B/$m" --key "$DATA/key.pub"
  MEASURE_BEFORE="rm -rf $OUT/aws" measure "aws s3 cp --recursive (no verify)" "$m" "$b" $AWS s3 cp --quiet --recursive "s3://$B/$m" "$OUT/aws"
  MEASURE_BEFORE="rm -rf $OUT/curl; mkdir -p $OUT/curl" measure "curl (no verify)" "$m" "$b" curl -sf -K "$OUT/curl-$m.cfg"
  MEASURE_BEFORE="" measure "floor: 6 ranges to /dev/null + sha256" "$m" "$b" bench/floor.sh "$OUT/floor-$m.cfg" "$DATA/$m"
done
