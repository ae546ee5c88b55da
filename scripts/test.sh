#!/usr/bin/env bash
# Runs every test (installs the Debian packages the tests need when missing: scripts/ensure-packages.sh) and ends
# with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-packages.sh || exit 1
log=$(mktemp)
dotnet test ModelGen.sln -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "dotnet test exited with status $status (build or run error)."; fi
echo "$passed passed, $failed failed"
exit "$status"
