"""`ipbind demo`: the bundled mock exchanges on a free loopback port, a demo account on
each, and a real `apply` against them — the first thing a new user runs."""

from __future__ import annotations

import os
import secrets
import shlex
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page
from rich.console import Console

from assistant.errors import ExitCode, UserActionNeeded
from assistant.human import TerminalHuman
from assistant.output import ConsoleReporter
from assistant.runner import Options, load_allocation, run
from assistant.settings import load_settings
from assistant.twofa import CLOCK
from fixtures.mockex import MockExchanges
from fixtures.mockex.mailbox import Mailbox
from flows import FLOWS
from flows.types import Credentials

DEMO_ALLOCATION = Path(__file__).resolve().parents[1] / "fixtures" / "allocations" / "demo.toml"
DEMO_PERIOD = 1  # seconds per TOTP step: the demo's codes come quickly
# A code is still taken up to this many steps late (each step once): at a 1 s step, one step
# of slack (a real site's, at 30 s) is less than a busy machine can take to type and send it.
DEMO_WINDOW = 3
# The sites' delays as a share of their usual length: the fast tier of the tests shortens
# them together with the settle's quiet window (tests/conftest.py).
PACE = 1.0


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
        if account.data.get("pass_key"):  # Altrady's "5 word pass key" (`ipbind import`)
            overrides[site_id]["pass_key"] = account.data["pass_key"]
    return overrides


class DemoPerson:
    """The demo playing the person (it has nobody to ask): it reads the codes and links the
    mock exchanges "e-mailed" from their own inbox, and says so each time. A real run asks
    you at the terminal instead (assistant.human)."""

    def __init__(self, mock: MockExchanges, reporter: ConsoleReporter):
        self.reporter = reporter  # says so among the run's own lines, never across them
        self.mailboxes = {flow.name: Mailbox(mock, flow.id) for flow in FLOWS.values()}

    def emailed_code(self, exchange: str, purpose: str) -> str:
        self.reporter.say(
            f"demo, playing you: reading the code {exchange} e-mailed for {purpose} from "
            "the mock's inbox",
            "magenta",
            error=True,
        )
        code = self.mailboxes[exchange].code()
        if code is None:
            raise UserActionNeeded(f"demo: {exchange} sent no code to read")
        return code

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        self.reporter.say(
            f"demo, playing you: opening the link {exchange} e-mailed for {purpose}, from "
            "the mock's inbox",
            "magenta",
            error=True,
        )
        if not self.mailboxes[exchange].open_link():
            raise UserActionNeeded(f"demo: {exchange} sent no link to open")
        return True

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        raise UserActionNeeded(f"demo: {message} — the demo cannot do that for you")

    def which_key(
        self, exchange: str, wanted: str, accounts: list[str], names: list[str]
    ) -> str | None:
        return None  # the demo's keys are named as its allocation names them

    def sign_in_again(
        self, exchange: str, refused: Credentials | None, why: str, tries_left: int
    ) -> Credentials | None:
        return None  # the demo's accounts sign in with what it set: nothing to ask

    def signed_in(self, ask: Callable[[], None]) -> None:
        ask()  # never called: the demo types no sign-in at the terminal


def demo_sites(chaos: int) -> MockExchanges:
    """The bundled mock exchanges as the demo runs them: quick codes, taken a little late."""
    return MockExchanges(
        totp_period=DEMO_PERIOD,
        chaos_seed=chaos,
        totp_window=DEMO_WINDOW,
        clock=CLOCK.time,
        pace=PACE,
    )


def run_demo(
    options: Options, allocation: Path = DEMO_ALLOCATION, chromium: Browser | None = None
) -> ExitCode:
    """`chromium`: a browser already open (tests), else the run launches its own."""
    exchanges = {a.exchange for a in load_allocation(allocation, allow_count=False).accounts}
    # The mock pages vary their markup and timing on every load, as real sites do. They
    # check codes on the clock ipbind makes them on (the wall clock, but in tests).
    chaos = secrets.randbelow(10**6)
    with demo_sites(chaos) as mock:
        Console(stderr=True, highlight=False).print(
            "[bold]ipbind demo[/]: a real `ipbind apply` against mock exchange sites on this "
            f"machine ({', '.join(mock.base_url(s) for s in sorted(exchanges))}), with demo "
            "accounts and TEST-NET addresses. Nothing leaves this computer. The mock pages "
            f"change their markup and timing on every load (chaos seed {chaos}).\n"
        )
        settings = load_settings(**options.overrides, **demo_settings(mock, exchanges))
        reporter = ConsoleReporter(json_mode=options.json_out)
        return run(
            "apply",
            allocation,
            replace(options, demo=True),
            settings=settings,
            chromium=chromium,
            human=TerminalHuman(reporter, headless=settings.headless),
            person=DemoPerson(mock, reporter),
        )


MODES = ("plan", "apply", "verify")  # what `demo --serve` suggests trying


def serve_demo(
    options: Options,
    stop: threading.Event | None = None,
    ready: Callable[[Path], None] | None = None,
) -> ExitCode:
    """`ipbind demo --serve`: the mock exchanges stay up (until Ctrl-C, or `stop`) for the
    person to try `plan`, `apply`, `verify`, `run` and `login` on them from another
    terminal: the settings that point there are written to a file to `source`, 0600, and
    printed. `ready` is told the file's path once the sites are up (tests)."""
    settings = load_settings(**options.overrides)
    chaos = secrets.randbelow(10**6)
    with demo_sites(chaos) as mock:
        sites = sorted(mock.sites)
        lines = [
            f"export IPBIND_{site.upper()}__{name.upper()}={shlex.quote(str(value))}"
            for site, values in sorted(demo_settings(mock, set(sites)).items())
            for name, value in values.items()
        ]
        env = settings.state_home / "demo.env"
        env.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("# ipbind demo --serve: the bundled mock exchanges' demo accounts\n")
            out.write("\n".join(lines) + "\n")
        console = Console(highlight=False)
        console.print(
            f"[bold]ipbind demo --serve[/]: {len(sites) - 1} mock exchanges and a mock Altrady "
            "on this machine "
            f"({mock.base_url(sites[0])} and the others on the same port), with demo "
            "accounts. Nothing leaves this computer. Their settings:\n"
        )
        for line in lines:
            console.print(f"  {line}", markup=False, soft_wrap=True)
        console.print(f"\nIn another terminal (the settings are in {env}):\n", markup=False)
        commands = [f"source {env}", *(f"ipbind {m} {DEMO_ALLOCATION}" for m in MODES)]
        commands.append("ipbind import altrady -o my-allocation.toml   # from the mock Altrady")
        for command in commands:
            console.print(f"  {command}", markup=False, soft_wrap=True)  # whole, to copy
        console.print(
            "\nWhat the sites e-mail (codes, links) is in each one's inbox: "
            f"{mock.base_url('huobi')}/__mock__/inbox, and the same path on the others.",
            markup=False,
        )
        console.print("Ctrl-C stops the mock exchanges.", style="dim")
        if ready is not None:
            ready(env)
        with suppress(KeyboardInterrupt):
            (stop or threading.Event()).wait()
        console.print("Stopped the mock exchanges.")
    return ExitCode.OK
