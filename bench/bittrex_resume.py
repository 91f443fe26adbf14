"""A Bittrex run killed after 7 of 20 addresses, then run again: does the rerun finish the
job without spending a code on an address already listed?

Each Bittrex address takes a 2FA code of a time step of its own, so the whole case takes
about 20 steps; the test suite keeps the same case smaller (2 of 6, tests/test_interrupt.py)
and this checks it at full size. `ipbind apply` runs at a pseudo-terminal of its own, as a
user runs it, against the mock Bittrex (1 s step); it is killed with SIGKILL (no clean-up at
all) once it says "7/20 added", and run again. Prints, from the server's side:

  first run   addresses on the server after the kill
  rerun       addresses it added, and the 2FA codes it spent (adds, sign-in)

and exits 1 unless the server ends with exactly the 20 (and the one it had), each added
once, and the rerun spent at most 13 codes on adds, each accepted.

Usage: python bench/bittrex_resume.py
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.mockex import MockExchanges  # noqa: E402

COUNT = 20
KILLED_AFTER = 7
OLD = "198.51.100.90"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
IPS = [f"203.0.113.{10 + i}" for i in range(COUNT)]


def apply(mock: MockExchanges, folder: Path) -> pexpect.spawn:
    """`ipbind apply --yes` of the 20 addresses, at a terminal of its own."""
    path = folder / "bittrex.toml"
    path.write_text(
        '[[accounts]]\nexchange = "bittrex"\nname = "Bench"\nkey = "Bench key"\n'
        'ips = """\n' + "\n".join(IPS) + '\n"""\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        IPBIND_BITTREX__USERNAME="bench@ipbind.test",
        IPBIND_BITTREX__PASSWORD="bench-password",
        IPBIND_BITTREX__TOTP_SECRET=SECRET,
        IPBIND_BITTREX__TOTP_PERIOD="1",
        IPBIND_BITTREX__BASE_URL=mock.base_url("bittrex"),
        IPBIND_ARTIFACTS_DIR=str(folder / "runs"),  # the state dir beside it: one for both
        IPBIND_CONFIG=str(folder / "none.toml"),
        TERM="xterm",
    )
    return pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "apply", "--yes", str(path)],
        env=env,
        cwd=str(folder),  # away from any .env in the checkout
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 200),
    )


def refused(codes: list[dict[str, object]]) -> int:
    return sum(not c["accepted"] for c in codes)


def main() -> None:
    with MockExchanges(totp_period=1) as mock, tempfile.TemporaryDirectory() as tmp:
        account = {
            "username": "bench@ipbind.test",
            "password": "bench-password",
            "totp_secret": SECRET,
            "allow_list": [OLD],
        }
        mock.reset("bittrex", {"latency_ms": [30, 250], "accounts": [account]})

        child = apply(mock, Path(tmp))
        child.expect(f"{KILLED_AFTER}/{COUNT} added")
        child.kill(signal.SIGKILL)
        child.expect(pexpect.EOF)
        child.close()
        first = [e for e in mock.state("bittrex")["log"] if e["action"] == "add"]

        again = time.time()
        child = apply(mock, Path(tmp))
        child.expect(pexpect.EOF)
        child.close()
        state = mock.state("bittrex")

    adds = [e for e in state["log"] if e["action"] == "add"]
    added = [e for e in adds if e["at"] >= again]
    spent = [c for c in state["codes"] if c["at"] >= again]
    add_codes = [c for c in spent if c["route"] == "add"]
    sign_in = [c for c in spent if c["route"] == "login-2fa"]
    listed = next(iter(state["accounts"].values()))["allow_list"]
    print(f"bittrex, {COUNT} addresses, killed after {KILLED_AFTER} shown as added, TOTP step 1 s")
    print(f"first run:  {len(first)} on the server after the kill")
    print(
        f"rerun:      exit {child.exitstatus}; added {len(added)}; codes spent on adds "
        f"{len(add_codes)} ({refused(add_codes)} refused), on the sign-in {len(sign_in)} "
        f"({refused(sign_in)} refused)"
    )
    problems = []
    if child.exitstatus != 0:
        problems.append(f"the rerun ended with exit {child.exitstatus}")
    if listed != [OLD, *IPS]:
        problems.append(f"the server lists {len(listed)} addresses, not the {COUNT} and {OLD}")
    if [e["ip"] for e in adds] != IPS:
        problems.append("an address was added twice, or out of order")
    if len(add_codes) > COUNT - KILLED_AFTER or not all(c["accepted"] for c in add_codes):
        problems.append(f"the rerun spent {len(add_codes)} codes on adds")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
