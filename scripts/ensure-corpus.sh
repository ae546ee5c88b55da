#!/usr/bin/env bash
# Installs Debian's fortunes package (the English fortune-cookie text the CharTransformer and CharLstm samples
# train on, plain text under /usr/share/games/fortunes) when it is not there yet.
set -euo pipefail
dir="${FORTUNES_DIR:-/usr/share/games/fortunes}"
if [ -f "$dir/fortunes" ]; then exit 0; fi
echo "The fortunes corpus was not found in $dir: installing the Debian package fortunes."
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fortunes
