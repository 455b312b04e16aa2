#!/usr/bin/env bash
# Builds modelseal-init as a static binary (glibc static-pie, fat LTO, stripped), so it runs in
# distroless/static or scratch. Prints the binary's path.
# --target keeps build scripts and proc-macros dynamic; only the binary is static.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh
target=$(rustc -vV | awk '/^host:/ {print $2}')
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --quiet --profile min -p modelseal-init --target "$target"
echo "$(cargo_target_dir)/$target/min/modelseal-init"
