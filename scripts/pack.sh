#!/usr/bin/env bash
# Packs the NuGet packages ModelGen (runtime + source generator) and ModelGen.Gpu (the GPU backend) into
# artifacts/packages (or the folder given as $1). Extra arguments go to dotnet pack, e.g. -p:Version=0.2.0.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/packages}
shift || true
for project in Runtime Runtime.Gpu; do
  dotnet pack "$project" -c Release -o "$out" --nologo "$@"
done
ls -l "$out"
