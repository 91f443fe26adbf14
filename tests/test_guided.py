"""The two ways people use ipbind (issue 11): the guided terminal run (`ipbind run`, driven
here through a real pseudo-terminal), the headed walkthrough with its hand-off to the
person, the kept browser session (`login` / `logout`), and the report with pictures.
Assertions are on the mock server's stored state."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pexpect
import pyotp
import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect
from support import (
    PASSWORD,
    SECRET,
    account_state,
    actions,
    altrady_ips,
    assert_nothing_leaks,
    binance_seed,
    bittrex_seed,
    ended,
    ipbind,
    ipbind_here,
    keys_of,
    leaks,
    run_cli,
    secrets_of,
    seeded_account,
    settings_for,
    settings_for_sites,
    site_env,
    write_allocation,
    written,
)

from assistant import browser as browsers
from assistant import human as humans
from assistant import walkthrough
from assistant import worker as worker_module
from assistant.errors import ExitCode
from assistant.human import TerminalHuman
from assistant.output import ConsoleReporter
from assistant.runner import Options, load_allocation, run
from fixtures.mockex import MockExchanges
from flows.bybit import Bybit

IPS = altrady_ips()


def reports_in(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "runs").glob("*/report/report.html"))


def binance_keys(mock: MockExchanges, *labels: str, **site: object) -> None:
    mock.reset("binance", binance_seed(*({"label": label} for label in labels), **site))


def two_keys(tmp_path: Path) -> Path:
    return write_allocation(
        tmp_path / "allocation.toml",
        [
            {
                "exchange": "binance",
                "name": "My Binance",
                "key": "Altrady main",
                "extra_keys": ["Altrady extra"],
                "ips": IPS,
            }
        ],
    )


# -- the report ----------------------------------------------------------------------------


# Full tier; fast: test_pictures' binance apply (a picture per key, in the report page and its
# result.json), test_secrets' verbose applies (no secret in the report), test_cli's --json
# apply (the report named on stderr).
@pytest.mark.full
def test_apply_writes_a_report_with_a_picture_per_key_and_no_secrets(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    binance_keys(mock, "Altrady main", "Altrady extra")
    settings = settings_for(mock, "binance", tmp_path, pictures=True)
    outcome = run_cli("apply", two_keys(tmp_path), settings, browser, capsys)

    assert outcome.code == ExitCode.OK, outcome.out
    [report] = reports_in(tmp_path)
    assert f"Report (with pictures): {report}" in outcome.out
    page = report.read_text(encoding="utf-8")
    assert len(re.findall(r'<img alt="binance [^"]+" src="data:image/png;base64,', page)) == 2
    assert "Altrady main" in page and "Altrady extra" in page and IPS[0] in page
    for secret in (PASSWORD, SECRET, pyotp.TOTP(SECRET, interval=1).now()):
        assert secret not in page
    result = (report.parent / "result.json").read_text(encoding="utf-8")
    assert '"ok": true' in result and PASSWORD not in result
    assert {k["label"]: k["ips"] for k in keys_of(mock, "binance")} == {
        "Altrady main": IPS,
        "Altrady extra": IPS,
    }


def test_verify_writes_a_report_too_and_plan_does_not(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("binance", binance_seed({"label": "Altrady main", "ips": IPS[:5]}))
    settings = settings_for(mock, "binance", tmp_path, pictures=True)
    file = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "binance", "name": "B", "key": "Altrady main", "ips": IPS}],
    )
    before = mock.state("binance")["accounts"]
    assert run_cli("plan", file, settings, browser, capsys).code == ExitCode.OK
    assert reports_in(tmp_path) == []
    assert mock.state("binance")["accounts"] == before  # plan changes nothing
    assert actions(mock, "binance", "save") == []

    outcome = run_cli("verify", file, settings, browser, capsys)

    assert outcome.code == ExitCode.NOT_VERIFIED
    [report] = reports_in(tmp_path)
    page = report.read_text(encoding="utf-8")
    assert "not verified" in page and "missing now</th><td>15" in page
    assert page.count("data:image/png;base64,") == 1


def test_a_picture_masks_password_fields_but_shows_addresses(page: Page, tmp_path: Path) -> None:
    from assistant.report import picture

    page.set_content(
        f'<input type=password value="{PASSWORD}"><input id=code value="123456">'
        f"<textarea id=ips>{IPS[0]}, {IPS[1]}</textarea>"
    )
    taken = picture(page, None, tmp_path, "binance", "k")
    assert taken is not None and taken.shows == IPS[:2]
    marked = page.evaluate(
        "() => [...document.querySelectorAll('input, textarea')]"
        ".map(e => e.hasAttribute('data-ipbind-secret'))"
    )
    assert marked == [True, True, False]  # masked, masked, visible


# -- login / logout --------------------------------------------------------------------------


@pytest.mark.long
def test_login_keeps_a_private_session_and_apply_then_signs_in_no_more(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    """`login` as the person runs it; the runs after it in this process, on the same state
    folder (`settings_for` puts it beside the same runs folder as `site_env`)."""
    binance_keys(mock, "Altrady main")
    env = site_env(mock, "binance", tmp_path)
    file = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "binance", "name": "B", "key": "Altrady main", "ips": IPS}],
    )

    login = ipbind("-v", "login", "binance", env=env)  # -v: a debug log and a trace too

    assert login.returncode == ExitCode.OK, login.stdout + login.stderr
    assert len(mock.state("binance")["sign_ins"]) == 1
    [trace] = (tmp_path / "runs").glob("*/trace-binance.zip")
    assert f"Trace (secrets scrubbed): {trace}" in login.stderr
    with zipfile.ZipFile(trace) as archive:
        recorded = b" ".join(archive.read(name) for name in archive.namelist())
    assert b"Log In" in recorded
    assert leaks(recorded, {"password": PASSWORD, "TOTP secret": SECRET}) == []
    [kept] = (tmp_path / "state" / "sessions").glob("binance.json")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    # The session (cookies, storage) and all else the state folder holds: no secret.
    for path in (tmp_path / "state").rglob("*.json"):
        assert leaks(path.read_bytes(), {"password": PASSWORD, "TOTP secret": SECRET}) == []
    assert str(kept) in login.stdout

    settings = settings_for(mock, "binance", tmp_path)
    applied = run_cli("apply", file, settings, browser, capsys)

    assert applied.code == ExitCode.OK, applied.out
    assert len(mock.state("binance")["sign_ins"]) == 1  # the kept session: no sign-in
    assert keys_of(mock, "binance")[0]["ips"] == IPS

    logout = ipbind_here("logout", "binance", env=env)
    assert logout.returncode == ExitCode.OK
    assert not kept.exists()
    assert run_cli("verify", file, settings, browser, capsys).code == ExitCode.OK
    assert len(mock.state("binance")["sign_ins"]) == 2  # signed in again


@pytest.mark.long
@pytest.mark.full  # the fault matrix's ended sessions prove the sign-in again
def test_an_expired_session_is_signed_in_again(mock: MockExchanges, tmp_path: Path) -> None:
    binance_keys(mock, "Altrady main")
    env = site_env(mock, "binance", tmp_path)
    file = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "binance", "name": "B", "key": "Altrady main", "ips": IPS}],
    )
    assert ipbind("login", "binance", env=env).returncode == ExitCode.OK
    mock.control("binance", "expire-sessions")

    applied = ipbind("apply", "--yes", str(file), env=env)

    assert applied.returncode == ExitCode.OK, applied.stdout + applied.stderr
    assert len(mock.state("binance")["sign_ins"]) == 2


def test_login_and_logout_name_a_bad_exchange_and_logout_without_session_is_fine(
    tmp_path: Path,
) -> None:
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "IPBIND_CONFIG": str(tmp_path / "c")}
    bad = ipbind_here("login", "binanse", env=env)
    assert bad.returncode == ExitCode.BAD_INPUT
    assert "unknown exchange 'binanse'" in bad.stdout + bad.stderr
    none = ipbind_here("logout", "kraken", env=env)
    assert none.returncode == ExitCode.OK
    assert "No saved session for Kraken" in none.stdout


def test_login_by_hand_without_a_display_says_how_to_get_one(tmp_path: Path) -> None:
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    env["IPBIND_CONFIG"] = str(tmp_path / "c")
    result = ipbind_here("login", "binance", env=env)
    assert result.returncode == ExitCode.BROWSER
    assert "xvfb-run" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# -- the guided terminal run, through a pseudo-terminal ---------------------------------------


def spawn(env: dict[str, str], *args: str, cwd: Path | None = None) -> pexpect.spawn:
    """`ipbind run` at a terminal of its own (120 columns), with `env` and none of this
    process's ipbind settings, in `cwd` (a folder away from the checkout's .env)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    full.update(env, COLUMNS="120", LINES="40", TERM="xterm", PYTHONFAULTHANDLER="1")
    return pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "run", *args],
        env=full,
        cwd=str(cwd or tempfile.gettempdir()),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )


def paste(child: pexpect.spawn, ips: list[str]) -> None:
    for ip in ips:
        child.sendline(ip)
    child.sendline("")


# `run --yes` only skips the plan's confirmation: the person answering the wizard is asked
# for the sign-in too. The confirmation itself: the full tier here, test_terminal's in the
# fast one.
@pytest.mark.parametrize(
    "args", [pytest.param((), marks=pytest.mark.full), ("--yes",)], ids=["asked", "yes"]
)
@pytest.mark.long
def test_the_wizard_asks_checks_saves_and_applies(
    mock: MockExchanges, tmp_path: Path, args: tuple[str, ...]
) -> None:
    binance_keys(mock, "Altrady main")
    env = site_env(mock, "binance", tmp_path, sign_in=False)
    saved = tmp_path / "mine.toml"
    account = next(iter(mock.site("binance").accounts.values()))
    child = spawn(env, *args)

    child.expect("Exchange \\(number or name\\)")
    child.sendline("binanse")
    child.expect("'binanse': did you mean binance\\?")
    child.expect("Exchange \\(number or name\\)")
    child.sendline("binance")
    child.expect("trading account's name")
    child.sendline("")  # the default
    child.expect("on Binance")
    child.sendline("Altrady main")
    child.expect("Extra keys")
    child.sendline("")
    child.expect("then an empty line")
    paste(child, [*IPS[:18], "203.0.113.300", IPS[0]])
    child.expect("do not pass the checks")
    child.expect("'203.0.113.300' is not a valid IP address")
    child.expect("listed twice")  # every problem at once
    child.expect("Paste them again")
    paste(child, [", ".join(IPS)])  # as copied: one line, commas
    child.expect("Save these answers")
    child.sendline("y")
    child.expect("File")
    child.sendline(str(saved))
    child.expect("Saved:")
    # The run asks for the sign-in (none set); a wrong password is asked again; once one is
    # taken, it would be offered to the keyring (there is none here).
    child.expect("Binance e-mail or username: ")
    child.sendline(account.username)
    child.expect("Binance password \\(hidden\\): ")
    # The prompt shows a moment before the terminal stops echoing; a line sent in between
    # would be echoed, then dropped as echo goes off (a person is never that quick).
    assert child.waitnoecho(timeout=10)
    child.sendline("not-the-password")
    child.expect(r"Binance refused the sign-in \(.*\)\.\s+Type the Binance")
    child.expect(r"sign-in\s+again \(2 tries\s+left\)")
    child.expect(f"Binance e-mail or username \\[{re.escape(account.username)}\\]: ")
    child.sendline("")  # the one shown
    child.expect("Binance password \\(hidden\\): ")
    assert child.waitnoecho(timeout=10)
    child.sendline(PASSWORD)
    child.expect("No system keyring is available here")  # told once Binance has taken it
    if not args:
        child.expect("Add 20 addresses on 1 key\\?")
        child.sendline("y")
    child.expect(pexpect.EOF, timeout=90)
    child.close()
    out = child.before or ""

    assert child.exitstatus == ExitCode.OK, out
    assert keys_of(mock, "binance")[0]["ips"] == IPS
    assert "Last step, in Altrady" in out and "Report (with pictures)" in out
    assert PASSWORD not in out  # typed hidden, never echoed
    [account_saved] = load_allocation(saved, allow_count=False).accounts
    assert (account_saved.exchange, account_saved.key, account_saved.ips) == (
        "binance",
        "Altrady main",
        IPS,
    )
    assert PASSWORD not in saved.read_text(encoding="utf-8")
    assert "Check IPBIND" not in out and "not-the-password" not in out
    for path, text in written(tmp_path / "runs"):  # the debug log, the report
        assert leaks(text, {"password": PASSWORD, "wrong one": "not-the-password"}) == [], path
    assert json.loads((tmp_path / "state" / "wizard.json").read_text()) == {"file": str(saved)}


@pytest.mark.full  # a real Ctrl-C; fast: test_interrupt's while signing in
@pytest.mark.long
def test_ctrl_c_in_the_middle_stops_cleanly_and_says_per_key_what_was_saved(
    mock: MockExchanges, tmp_path: Path
) -> None:
    mock.reset("bittrex", bittrex_seed())
    child = spawn(site_env(mock, "bittrex", tmp_path))
    child.expect("Exchange \\(number or name\\)")
    child.sendline("bittrex")
    child.expect("trading account's name")
    child.sendline("My Bittrex")
    child.expect("then an empty line")
    paste(child, IPS)
    child.expect("Save these answers")
    child.sendline("n")
    child.expect("on 1 key\\?")
    child.sendline("y")
    child.expect(
        r"Adding 20 addresses to 'account allow list' on Bittrex Global \(([3-9]|1[0-5])/20\)"
    )

    child.sendintr()
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    out = child.before or ""

    assert child.exitstatus == ExitCode.INTERRUPTED, out
    assert "Traceback" not in out
    stored = account_state(mock, "bittrex")["allow_list"]
    assert 3 <= len(stored) < 20
    assert "interrupted while changing whitelists" in out
    # The summary counts what the exchange showed when read back after the stop.
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    row = re.search(r"account allow list\s*│\s*interrupted\s*│\s*(\d+)\s*│", plain)
    assert row and int(row.group(1)) == len(stored), plain
    assert stored == IPS[: len(stored)]


def test_the_wizard_without_a_terminal_asks_for_a_file(tmp_path: Path) -> None:
    result = ipbind_here("run", env={"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs")})
    assert result.returncode == ExitCode.BAD_INPUT
    assert "pass an allocation file" in result.stdout + result.stderr


@pytest.mark.full  # a real Ctrl-C at a question
def test_ctrl_c_while_the_wizard_asks_changes_nothing(mock: MockExchanges, tmp_path: Path) -> None:
    child = spawn(site_env(mock, "binance", tmp_path))
    child.expect("Exchange \\(number or name\\)")
    child.sendintr()
    ended(child)
    assert child.exitstatus == ExitCode.INTERRUPTED
    assert "nothing was changed" in (child.before or "")
    assert "Traceback" not in (child.before or "")
    assert mock.state("binance")["sessions"] == 0


@pytest.mark.long
def test_the_wizard_reads_right_and_refuses_test_net_at_paste_time(tmp_path: Path) -> None:
    """Against the real site (no BASE_URL): no browser starts; stopped at the sign-in."""
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "IPBIND_CONFIG": str(tmp_path / "c")}
    child = spawn(env, cwd=tmp_path)
    child.expect("Exchange \\(number or name\\)")
    menu = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before or "")
    child.sendline("krakn")
    child.expect("'krakn': did you mean kraken\\?")
    child.expect("Exchange \\(number or name\\)")
    child.sendline("binance")
    child.expect("trading account's name \\[My Binance\\]: ")
    child.sendline("")
    child.expect("The key on Binance, by its label or API key: ")
    child.sendline("Altrady main")
    child.expect("Extra keys")
    child.sendline("Altrady main")  # the main key again: asked again, not left to the paste
    child.expect("'Altrady main' named twice")
    child.expect("Extra keys")
    child.sendline("")
    child.expect("then an empty line")
    paste(child, IPS)  # TEST-NET: never Altrady's, and this run is against binance.com
    child.expect("documentation addresses \\(TEST-NET\\)")
    child.expect("Paste them again")
    public = [f"8.8.{n}.8" for n in range(20)]
    paste(child, public)
    child.expect(
        "Save these answers as an allocation file \\(for `ipbind apply` later\\)\\? \\[y/N\\]: "
    )
    child.sendline("y")
    child.expect("File \\[allocation.toml\\]: ")
    child.sendline("")
    child.expect("Saved: allocation.toml")
    child.expect("Binance e-mail or username: ")
    child.sendintr()
    ended(child)

    assert child.exitstatus == ExitCode.INTERRUPTED, child.before
    [saved] = load_allocation(tmp_path / "allocation.toml", allow_count=False).accounts
    assert saved.ips == public

    # The next `ipbind run` without a file offers the file saved.
    child = spawn(env, cwd=tmp_path)
    child.expect("Last time you saved your answers in")
    child.expect("allocation.toml")
    child.expect("Use them\\? \\[Y/n\\]: ")
    child.sendline("")
    child.expect("Binance e-mail or username: ")  # the run, on that file
    child.sendintr()
    ended(child)
    assert child.exitstatus == ExitCode.INTERRUPTED, child.before
    assert "Exchange (number or name)" not in (child.before or "")
    # The menu: every exchange an allocation may name, numbers aligned past 9.
    rows = [line for line in menu.splitlines() if re.match(r"\s*\d+\) ", line)]
    assert any(" bybit-futures " in row for row in rows), menu
    assert len({row.index(")") for row in rows}) == 1, menu
    assert len({re.search(r"\) +(\S)", row).start(1) for row in rows}) == 1, menu  # type: ignore[union-attr]


@pytest.mark.long
def test_the_wizard_takes_an_assisted_exchange_straight_to_assist(tmp_path: Path) -> None:
    """Bitget has no flow: no sign-in is asked; assist opens its page (here there is no
    display, so it stops there, saying how to get one)."""
    env = {
        "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
        "IPBIND_CONFIG": str(tmp_path / "c"),
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
    }
    child = spawn(env, cwd=tmp_path)
    child.expect("Exchange \\(number or name\\)")
    child.sendline("bitget")
    child.expect("trading account's name")
    child.sendline("")
    child.expect("The key's name on Bitget: ")
    child.sendline("Altrady main")
    child.expect("Extra keys")
    child.sendline("")
    child.expect("then an empty line")
    paste(child, [f"8.8.{n}.8" for n in range(20)])
    child.expect("Save these answers")
    child.sendline("n")
    child.expect("ipbind has no flow for Bitget")
    ended(child)
    out = child.before or ""

    assert child.exitstatus == ExitCode.BROWSER, out
    assert "xvfb-run" in out and "Traceback" not in out
    assert "password" not in out.lower() and "no flow …" not in out


@pytest.mark.full  # a real Ctrl-C
def test_an_interrupted_wizard_with_json_still_writes_its_json(tmp_path: Path) -> None:
    """stdout to a file (a script's pipe), the questions at the terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(IPBIND_CONFIG=str(tmp_path / "c"), COLUMNS="120", TERM="xterm")
    out = tmp_path / "result.json"
    child = pexpect.spawn(
        "sh",
        ["-c", f'exec "{sys.executable}" -m assistant run --json > "{out}"'],
        env=env,
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.expect("Exchange \\(number or name\\)")  # asked on stderr
    child.sendintr()
    ended(child)

    assert child.exitstatus == ExitCode.INTERRUPTED, child.before
    data = json.loads(out.read_text(encoding="utf-8"))  # the JSON object and nothing else
    assert data["exit_code"] == ExitCode.INTERRUPTED and data["ok"] is False
    assert "interrupted; nothing was changed" in data["error"] and data["keys"] == []


# -- the headed walkthrough --------------------------------------------------------------------


class Person(TerminalHuman):
    """The person at the visible browser: when the run hands a step over, they do it a moment
    later (the slider puzzle, dragged by keyboard in the page itself), while ipbind waits."""

    def __init__(self) -> None:
        super().__init__(ConsoleReporter(), headless=False)
        self.asked: list[str] = []

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        self.asked.append(message)
        page.evaluate(
            """() => setTimeout(() => document.querySelector('[role=slider]').dispatchEvent(
                 new KeyboardEvent('keydown', { key: 'End', bubbles: true })), 1500)"""
        )
        super().hand_off(page, message, done)


@pytest.mark.headed
@pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="needs a display: `make test` runs the suite under xvfb-run",
)
@pytest.mark.long
@pytest.mark.parametrize(
    "exchanges",
    [
        pytest.param(("binance",), id="one"),
        # fast: test_parallel's one window at a time (the lane parks each exchange)
        pytest.param(("binance", "coinbase"), id="two", marks=pytest.mark.full),
    ],
)
def test_the_walkthrough_shows_banners_hands_over_and_verifies(
    mock: MockExchanges,
    playwright: Playwright,
    tmp_path: Path,
    monkeypatch,
    capsys,
    exchanges: tuple[str, ...],
) -> None:
    """Exchanges walked through in a visible browser: banners, a hand-over, and one
    exchange's window at a time (each closes once planned and once applied, its session
    kept for the apply: no second sign-in)."""
    binance_keys(mock, "Altrady main", options={"captcha": True})
    mock.reset(
        "coinbase",
        {"accounts": [seeded_account("trader@ipbind.test", keys=[{"name": "Altrady main"}])]},
    )
    settings = settings_for_sites(mock, tmp_path, *exchanges, slow_mo=50, signed_in=False)
    windows: list[int] = []  # the windows open as each exchange's opens
    real_open = worker_module.open_exchange

    def open_exchange(chromium: Browser, *args: Any, **kwargs: Any) -> Any:
        windows.append(len(chromium.contexts))
        return real_open(chromium, *args, **kwargs)

    monkeypatch.setattr(worker_module, "open_exchange", open_exchange)
    banners: list[tuple[str, str] | None] = []
    real_banner = walkthrough.banner

    def banner(page: Page, title: str, text: str, kind: str = "step") -> None:
        real_banner(page, title, text, kind)
        banners.append(walkthrough.shown(page))  # what the page shows now

    waited: list[tuple[str, str] | None] = []
    real_wait = humans.wait_for_person

    def wait(done: Locator, seconds: float, stdin=None, stopped=None) -> str | None:
        waited.append(walkthrough.shown(done.page))
        how = real_wait(done, seconds, stdin, stopped)
        waited.append((str(how), "how"))
        return how

    monkeypatch.setattr(walkthrough, "banner", banner)
    monkeypatch.setattr(humans, "wait_for_person", wait)
    person = Person()
    file = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": ex, "name": ex, "key": "Altrady main", "ips": IPS} for ex in exchanges],
    )
    headed = browsers.launch(playwright, headless=False)
    try:
        code = run(
            "apply",
            file,
            Options(yes=True, walkthrough=True),
            settings=settings,
            chromium=headed,
            human=person,
        )
    finally:
        headed.close()
    out = capsys.readouterr()

    assert code == ExitCode.OK, out.out + out.err
    # the walkthrough's secret scan: what it printed and wrote
    assert_nothing_leaks(out.out + out.err, tmp_path / "runs", secrets_of(settings))
    assert person.asked == ["Binance shows a puzzle: solve it"]
    # the hand-off's banner was on the page while ipbind waited; the page, not Enter, ended it
    assert waited == [("Your turn: Binance shows a puzzle: solve it", "hand-off"), ("page", "how")]
    titles = [b[0] for b in banners if b]
    assert "Binance: signing in: username and password" in titles
    assert any(re.match(r"Binance: 'Altrady main': pasting 20 addresses", t) for t in titles)
    assert "Your turn:" in out.out
    assert keys_of(mock, "binance")[0]["ips"] == IPS
    assert len(actions(mock, "binance", "save")) == 1
    [sign_in] = mock.state("binance")["sign_ins"]
    assert "HeadlessChrome" not in sign_in["user_agent"]
    # planned one by one, then applied one by one: alone (one exchange: one window)
    assert windows == ([0] if len(exchanges) == 1 else [0, 0, 0, 0])
    if "coinbase" in exchanges:  # its session kept across too
        assert len(mock.state("coinbase")["sign_ins"]) == 1
        assert {k["name"]: k["ips"] for k in keys_of(mock, "coinbase")}["Altrady main"] == IPS


def test_every_step_of_every_flow_gets_the_articles_words() -> None:
    assert walkthrough.why("signing in: username and password").startswith("Log into your")
    assert "click Confirm" in walkthrough.why("'k': pasting 20 addresses, Confirm")
    assert walkthrough.why("'k': Save").startswith("Finally, click Save")
    assert "Trusted IPs" in walkthrough.why("'k': Edit restrictions")
    assert walkthrough.why("something new") == walkthrough.ABOUT
    # A list read while planning is not yet the check that all 20 were added.
    reading = "'Altrady main': reading the linked IPs"
    assert walkthrough.why(reading, checking=False).startswith("Reading what this key holds")
    assert walkthrough.why(reading, checking=True).startswith("Check that all 20")


def test_the_walkthrough_outlines_one_control_at_a_time(page: Page) -> None:
    """The control in use is outlined, and only it: the one clicked, then the field typed
    into, not both (and a focused control is not outlined for being focused)."""
    page.set_content(
        "<button>Edit restrictions</button><label>IP address <input></label><button>Save</button>"
    )
    walkthrough.banner(page, "Binance: editing", "…")

    def outlined() -> list[str]:
        return page.evaluate(
            "() => [...document.querySelectorAll('[data-ipbind-active]')]"
            ".map(e => e.textContent || e.tagName)"
        )

    page.get_by_role("button", name="Edit restrictions").click()
    assert outlined() == ["Edit restrictions"]
    page.get_by_label("IP address").fill("203.0.113.10")
    assert outlined() == ["INPUT"]
    page.get_by_role("button", name="Save").click()
    assert outlined() == ["Save"]
    expect(page.locator("[data-ipbind-active]")).to_have_count(0)  # and then, none


def test_the_walkthrough_outlines_each_control_just_before_it_is_used(
    page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every action of a flow goes through `Flow.outlined`: in the walkthrough the control
    is outlined before its action starts (already when the click's pointerdown or the
    field's focus arrives), alone; a control that is not there is left to its action."""
    page.set_content("<button>Edit restrictions</button><label>IP address <input></label>")
    walkthrough.banner(page, "Bybit: editing", "…")
    flow = Bybit(page, "http://bybit.localhost", None, codes=None, human=None)  # type: ignore[arg-type]
    walkthrough.narrate(flow, pace_ms=50)
    page.evaluate(
        """() => {
          window.seen = [];
          for (const type of ['pointerdown', 'focusin'])  // before the page's own listeners
            window.addEventListener(type, () => window.seen.push([type,
              ...[...document.querySelectorAll('[data-ipbind-active]')]
                .map(e => e.textContent || e.tagName)]), true);
        }"""
    )

    flow.outlined(page.get_by_role("button", name="Edit restrictions")).click()
    flow.outlined(page.get_by_label("IP address")).fill("203.0.113.10")

    assert page.evaluate("window.seen") == [
        ["pointerdown", "Edit restrictions"],
        ["focusin", "Edit restrictions"],
        ["focusin", "INPUT"],
    ]
    monkeypatch.setattr(walkthrough, "POINT_MS", 100)
    assert flow.outlined(page.get_by_role("button", name="Save")) is not None  # not there
    expect(page.locator("[data-ipbind-active]")).to_have_count(0)  # and then, none


def test_enter_before_the_page_shows_the_step_done_is_told_and_waited_on(
    page: Page, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The person presses Enter while the page still shows the sign-in form: ipbind says the
    page does not show it yet and waits on, until the person has signed in."""
    page.set_content("<form><label>Username <input></label><button>Sign in</button></form>")
    done = page.get_by_role("button", name="Edit")
    presses = iter(["enter", "signed in"])
    real_wait = humans.wait_for_person

    def person(done: Locator, seconds: float, stdin=None, stopped=None) -> str | None:
        if next(presses) == "enter":
            return "enter"  # too early: still the sign-in form
        page.set_content("<h1>API</h1><button>Edit</button>")  # they sign in, then
        return real_wait(done, seconds, stdin, stopped)

    monkeypatch.setattr(humans, "NOT_YET_SECONDS", 0.3)
    monkeypatch.setattr(humans, "wait_for_person", person)
    TerminalHuman(ConsoleReporter(), headless=False).hand_off(page, "sign in to Kraken", done)

    out = " ".join(capsys.readouterr().out.split())
    assert "The page does not show that yet: sign in to Kraken in the browser window" in out
    assert out.index("does not show that yet") < out.index("Thanks, carrying on")
    assert next(presses, None) is None  # it waited a second time


def test_login_at_a_terminal_without_a_display_offers_no_sign_in_by_hand(tmp_path: Path) -> None:
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "IPBIND_CONFIG": str(tmp_path / "c")}
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY") and not k.startswith("IPBIND_")
    }
    full.update(env)
    child = pexpect.spawn(
        sys.executable, ["-m", "assistant", "login", "kraken"], env=full, encoding="utf-8",
        timeout=60, cwd=str(tmp_path),
    )  # fmt: skip
    child.expect("Kraken e-mail or username: ")
    assert "sign in yourself" not in (child.before or "")
    child.sendintr()
    ended(child)
