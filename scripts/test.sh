#!/usr/bin/env bash
# Runs every test: kernel unit tests, vectors from other implementations, golden CLI failures,
# interop tests against the real peers (model_signing 1.1.1, openssl), and S3/KMS tests against
# loopback servers (moto, s3rver) that this script installs, starts and stops, and the static
# modelseal-init in an empty chroot; then the deploy/ package (scripts/test-deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-peers.sh
# Formatting and lints first: a warning is an error here.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The static init binary, run by the chroot test (a fat-LTO build: several minutes when cold).
MODELSEAL_INIT_STATIC="$(scripts/build-init.sh)"
export MODELSEAL_INIT_STATIC
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
trap stop_servers EXIT
start_moto
start_s3rver
export MODELSEAL_MODEL_SIGNING="$PWD/.venv/bin/model_signing"
export MODELSEAL_MODEL_SIGNING_LEGACY="$PWD/.venv-legacy/bin/python"
export MODELSEAL_TEST_MOTO="$MOTO_URL"
export MODELSEAL_TEST_S3RVER="$S3RVER_URL"
export MODELSEAL_TEST_S3RVER_BUCKET="$S3RVER_BUCKET"
status=0
# Most tests wait (on loopback servers, the peers, timeouts under test), so twice as many test
# threads as cores: the suite measured 98.7 s with the default (one per core) and 68 s with
# this on 2 cores (CONTRIBUTING.md). RUST_TEST_THREADS set by the caller wins.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-$((2 * $(nproc)))}"
cargo test --workspace --locked --no-fail-fast "$@" || status=$?
# deploy/ manifests, admission CEL, checkov (Python; after cargo so the debug modelseal exists).
scripts/test-deploy.sh || status=$?
# The public OMS conformance suite, beside model_signing on the same run. It is not in this
# repository (its code is not ours to copy): it runs from clones named by OMS_CONFORMANCE_SUITE
# and OMS_SPEC_REPO, and says NOT RUN without them (exit 3), which does not fail this script.
oms=0
scripts/oms-conformance.sh || oms=$?
case $oms in
  0|3) ;;
  *) status=$oms ;;
esac
exit "$status"
