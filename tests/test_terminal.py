"""The terminal as a new user meets it: help, messages, how a stop is told, plain output in
a pipe. End-to-end runs assert the mock server's state."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import stat
import termios
import threading
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from rich.console import Console
from support import (
    SECRET,
    actions,
    altrady_ips,
    binance_seed,
    keys_of,
    run_cli,
    run_engine,
    settings_for,
    write_allocation,
)
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import ExitCode, SiteChanged
from assistant.human import countdown
from fixtures.mockex import MockExchanges
from flows.base import Flow, expected_of
from flows.base import words as words_of


def help_of(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="ipbind", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_help_shows_no_type_after_flags_and_a_plain_usage_line() -> None:
    for command in ((), ("plan",), ("apply",), ("verify",), ("demo",)):
        text = help_of(*command)
        assert "<bool>" not in text, text
        assert "{" not in text and "}" not in text, text
    assert "Usage: ipbind apply [OPTIONS] FILE" in help_of("apply")


def test_help_shows_verbose_as_a_repeatable_flag() -> None:
    [line] = [line for line in help_of().splitlines() if "--verbose" in line]
    assert "<int>" not in line and "default" not in line, line
    assert re.search(r"-v, --verbose\s+More detail", line), line


# --- exit 4 names the control in words -----------------------------------------------------

# Playwright's own error texts (1.5x), as a flow's step meets them.
CLICK_TIMEOUT = (
    "Locator.click: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_role("button", name=re.compile(r"^\\s*Edit\\s*restrictions\\s*$", re.IGNORECASE))\n'
)
FILL_TIMEOUT = (
    "Locator.fill: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_label(re.compile(r"^\\s*IP\\s*address\\s*$", re.IGNORECASE))\n'
)
EXPECT_OR = (
    "Locator expected to be visible\nActual value: None\nError: element(s) not found \n"
    'Call log:\n  - Expect "to_be_visible" get_by_label(re.compile(r"^\\s*Email/Phone\\s*'
    'number\\s*$", re.IGNORECASE)).first.or_(get_by_role("button", name="Log In").first) '
    'with timeout 300ms\n  - waiting for get_by_label(re.compile(r"^\\s*Email/Phone\\s*number'
    '\\s*$", re.IGNORECASE)).first.or_(get_by_role("button", name="Log In").first)\n\n'
    "Aria snapshot:\n- paragraph: hi"
)
CHAINED = (
    "Locator.click: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_role("row").filter(has_text="Altrady").get_by_role("button", name="Edit")\n'
)
CHECKBOX = (
    "Locator.check: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_role("checkbox", name=re.compile(r"^\\s*Enable\\s*Spot\\s*\\&\\s*Margin\\s*'
    'Trading\\s*$", re.IGNORECASE))\n'
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (CLICK_TIMEOUT, "the 'Edit restrictions' button"),
        (FILL_TIMEOUT, "the field labelled 'IP address'"),
        (EXPECT_OR, "the field labelled 'Email/Phone number' or the 'Log In' button"),
        (CHAINED, "the 'Edit' button"),
        (CHECKBOX, "the 'Enable Spot & Margin Trading' checkbox"),
    ],
)
def test_expected_of_names_the_control_in_words(text: str, words: str) -> None:
    assert expected_of(PlaywrightTimeout(text)) == words


def test_a_site_changed_error_names_the_missing_control_not_the_locator(page: Page) -> None:
    """Against a live page, through a flow's own step: what exit 4 prints."""
    page.set_content("<p>An exchange's page without the button</p>")
    flow = Flow.__new__(Flow)  # only its step(): no sign-in, no site
    flow.name = "Binance"  # type: ignore[misc]
    with pytest.raises(SiteChanged) as info, flow.step("opening the key's editor"):
        page.get_by_role("button", name=words_of("Edit restrictions")).click(timeout=300)
    message = info.value.message
    assert message.endswith("(the 'Edit restrictions' button)"), message
    assert "get_by_role" not in message and "re.compile" not in message


# --- 2FA: refusals, hints, back-to-back runs (end to end, on the mock Binance) -------------


@pytest.fixture
def binance(mock: MockExchanges) -> MockExchanges:
    mock.reset(
        "binance",
        binance_seed({"label": "Altrady main"}, {"label": "Spare", "ips": ["198.51.100.7"]}),
    )
    return mock


def one_key(tmp_path: Path, *keys: str) -> Path:
    accounts = [
        {
            "exchange": "binance",
            "name": f"Account {i}",
            "key": key,
            "ips": altrady_ips(start=20 * i),
        }
        for i, key in enumerate(keys or ("Altrady main",))
    ]
    return write_allocation(tmp_path / "allocation.toml", accounts)


class Person:
    """Types codes at the prompt: scripted answers (None: the code the app shows now),
    waiting out the countdown the prompt shows, as a person would."""

    def __init__(self, period: int, *answers: str | None):
        self.totp = pyotp.TOTP(SECRET, interval=period)
        self.answers = list(answers)
        self.waits: list[float] = []

    def __call__(self, prompt: str, wait: float) -> str:
        self.waits.append(wait)
        time.sleep(wait)  # stands in for the terminal's countdown
        answer = self.answers.pop(0) if self.answers else None
        return answer or self.totp.now()


def wrong_code(period: int) -> str:
    right = {pyotp.TOTP(SECRET, interval=period).at(time.time() + d) for d in (-period, 0)}
    return next(c for c in ("000000", "111111", "222222") if c not in right)


def test_a_typo_is_asked_again_at_once_and_the_run_completes(
    binance: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    period = binance.site("binance").totp_period
    person = Person(period, wrong_code(period))
    settings = settings_for(binance, "binance", tmp_path, secret="")
    [result] = run_engine(settings, one_key(tmp_path), browser, ask_code=person)

    assert result.status == "verified", result.error
    assert person.waits[:2] == [0, 0]  # the typo cost no time step
    assert keys_of(binance, "binance")[0]["ips"] == altrady_ips(start=0)


def test_two_refused_typed_codes_hint_at_the_app_not_at_a_secret(
    binance: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    period = binance.site("binance").totp_period
    person = Person(
        period, wrong_code(period), "999999" if wrong_code(period) != "999999" else "888888"
    )
    settings = settings_for(binance, "binance", tmp_path, secret="")
    [result] = run_engine(settings, one_key(tmp_path), browser, ask_code=person)

    assert result.status == "failed" and result.error is not None
    assert "two authenticator codes in a row were refused" in result.error.message
    assert result.error.hint and "authenticator app" in result.error.hint
    assert "TOTP_SECRET" not in result.error.hint
    assert actions(binance, "binance", "save") == []
    assert keys_of(binance, "binance")[0]["ips"] == []


def test_plan_then_apply_back_to_back_never_reuse_a_step(
    binance: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(binance, "binance", tmp_path)
    plan = run_cli("plan", one_key(tmp_path), settings, browser, capsys)
    apply = run_cli("apply", one_key(tmp_path), settings, browser, capsys)

    assert plan.code == apply.code == ExitCode.OK, plan.out + apply.out
    assert "refused" not in plan.out + apply.out  # no "already used" at the second sign-in
    assert len(binance.state("binance")["sign_ins"]) == 2
    assert keys_of(binance, "binance")[0]["ips"] == altrady_ips(start=0)
    memory = tmp_path / "totp-steps.json"  # the runs folder's parent: the state dir
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600
    assert list(json.loads(memory.read_text())) == [binance.base_url("binance")]


# --- keys typed during the countdown --------------------------------------------------------


def test_keys_typed_during_the_countdown_are_not_echoed_and_are_thrown_away() -> None:
    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r")
    console = Console(file=io.StringIO(), force_terminal=True)
    outcome: list[bool] = []
    counting = threading.Thread(target=lambda: outcome.append(countdown(console, 1.0, stdin)))
    try:
        counting.start()
        deadline = time.monotonic() + 5
        while termios.tcgetattr(slave)[3] & termios.ECHO:  # until the countdown holds keys
            assert time.monotonic() < deadline
            time.sleep(0.01)  # polling a condition, not waiting a fixed time
        os.write(master, b"123456\n")
        counting.join(timeout=5)

        assert outcome == [True]  # they were typed, and the caller is told so
        assert not select.select([master], [], [], 0.2)[0]  # nothing echoed back
        assert not select.select([slave], [], [], 0)[0]  # nothing left to be read as a code
        assert termios.tcgetattr(slave)[3] & termios.ECHO  # the terminal is as it was
    finally:
        stdin.close()
        os.close(master)


def test_a_countdown_without_keys_says_nothing_was_thrown_away() -> None:
    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r")
    try:
        assert countdown(Console(file=io.StringIO()), 0.3, stdin) is False
    finally:
        stdin.close()
        os.close(master)
