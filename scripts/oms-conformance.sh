#!/usr/bin/env bash
# Runs the public OMS conformance suite (sampras343/model-signing-conformance at 114b0f7) against
# modelseal, through scripts/oms-conformance-adapter, and against model_signing 1.1.1 (the
# suite's own reference adapter, selftest-client) on the same machine, and prints both counts.
#
#   OMS_CONFORMANCE_SUITE=DIR  a git clone (or bare repository) of
#                              github.com/sampras343/model-signing-conformance
#   OMS_SPEC_REPO=DIR          a git clone of github.com/sampras343/model-signing-spec, whose
#                              oms-schemas package the suite imports (not published on PyPI)
#
# The suite and the schemas package are not part of this repository: they are read from those
# clones at the pinned commits (git archive), never from a working tree that may have moved.
# Tests that need the live Sigstore network (an OIDC token) are skipped by the suite itself.
# Exit 0 when modelseal fails no test; 1 when it fails one; 3 when the suite is not available.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_COMMIT=114b0f72da8d7502cfdc3c83003c9d2d4a30682e
SPEC_COMMIT=ca958ac7de76a9cd4aabf37e015ccd210f3ff469

if [ -z "${OMS_CONFORMANCE_SUITE:-}" ] || [ -z "${OMS_SPEC_REPO:-}" ]; then
  echo "oms-conformance: NOT RUN: set OMS_CONFORMANCE_SUITE and OMS_SPEC_REPO to git clones of" >&2
  echo "  sampras343/model-signing-conformance and sampras343/model-signing-spec" >&2
  exit 3
fi

scripts/setup-peers.sh
modelseal=${MODELSEAL_BIN:-}
if [ -z "$modelseal" ]; then
  cargo build --locked --quiet --bin modelseal
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  modelseal="$target_dir/debug/modelseal"
fi

root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$OMS_CONFORMANCE_SUITE" archive "$SUITE_COMMIT" | tar -x -C "$work" --one-top-level=suite
git -C "$OMS_SPEC_REPO" archive "$SPEC_COMMIT" | tar -x -C "$work" --one-top-level=spec

py=.venv/bin/python
if ! $py -c 'import pytest, pytest_jsonreport, referencing, oms_schemas' 2>/dev/null; then
  echo "oms-conformance: installing pytest, pytest-json-report and oms-schemas into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check 'pytest==8.4.2' 'pytest-json-report==1.5.0' 'referencing==0.37.0'
fi
# The schemas package at the pinned commit, always (it is small and installs offline).
.venv/bin/pip install -q --disable-pip-version-check --no-deps --force-reinstall "$work/spec"

run() { # name entrypoint -> prints "passed failed skipped" and keeps the report
  local name=$1 entrypoint=$2
  (cd "$work/suite" && "$root/$py" -m pytest test/ -q -p no:cacheprovider \
    --entrypoint="$entrypoint" --json-report --json-report-file="$work/$name.json" \
    >"$work/$name.log" 2>&1) || true
  "$py" - "$work/$name.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
counts = {"passed": 0, "failed": 0, "skipped": 0}
for t in report["tests"]:
    outcome = t["outcome"]
    counts["failed" if outcome in ("failed", "error", "xfailed") else outcome] += 1
print(counts["passed"], counts["failed"], counts["skipped"])
for t in report["tests"]:
    if t["outcome"] not in ("passed", "skipped"):
        print("  FAILED " + t["nodeid"].split("::", 1)[-1], file=sys.stderr)
EOF
}

echo "== modelseal ($modelseal)"
read -r ours_pass ours_fail ours_skip < <(MODELSEAL_BIN="$modelseal" run modelseal "$PWD/scripts/oms-conformance-adapter")
echo "== model_signing 1.1.1 (the suite's selftest-client)"
# selftest-client runs `$PYTHON_BIN -m model_signing`: the venv's model_signing 1.1.1.
read -r ref_pass ref_fail ref_skip < <(PYTHON_BIN="$root/$py" run model_signing "$work/suite/selftest-client")

total=$((ours_pass + ours_fail + ours_skip))
printf '\nOMS conformance suite %s, %d tests (%d skipped: they need the live Sigstore network)\n' \
  "$SUITE_COMMIT" "$total" "$ours_skip"
printf '%-24s %7s %7s\n' client passed failed
printf '%-24s %7d %7d\n' modelseal "$ours_pass" "$ours_fail" "model_signing 1.1.1" "$ref_pass" "$ref_fail"
[ "$ours_fail" -eq 0 ]
