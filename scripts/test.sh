#!/usr/bin/env bash
# Runs every test: kernel unit tests, vectors from other implementations, golden CLI failures,
# and interop tests against the real peers (model_signing 1.1.1, openssl), installed first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-peers.sh
export MODELSEAL_MODEL_SIGNING="$PWD/.venv/bin/model_signing"
cargo test --workspace --locked "$@"
