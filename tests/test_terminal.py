"""The terminal as a new user meets it: help, messages, how a stop is told, plain output in
a pipe. End-to-end runs assert the mock server's state."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import signal
import stat
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pyotp
import pyte
import pytest
from loguru import logger
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from rich.console import Console
from support import (
    SECRET,
    actions,
    altrady_ips,
    binance_seed,
    codes,
    ipbind_here,
    keys_of,
    run_cli,
    run_engine,
    settings_for,
    write_allocation,
)
from typer.testing import CliRunner

from assistant import human as humans
from assistant import logs, stops
from assistant.cli import app
from assistant.errors import ExitCode, SiteChanged, UserActionNeeded
from assistant.exchanges import listing
from assistant.human import countdown
from assistant.outcome import KeyPlan, KeyResult, Target, not_started
from assistant.output import ConsoleReporter
from assistant.runner import Options, interruption, run
from assistant.settings import BaseIpbindSettings
from assistant.stops import as_ctrl_c
from assistant.worker import doing
from fixtures.mockex import MockExchanges
from flows import FLOWS
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
def seeded(mock: MockExchanges) -> None:
    mock.reset(
        "binance",
        binance_seed({"label": "Altrady main"}, {"label": "Spare", "ips": ["198.51.100.7"]}),
    )


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
        self.prompts: list[str] = []

    def __call__(self, prompt: str, wait: float, sent_in_page: Any = None) -> str:
        self.waits.append(wait)
        self.prompts.append(prompt)
        time.sleep(wait)  # stands in for the terminal's countdown
        answer = self.answers.pop(0) if self.answers else None
        return answer or self.totp.now()


def wrong_code(period: int) -> str:
    right = {pyotp.TOTP(SECRET, interval=period).at(time.time() + d) for d in (-period, 0)}
    return next(c for c in ("000000", "111111", "222222") if c not in right)


@pytest.mark.usefixtures("seeded")
def test_a_typo_is_asked_again_at_once_and_the_run_completes(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    period = mock.site("binance").totp_period
    person = Person(period, wrong_code(period))
    settings = settings_for(mock, "binance", tmp_path, secret="")
    warnings: list[Any] = []
    sink = logger.add(warnings.append, level="WARNING")
    try:
        [result] = run_engine(settings, one_key(tmp_path), browser, ask_code=person)
    finally:
        logger.remove(sink)

    assert result.status == "verified", result.error
    assert person.waits[:2] == [0, 0]  # the typo cost no time step
    assert keys_of(mock, "binance")[0]["ips"] == altrady_ips(start=0)
    # Told once, by the next prompt; the flow's own warning is for the debug file alone.
    assert person.prompts[1].startswith("Binance refused that code (")
    refusals = [m.record for m in warnings if "was refused" in m.record["message"]]
    assert refusals and all(r["extra"].get("file_only") for r in refusals)


@pytest.mark.usefixtures("seeded")
def test_in_a_visible_window_a_code_sent_in_the_page_is_noticed_and_the_run_goes_on(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    """Asked for the sign-in's code at the terminal, the person types it into the page and
    sends it there: the prompt gives up once the page has taken it, and the run goes on
    (the save's code is typed at the terminal)."""
    period = mock.site("binance").totp_period
    totp = pyotp.TOTP(SECRET, interval=period)
    sign_in = FLOWS["binance"].sign_in
    watched: list[bool] = []

    def person(prompt: str, wait: float, sent_in_page: Any = None) -> str | None:
        time.sleep(wait)  # the countdown
        watched.append(sent_in_page is not None)
        if len(watched) > 1:
            return totp.now()  # at the terminal
        page = browser.contexts[-1].pages[-1]  # the run's window, as the person sees it
        page.get_by_label(sign_in.code).fill(totp.now())
        page.get_by_role("button", name=sign_in.code_submit).click()
        deadline = time.monotonic() + 10
        while not sent_in_page():  # what the prompt looks at while nothing is typed
            assert time.monotonic() < deadline, "the page's sending was not noticed"
        return None

    settings = settings_for(mock, "binance", tmp_path, secret="", signed_in=False)
    settings = settings.model_copy(update={"headless": False})  # a window the person sees
    [result] = run_engine(settings, one_key(tmp_path), browser, ask_code=person)

    assert result.status == "verified", result.error
    assert watched == [True, True]
    assert len(mock.state("binance")["sign_ins"]) == 1
    assert [c["accepted"] for c in codes(mock, "binance", "save")] == [True]
    assert keys_of(mock, "binance")[0]["ips"] == altrady_ips(start=0)


def test_the_code_prompt_gives_up_once_it_was_sent_in_the_page() -> None:
    """The terminal's side: a line typed is the answer; nothing typed, the prompt looks at
    the page every turn and gives up (None) once the code was sent there."""
    console = Console(file=io.StringIO(), width=120)
    read, write = os.pipe()
    with os.fdopen(read) as stdin, os.fdopen(write, "w") as typing:
        looks: list[bool] = []

        def sent_at_the_third_look() -> bool:
            looks.append(len(looks) == 2)
            return looks[-1]

        assert humans.read_line(console, "Code", sent_at_the_third_look, stdin) is None
        assert looks == [False, False, True]
        typing.write("123456\n")
        typing.flush()
        assert humans.read_line(console, "Code", lambda: False, stdin) == "123456"


@pytest.mark.usefixtures("seeded")
def test_two_refused_typed_codes_hint_at_the_app_not_at_a_secret(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    period = mock.site("binance").totp_period
    person = Person(
        period, wrong_code(period), "999999" if wrong_code(period) != "999999" else "888888"
    )
    settings = settings_for(mock, "binance", tmp_path, secret="")
    [result] = run_engine(settings, one_key(tmp_path), browser, ask_code=person)

    assert result.status == "failed" and result.error is not None
    assert "two authenticator codes in a row were refused" in result.error.message
    assert result.error.hint and "authenticator app" in result.error.hint
    assert "TOTP_SECRET" not in result.error.hint
    assert actions(mock, "binance", "save") == []
    assert keys_of(mock, "binance")[0]["ips"] == []


# Full tier; fast: test_binance_flow's four runs back to back (verify, apply, verify, apply).
@pytest.mark.full
@pytest.mark.usefixtures("seeded")
def test_plan_then_apply_back_to_back_never_reuse_a_step(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(mock, "binance", tmp_path)
    plan = run_cli("plan", one_key(tmp_path), settings, browser, capsys)
    apply = run_cli("apply", one_key(tmp_path), settings, browser, capsys)

    assert plan.code == apply.code == ExitCode.OK, plan.out + apply.out
    assert "refused" not in plan.out + apply.out  # no "already used" at the second sign-in
    assert len(mock.state("binance")["sign_ins"]) == 2
    assert keys_of(mock, "binance")[0]["ips"] == altrady_ips(start=0)
    memory = tmp_path / "state" / "totp-steps.json"  # beside the runs folder
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600
    assert stat.S_IMODE(memory.parent.stat().st_mode) == 0o700
    assert list(json.loads(memory.read_text())) == [mock.base_url("binance")]


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


# --- what the reporter prints: lines that do not collide, plain lines in a pipe -----------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
LONG_KEY = "Altrady main key for the spot trading bot (2026)"


def terminal(width: int = 60) -> tuple[ConsoleReporter, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, highlight=False)
    return ConsoleReporter(console), out


def pipe(width: int = 80) -> tuple[ConsoleReporter, io.StringIO]:
    out = io.StringIO()
    return ConsoleReporter(Console(file=out, width=width, highlight=False)), out


def screen_lines(raw: str) -> list[str]:
    return [line for line in ANSI.sub("", raw).split("\n") if line.strip()]


def painted(raw: str, width: int) -> list[str]:
    """The lines a terminal `width` columns wide shows after `raw`, cursor moves and all."""
    shown = pyte.Screen(width, 200)
    pyte.Stream(shown).feed(raw.replace("\n", "\r\n"))
    return [line.rstrip() for line in shown.display if line.strip()]


def a_plan(key: str = "Altrady main", present: int = 0, kept: list[str] | None = None) -> KeyPlan:
    ips = altrady_ips()
    plan = KeyPlan(Target("binance", key, ["My Binance"], ips))
    plan.current = [*ips[:present], *(kept or [])]
    plan.to_add = ips[present:]
    return plan


def test_a_warning_during_progress_gets_its_own_lines_and_whole_words() -> None:
    reporter, out = terminal(width=60)
    logs.setup()
    warning = "Binance: saving: the code was refused (Invalid verification code); trying again"
    try:
        reporter.progress(
            "binance", "Adding 3 addresses to 'Altrady main' on Binance (1/3)", 1, 3, lambda: 9.0
        )
        logger.warning(warning)
        reporter.progress(
            "binance", "Adding 3 addresses to 'Altrady main' on Binance (2/3)", 2, 3, lambda: 9.0
        )
    finally:
        reporter.end_progress()
    lines = painted(out.getvalue(), 60)
    warned = [i for i, line in enumerate(lines) if "WARNING" in line]
    assert warned and lines[warned[0]].startswith("WARNING"), lines
    shown = " ".join(lines[warned[0] :])
    for word in warning.split():
        assert word in shown.split(), (word, lines)  # wrapped between words, never inside


def test_the_line_left_above_a_question_has_no_frozen_countdown() -> None:
    reporter, out = terminal()
    reporter.progress(
        "binance", "Adding 3 addresses to 'Altrady main' on Binance (1/3)", 1, 3, lambda: 9.0
    )
    with reporter.paused():  # what stays on screen above the question asked here
        above = screen_lines(out.getvalue())[-1]
    reporter.end_progress()
    assert above == "Adding 3 addresses to 'Altrady main' on Binance (1/3)"


def test_the_last_progress_line_of_a_step_has_no_countdown() -> None:
    reporter, out = pipe()
    reporter.progress(
        "binance", "Adding 5 addresses to 'Altrady main' on Binance (5/5)", 5, 5, lambda: 10.0
    )
    assert out.getvalue().strip() == "Adding 5 addresses to 'Altrady main' on Binance (5/5)"


def test_a_pipe_gets_plain_lines_nothing_cut_or_wrapped() -> None:
    reporter, out = pipe(width=80)
    plan = a_plan(LONG_KEY, present=2, kept=["198.51.100.7"])
    reporter.plans([plan], "apply")
    result = KeyResult(plan, "not verified", after=plan.current)
    reporter.summary([result], "apply")
    text = out.getvalue()

    assert "…" not in text and "─" not in text and "┃" not in text
    assert all(LONG_KEY in line for line in text.splitlines() if "binance" in line)
    for ip in result.missing:  # every missing address, whole
        assert ip in text
    assert "already there 2/20" in text  # the same count, the same way, plan and summary
    assert text.count("already there 2/20") == 2


def test_verify_speaks_of_present_and_missing_and_explains_kept() -> None:
    reporter, out = pipe()
    plan = a_plan(present=18, kept=["198.51.100.7"])
    reporter.plans([plan], "verify")
    reporter.summary([KeyResult(plan, "not verified", after=plan.current)], "verify")
    text = out.getvalue()

    assert "to add" not in text and "added" not in text
    assert "present 18/20" in text and "missing 2" in text
    assert "kept 1" in text
    assert "not Altrady's" in text and "leaves them alone" in text  # what "kept" means


def test_an_error_is_told_once_and_a_key_not_started_says_why() -> None:
    reporter, out = pipe()
    bad = a_plan("Gone key")
    bad.error = UserActionNeeded("binance: no key named 'Gone key'", hint="Check `key`.")
    good = a_plan()
    results = [KeyResult(bad, "failed", error=bad.error), not_started(good, [bad])]
    reporter.plans([bad, good], "apply")
    reporter.summary(results, "apply")
    text = out.getvalue()

    assert text.count("no key named 'Gone key'") == 1
    assert text.count("Check `key`.") == 1
    assert "Altrady main: planned" not in text and "binance · Altrady main: not started" in text
    assert "'Altrady main': not started: binance 'Gone key' could not be planned" in text


# --- stopping, told one way; bad input before anything is made -----------------------------


@pytest.fixture
def at_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run believes a person is at the terminal (the answers are scripted per test)."""
    monkeypatch.setattr("assistant.runner.interactive", lambda: True)
    monkeypatch.setattr("assistant.human.interactive", lambda: True)


def run_asking(
    mode: str, allocation: Path, settings: BaseIpbindSettings, browser: Browser, capsys: Any
) -> tuple[ExitCode, str]:
    code = run(mode, allocation, Options(), settings=settings, chromium=browser)  # type: ignore[arg-type]
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def answer(monkeypatch: pytest.MonkeyPatch, reply: Callable[..., bool]) -> None:
    monkeypatch.setattr("assistant.human.Confirm.ask", reply)


def ctrl_c(*args: Any, **kwargs: Any) -> Any:
    """A real Ctrl-C: SIGINT to this process, heard by whatever handler the run has set."""
    os.kill(os.getpid(), signal.SIGINT)
    raise AssertionError("the Ctrl-C was not heard where it was pressed")


@pytest.mark.usefixtures("seeded")
def test_no_at_the_confirmation_changes_nothing_and_says_so(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, monkeypatch, at_a_terminal
) -> None:
    answer(monkeypatch, lambda *a, **k: False)
    settings = settings_for(mock, "binance", tmp_path)
    code, out = run_asking("apply", one_key(tmp_path), settings, browser, capsys)

    assert code == ExitCode.NOT_VERIFIED
    assert "you answered no at the confirmation; nothing was changed" in out
    assert "skipped" not in out
    assert actions(mock, "binance", "save") == []
    assert keys_of(mock, "binance")[0]["ips"] == []


@pytest.mark.usefixtures("seeded")
def test_ctrl_c_at_the_confirmation_changes_nothing_and_says_so(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, monkeypatch, at_a_terminal
) -> None:
    answer(monkeypatch, ctrl_c)
    settings = settings_for(mock, "binance", tmp_path)
    code, out = run_asking("apply", one_key(tmp_path), settings, browser, capsys)

    assert code == ExitCode.INTERRUPTED
    assert "nothing was changed" in out
    assert actions(mock, "binance", "save") == []


def test_sigterm_and_sighup_are_heard_as_ctrl_c_and_end_with_their_own_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever SIGINT's handler is (the lanes' counting one here), SIGTERM and SIGHUP reach
    it; with Python's own, they raise as Ctrl-C does. SIGHUP also leaves the terminal (not
    this test runner's, here). The stop names the signal and ends with 143 or 129; the
    handlers are put back afterwards."""
    left: list[bool] = []
    monkeypatch.setattr(stops, "off_the_terminal", lambda: left.append(True))
    pressed: list[int] = []
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    counting = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        with as_ctrl_c() as heard:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGHUP)
    finally:
        signal.signal(signal.SIGINT, counting)
    assert heard == [signal.SIGTERM, signal.SIGHUP] and pressed == [signal.SIGINT] * 2
    assert left == [True]  # at SIGHUP only
    stop = interruption("apply", None, heard)
    assert stop.exit_code == ExitCode.TERMINATED == 143
    assert stop.message == "stopped by SIGTERM before any change; nothing was changed"
    assert interruption("plan", None, [signal.SIGHUP]).exit_code == ExitCode.HANGUP == 129
    assert interruption("plan", None).exit_code == ExitCode.INTERRUPTED
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), as_ctrl_c():
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM was not heard")
    finally:
        signal.signal(signal.SIGINT, counting)


@pytest.mark.parametrize("mode", ["plan", pytest.param("verify", marks=pytest.mark.full)])
@pytest.mark.usefixtures("seeded")
def test_ctrl_c_during_plan_or_verify_says_nothing_was_changed(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, monkeypatch, mode: str
) -> None:
    monkeypatch.setattr(ConsoleReporter, "plans", ctrl_c)  # just after every key was read
    settings = settings_for(mock, "binance", tmp_path, signed_in=False)
    code, out = run_asking(mode, one_key(tmp_path), settings, browser, capsys)

    assert code == ExitCode.INTERRUPTED
    assert f"interrupted; nothing was changed ({mode} only reads)" in out
    assert "saved" not in out
    assert len(mock.state("binance")["sign_ins"]) == 1  # it was under way
    assert actions(mock, "binance", "save") == []


@pytest.mark.usefixtures("seeded")
def test_a_good_key_is_not_started_when_another_cannot_be_planned(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    settings = settings_for(mock, "binance", tmp_path)
    allocation = one_key(tmp_path, "Altrady main", "No such key")
    result = run_cli("apply", allocation, settings, browser, capsys)

    assert result.code == ExitCode.USER_ACTION
    assert result.out.count("no key named 'No such key'") == 1  # told once, not twice
    assert "'Altrady main': not started: binance 'No such key' could not be planned" in result.out
    assert actions(mock, "binance", "save") == []


@pytest.mark.usefixtures("seeded")
def test_a_missing_file_is_refused_before_a_run_folder_or_log_exists(
    mock: MockExchanges, tmp_path: Path, capsys
) -> None:
    settings = settings_for(mock, "binance", tmp_path, signed_in=False)
    code = run("apply", tmp_path / "nope.toml", Options(yes=True), settings=settings)
    out = "".join(capsys.readouterr())

    assert code == ExitCode.BAD_INPUT
    assert "nope.toml: no such file" in out
    assert "Debug log" not in out
    assert not (tmp_path / "runs").exists()
    assert mock.state("binance")["sessions"] == 0


def test_exchanges_in_a_pipe_is_plain_lines() -> None:
    result = ipbind_here("exchanges")
    assert result.returncode == 0
    [binance] = [line for line in result.stdout.splitlines() if line.startswith("id: binance ·")]
    assert "how: paste all, Confirm, Save, 2FA" in binance and "max IPs: 30" in binance
    assert "┃" not in result.stdout and "│" not in result.stdout


def screen_of(*args: str, columns: int = 120) -> str:
    """What a command shows at a terminal `columns` wide, colours taken out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(COLUMNS=str(columns), LINES="50", TERM="xterm")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", *args],
        env=env,
        encoding="utf-8",
        dimensions=(50, columns),
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before or "")


def test_exchanges_at_a_terminal_is_compact_and_breaks_no_word() -> None:
    screen = screen_of("exchanges")
    lines = screen.splitlines()

    assert len(lines) <= 50, screen  # was 90 lines, "how" 15 characters wide
    assert max(len(line) for line in lines) <= 120, screen
    words = set(screen.split())
    for entry in listing():
        for word in entry["how"].split():
            assert word in words, f"{word!r} of {entry['id']} is split: {screen}"


def test_exchanges_json_has_a_stable_shape() -> None:
    result = CliRunner().invoke(app, ["exchanges", "--json"])
    assert result.exit_code == 0, result.output
    entries = {e["id"]: e for e in json.loads(result.output)["exchanges"]}

    keys = {"id", "name", "mode", "max_ips", "cidr", "how", "origins"}
    assert all(keys <= set(e) for e in entries.values())
    assert entries["kraken"]["mode"] == "one by one" and entries["kraken"]["cidr"] is True
    assert entries["binance"]["max_ips"] == 30
    assert entries["binance"]["origins"][0] == "https://www.binance.com"
    assert entries["bybit-futures"]["max_ips"] is None  # bound to Altrady's pool, no list
    assert entries["bitget"]["status"] == "by hand"


# --- what the person types at a code prompt ----------------------------------------------

ASK_CODES = """
from assistant.human import TerminalHuman
from assistant.output import ConsoleReporter
human = TerminalHuman(ConsoleReporter(), headless=True)
typed = human.ask_code("Kraken: authenticator code for saving", 0)
print("got", typed)
human.emailed_code("Huobi (HTX)", "linking the IPs")
"""


def test_a_typed_code_is_shown_as_typed_so_a_typo_can_be_seen() -> None:
    """A code is spent once sent: the terminal echoes it (the debug log still masks it)."""
    child = pexpect.spawn(
        sys.executable, ["-c", ASK_CODES], encoding="utf-8", timeout=30, dimensions=(24, 120)
    )
    child.expect("authenticator code for saving")
    child.sendline("123465")
    child.expect("got 123465")
    assert child.before.count("123465") == 1  # the echo, before the program's own line
    child.expect("type it")
    child.sendline("884211")
    child.expect("884211")  # echoed too
    child.expect(pexpect.EOF)


def test_lines_from_both_consoles_go_above_the_live_lines_and_leave_none_behind() -> None:
    # The parallel demo's screen: live lines per exchange on stdout while the demo's notices
    # and warnings go to stderr, both the same terminal.
    out = io.StringIO()
    results, errors = (
        Console(file=out, force_terminal=True, width=120, highlight=False) for _ in range(2)
    )
    reporter = ConsoleReporter(results, errors=errors)
    for step in (1, 2, 3):
        for exchange, name in (("binance", "Binance"), ("kraken", "Kraken")):
            text = doing("add", "Altrady main", name, step, 3)
            reporter.progress(exchange, text, step, 3, lambda: 0.0)
        reporter.say(f"demo, playing you: reading code {step}", error=True)
    reporter.say("binance: Altrady main: verified (3/3 read back)")
    reporter.end_progress()
    assert painted(out.getvalue(), 120) == [
        "demo, playing you: reading code 1",
        "demo, playing you: reading code 2",
        "demo, playing you: reading code 3",
        "binance: Altrady main: verified (3/3 read back)",
    ]
