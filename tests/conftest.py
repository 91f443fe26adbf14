"""Shared test fixtures: the mock exchanges (started once; before every test, each site a
test reached is reset) and the browser, launched through `assistant.browser` like the CLI
does.

Two tiers: `make test` leaves out the tests marked `full` and runs the sites' delays and a
settle's quiet window at FAST_PACE of their length; `make test-all` (--all) runs everything
at full length.

Every test runs on unruly mock sites (chaos: markup and timing that vary per page load, see
fixtures/mockex/static/common.js), each under one seed of a pool: three fixed seeds, and on
CI one random seed more. The tests are spread over the pool (by their name), not multiplied
by it. A failing test's report names its seed; `pytest --chaos-seed N` replays it.
"""

from __future__ import annotations

import os
import random
import signal
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imap
import keyring
import pytest
import support
from keyrings import NoKeyring
from playwright.sync_api import Playwright

from assistant import browser, demo, worker
from assistant.logs import redactor
from assistant.mail import MailSettings
from assistant.twofa import CLOCK
from fixtures.mockex import MockExchanges
from flows import settle

TEST_PERIOD = 1  # seconds per TOTP step on the mock sites in tests
# Steps before the current one whose code the mock still takes (each step once, as ever).
# A real site's 30 s step with one step of slack gives a code 30 to 60 s; at a 1 s step one
# step of slack gives it 1 to 2 s, less than typing and sending it can take on a loaded
# 2-core machine. Three steps keep the test's time from code to check under 3 to 4 s, still
# far tighter than any real site, and a code is still taken once per step.
TEST_WINDOW = 3
# The fast tier (`make test`) runs the mock sites' delays and a settle's quiet window at this
# share of their length, together (one in four lists still loads for longer than the window);
# the full tier at full length. Markup still varies as much.
FAST_PACE = 0.4
FIXED_SEEDS = [101, 202, 303]
SEEDS = pytest.StashKey[list[int]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all",
        action="store_true",
        help="the full tier (`make test-all`, CI): also the tests marked `full`",
    )
    parser.addoption(
        "--chaos-seed",
        type=int,
        action="append",
        help="run every test under this chaos seed of the mock sites (repeatable; replays a "
        "failure whose report named its seed)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The developer's own ipbind settings (environment, config file) must not leak in.
    for name in [n for n in os.environ if n.startswith("IPBIND_")]:
        del os.environ[name]
    # A shell's background job (`make test &`) starts with Ctrl-C ignored, and the CLI tests'
    # children would inherit that: their Ctrl-C tests need it delivered, as at a terminal.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # No keyring backend, here and in every command a test starts: a test never touches the
    # developer's keyring (tests that keep a sign-in set tests/keyrings.py's MemoryKeyring).
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    keyring.set_keyring(NoKeyring())
    home = Path(tempfile.mkdtemp(prefix="ipbind-tests-"))
    os.environ["IPBIND_CONFIG"] = str(home / "none.toml")
    # Run folders and what runs remember go there too, unless a test says where.
    os.environ["IPBIND_ARTIFACTS_DIR"] = str(home / "runs")
    # The pause before a second try after a server error is the server's business: tests
    # prove the second try, not the wait.
    worker.RETRY_WAIT = 0.1
    # Waits for a TOTP step move a clock that ipbind's code sources and the mock sites share
    # (in this process): a test proves what the wait leads to. Tests marked `wallclock`
    # (one per entry mode), the children of CLI tests, the demo and the bench keep real time.
    CLOCK.virtual = True
    if not config.getoption("--all"):
        settle.QUIET_MS = round(settle.QUIET_MS * FAST_PACE)
        demo.PACE = FAST_PACE  # the demo's own mock sites, in this process
        support.PICTURES = False  # but where a test asks for them (pictures, reports)
        support.SIGNED_IN = True  # but where a test says (sign-in, each flow end to end)
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller drew them
        config.stash[SEEDS] = config.workerinput["chaos_seeds"]
        return
    seeds = config.getoption("--chaos-seed") or list(FIXED_SEEDS)
    if os.environ.get("CI") and not config.getoption("--chaos-seed"):
        seeds.append(random.SystemRandom().randrange(1, 10**6))
    config.stash[SEEDS] = seeds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier (`make test`) leaves out the tests marked `full` unless --all is given
    (`make test-all`). Then the long tests first (a stable sort: the rest keep their order).
    Handed out two at a time (scripts/pytest.sh: --maxschedchunk 2), they spread over the
    workers at the start instead of one worker ending the run alone with them."""
    if not config.getoption("--all"):
        full = [item for item in items if item.get_closest_marker("full")]
        if full:
            config.hook.pytest_deselected(items=full)
            items[:] = [item for item in items if not item.get_closest_marker("full")]
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker runs under the controller's seeds (one random draw)."""
    node.workerinput["chaos_seeds"] = node.config.stash[SEEDS]


def pytest_report_header(config: pytest.Config) -> str:
    seeds = config.stash[SEEDS]
    fixed = [s for s in seeds if s not in FIXED_SEEDS]
    extra = f" ({fixed[-1]} drawn at random; replay with --chaos-seed {fixed[-1]})" if fixed else ""
    return f"mock sites: chaos seeds {', '.join(map(str, seeds))}{extra}"


@pytest.fixture(autouse=True)
def secrets_of_this_test_only() -> None:
    """The redactor (one per process, as in a run) starts each test knowing no secret: one
    test's secret (a wrong mail password, "nope") must not mask another's words ("nope.toml")
    in the same worker."""
    redactor.clear()


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], playwright: Playwright
) -> dict[str, Any]:
    # Extend, never replace: pytest-playwright's own args carry --headed and --slowmo.
    headless = browser_type_launch_args.get("headless", True)
    return {**browser_type_launch_args, **browser.launch_args(playwright, headless=headless)}


@pytest.fixture(scope="session")
def mock_server(pytestconfig: pytest.Config) -> Iterator[MockExchanges]:
    with MockExchanges(
        totp_period=TEST_PERIOD,
        totp_window=TEST_WINDOW,
        clock=CLOCK.time,
        pace=1.0 if pytestconfig.getoption("--all") else FAST_PACE,
    ) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[imap.Dovecot]:
    """A real IMAP server, started by the first test of this worker that reads mail."""
    server = imap.Dovecot()
    yield server
    server.stop()


@pytest.fixture
def mailbox(mock: MockExchanges, dovecot: imap.Dovecot) -> Iterator[tuple[MailSettings, Path]]:
    """A fresh mailbox on the IMAP server, which the mock sites deliver what they e-mail
    into: the settings that read it, and its Maildir."""
    conf, home = dovecot.user()
    mock.deliver_mail_to(home)
    yield conf, home
    mock.deliver_mail_to(None)


def chaos_seed_of(item: pytest.Item) -> int:
    seeds = item.config.stash[SEEDS]
    return seeds[zlib.crc32(item.nodeid.encode()) % len(seeds)]


@pytest.fixture
def mock(mock_server: MockExchanges, request: pytest.FixtureRequest) -> Iterator[MockExchanges]:
    """The mock exchanges, every site reset to its default seed, under this test's chaos
    seed."""
    seed = chaos_seed_of(request.node)
    request.node.user_properties.append(("chaos_seed", seed))
    # Each test from the wall clock's time (a child process, as in the CLI tests, keeps it);
    # every site is reset with it, so no code of a test before is remembered.
    CLOCK.offset = 0.0
    CLOCK.virtual = request.node.get_closest_marker("wallclock") is None
    mock_server.chaos(seed)
    yield mock_server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    seed = dict(item.user_properties).get("chaos_seed")
    if report.failed and seed is not None:
        report.sections.append(
            (
                "mock sites",
                f"chaos seed {seed}: replay with `pytest --chaos-seed {seed} {item.nodeid}`",
            )
        )
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and report.when == "call" and isinstance(tmp_path, Path):
        # What a run in a child process was doing when the test gave up on it: its debug
        # log's last lines (secrets masked, as in every log).
        for log in sorted(tmp_path.rglob("*.log")):
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-60:]
            report.sections.append((f"run log {log.relative_to(tmp_path)}", "\n".join(tail)))
    return report
