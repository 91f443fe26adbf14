#!/usr/bin/env sh
# Runs the test suite; headed tests get a virtual display when there is no real one.
# Four workers (pytest-xdist), each with its own mock server and browser. With TOTP waits on a
# virtual clock and the fast tier's shorter page delays, four keep two cores busy all the way
# through; five or six were no faster (2026-12-05: 94 s with four, 115 and 110 s with five
# and six), every Chromium and Playwright driver more costing the kernel time.
set -eu
# Cached bytecode, whatever the shell says (PYTHONDONTWRITEBYTECODE): without it every worker,
# and every `ipbind` a test starts, compiles the package afresh and pytest rewrites every test
# module's asserts again (2 s of CPU per worker, 2026-12-06). __pycache__ is git-ignored.
export PYTHONDONTWRITEBYTECODE=
.venv/bin/python -m compileall -q assistant flows fixtures tests/support.py >/dev/null
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a .venv/bin/python -m pytest -n 4 --maxschedchunk 2 "$@"
fi
exec .venv/bin/python -m pytest -n 4 --maxschedchunk 2 "$@"
