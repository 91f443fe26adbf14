"""The summary and the JSON tell what the exchange holds: what the site confirmed, read back
after a run stopped half way; an address never read is "unknown", not "missing"; the JSON's
top level names the failure. Assertions are against the mock server's state."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser
from support import (
    SECRET,
    account_state,
    actions,
    altrady_ips,
    bittrex_seed,
    run_cli,
    run_engine,
    settings_for,
    write_allocation,
)

from assistant import stops
from assistant.errors import ExitCode
from assistant.output import result_json
from fixtures.mockex import MockExchanges

IPS = altrady_ips(5)


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    mock.reset("bittrex", bittrex_seed(["198.51.100.90"]))


def allocation(tmp_path: Path) -> Path:
    return write_allocation(
        tmp_path / "a.toml", [{"exchange": "bittrex", "name": "B", "key": "K", "ips": IPS}]
    )


@pytest.mark.usefixtures("seeded")
def test_a_run_stopped_after_one_add_counts_the_one_the_server_holds(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    """The person types good codes for the sign-in and the first address, then two that the
    site refuses: the run stops. The summary must count the one address the site took."""
    totp = pyotp.TOTP(SECRET, interval=mock.site("bittrex").totp_period)
    asked: list[str] = []

    def person(prompt: str, wait: float, sent_in_page: Any = None) -> str:
        asked.append(prompt)
        time.sleep(wait)  # stands in for the terminal's countdown to the next time step
        return totp.now() if len(asked) <= 2 else f"{len(asked):06d}"  # wrong, each new

    settings = settings_for(mock, "bittrex", tmp_path, secret="", signed_in=False)
    [result] = run_engine(
        settings, allocation(tmp_path), browser, ask_code=person, allow_count=True
    )

    held = account_state(mock, "bittrex")["allow_list"]
    assert held == ["198.51.100.90", IPS[0]]
    assert result.status == "failed"
    assert result.added == [IPS[0]]  # read back after the stop, not taken from the plan
    assert result.missing == IPS[1:]
    assert result.unknown == []
    shape = result_json("apply", [result], ExitCode.USER_ACTION)
    assert shape["keys"][0]["added"] == [IPS[0]]
    assert "refused" in shape["error"]  # the top level names the failure


@pytest.mark.parametrize(
    ("signum", "code"),
    [
        (signal.SIGINT, ExitCode.INTERRUPTED),
        # Full tier; fast: test_terminal's signals heard as Ctrl-C, without a browser.
        pytest.param(signal.SIGTERM, ExitCode.TERMINATED, marks=pytest.mark.full),
        pytest.param(signal.SIGHUP, ExitCode.HANGUP, marks=pytest.mark.full),
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
@pytest.mark.usefixtures("seeded")
def test_a_signal_mid_save_stops_at_the_next_step_and_counts_what_the_server_holds(
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
    signum: int,
    code: ExitCode,
) -> None:
    """A real Ctrl-C (SIGINT), or SIGTERM or SIGHUP, to this process once the server holds
    two new addresses, wherever this thread is then (often inside Playwright): the run
    stops at its next step, reads the list back in the same browser, tells what the server
    holds and ends with the signal's own code. (The same at a terminal, with the interrupt
    sent to the whole process group: test_interrupt's mid-save cases, full tier.)"""
    added = lambda: actions(mock, "bittrex", "add")  # noqa: E731
    pressed = threading.Event()

    def press_once_two_are_added() -> None:
        deadline = time.monotonic() + 60
        while len(added()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signum)  # heard in the main thread
        pressed.set()

    before = signal.getsignal(signal.SIGTERM)
    # SIGHUP leaves the terminal: here it would be this test runner's (test_interrupt's
    # closed terminal proves that part).
    monkeypatch.setattr(stops, "off_the_terminal", lambda: None)
    threading.Thread(target=press_once_two_are_added, daemon=True).start()
    settings = settings_for(mock, "bittrex", tmp_path)
    result = run_cli(
        "apply", allocation(tmp_path), settings, browser, capsys, json_out=True, allow_count=True
    )

    assert pressed.is_set()
    assert result.code == code
    held = [a["ip"] for a in added()]
    assert 2 <= len(held) < len(IPS)
    assert account_state(mock, "bittrex")["allow_list"] == ["198.51.100.90", *held]
    shape, _ = json.JSONDecoder().raw_decode(result.out)
    [key] = shape["keys"]
    assert key["added"] == held  # read back after the stop, in the same browser
    assert key["missing"] == IPS[len(held) :] and key["unknown"] == []
    stopped = (
        "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    )
    assert shape["error"].startswith(f"{stopped} while changing whitelists")
    assert signal.getsignal(signal.SIGTERM) == before  # as it was before the run


@pytest.mark.usefixtures("seeded")
def test_a_key_never_read_is_unknown_not_missing(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    settings = settings_for(mock, "bittrex", tmp_path, password="not-the-password", signed_in=False)
    result = run_cli(
        "plan", allocation(tmp_path), settings, browser, capsys, json_out=True, allow_count=True
    )

    assert result.code == ExitCode.USER_ACTION
    shape, _ = json.JSONDecoder().raw_decode(result.out)
    assert shape["exit_code"] == 3
    assert "refused the sign-in" in shape["error"]
    [key] = shape["keys"]
    assert key["missing"] == [] and key["unknown"] == IPS and key["verified"] is False
    assert actions(mock, "bittrex", "add") == []
