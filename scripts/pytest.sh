#!/usr/bin/env sh
# Runs the test suite; headed tests get a virtual display when there is no real one.
set -eu
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest "$@"
