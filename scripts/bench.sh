#!/usr/bin/env bash
# Compares ModelGen with PyTorch on the same workloads in one run (15-35 s on a quiet 2-core machine; under 5 minutes on a loaded one):
#   bash scripts/bench.sh [--quick] [--no-peer] [--threads N]
# Installs the peer when it is missing (Debian: python3-torch, and libopenblas0-openmp, without which Debian's torch
# uses the slow reference BLAS) and the Fashion-MNIST package; if installing fails the comparison still runs and
# prints ModelGen's figures alone.
set -uo pipefail
cd "$(dirname "$0")/.."
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
missing=()
/usr/bin/python3 -c "import torch" >/dev/null 2>&1 || missing+=(python3-torch)
[ -d /usr/lib/x86_64-linux-gnu/openblas-openmp ] || missing+=(libopenblas0-openmp)
if [ ${#missing[@]} -gt 0 ]; then
    echo "# installing the PyTorch peer: ${missing[*]}" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >&2 \
        || echo "# could not install ${missing[*]}; the comparison will say so" >&2
fi
bash scripts/ensure-dataset.sh >&2 || echo "# Fashion-MNIST not installed; synthetic data of the same shape is used" >&2
exec dotnet run -c Release --project Benchmarks -- compare "$@"
