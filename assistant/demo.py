"""`ipbind demo`: the bundled mock exchanges on a free loopback port, a demo account on
each, and a real `apply` against them — the first thing a new user runs."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.errors import ExitCode
from assistant.runner import Options, load_allocation, run
from assistant.settings import load_settings
from fixtures.mockex import MockExchanges

DEMO_ALLOCATION = Path(__file__).resolve().parents[1] / "fixtures" / "allocations" / "demo.toml"
DEMO_PERIOD = 1  # seconds per TOTP step: the demo's codes come quickly


def demo_settings(mock: MockExchanges, allocation_exchanges: set[str]) -> dict[str, Any]:
    """Credentials of each site's first seeded account, pointed at the mock's origin."""
    overrides: dict[str, Any] = {}
    for site_id in allocation_exchanges:
        account = next(iter(mock.site(site_id).accounts.values()))
        overrides[site_id] = {
            "username": account.username,
            "password": account.password,
            "totp_secret": account.totp_secret,
            "totp_period": DEMO_PERIOD,
            "base_url": mock.base_url(site_id),
        }
    return overrides


def run_demo(options: Options, allocation: Path = DEMO_ALLOCATION) -> ExitCode:
    exchanges = {a.exchange for a in load_allocation(allocation, allow_count=False).accounts}
    # The mock pages vary their markup and timing on every load, as real sites do.
    chaos = secrets.randbelow(10**6)
    with MockExchanges(totp_period=DEMO_PERIOD, chaos_seed=chaos) as mock:
        Console(stderr=True, highlight=False).print(
            "[bold]ipbind demo[/]: a real `ipbind apply` against mock exchange sites on this "
            f"machine ({', '.join(mock.base_url(s) for s in sorted(exchanges))}), with demo "
            "accounts and TEST-NET addresses. Nothing leaves this computer. The mock pages "
            f"change their markup and timing on every load (chaos seed {chaos}).\n"
        )
        settings = load_settings(**options.overrides, **demo_settings(mock, exchanges))
        return run("apply", allocation, replace(options, demo=True), settings=settings)
