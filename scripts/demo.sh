#!/usr/bin/env bash
# The main job end to end on a fresh machine, against a local S3 + KMS server (moto) this script
# starts and stops: sign a model with a key in KMS, push it to S3 encrypted with SSE-KMS, verify
# it in the bucket, pull it, place it as KServe's storage initializer would with modelseal-init,
# check it with the reference model_signing, then tamper with one object and watch every step
# refuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
scripts/setup-peers.sh
echo "demo: building release binaries (the first build takes about 10 minutes on 2 cores: the AWS SDK and aws-lc)" >&2
cargo build --release --locked -q -p modelseal -p modelseal-init
# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh
MS=$(cargo_target_dir)/release/modelseal
INIT=$(cargo_target_dir)/release/modelseal-init
REF=$PWD/.venv/bin/model_signing
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
work=$(mktemp -d)
trap 'stop_servers; rm -rf "$work"' EXIT
start_moto
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=$MOTO_URL AWS_EC2_METADATA_DISABLED=true
# moto signs sha256(digest) for MessageType=DIGEST; RAW is the documented switch for it.
export MODELSEAL_KMS_MESSAGE_TYPE=RAW
cd "$work"
step() { printf '\n== %s\n' "$*"; }

step "a bucket and an SSE-KMS key in the local S3 + KMS server ($MOTO_URL)"
sse_key=$("$ROOT/.venv/bin/python" - <<'PY'
import boto3
boto3.client("s3").create_bucket(Bucket="models")
print(boto3.client("kms").create_key(Description="model bucket SSE")["KeyMetadata"]["KeyId"])
PY
)
echo "bucket s3://models, SSE-KMS key $sse_key"

step "a signing key that never leaves KMS (cosign's awskms:// grammar); cosign.pub for verifiers"
$MS generate-key-pair --kms awskms:///alias/model-signing

step "a model: nested files and an empty file"
mkdir -p model/tokenizer
head -c 8388608 /dev/urandom > model/model.safetensors
echo '{"hidden_size": 64}' > model/config.json
printf 'hello\nworld\n' > model/tokenizer/vocab.txt
: > model/empty.bin
find model -type f | sort

step "push: sign in KMS, upload with SSE-KMS, check every object's encryption, signature last"
$MS push model s3://models/llm/v1 --key awskms:///alias/model-signing --sse-kms-key-id "$sse_key"

step "verify in the bucket (streamed and hashed, nothing kept), then pull"
$MS verify s3://models/llm/v1 --key cosign.pub
$MS pull s3://models/llm/v1 pulled --key cosign.pub

step "the pulled model and its signature pass the reference verifier, model_signing 1.1.1"
$REF verify key pulled --signature pulled/model.sig --public_key cosign.pub

step "modelseal-init, invoked as KServe invokes its storage initializer"
MODELSEAL_PUBLIC_KEY=cosign.pub $INIT s3://models/llm/v1 mnt/models
find mnt/models | sort

step "someone with write access to the bucket swaps a byte in the weights"
"$ROOT/.venv/bin/python" - <<'PY'
import boto3
s3 = boto3.client("s3")
body = bytearray(s3.get_object(Bucket="models", Key="llm/v1/model.safetensors")["Body"].read())
body[1000] ^= 1
s3.put_object(Bucket="models", Key="llm/v1/model.safetensors", Body=bytes(body))
PY
set +e
$MS verify s3://models/llm/v1 --key cosign.pub; echo "modelseal verify exit code: $?"
MODELSEAL_PUBLIC_KEY=cosign.pub $INIT s3://models/llm/v1 mnt/fresh; echo "modelseal-init exit code: $?"
set -e
echo "mnt/fresh after the refusal: $(ls -A mnt/fresh 2>/dev/null | wc -l) entries"
