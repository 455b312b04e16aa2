# shellcheck shell=bash
# Where cargo puts binaries: asked of cargo, never assumed to be ./target (CARGO_TARGET_DIR,
# a `build.target-dir` in a cargo config, and the like are honoured). Source it, then
#   dir=$(cargo_target_dir)       # e.g. /work/main/target
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
