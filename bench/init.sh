#!/usr/bin/env bash
# KServe storage-initializer benchmark on loopback s3rver: modelseal-init (download + verify +
# place, the static binary) beside KServe's own downloader, kserve-storage 0.21.0
# (`Storage.download_files`, no verification), on the same data in one run, with peak RSS.
# Data: a 1 GiB object, a 2 GiB object (to show memory stays flat) and 8 x 128 MiB objects.
#
#   bench/init.sh [RUNS]      (default 3; source files in bench/data, kept for reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${BENCH_DATA:-bench/data}
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_s3_begin init kserve

mkdir -p "$DATA"
make_file "$DATA/s3-1g/model.bin" 1024
make_file "$DATA/s3-2g/model.bin" 2048
for i in 0 1 2 3 4 5 6 7; do make_file "$DATA/s3-8x128m/shard-0000$i.safetensors" 128; done
serve s3-1g s3-2g s3-8x128m
curl_configs "$OUT" s3-1g s3-8x128m
cat > "$OUT/kserve.py" <<'PY'
import sys
from kserve_storage import Storage
Storage.download_files([sys.argv[1]], [sys.argv[2]])
PY

echo
machine_line
echo "server: s3rver 3.7.1 on 127.0.0.1 (object data in page cache); destination: $OUT"
echo "modelseal-init: $(stat -c %s "$INIT") bytes, $(file -b "$INIT" | cut -d, -f1-2)"
echo
table_head
declare -A BYTES=([s3-1g]=$((1 << 30)) [s3-2g]=$((2 << 30)) [s3-8x128m]=$((1 << 30)))
for m in s3-1g s3-2g s3-8x128m; do
  b=${BYTES[$m]}
  MEASURE_BEFORE="rm -rf $OUT/init" measure "modelseal-init (verify + place)" "$m" "$b" "$INIT" "s3://$B/$m" "$OUT/init"
  [ $m = s3-2g ] && continue   # the 2 GiB row shows modelseal-init's memory staying flat
  MEASURE_BEFORE="rm -rf $OUT/kserve; mkdir -p $OUT/kserve" measure "kserve-storage 0.21.0 (no verify)" "$m" "$b" .venv-bench/bin/python "$OUT/kserve.py" "s3://$B/$m" "$OUT/kserve"
  MEASURE_BEFORE="rm -rf $OUT/curl; mkdir -p $OUT/curl" measure "curl to files (no verify)" "$m" "$b" curl -sf -K "$OUT/curl-$m.cfg"
  MEASURE_BEFORE="" measure "floor: 6 ranges to /dev/null + sha256" "$m" "$b" bench/floor.sh "$OUT/floor-$m.cfg" "$DATA/$m"
done
