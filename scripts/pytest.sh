#!/usr/bin/env sh
# Runs the test suite; headed tests get a virtual display when there is no real one.
# Four workers (pytest-xdist): the end-to-end tests mostly wait on pages and TOTP steps, so
# four share two cores well (six were no faster and made the machine too busy for 1-s TOTP steps); each worker has its own mock server and browser.
set -eu
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a .venv/bin/python -m pytest -n 4 --maxschedchunk 2 "$@"
fi
exec .venv/bin/python -m pytest -n 4 --maxschedchunk 2 "$@"
