#!/usr/bin/env bash
# How long `modelseal audit --shallow` takes over a bucket of 10,000 objects on moto (loopback):
# 100 signed models of 99 files + model.sig each, all SSE-KMS. Prints the wall time of the shallow
# audit (32 HEADs in flight, then each model's signature and listing), of `aws s3api
# list-objects-v2` over the same bucket (one listing), and of a HEAD of every object with curl,
# 32 in flight: the floor of any audit that reads each object's encryption, which only HEAD
# tells (moto answers 170-420 HEADs a second on the VMs measured so far, at any concurrency).
# Then the same 10,000 objects on s3rver, which records no SSE (so every object is a not_sse_kms
# finding there) and lacks the bucket-setting calls: the audit and curl's HEAD floor once more,
# on a second server (about 590 HEADs a second here).
#   bench/audit.sh [MODELS]    (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${1:-100}
# shellcheck source=bench/lib.sh
source bench/lib.sh
scripts/setup-peers.sh
bench_venv
release_modelseal
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
WORK=$(mktemp -d)
trap 'stop_servers; rm -rf "$WORK"' EXIT
start_moto
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=$MOTO_URL
AWS=.venv-bench/bin/aws
$AWS s3api create-bucket --bucket audit >/dev/null
KEY=$($AWS kms create-key --query KeyMetadata.KeyId --output text)
cp testdata/model-signing/dir-basic/keys/signer.key.pem "$WORK/signer.key"
cp testdata/model-signing/dir-basic/keys/signer.pub.pem "$WORK/signer.pub"
mkdir -p "$WORK/m"
for f in $(seq 1 99); do echo "file $f" > "$WORK/m/f$f.txt"; done
for i in $(seq 1 "$MODELS"); do
  "$MS" push "$WORK/m" "s3://audit/models/m$i" --key "$WORK/signer.key" --sse-kms-key-id "$KEY" >/dev/null
done
objects=$($AWS s3api list-objects-v2 --bucket audit --output json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Contents"]))')
t0=$(date +%s.%N)
"$MS" audit s3://audit --key "$WORK/signer.pub" --sse-kms-key-id "$KEY" --shallow --json > "$WORK/audit.json" || true
t1=$(date +%s.%N)
$AWS s3api list-objects-v2 --bucket audit --query 'Contents[].Key' --output text > "$WORK/keys"
t2=$(date +%s.%N)
tr '\t' '\n' < "$WORK/keys" \
  | while read -r k; do printf 'url = "%s/audit/%s"\noutput = "/dev/null"\n' "$MOTO_URL" "$k"; done > "$WORK/heads.cfg"
t3=$(date +%s.%N)
curl -s -I -Z --parallel-max 32 -K "$WORK/heads.cfg" > /dev/null 2>&1
t4=$(date +%s.%N)
models=$(python3 -c "import json,sys; r=json.load(open('$WORK/audit.json')); print(sum(m['verified'] for m in r['models']), len(r['findings']), sorted({f['kind'] for f in r['findings']}))")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); moto on 127.0.0.1"
echo "objects: $objects; verified models, findings, kinds: $models"
printf '| %-44s | %8s |\n' "tool" "wall s" "$(printf -- '-%.0s' {1..44})" "--------"
printf '| %-44s | %8.2f |\n' "modelseal audit --shallow (HEAD every object)" "$(echo "$t1 - $t0" | bc)"
printf '| %-44s | %8.2f |\n' "aws s3api list-objects-v2 (the listing alone)" "$(echo "$t2 - $t1" | bc)"
printf '| %-44s | %8.2f |\n' "curl -I every object, 32 in flight (floor)" "$(echo "$t4 - $t3" | bc)"

# The same bucket layout on s3rver: a signed model copied MODELS times, uploaded by the aws CLI.
start_s3rver
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
"$MS" sign "$WORK/m" --key "$WORK/signer.key" >/dev/null
mkdir -p "$WORK/tree"
for i in $(seq 1 "$MODELS"); do cp -r "$WORK/m" "$WORK/tree/m$i"; done
AWS_ENDPOINT_URL=$S3RVER_URL $AWS s3 cp --recursive --only-show-errors "$WORK/tree" "s3://$S3RVER_BUCKET/models/"
t0=$(date +%s.%N)
AWS_ENDPOINT_URL=$S3RVER_URL "$MS" audit "s3://$S3RVER_BUCKET" --key "$WORK/signer.pub" --shallow --json > "$WORK/audit-s3rver.json" || true
t1=$(date +%s.%N)
AWS_ENDPOINT_URL=$S3RVER_URL $AWS s3api list-objects-v2 --bucket "$S3RVER_BUCKET" --query 'Contents[].Key' --output text > "$WORK/keys"
tr '\t' '\n' < "$WORK/keys" \
  | while read -r k; do printf 'url = "%s/%s/%s"\noutput = "/dev/null"\n' "$S3RVER_URL" "$S3RVER_BUCKET" "$k"; done > "$WORK/heads.cfg"
t2=$(date +%s.%N)
curl -s -I -Z --parallel-max 32 -K "$WORK/heads.cfg" > /dev/null 2>&1
t3=$(date +%s.%N)
summary=$(python3 -c "import json,collections; r=json.load(open('$WORK/audit-s3rver.json')); print(r['objects'], sum(m['verified'] for m in r['models']), dict(collections.Counter(f['kind'] for f in r['findings'])))")
echo "s3rver: objects, verified models, findings by kind: $summary"
printf '| %-44s | %8.2f |\n' "s3rver: modelseal audit --shallow" "$(echo "$t1 - $t0" | bc)"
printf '| %-44s | %8.2f |\n' "s3rver: curl -I every object, 32 in flight" "$(echo "$t3 - $t2" | bc)"
