#!/usr/bin/env bash
# Installs the Debian packages the tests use when any is missing: the Fashion-MNIST dataset, Python's onnx (the
# ONNX checker), PyTorch (the reference for weights saved from and loaded into torch.nn), and OpenMPI (the
# multi-process tests). Each is checked first, so a machine that has them installs nothing.
set -euo pipefail
bash "$(dirname "$0")/ensure-dataset.sh"
missing=()
/usr/bin/python3 -c "import onnx" >/dev/null 2>&1 || missing+=(python3-onnx)
/usr/bin/python3 -c "import torch" >/dev/null 2>&1 || missing+=(python3-torch)
/usr/bin/python3 -c "import numpy" >/dev/null 2>&1 || missing+=(python3-numpy)
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
ls /usr/lib/x86_64-linux-gnu/libmpi.so.40 >/dev/null 2>&1 || missing+=(libopenmpi-dev)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "Installing the Debian packages the tests need: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
