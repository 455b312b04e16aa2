#!/usr/bin/env bash
# This machine's floor for any verifying downloader: a model's bytes fetched as 6 parallel 6 MiB
# ranged GETs that nothing processes, while openssl hashes the same bytes (from the page cache)
# at the same time, on the same cores as the server. No writing, no fsync, no verification.
#
#   bench/floor.sh CURL_CONFIG MODEL_DIR     (the config comes from floor_configs in lib.sh)
set -euo pipefail
curl -s -Z --parallel-max 6 -K "$1" &
openssl dgst -sha256 "$2"/* >/dev/null
wait $!
