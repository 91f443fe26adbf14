"""Ctrl-C as a person presses it: `ipbind` in a real pseudo-terminal, the interrupt sent to
the terminal's whole foreground process group (pexpect's `sendintr`), at each stage of a
run. Every case ends with exit 130, no traceback and no noise from Playwright's driver, and
a story that matches the mock server's state. And a crash (SIGKILL: no clean-up at all) in
the middle of the changes, then a rerun that finishes the job."""

from __future__ import annotations

import html
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pexpect
import pyotp
import pytest
from playwright.sync_api import Browser
from support import (
    SECRET,
    account_state,
    actions,
    altrady_ips,
    bittrex_seed,
    codes,
    ended,
    kraken_seed,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges

IPS = altrady_ips(6)
NOISE = ("Traceback", "Future exception was never retrieved", "Connection closed")


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    mock.reset("bittrex", bittrex_seed(["198.51.100.90"]))


def start(mock: MockExchanges, tmp_path: Path, *args: str, secret: bool = True) -> pexpect.spawn:
    """`ipbind apply` of six addresses on the mock Bittrex, at a terminal of its own."""
    account = {"exchange": "bittrex", "name": "B", "key": "K", "ips": IPS}
    return spawn(mock, tmp_path, account, *args, secret=secret)


def spawn(
    mock: MockExchanges, tmp_path: Path, account: dict[str, Any], *args: str, secret: bool = True
) -> pexpect.spawn:
    """`ipbind apply` of `account` on its mock exchange, at a terminal of its own."""
    path = write_allocation(tmp_path / "a.toml", [account])
    site = account["exchange"]
    user = next(iter(mock.site(site).accounts.values()))
    prefix = f"IPBIND_{site.upper()}__"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        {
            f"{prefix}USERNAME": user.username,
            f"{prefix}PASSWORD": user.password,
            f"{prefix}TOTP_PERIOD": str(mock.site(site).totp_period),
            f"{prefix}BASE_URL": mock.base_url(site),
            "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),  # and the state dir beside it
            "IPBIND_CONFIG": str(tmp_path / "none.toml"),
            "TERM": "xterm",
            "COLUMNS": "200",  # a wide terminal: the summary's rows stay whole
            "PYTHONFAULTHANDLER": "1",  # a run that hangs shows where (see `stop`)
        }
    )
    if secret:
        env[f"{prefix}TOTP_SECRET"] = SECRET
    return pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "apply", "--allow-count", *args, str(path)],
        env=env,
        cwd=tempfile.gettempdir(),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )


def crash(child: pexpect.spawn) -> None:
    """SIGKILL: no clean-up, no summary; the browser goes with the driver."""
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()


def rerun(mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: Any, site: str) -> str:
    """The next `ipbind apply` of the same file, with the same state dir: the CLI's code path
    in this process (a browser of its own would only add its start-up); ends with exit 0."""
    settings = settings_for(mock, site, tmp_path)  # artifacts in tmp_path/runs, as `spawn`'s
    result = run_cli("apply", tmp_path / "a.toml", settings, browser, capsys, allow_count=True)
    assert result.code == ExitCode.OK, result.out
    return result.out


def poll(check: Callable[[], bool], timeout: float = 30) -> None:
    """Until `check()` holds (it reads the mock's state), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stop(child: pexpect.spawn) -> str:
    """Ctrl-C, as the terminal sends it; everything the run printed, once it has ended."""
    child.sendintr()
    ended(child)
    assert child.exitstatus == 130, child.before
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)  # colours and cursor moves
    for noise in NOISE:
        assert noise not in text
    return text


def added_in_summary(text: str) -> int:
    row = re.search(r"account allow list\s*│\s*interrupted\s*│\s*(\d+)\s*│", text)
    assert row, text
    return int(row.group(1))


@pytest.mark.full  # a real Ctrl-C; fast: test_terminal's, in this process
@pytest.mark.usefixtures("seeded")
def test_at_the_confirmation_nothing_is_changed(mock: MockExchanges, tmp_path: Path) -> None:
    child = start(mock, tmp_path)
    child.expect(r"Add 6 addresses on 1 key\?")
    text = stop(child)

    assert "nothing was changed" in text
    assert actions(mock, "bittrex", "add") == []


@pytest.mark.usefixtures("seeded")
def test_while_signing_in_nothing_is_changed(mock: MockExchanges, tmp_path: Path) -> None:
    mock.fault("bittrex", "login-2fa", "slow", seconds=3)  # a sign-in that takes a moment
    child = start(mock, tmp_path, "--yes")
    child.expect("Signing in")
    text = stop(child)

    assert "nothing was changed" in text
    assert actions(mock, "bittrex", "add") == []


@pytest.mark.full  # fast: test_summary_truth stops mid-save in this process
@pytest.mark.usefixtures("seeded")
def test_mid_save_the_summary_tells_what_the_server_holds(
    mock: MockExchanges, tmp_path: Path
) -> None:
    child = start(mock, tmp_path, "--yes")
    child.expect(r"\(2/6\)")
    text = stop(child)

    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert 2 <= len(added) < 6
    assert added_in_summary(text) == len(added)  # read back after the stop, not guessed
    assert "a rerun adds only what is still missing" in text
    assert account_state(mock, "bittrex")["allow_list"] == ["198.51.100.90", *added]


def test_sigterm_stops_any_command_with_its_own_code(tmp_path: Path) -> None:
    """`ipbind login` waiting at the terminal for the username: SIGTERM (a supervisor, a
    shutdown) ends it as a Ctrl-C would, with 143, no traceback and no session kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        IPBIND_ARTIFACTS_DIR=str(tmp_path / "runs"),
        IPBIND_CONFIG=str(tmp_path / "none.toml"),
        TERM="xterm",
        PYTHONFAULTHANDLER="1",
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "login", "kraken"],
        env=env,
        cwd=tempfile.gettempdir(),
        encoding="utf-8",
        timeout=30,
    )
    child.expect("Kraken e-mail or username")
    child.kill(signal.SIGTERM)
    text = ended(child, timeout=30)

    assert child.exitstatus == 143, text
    assert "Traceback" not in text
    assert not list((tmp_path / "state").rglob("kraken.json"))


@pytest.mark.full  # fast: test_terminal's SIGTERM and SIGHUP heard as Ctrl-C
@pytest.mark.usefixtures("seeded")
def test_sigterm_mid_save_stops_as_ctrl_c_does(mock: MockExchanges, tmp_path: Path) -> None:
    """A supervisor's SIGTERM to the run: it stops between steps, reads the key back and
    tells what the server holds, as at a Ctrl-C, and exits with 143."""
    child = start(mock, tmp_path, "--yes")
    child.expect(r"\(2/6\)")
    child.kill(signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 143, child.before
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)
    for noise in NOISE:
        assert noise not in text

    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert 2 <= len(added) < 6
    assert "stopped by SIGTERM while changing whitelists" in text
    assert added_in_summary(text) == len(added)  # read back after the stop, not guessed
    assert account_state(mock, "bittrex")["allow_list"] == ["198.51.100.90", *added]


@pytest.mark.full  # fast: test_terminal's SIGTERM and SIGHUP heard as Ctrl-C
@pytest.mark.usefixtures("seeded")
def test_the_terminal_closed_mid_save_the_run_still_reads_back_and_exits_129(
    mock: MockExchanges, tmp_path: Path
) -> None:
    """The terminal window is closed mid-save (its pty's master goes: SIGHUP, and every
    write to it fails from then on): the run stops between steps all the same, reads the
    key back, writes its log and report, and exits with 129."""
    child = start(mock, tmp_path, "--yes")
    child.expect(r"\(2/6\)")
    os.close(child.child_fd)  # the window closed
    child.closed = True  # nothing for pexpect to close any more
    _, status = os.waitpid(child.pid, 0)

    assert os.waitstatus_to_exitcode(status) == 129
    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert 2 <= len(added) < 6
    assert account_state(mock, "bittrex")["allow_list"] == ["198.51.100.90", *added]
    [log] = (tmp_path / "runs").rglob("debug.log")
    told = log.read_text(encoding="utf-8")
    assert "failed: stopped by SIGHUP while changing whitelists" in told
    assert "not read back after the stop" not in told  # read back, for the report
    assert list((tmp_path / "runs").rglob("report.html"))


@pytest.mark.full  # fast: test_summary_truth (a stop at a code prompt)
@pytest.mark.usefixtures("seeded")
def test_at_a_code_prompt_the_summary_tells_what_the_server_holds(
    mock: MockExchanges, tmp_path: Path
) -> None:
    """Without a TOTP secret the person types each code; Ctrl-C at the third prompt (the
    sign-in's code, the first address's, then this one)."""
    totp = pyotp.TOTP(SECRET, interval=mock.site("bittrex").totp_period)
    child = start(mock, tmp_path, "--yes", secret=False)
    for _ in range(2):
        child.expect("authenticator code for")
        child.expect(r":\s*$")  # the prompt itself, after any countdown
        child.sendline(totp.now())
    child.expect("authenticator code for adding")
    text = stop(child)

    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert added == IPS[:1]
    assert added_in_summary(text) == 1


@pytest.mark.full  # a kill; fast: test_journal
@pytest.mark.long
@pytest.mark.usefixtures("seeded")
def test_killed_mid_save_the_next_apply_finishes_without_repeating_anything(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: Any
) -> None:
    """A crash after two of six addresses; the next apply adds the others, one code each,
    nothing twice, and says that it finishes what the last run left. (The same with 7 of 20:
    bench/bittrex_resume.py, as it takes a TOTP step per address.)"""
    child = start(mock, tmp_path, "--yes")
    child.expect(r"\(2/6\)")
    crash(child)
    assert 2 <= len(actions(mock, "bittrex", "add")) < 6

    again = time.time()
    text = rerun(mock, tmp_path, browser, capsys, "bittrex")

    adds = actions(mock, "bittrex", "add")
    assert [a["ip"] for a in adds] == IPS  # each address once, in order
    assert account_state(mock, "bittrex")["allow_list"] == ["198.51.100.90", *IPS]
    spent = [c for c in codes(mock, "bittrex", "add") if c["at"] >= again]
    added = [a for a in adds if a["at"] >= again]
    assert len(spent) == len(added) <= 6 - 2  # a code per address still missing, no more
    assert all(c["accepted"] for c in spent)
    assert len([c for c in codes(mock, "bittrex", "login-2fa") if c["at"] >= again]) == 1
    assert "was interrupted while changing bittrex 'account allow list'" in text  # journal
    assert "this run reads every key afresh and finishes it" in text


@pytest.mark.long
@pytest.mark.full  # Bittrex's kill test proves the resume
def test_killed_during_a_kraken_save_the_list_is_old_or_new_and_the_next_apply_finishes(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: Any
) -> None:
    """Kraken saves a key's whole list at once. A crash while the server holds that save:
    the key keeps its old list until the save is stored, then has the new one whole — never
    a part of it, never none; the next apply does the key the crash never reached."""
    old = ["198.51.100.7"]
    new = [*old, *IPS[:3]]
    mock.reset(
        "kraken",
        kraken_seed({"name": "Altrady main", "ips": old}, {"name": "Altrady extra", "ips": old}),
    )
    # The first save is held on the server; a little under a TOTP step, so that the code
    # it carries is still good when the server gets to it.
    mock.fault("kraken", "save", "slow", seconds=0.8)
    account = {
        "exchange": "kraken",
        "name": "K",
        "key": "Altrady main",
        "extra_keys": ["Altrady extra"],
        "ips": IPS[:3],
    }

    def lists() -> dict[str, list[str]]:
        return {k["name"]: k["ips"] for k in account_state(mock, "kraken")["keys"]}

    def saving() -> bool:
        return "save" in mock.state("kraken")["in_flight"]

    child = spawn(mock, tmp_path, account, "--yes", "--allow-count")
    poll(saving)
    seen = [lists()]  # while the server holds the save
    crash(child)

    def over() -> bool:  # the server, with the save of a client that is gone
        busy = saving()
        seen.append(lists())
        return not busy

    poll(over, timeout=10)

    assert seen[0]["Altrady main"] == old
    assert all(s["Altrady main"] in (old, new) for s in seen), seen  # never a part, or none
    assert seen[-1]["Altrady extra"] == old
    landed = seen[-1]["Altrady main"] == new
    again = time.time()
    text = rerun(mock, tmp_path, browser, capsys, "kraken")

    assert lists() == {"Altrady main": new, "Altrady extra": new}
    saves = [a["key"] for a in actions(mock, "kraken", "save_whitelist") if a["at"] >= again]
    assert saves == (["Altrady extra"] if landed else ["Altrady main", "Altrady extra"])
    told = "was interrupted while changing kraken 'Altrady main' (1 more key not finished)"
    assert told in " ".join(text.split())  # from the journal the crashed run left
    [report] = (tmp_path / "runs").rglob("report.html")  # the crashed run wrote none
    assert html.escape(told) in report.read_text()


TWENTY = altrady_ips(20)


def descendants(pid: int) -> list[int]:
    """Every process under `pid`, from /proc (the child's driver, its browser, …)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def browser_processes(pid: int) -> list[int]:
    """Chromium's processes under `pid` (the browser and its renderers, GPU, utilities)."""
    found = []
    for process in descendants(pid):
        with suppress(OSError):  # ended meanwhile
            if b"chrom" in Path(f"/proc/{process}/cmdline").read_bytes():
                found.append(process)
    return found


@pytest.mark.full  # a kill (as out of memory would); the only proof of the relaunch
@pytest.mark.long
@pytest.mark.usefixtures("seeded")
def test_a_browser_killed_mid_apply_is_started_again_and_the_same_run_ends_verified(
    mock: MockExchanges, tmp_path: Path
) -> None:
    """Chromium's processes killed (as out of memory would) after 2 of 6 Bittrex adds: the
    run starts a new browser, signs in again, reads the list afresh and adds the rest, each
    address sent once, and ends verified (exit 0)."""
    child = start(mock, tmp_path, "--yes")
    child.expect(r"\(2/6\)", timeout=60)
    killed = browser_processes(child.pid)
    assert killed, "no browser under the run"
    for pid in killed:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", ended(child, timeout=90))

    assert child.exitstatus == ExitCode.OK, text
    assert "the browser stopped; starting it again" in " ".join(text.split())
    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert sorted(added) == sorted(IPS)  # each sent once, across both browsers
    assert set(account_state(mock, "bittrex")["allow_list"]) == {"198.51.100.90", *IPS}


@pytest.mark.full  # fast: test_terminal's SIGTERM and SIGHUP heard as Ctrl-C
@pytest.mark.long
@pytest.mark.usefixtures("seeded")
def test_sigterm_after_seven_of_twenty_and_the_rerun_adds_the_other_thirteen_once(
    mock: MockExchanges, tmp_path: Path
) -> None:
    account = {"exchange": "bittrex", "name": "B", "key": "K", "ips": TWENTY}
    child = spawn(mock, tmp_path, account, "--yes")
    child.expect(r"\(7/20\)", timeout=90)
    child.kill(signal.SIGTERM)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", ended(child, timeout=60))

    assert child.exitstatus == ExitCode.TERMINATED, text
    assert "stopped by SIGTERM while changing whitelists" in text
    first = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert 7 <= len(first) < 20
    assert added_in_summary(text) == len(first)

    rerun = spawn(mock, tmp_path, account, "--yes")
    again = ended(rerun, timeout=120)

    assert rerun.exitstatus == ExitCode.OK, again
    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert added[: len(first)] == first
    assert sorted(added) == sorted(TWENTY)  # the other 13 (or so), each once
