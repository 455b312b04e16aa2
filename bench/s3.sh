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
scripts/setup-peers.sh
[ -x .venv-bench/bin/aws ] || { python3 -m venv .venv-bench && .venv-bench/bin/pip install -q --disable-pip-version-check awscli; }
cargo build --release --locked -q
MS=$PWD/target/release/modelseal
AWS=$PWD/.venv-bench/bin/aws
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
trap 'stop_servers; rm -rf "$OUT"' EXIT
OUT=$(mktemp -d)
start_s3rver
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$S3RVER_URL AWS_EC2_METADATA_DISABLED=true
B=$S3RVER_BUCKET

make_file "$DATA/s3-1g/model.bin" 1024
for i in 0 1 2 3 4 5 6 7; do make_file "$DATA/s3-8x128m/shard-0000$i.safetensors" 128; done
[ -f "$DATA/key.pem" ] || { openssl ecparam -name prime256v1 -genkey -noout -out "$DATA/key.pem"; openssl pkey -in "$DATA/key.pem" -pubout -out "$DATA/key.pub"; }
for m in s3-1g s3-8x128m; do
  $MS sign "$DATA/$m" --key "$DATA/key.pem" --signature "$DATA/$m.sig" >/dev/null
  $AWS s3 cp --quiet --recursive "$DATA/$m" "s3://$B/$m"
  $AWS s3 cp --quiet "$DATA/$m.sig" "s3://$B/$m/model.sig"
done
cat "$S3RVER_DIR"/"$B"/* >/dev/null 2>&1 || true

# curl fetches every object of a model in one process, one after another (a config file each).
for m in s3-1g s3-8x128m; do
  for f in $(cd "$DATA/$m" && ls); do printf 'url = "%s"\noutput = "%s"\n' "$S3RVER_URL/$B/$m/$f" "$OUT/curl/$f"; done >"$OUT/curl-$m.cfg"
done

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
done
