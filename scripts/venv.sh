#!/usr/bin/env sh
# Creates the virtualenv; on Debian/Ubuntu, installs python3-venv first if it is missing.
set -eu
python=$1 venv=$2
if "$python" -m venv "$venv" 2>/dev/null; then exit 0; fi
rm -rf "$venv"
if command -v apt-get >/dev/null 2>&1; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv
  "$python" -m venv "$venv"
else
  echo "Could not create a virtualenv with $python (is Python >= 3.11 with venv installed?)" >&2
  exit 1
fi
