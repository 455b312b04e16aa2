#!/usr/bin/env bash
# Local verification benchmark: modelseal beside model_signing and openssl on the same cached data,
# in one run. Prints one table: tool, data, median wall seconds of N runs, GB/s, peak RSS.
#
#   bench/local.sh [RUNS]      (default 3; data goes to bench/data, about 5 GiB, kept for reruns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${BENCH_DATA:-bench/data}
# shellcheck source=bench/lib.sh
source bench/lib.sh
scripts/setup-peers.sh
cargo build --release --locked -q
MS=$(cargo_target_dir)/release/modelseal
REF=.venv/bin/model_signing
mkdir -p "$DATA"

make_file "$DATA/one-1g/model.bin" 1024
make_file "$DATA/one-2g/model.bin" 2048
for i in 0 1 2 3 4 5 6 7; do make_file "$DATA/dir-8x256m/shard-0000$i.safetensors" 256; done
bench_key
declare -A BYTES=([one-1g]=$((1 << 30)) [one-2g]=$((2 << 30)) [dir-8x256m]=$((2 << 30)))

# Signatures live outside the models so every tool sees the same files.
for m in one-1g one-2g dir-8x256m; do
  $MS sign "$DATA/$m" --key "$DATA/key.pem" --signature "$DATA/$m.sig" >/dev/null
done
cat "$DATA"/one-1g/* "$DATA"/one-2g/* "$DATA"/dir-8x256m/* >/dev/null   # warm the page cache

echo
machine_line
echo
table_head
for m in one-1g one-2g dir-8x256m; do
  b=${BYTES[$m]}
  measure "modelseal verify" "$m" "$b" $MS verify "$DATA/$m" --key "$DATA/key.pub" --signature "$DATA/$m.sig"
  [ $m = dir-8x256m ] && measure "modelseal verify --threads 1" "$m" "$b" $MS verify "$DATA/$m" --key "$DATA/key.pub" --signature "$DATA/$m.sig" --threads 1
  measure "model_signing 1.1.1 verify key" "$m" "$b" $REF verify key "$DATA/$m" --signature "$DATA/$m.sig" --public_key "$DATA/key.pub"
  # shellcheck disable=SC2046
  measure "openssl dgst -sha256 (hash only)" "$m" "$b" openssl dgst -sha256 $(ls "$DATA/$m"/* | sort)
done
echo
sha256_limit
