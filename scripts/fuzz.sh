#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, seeded from testdata, and prints
# executions per second and coverage per target. For people, not CI: CI runs the deterministic
# robustness tests (kernel/tests/kernel/robustness.rs), which also replay every crash found here.
#
#   scripts/fuzz.sh 600                 # every target, 10 minutes each
#   scripts/fuzz.sh 60 bundle keys      # two targets, a minute each
#
# Needs cargo-fuzz (installed here if missing) and runs it on the stable toolchain with
# RUSTC_BOOTSTRAP=1 (libFuzzer with AddressSanitizer). Corpora live in fuzz/corpus/TARGET
# (not committed); crashes in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(bundle statement blob keys certificates sigstore policy services cosign_key manifest_path s3_headers archive storage_config bucket_policy)
fi

seed() { # seed TARGET FILE...
    local dir="fuzz/corpus/$1"; shift
    mkdir -p "$dir"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/seed-$(sha256sum "$f" | cut -c1-16)"; done
    return 0
}
json_sigs=$(find testdata -name '*.sig' -o -name '*.json' | grep -v '/trust' || true)
seed bundle $json_sigs
seed blob $json_sigs $(find testdata -name '*.sig.b64' -o -name '*.sig' | head -50)
seed statement testdata/model-signing-worked-example/payload.json
seed keys $(find testdata -name '*.pem' -o -name '*.key' -o -name '*.pub' -o -name '*.der')
seed certificates $(find testdata -name '*.pem' | grep -v private) fuzz/seeds/certificates/*
seed sigstore $(find testdata/sigstore-conformance/bundle-verify -name trusted_root.json | head -5) kernel/trust/production-trusted-root.json fuzz/seeds/sigstore/* fuzz/seeds/certificates/*
seed services fuzz/seeds/services/*
seed cosign_key fuzz/seeds/cosign_key/*
seed manifest_path fuzz/seeds/manifest_path/*
seed s3_headers fuzz/seeds/s3_headers/*
seed archive fuzz/seeds/archive/*
seed storage_config fuzz/seeds/storage_config/*
seed bucket_policy deploy/aws/*.json
seed policy examples/*.json docs/trust-policy.schema.json fuzz/seeds/policy/*

cargo fuzz build --release --fuzz-dir fuzz
report=fuzz/report.txt
: > "$report"
for t in "${targets[@]}"; do
    log="fuzz/logs/$t.log"
    mkdir -p fuzz/logs "fuzz/artifacts/$t"
    status=ok
    # -rss_limit_mb: the parsers' inputs are bounded (16 MiB signatures); 2 GiB catches leaks.
    cargo fuzz run --release --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 > "$log" 2>&1 || status=CRASH
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    corpus=$(ls "fuzz/corpus/$t" | wc -l)
    printf '%-15s %-6s %6ss %12s runs %8s exec/s  cov %6s  ft %6s  corpus %6s\n' \
        "$t" "$status" "$seconds" "${runs:-?}" "$(( ${runs:-0} / seconds ))" "${cov:-?}" "${ft:-?}" "$corpus" \
        | tee -a "$report"
done
echo "report: $report; crashes (if any) under fuzz/artifacts/"
