#!/usr/bin/env bash
# Installs Debian's dataset-fashion-mnist package when the Fashion-MNIST files are not there yet.
set -euo pipefail
dir="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if ls "$dir"/train-images-idx3-ubyte* >/dev/null 2>&1; then exit 0; fi
echo "Fashion-MNIST not found in $dir: installing the Debian package dataset-fashion-mnist."
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist
