#!/usr/bin/env bash
# End-to-end demo on a fresh machine: make a key pair and a small model, sign it, verify it with
# modelseal and with the reference (model_signing), then tamper with it and watch both refuse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-peers.sh
cargo build --release --locked -q
MS=$PWD/target/release/modelseal
REF=$PWD/.venv/bin/model_signing
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n== %s\n' "$*"; }
step "generate a cosign key pair (password from COSIGN_PASSWORD)"
export COSIGN_PASSWORD=demo-password
$MS generate-key-pair

step "make a model: nested files, an empty file"
mkdir -p model/tokenizer
head -c 8388608 /dev/urandom > model/model.safetensors
echo '{"hidden_size": 64}' > model/config.json
printf 'hello\nworld\n' > model/tokenizer/vocab.txt
: > model/empty.bin
find model -type f | sort

step "sign it (OMS v1.0 bundle at model/model.sig)"
$MS sign model --key cosign.key

step "verify with modelseal, then with model_signing 1.1.1"
$MS verify model --key cosign.pub
$REF verify key model --signature model/model.sig --public_key cosign.pub

step "flip one byte and verify again: both refuse"
printf 'X' | dd of=model/model.safetensors bs=1 seek=1000 conv=notrunc status=none
set +e
$MS verify model --key cosign.pub; echo "modelseal exit code: $?"
$REF verify key model --signature model/model.sig --public_key cosign.pub >/dev/null 2>&1; echo "model_signing exit code: $?"
set -e

step "cosign-compatible blob signature, checked by openssl"
$MS sign-blob cosign.pub --key cosign.key --output-signature blob.sig
openssl dgst -sha256 -verify cosign.pub -signature <(openssl base64 -d -A -in blob.sig) cosign.pub
