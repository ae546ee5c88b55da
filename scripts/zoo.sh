#!/usr/bin/env bash
# Retrains the model zoo's Fashion-MNIST checkpoints (zoo/README.md) with the sample's recipes, seed 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-dataset.sh
dotnet run -c Release --project Samples/FashionMnist -- --model mlp --epochs 5 --checkpoint zoo/fashion-mlp.safetensors
dotnet run -c Release --project Samples/FashionMnist -- --model cnn --epochs 3 --checkpoint zoo/fashion-cnn.safetensors
