#!/usr/bin/env bash
# The client's CPU cost per GiB (user + system CPU-seconds from /usr/bin/time), the stable
# measure on a shared 2-core box where wall time swings by +-40%: modelseal-init, `modelseal
# pull` and `modelseal verify s3://` beside kserve-storage 0.21.0, `aws s3 cp` and the floor, on
# a 1 GiB object in s3rver. Rounds alternate the tools (each round runs every tool once, in a
# rotated order), and each row is the median of RUNS rounds.
#
# A second table puts `modelseal sign s3://` (in place, --force) beside `verify s3://` on the
# same 256 MiB model in moto, which has the SSE-KMS that sign s3:// requires (s3rver has none);
# its CPU-s/GiB column is scaled to a GiB; user, sys and wall are per 256 MiB run. The first
# table also has modelseal-init on the same bytes signed files/blake3 and shards/sha256.
#
#   bench/cpu.sh [RUNS]      (default 5; source files in bench/data, kept for reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DATA=${BENCH_DATA:-bench/data}
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_s3_begin init kserve
mkdir -p "$DATA"
make_file "$DATA/s3-1g/model.bin" 1024
serve s3-1g
# The same bytes signed files/blake3 and shards/sha256 (64 MiB shards), each under a prefix of
# its own, for the serialization rows (issue 24).
for v in blake3 shards; do
  case $v in
    blake3) flags=(--hash-algorithm blake3) ;;
    shards) flags=(--shard-size $((64 << 20))) ;;
  esac
  "$MS" sign "$DATA/s3-1g" --key "$DATA/key.pem" --signature "$DATA/s3-1g.$v.sig" "${flags[@]}" >/dev/null
  "$AWS" s3 cp --quiet "$DATA/s3-1g/model.bin" "s3://$B/s3-1g-$v/model.bin"
  "$AWS" s3 cp --quiet "$DATA/s3-1g.$v.sig" "s3://$B/s3-1g-$v/model.sig"
done
printf 'import sys\nfrom kserve_storage import Storage\nStorage.download_files([sys.argv[1]], [sys.argv[2]])\n' >"$OUT/kserve.py"

# rounds NAME...: runs the commands named in CMD[NAME] (after BEFORE[NAME]) RUNS times each,
# alternating, and prints one row per name: median CPU-s per GiB, median user, system and wall.
declare -A CMD BEFORE
rounds() {
  local names=("$@") n r i k
  for ((r = 0; r < RUNS; r++)); do
    for ((i = 0; i < ${#names[@]}; i++)); do
      n=${names[$(((i + r) % ${#names[@]}))]}
      eval "${BEFORE[$n]:-true}"
      sync
      if ! /usr/bin/time -o "$OUT/time" -f '%U %S %e' bash -c "${CMD[$n]}" >/dev/null 2>"$OUT/stderr"; then
        echo "bench: '$n' failed:" >&2; cat "$OUT/stderr" >&2; exit 1
      fi
      printf '%s\t%s\n' "$n" "$(tail -1 "$OUT/time")" >>"$OUT/samples"
    done
  done
  for n in "${names[@]}"; do
    k=$(awk -F'\t' -v n="$n" '$1 == n {print $2}' "$OUT/samples" | awk '{print $1 + $2, $1, $2, $3}')
    med() { printf '%s\n' "$k" | awk -v c="$1" '{print $c}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    printf '| %-44s | %8.2f | %6.2f | %6.2f | %6.2f |\n' "$n" "$(awk -v c="$(med 1)" -v g="$GIB" 'BEGIN {print c / g}')" "$(med 2)" "$(med 3)" "$(med 4)"
  done
  rm -f "$OUT/samples"
}
head_row() {
  echo "| $(printf '%-44s' "$1") | CPU-s/GiB | user s | sys s | wall s |"
  echo "|----------------------------------------------|----------|--------|--------|--------|"
}

CMD[modelseal-init]="$INIT s3://$B/s3-1g $OUT/init"
BEFORE[modelseal-init]="rm -rf $OUT/init"
CMD[modelseal pull]="$MS pull s3://$B/s3-1g $OUT/pull --key $DATA/key.pub --quiet"
BEFORE[modelseal pull]="rm -rf $OUT/pull"
CMD[modelseal verify s3://]="$MS verify s3://$B/s3-1g --key $DATA/key.pub --quiet"
CMD[kserve-storage 0.21.0 (no verify)]=".venv-bench/bin/python $OUT/kserve.py s3://$B/s3-1g $OUT/kserve"
BEFORE[kserve-storage 0.21.0 (no verify)]="rm -rf $OUT/kserve; mkdir -p $OUT/kserve"
CMD[aws s3 cp (no verify)]="$AWS s3 cp --quiet --recursive s3://$B/s3-1g $OUT/aws"
BEFORE[aws s3 cp (no verify)]="rm -rf $OUT/aws"
CMD[floor: ranges to /dev/null + openssl sha256]="bench/floor.sh $OUT/floor-s3-1g.cfg $DATA/s3-1g"
CMD[modelseal-init, files/blake3]="$INIT s3://$B/s3-1g-blake3 $OUT/init"
BEFORE[modelseal-init, files/blake3]="rm -rf $OUT/init"
CMD[modelseal-init, shards/sha256 64 MiB]="$INIT s3://$B/s3-1g-shards $OUT/init"
BEFORE[modelseal-init, shards/sha256 64 MiB]="rm -rf $OUT/init"

echo
machine_line
echo "server: s3rver 3.7.1 on 127.0.0.1, 1 GiB object (in page cache); $RUNS alternating rounds, medians"
GIB=1
echo
head_row "s3rver, 1 GiB"
rounds modelseal-init "modelseal-init, files/blake3" "modelseal-init, shards/sha256 64 MiB" \
  "modelseal pull" "modelseal verify s3://" "kserve-storage 0.21.0 (no verify)" \
  "aws s3 cp (no verify)" "floor: ranges to /dev/null + openssl sha256"
stop_servers

# sign s3:// beside verify s3:// on moto (SSE-KMS). moto's server shares the cores and is far
# slower than s3rver, so compare these two rows with each other, not with the table above.
start_moto
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_ENDPOINT_URL=$MOTO_URL
"$AWS" s3 mb "s3://sign-bench" >/dev/null
KMS_KEY=$("$AWS" kms create-key --query KeyMetadata.KeyId --output text)
make_file "$DATA/s3-256m/model.bin" 256
"$AWS" s3 cp --quiet "$DATA/s3-256m/model.bin" "s3://sign-bench/m/model.bin" --sse aws:kms --sse-kms-key-id "$KMS_KEY"
"$MS" sign "s3://sign-bench/m" --key "$DATA/key.pem" --sse-kms-key-id "$KMS_KEY" --quiet >/dev/null
CMD[modelseal sign s3:// (in place, --force)]="$MS sign s3://sign-bench/m --key $DATA/key.pem --sse-kms-key-id $KMS_KEY --force --quiet"
CMD[modelseal verify s3:// (same model)]="$MS verify s3://sign-bench/m --key $DATA/key.pub --quiet"
GIB=0.25
echo
head_row "moto 5.2.5, 256 MiB, SSE-KMS (per GiB)"
rounds "modelseal sign s3:// (in place, --force)" "modelseal verify s3:// (same model)"
