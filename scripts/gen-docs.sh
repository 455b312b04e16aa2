#!/usr/bin/env bash
# Regenerates the command reference from the CLI's own definitions: docs/cli.md (a test fails
# while it is stale), man pages and shell completions under TARGET/docs (TARGET: cargo's target
# directory). Prints where they went.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cargo-target.sh
source scripts/cargo-target.sh
cargo build --locked -q -p modelseal
bin=$(cargo_target_dir)/debug/modelseal
out=$(cargo_target_dir)/docs
mkdir -p "$out/man" "$out/completions"
"$bin" reference --markdown docs/cli.md --man "$out/man"
for shell in bash zsh fish powershell; do
  "$bin" completions "$shell" >"$out/completions/modelseal.$shell"
done
echo "docs/cli.md"
echo "$out/man"
echo "$out/completions"
