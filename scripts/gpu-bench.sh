#!/usr/bin/env bash
# The GPU backend's figures in one run (under 5 minutes on a machine with an NVIDIA H200; under a minute with --quick
# or on the emulator): SGEMM 4096 against the FP32 peak, training samples/s of the Fashion-MNIST MLP and CNN and of
# the char transformer on the GPU next to the CPU, and a CPU-vs-GPU loss check.
#   bash scripts/gpu-bench.sh [--device cuda:0|gpu|best|N|gpu-emulator:0] [--quick] [--threads N]
# Without --device the best device is used (the first GPU; with none, ILGPU's CPU accelerator at tiny sizes).
# Installs Fashion-MNIST (dataset-fashion-mnist) and the fortunes corpus (fortunes) when they are missing; where that
# fails (no network) the run uses synthetic data of the same shape and says so.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-dataset.sh >&2 || echo "# Fashion-MNIST not installed; synthetic data of the same shape is used" >&2
bash scripts/ensure-corpus.sh >&2 || echo "# the fortunes corpus is not installed; synthetic symbol ids are used" >&2
exec dotnet run -c Release --project Benchmarks -- gpu "$@"
