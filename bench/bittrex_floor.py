"""How close does a Bittrex run come to the TOTP floor?

Each address on Bittrex needs a fresh 2FA code, and a code works once per time step, so
N addresses cannot be added in less than N-1 steps after the first: the floor. This runs
the real CLI code path (`ipbind apply`) against the mock Bittrex with 20 addresses and a
1 s step, and prints:

  adds     first to last address accepted by the server (its own clock) vs the floor;
           exits 1 if that is over the floor + 3 s
  total    the whole run: browser start, sign-in, plan, 20 adds, read-back

Usage: python bench/bittrex_floor.py [--runs N] [--period SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.errors import ExitCode  # noqa: E402
from assistant.runner import Options, run  # noqa: E402
from assistant.settings import load_settings  # noqa: E402
from fixtures.mockex import MockExchanges  # noqa: E402

COUNT = 20


def allocation(folder: Path) -> Path:
    ips = "\n".join(f"203.0.113.{10 + i}" for i in range(COUNT))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bittrex.toml"
    path.write_text(
        f'[[accounts]]\nexchange = "bittrex"\nname = "Bench"\nkey = "Bench key"\n'
        f'ips = """\n{ips}\n"""\n'
    )
    return path


def one_run(mock: MockExchanges, folder: Path, period: int) -> tuple[float, float]:
    site = mock.site("bittrex")
    mock.reset(
        "bittrex",
        {
            "latency_ms": [30, 250],
            "accounts": [
                {
                    "username": "bench@ipbind.test",
                    "password": "bench-password",
                    "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                    "allow_list": [],
                }
            ],
        },
    )
    account = next(iter(site.accounts.values()))
    settings = load_settings(
        bittrex={
            "username": account.username,
            "password": account.password,
            "totp_secret": account.totp_secret,
            "totp_period": period,
            "base_url": mock.base_url("bittrex"),
        },
        artifacts_dir=folder / "runs",
    )
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's own tables: not the point here
        code = run("apply", allocation(folder), Options(yes=True), settings=settings)
    total = time.monotonic() - started
    adds = [e["at"] for e in mock.state("bittrex")["log"] if e["action"] == "add"]
    if code != ExitCode.OK or len(adds) != COUNT:
        raise SystemExit(f"run failed: exit {int(code)}, {len(adds)} addresses added")
    return adds[-1] - adds[0], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--period", type=int, default=1)
    args = parser.parse_args()
    floor = (COUNT - 1) * args.period
    results = []
    with MockExchanges(totp_period=args.period) as mock, tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            adds, total = one_run(mock, Path(tmp) / str(n), args.period)
            results.append((adds, total))
            print(
                f"run {n + 1}: adds {adds:5.2f} s (floor {floor} s, {adds - floor:+.2f} s)"
                f" · total {total:5.2f} s",
                file=sys.stderr,
            )
    adds = [a for a, _ in results]
    totals = [t for _, t in results]
    print(f"\nbittrex, {COUNT} addresses, TOTP period {args.period} s, {args.runs} runs")
    print(f"floor (19 periods):            {floor:6.2f} s")
    print(
        f"adds, first to last (median):  {statistics.median(adds):6.2f} s "
        f"({statistics.median(adds) - floor:+.2f} s; worst {max(adds) - floor:+.2f} s)"
    )
    print(
        f"whole run (median):            {statistics.median(totals):6.2f} s "
        f"({statistics.median(totals) - floor:+.2f} s; worst {max(totals) - floor:+.2f} s)"
    )
    print(
        "(the whole run also starts a browser, signs in with a code of its own time step, "
        "plans and reads the list back)"
    )
    if max(adds) > floor + 3:
        print("the adds took longer than the floor + 3 s", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
