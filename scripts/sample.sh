#!/usr/bin/env bash
# Trains the Fashion-MNIST MLP sample (installs the dataset package when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-dataset.sh
exec dotnet run -c Release --project Samples/FashionMnist -- "$@"
