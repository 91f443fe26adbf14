"""Exchanges side by side (`--parallel N`): every exchange is planned before anything changes
anywhere, every list is read back from the server, the person is asked one question at a
time, a Ctrl-C stops every exchange with each key's story told, and one lane (N=1) is the
same worker code in the session's browser. Assertions are on the mock server's state."""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pexpect
import pyotp
import pytest
import support
from playwright.sync_api import Browser
from rich.console import Console
from support import (
    SECRET,
    account_state,
    actions,
    altrady_ips,
    binance_seed,
    bittrex_seed,
    keys_of,
    kraken_seed,
    run_cli,
    run_engine,
    seeded_account,
    settings_for_sites,
    write_allocation,
)

from assistant.errors import ExitCode, Interrupted
from assistant.output import ConsoleReporter
from assistant.parallel import Desk, Lanes, lanes_for
from assistant.settings import BaseIpbindSettings, load_settings
from assistant.stops import Stops
from fixtures.mockex import MockExchanges

IPS = {  # a few addresses per exchange, each its own
    "binance": altrady_ips(3, start=10),
    "kraken": altrady_ips(3, start=20),
    "coinbase": altrady_ips(3, start=30),
    "bittrex": altrady_ips(6, start=40),
}


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    mock.reset("binance", binance_seed({"label": "Altrady main"}))
    mock.reset("kraken", kraken_seed({"name": "Altrady main"}))
    mock.reset(
        "coinbase",
        {
            "latency_ms": [0, 60],
            "accounts": [seeded_account("trader@ipbind.test", keys=[{"name": "Altrady main"}])],
        },
    )


def settings(
    mock: MockExchanges, tmp_path: Path, *exchanges: str, parallel: int, secret: str = SECRET
) -> BaseIpbindSettings:
    return settings_for_sites(mock, tmp_path, *exchanges, secret=secret, parallel=parallel)


def allocation(tmp_path: Path, *exchanges: str, key: dict[str, str] | None = None) -> Path:
    """One account per exchange, on its key "Altrady main" (or the one `key` names)."""
    accounts = [
        {
            "exchange": ex,
            "name": f"My {ex}",
            "key": (key or {}).get(ex, "Altrady main"),
            "ips": IPS[ex],
        }
        for ex in exchanges
    ]
    return write_allocation(tmp_path / "allocation.toml", accounts)


def held(mock: MockExchanges, site: str) -> list[str]:
    """The list of the key "Altrady main" on `site`, as the server holds it."""
    for key in keys_of(mock, site):
        if "Altrady main" in (key.get("label"), key.get("name")):
            return list(key["ips"])
    raise AssertionError(f"{site}: no key 'Altrady main'")


@pytest.mark.full  # fast: the demo's twin runs two exchanges in one lane, every test one
@pytest.mark.usefixtures("seeded")
def test_one_lane_runs_every_exchange_in_the_sessions_browser(
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--parallel 1: the same workers, one after another in the calling thread, in the
    browser it is given (no driver or browser of its own)."""

    def no_driver() -> None:
        raise AssertionError("one lane with a browser given started a driver of its own")

    monkeypatch.setattr("assistant.parallel.browsers.driver", no_driver)
    exchanges = ("binance", "coinbase")
    conf = settings(mock, tmp_path, *exchanges, parallel=1)
    path = allocation(tmp_path, *exchanges)
    result = run_cli("apply", path, conf, browser, capsys, allow_count=True)

    assert result.code == ExitCode.OK, result.out
    for site in exchanges:
        assert held(mock, site) == IPS[site], site
        assert len(mock.state(site)["sign_ins"]) == 1  # planned, then applied: one sign-in


@pytest.mark.usefixtures("seeded")
def test_side_by_side_every_list_ends_on_the_server_and_codes_come_one_at_a_time(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    """Two exchanges on two lanes, each in a browser of its own. No TOTP secret: each code
    is typed at the terminal. The workers ask for theirs from their own threads; the
    questions are asked from the run's thread, one at a time, each naming its exchange."""
    asked: list[tuple[str, threading.Thread]] = []
    in_flight = [0, 0]  # now, most ever
    lock = threading.Lock()
    totp = pyotp.TOTP(SECRET, interval=mock.site("binance").totp_period)

    def ask_code(prompt: str, wait: float, sent_in_page: Any = None) -> str:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            asked.append((prompt, threading.current_thread()))
        try:
            time.sleep(wait)  # stands in for the terminal's countdown
            return totp.now()
        finally:
            with lock:
                in_flight[0] -= 1

    conf = settings(mock, tmp_path, "binance", "coinbase", parallel=2, secret="")
    path = allocation(tmp_path, "binance", "coinbase")
    results = run_engine(conf, path, browser, ask_code=ask_code, allow_count=True)

    assert [r.status for r in results] == ["verified", "verified"], [r.error for r in results]
    for site in ("binance", "coinbase"):
        assert held(mock, site) == IPS[site], site
    assert in_flight[1] == 1
    assert {thread for _, thread in asked} == {threading.current_thread()}
    named = [prompt.split(":")[0] for prompt, _ in asked]
    each = 1 if support.SIGNED_IN else 2  # the save's code, and the sign-in's where it signs in
    assert sorted(named) == ["Binance"] * each + ["Coinbase"] * each


# Full tier (three exchanges, two browsers of their own); fast: test_terminal's key not
# started when another cannot be planned (the same rule in one lane), and the lanes' plan
# before any change in the side-by-side test above.
@pytest.mark.full
@pytest.mark.usefixtures("seeded")
def test_an_exchange_that_cannot_be_planned_leaves_every_other_untouched(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three exchanges on two lanes: one lane takes a second exchange once its first is
    planned."""
    exchanges = ("binance", "kraken", "coinbase")
    conf = settings(mock, tmp_path, *exchanges, parallel=2)
    path = allocation(tmp_path, *exchanges, key={"kraken": "No such key"})
    result = run_cli("apply", path, conf, browser, capsys, allow_count=True)

    assert result.code == ExitCode.USER_ACTION
    assert "no key named 'No such key'" in result.out
    assert "not started: kraken 'No such key' could not be planned" in result.out
    for site in ("binance", "coinbase"):
        assert len(mock.state(site)["sign_ins"]) == 1  # planned: read, nothing more
        assert actions(mock, site, "save") == []
        assert held(mock, site) == []


@pytest.mark.full  # a real Ctrl-C; fast: the lanes' stop in this process
@pytest.mark.usefixtures("seeded")
def test_ctrl_c_stops_every_exchange_and_the_summary_tells_what_each_server_holds(
    mock: MockExchanges, tmp_path: Path
) -> None:
    """Bittrex (a code per address) beside Binance, whose save the server holds back:
    Ctrl-C during Bittrex's adds stops both; each reads back the key it was on."""
    mock.reset("bittrex", bittrex_seed())
    mock.fault("binance", "save", "slow", seconds=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    for site in ("binance", "bittrex"):
        account = next(iter(mock.site(site).accounts.values()))
        prefix = f"IPBIND_{site.upper()}__"
        env |= {
            f"{prefix}USERNAME": account.username,
            f"{prefix}PASSWORD": account.password,
            f"{prefix}TOTP_SECRET": SECRET,
            f"{prefix}TOTP_PERIOD": str(mock.site(site).totp_period),
            f"{prefix}BASE_URL": mock.base_url(site),
        }
    env |= {
        "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
        "IPBIND_CONFIG": str(tmp_path / "none.toml"),
        "TERM": "xterm",
        "COLUMNS": "200",
    }
    path = allocation(tmp_path, "binance", "bittrex")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "apply", "--yes", "--allow-count", "--parallel", "2", str(path)],
        env=env,
        cwd=tempfile.gettempdir(),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    child.expect(r"to 'account allow list' on Bittrex Global \(2/6\)")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)

    assert child.exitstatus == ExitCode.INTERRUPTED, text
    assert "Traceback" not in text and "Future exception was never retrieved" not in text
    assert "interrupted while changing whitelists" in text
    added = [a["ip"] for a in actions(mock, "bittrex", "add")]
    assert 2 <= len(added) < 6
    assert account_state(mock, "bittrex")["allow_list"] == added
    assert added_in_summary(text, "bittrex", "account allow list", "interrupted") == len(added)
    # Stopped before its save, during it (the server finishes what it was sent), or done
    # already; or, on a busy machine, not yet started: whichever, what the server holds.
    binance = re.search(
        r"binance\s*│\s*Altrady main\s*│\s*(interrupted|verified|not started)\s*│", text
    )
    assert binance, text
    assert added_in_summary(text, "binance", "Altrady main", binance.group(1)) == len(
        held(mock, "binance")
    )


def added_in_summary(text: str, exchange: str, key: str, status: str) -> int:
    row = re.search(rf"{exchange}\s*│\s*{key}\s*│\s*{status}\s*│\s*(\d+)\s*│", text)
    assert row, text
    return int(row.group(1))


# -- the terminal, from several threads ------------------------------------------------------


def terminal() -> tuple[ConsoleReporter, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, highlight=False)
    return ConsoleReporter(console), out


def test_one_progress_line_per_exchange_under_way() -> None:
    reporter, out = terminal()
    reporter.progress(
        "binance", "Adding 3 addresses to 'Altrady main' on Binance (1/3)", 1, 3, lambda: 0.0
    )
    reporter.progress(
        "kraken", "Adding 20 addresses to 'Altrady main' on Kraken (2/20)", 2, 20, lambda: 0.0
    )
    reporter.progress(
        "binance", "Adding 3 addresses to 'Altrady main' on Binance (2/3)", 2, 3, lambda: 0.0
    )
    reporter.end_progress()  # the last frame is drawn before the lines are taken away
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", out.getvalue())

    assert "Adding 3 addresses to 'Altrady main' on Binance (2/3)" in frames
    assert "Adding 20 addresses to 'Altrady main' on Kraken (2/20)" in frames


def test_what_another_thread_says_waits_until_the_question_is_answered() -> None:
    reporter, out = terminal()
    reporter.progress(
        "binance", "Adding 3 addresses to 'Altrady main' on Binance (1/3)", 1, 3, lambda: 0.0
    )
    with reporter.paused():
        other = threading.Thread(target=reporter.say, args=("kraken: Altrady main: verified",))
        other.start()
        other.join()
        during = out.getvalue()
    reporter.end_progress()

    assert "kraken" not in during
    assert (
        "Adding 3 addresses to 'Altrady main' on Binance (1/3)" in during
    )  # where binance was, above the question
    assert "kraken: Altrady main: verified" in out.getvalue()


def test_a_ctrl_c_at_a_question_stops_the_run_and_the_worker_that_asked_hears_it() -> None:
    stops: list[int] = []
    desk = Desk(on_stop=lambda: stops.append(1))
    heard: list[Exception] = []

    def ctrl_c() -> str:
        raise KeyboardInterrupt  # pressed while the question was asked

    def worker() -> None:
        try:
            desk.ask(ctrl_c)
        except Interrupted as err:
            heard.append(err)

    thread = threading.Thread(target=worker)
    thread.start()
    while thread.is_alive():
        desk.serve(wait=0.05)

    assert stops == [1]  # counted once, where it was pressed
    assert len(heard) == 1


def test_a_code_sent_in_a_workers_page_withdraws_its_question_at_the_terminal() -> None:
    """A lane's worker asks for a code; the run's thread asks it. The worker looks at its
    own page (`sent`, in its thread) and, once the person sent the code there, withdraws
    the question: the prompt gives up (its `gone()` turns true) and the worker gets None."""
    desk = Desk(on_stop=lambda: None)
    looked_from: set[str] = set()
    answers: list[str | None] = []
    looks = iter([False, False, True])

    def sent() -> bool:  # the worker's page: only its own thread may look at it
        looked_from.add(threading.current_thread().name)
        return next(looks, True)

    def prompt(gone: Any) -> str | None:  # the terminal, in the run's thread
        deadline = time.monotonic() + 10
        while not gone():
            assert time.monotonic() < deadline, "never withdrawn"
            time.sleep(0.01)  # standing in for select() on the terminal
        return None

    thread = threading.Thread(
        target=lambda: answers.append(desk.ask_watching(prompt, sent)), name="lane"
    )
    thread.start()
    while thread.is_alive():
        desk.serve(wait=0.05)

    assert answers == [None]
    assert looked_from == {"lane"}


@pytest.mark.parametrize(
    ("setting", "exchanges", "lanes"), [(None, 1, 1), (4, 10, 4), (8, 3, 3), (1, 5, 1)]
)
def test_lanes_are_the_setting_but_never_more_than_the_exchanges(
    setting: int | None, exchanges: int, lanes: int
) -> None:
    assert lanes_for(setting, exchanges) == lanes


def test_the_parallel_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPBIND_PARALLEL", "3")
    assert load_settings(_env_file=None).parallel == 3
    monkeypatch.setenv("IPBIND_PARALLEL", "0")
    with pytest.raises(Exception, match="IPBIND_PARALLEL"):
        load_settings(_env_file=None)


class Recorded:
    """A worker that only says what a lane asked of it, and when."""

    def __init__(self, name: str, calls: list[str]):
        self.name, self.calls = name, calls
        self.relaunch = None

    def plan(self, chromium: Any) -> None:
        self.calls.append(f"{self.name} plan")

    def park(self) -> None:
        self.calls.append(f"{self.name} park")

    def apply(self) -> None:
        self.calls.append(f"{self.name} apply")

    def close(self) -> None:
        self.calls.append(f"{self.name} close")


def test_one_window_at_a_time_parks_each_exchange_once_planned_and_closes_it_once_applied() -> None:
    """The walkthrough's lane (full tier: test_guided's two exchanges in a visible browser):
    each exchange's window closes once planned and again once applied, so only one is open."""
    calls: list[str] = []
    stops = Stops()
    lanes = Lanes(
        [Recorded("a", calls), Recorded("b", calls)],
        lambda pw: None,  # type: ignore[arg-type,return-value]
        stops,
        Desk(stops.stop),
        one_window=True,
    )
    lanes.run(1, lambda: True, object())  # type: ignore[arg-type]

    assert calls[:8] == [
        "a plan", "a park", "b plan", "b park", "a apply", "a close", "b apply", "b close",
    ]  # fmt: skip
