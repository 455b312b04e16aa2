#!/usr/bin/env bash
# Local verification benchmark: modelseal beside model_signing and openssl on the same cached data,
# in one run. Prints one table: tool, data, median wall seconds of N runs, peak RSS.
#
#   bench/local.sh [RUNS]      (default 3; data goes to bench/data, about 5 GiB, kept for reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${BENCH_DATA:-bench/data}
scripts/setup-peers.sh
cargo build --release --locked -q
MS=target/release/modelseal
REF=.venv/bin/model_signing
mkdir -p "$DATA"

make_file() { # path MiB
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = $(( $2 * 1048576 )) ] && return
  # Deterministic pseudo-random bytes (AES-CTR keystream); openssl stops on SIGPIPE by design.
  { openssl enc -aes-128-ctr -pass pass:modelseal-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } \
    | head -c $(( $2 * 1048576 )) >"$1"
}
mkdir -p "$DATA/one-1g" "$DATA/one-2g" "$DATA/dir-8x256m"
make_file "$DATA/one-1g/model.bin" 1024
make_file "$DATA/one-2g/model.bin" 2048
for i in 0 1 2 3 4 5 6 7; do make_file "$DATA/dir-8x256m/shard-0000$i.safetensors" 256; done
[ -f "$DATA/key.pem" ] || { openssl ecparam -name prime256v1 -genkey -noout -out "$DATA/key.pem"; openssl pkey -in "$DATA/key.pem" -pubout -out "$DATA/key.pub"; }

# Signatures live outside the models so every tool sees the same files.
for m in one-1g one-2g dir-8x256m; do
  $MS sign "$DATA/$m" --key "$DATA/key.pem" --signature "$DATA/$m.sig" >/dev/null
done
cat "$DATA"/one-1g/* "$DATA"/one-2g/* "$DATA"/dir-8x256m/* >/dev/null   # warm the page cache

# measure LABEL DATA CMD...: runs CMD $RUNS times, prints median wall and max peak RSS.
measure() {
  local label=$1 data=$2; shift 2
  local walls=() rss=0 out
  for _ in $(seq "$RUNS"); do
    if ! /usr/bin/time -o "$DATA/.time" -f '%e %M' "$@" >/dev/null 2>"$DATA/.stderr"; then
      echo "bench: '$label' failed on $data:" >&2; cat "$DATA/.stderr" >&2; exit 1
    fi
    out=$(tail -1 "$DATA/.time")
    walls+=("${out% *}")
    [ "${out#* }" -gt "$rss" ] && rss=${out#* }
  done
  local median
  median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '| %-34s | %-11s | %6.2f | %7.1f |\n' "$label" "$data" "$median" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
}

files() { ls "$DATA/$1"/* | sort; }
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), sha_ni: $(grep -q sha_ni /proc/cpuinfo && echo yes || echo no); runs: $RUNS (median)"
echo
echo "| tool                               | data        | wall s | RSS MiB |"
echo "|------------------------------------|-------------|--------|---------|"
for m in one-1g one-2g dir-8x256m; do
  measure "modelseal verify" "$m" $MS verify "$DATA/$m" --key "$DATA/key.pub" --signature "$DATA/$m.sig"
  [ $m = dir-8x256m ] && measure "modelseal verify --threads 1" "$m" $MS verify "$DATA/$m" --key "$DATA/key.pub" --signature "$DATA/$m.sig" --threads 1
  measure "model_signing 1.1.1 verify key" "$m" $REF verify key "$DATA/$m" --signature "$DATA/$m.sig" --public_key "$DATA/key.pub"
  # shellcheck disable=SC2046
  measure "openssl dgst -sha256 (hash only)" "$m" openssl dgst -sha256 $(files $m)
done
echo
limit=$(openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null | awk '/^sha256/ {sub("k","",$2); printf "%.0f", $2 / 1000}')
echo "SHA-256 limit of one core here (openssl speed -evp sha256, 1 MiB blocks): ${limit} MB/s"
echo "2 GiB = 2147 MB; 1 GiB = 1074 MB. GB/s of a row = MB / wall s / 1000."
