"""Many accounts: one exchange after another, or side by side?

Runs `ipbind apply` (the installed command, in a process of its own, as a user runs it) on
`fixtures/allocations/many-accounts.toml` (10 accounts on 5 exchanges, 20 addresses each)
against the mock sites with a 1 s TOTP step: sequential (`--parallel 1`: one browser, a
context per exchange in turn) and parallel (`--parallel N`: a browser per lane), runs
alternating. For each it measures the wall time of the whole process and its peak memory:
the RSS (and PSS, which counts pages shared between processes once) of ipbind, its
Playwright drivers and their browsers, summed over the process tree and sampled from /proc.
Every run must end with exit 0 and every key's list on the mock server.

Prints a table and writes JSON. Exits 1 when the parallel median is over half the
sequential median (the target).

Usage: python bench/parallel.py [--runs N] [--parallel N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.parallel import lanes_for  # noqa: E402
from assistant.runner import load_allocation  # noqa: E402
from fixtures.mockex import MockExchanges  # noqa: E402
from flows import FLOWS  # noqa: E402

ALLOCATION = ROOT / "fixtures" / "allocations" / "many-accounts.toml"
PERIOD = 1  # seconds per TOTP step on the mock sites
TARGET = 0.5  # parallel wall time at most this share of the sequential one
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def descendants(root: int) -> list[int]:
    """`root` and every process under it, from /proc/<pid>/task/<tid>/children."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as kids:
                    todo.extend(int(kid) for kid in kids.read().split())
        except OSError:  # it ended meanwhile
            continue
    return found


def stat(pid: int) -> tuple[int, float] | None:
    """The process's RSS (bytes) and CPU time so far (s), from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return int(fields[21]) * PAGE, (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, ValueError, IndexError):
        return None


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Peak(threading.Thread):
    """Samples the process tree under `pid` until it ends: peak summed RSS (every 0.25 s),
    PSS (every 2 s: dear to read, and the peak is a plateau while every lane is at work),
    the most processes at once, and the CPU time of them all (each as last seen alive). The
    sampling costs a few percent of a core."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.rss = self.pss = self.processes = 0
        self.cpu: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.done.wait(0.25):
            pids = descendants(self.pid)
            seen = {pid: s for pid in pids if (s := stat(pid)) is not None}
            self.processes = max(self.processes, len(seen))
            self.rss = max(self.rss, sum(rss for rss, _ in seen.values()))
            self.cpu |= {pid: cpu for pid, (_, cpu) in seen.items()}
            if tick % 8 == 0:
                self.pss = max(self.pss, sum(map(pss, seen)))
            tick += 1


def environment(mock: MockExchanges, exchanges: set[str], folder: Path) -> dict[str, str]:
    """The logins of each site's seeded account, pointed at the mock; nothing of the
    developer's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        IPBIND_CONFIG=str(folder / "none.toml"),
        IPBIND_STATE_DIR=str(folder / "state"),  # shared: no run reuses a TOTP step
        PYTHONPATH=str(ROOT),
    )
    for site in sorted(exchanges):
        account = next(iter(mock.site(site).accounts.values()))
        prefix = f"IPBIND_{site.upper()}__"
        env[prefix + "USERNAME"] = account.username
        env[prefix + "PASSWORD"] = account.password
        env[prefix + "TOTP_SECRET"] = account.totp_secret
        env[prefix + "TOTP_PERIOD"] = str(PERIOD)
        env[prefix + "BASE_URL"] = mock.base_url(site)
        for secret in FLOWS[site].secrets:  # Gate's fund password
            env[prefix + secret.upper()] = str(account.data[secret])
    return env


def one_run(
    mock: MockExchanges, env: dict[str, str], folder: Path, lanes: int, expected: dict[str, Any]
) -> dict[str, Any]:
    for site in expected:
        mock.reset(site)
    runs = folder / f"runs-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "assistant", "apply", "--yes", "--parallel", str(lanes)]
    load = os.getloadavg()[0]  # the machine's other work, as the run starts
    started = time.monotonic()
    with open(folder / "out.txt", "w", encoding="utf-8") as out:
        child = subprocess.Popen(
            [*command, str(ALLOCATION)],
            env={**env, "IPBIND_ARTIFACTS_DIR": str(runs)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,  # away from any .env in the checkout
        )
        peak = Peak(child.pid)
        peak.start()
        code = child.wait()
        wall = time.monotonic() - started
        peak.done.set()
        peak.join()
    missing = [
        f"{site} {key!r}"
        for site, keys in expected.items()
        for key, ips in keys.items()
        if not set(ips) <= set(held(mock, site, key))
    ]
    if code != 0 or missing:
        text = (folder / "out.txt").read_text(encoding="utf-8")
        raise SystemExit(
            f"--parallel {lanes}: exit {code}; not on the server: {missing or 'none'}\n{text}"
        )
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak.rss / 2**20),
        "peak_pss_mb": round(peak.pss / 2**20),
        "processes": peak.processes,
        "cpu_s": round(sum(peak.cpu.values()), 1),
        "load": round(load, 1),
    }


def held(mock: MockExchanges, site: str, key: str) -> list[str]:
    """The list the mock server holds for `key` (a key's name, label or note)."""
    account = next(iter(mock.state(site)["accounts"].values()))
    for entry in account["keys"]:
        if key in (entry.get("name"), entry.get("label"), entry.get("note")):
            return list(entry.get("ips", []))
    return []


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    return {
        "wall_s": {"min": min(walls), "median": statistics.median(walls), "max": max(walls)},
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_pss_mb": max(r["peak_pss_mb"] for r in runs),
        "processes": max(r["processes"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument(
        "--parallel", type=int, default=None, help="lanes (default: what this machine takes)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "parallel.json")
    args = parser.parse_args()

    allocation = load_allocation(ALLOCATION, allow_count=False)
    expected: dict[str, dict[str, list[str]]] = {}
    for account in allocation.accounts:
        expected.setdefault(account.exchange, {})[account.key] = list(account.ips)
    lanes = lanes_for(args.parallel, len(expected))
    results: dict[int, list[dict[str, Any]]] = {1: [], lanes: []}
    with MockExchanges(totp_period=PERIOD) as mock, tempfile.TemporaryDirectory() as tmp:
        env = environment(mock, set(expected), Path(tmp))
        for n in range(args.runs):
            for mode in (1, lanes):  # alternating: the machine's other load falls on both
                run = one_run(mock, env, Path(tmp), mode, expected)
                results[mode].append(run)
                print(
                    f"run {n + 1}, --parallel {mode}: {run['wall_s']:6.2f} s, "
                    f"peak RSS {run['peak_rss_mb']} MB, PSS {run['peak_pss_mb']} MB, "
                    f"{run['processes']} processes, CPU {run['cpu_s']} s, "
                    f"load average {run['load']}",
                    file=sys.stderr,
                )
    sequential, parallel = summary(results[1]), summary(results[lanes])
    ratio = parallel["wall_s"]["median"] / sequential["wall_s"]["median"]
    print(
        f"\n{len(allocation.accounts)} accounts on {len(expected)} exchanges "
        f"({', '.join(sorted(expected))}), 20 addresses each, TOTP step {PERIOD} s, "
        f"{args.runs} runs each, {os.cpu_count()} CPUs\n"
    )
    print("| | wall min | median | max | peak RSS | peak PSS | processes | CPU (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in (("--parallel 1", sequential), (f"--parallel {lanes}", parallel)):
        w = s["wall_s"]
        print(
            f"| {name} | {w['min']:.2f} s | {w['median']:.2f} s | {w['max']:.2f} s | "
            f"{s['peak_rss_mb']} MB | {s['peak_pss_mb']} MB | {s['processes']} | "
            f"{s['cpu_s']:.1f} s |"
        )
    print(f"\nparallel / sequential (medians): {ratio:.2f} (target ≤ {TARGET})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "allocation": str(ALLOCATION.relative_to(ROOT)),
                "accounts": len(allocation.accounts),
                "exchanges": sorted(expected),
                "totp_period_s": PERIOD,
                "cpus": os.cpu_count(),
                "lanes": lanes,
                "sequential": sequential,
                "parallel": parallel,
                "ratio": round(ratio, 3),
                "target": TARGET,
                "met": ratio <= TARGET,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"JSON: {args.json}")
    if ratio > TARGET:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
