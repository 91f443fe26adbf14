"""Ctrl-C as a person presses it: `ipbind` in a real pseudo-terminal, the interrupt sent to
the terminal's whole foreground process group (pexpect's `sendintr`), at each stage of a
run. Every case ends with exit 130, no traceback and no noise from Playwright's driver, and
a story that matches the mock server's state."""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
from pathlib import Path

import pexpect
import pyotp
import pytest
from support import SECRET, account_state, actions, altrady_ips, bittrex_seed, write_allocation

from fixtures.mockex import MockExchanges

IPS = altrady_ips(6)
NOISE = ("Traceback", "Future exception was never retrieved", "Connection closed")


@pytest.fixture
def site(mock: MockExchanges) -> MockExchanges:
    mock.reset("bittrex", bittrex_seed(["198.51.100.90"]))
    return mock


def start(mock: MockExchanges, tmp_path: Path, *args: str, secret: bool = True) -> pexpect.spawn:
    """`ipbind apply` of six addresses on the mock Bittrex, at a terminal of its own."""
    path = write_allocation(
        tmp_path / "a.toml", [{"exchange": "bittrex", "name": "B", "key": "K", "ips": IPS}]
    )
    account = next(iter(mock.site("bittrex").accounts.values()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        IPBIND_BITTREX__USERNAME=account.username,
        IPBIND_BITTREX__PASSWORD=account.password,
        IPBIND_BITTREX__TOTP_PERIOD=str(mock.site("bittrex").totp_period),
        IPBIND_BITTREX__BASE_URL=mock.base_url("bittrex"),
        IPBIND_ARTIFACTS_DIR=str(tmp_path / "runs"),
        IPBIND_CONFIG=str(tmp_path / "none.toml"),
        TERM="xterm",
        COLUMNS="200",  # a wide terminal: the summary's rows stay whole
    )
    if secret:
        env["IPBIND_BITTREX__TOTP_SECRET"] = SECRET
    return pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "apply", "--allow-count", *args, str(path)],
        env=env,
        cwd=tempfile.gettempdir(),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )


def stop(child: pexpect.spawn) -> str:
    """Ctrl-C, as the terminal sends it; everything the run printed, once it has ended."""
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130, child.before
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)  # colours and cursor moves
    for noise in NOISE:
        assert noise not in text
    return text


def added_in_summary(text: str) -> int:
    row = re.search(r"account allow list\s*│\s*interrupted\s*│\s*(\d+)\s*│", text)
    assert row, text
    return int(row.group(1))


def test_at_the_confirmation_nothing_is_changed(site: MockExchanges, tmp_path: Path) -> None:
    child = start(site, tmp_path)
    child.expect(r"Add 6 address\(es\) on 1 key\(s\)\?")
    text = stop(child)

    assert "nothing was changed" in text
    assert actions(site, "bittrex", "add") == []


def test_while_signing_in_nothing_is_changed(site: MockExchanges, tmp_path: Path) -> None:
    site.fault("bittrex", "login-2fa", "slow", seconds=3)  # a sign-in that takes a moment
    child = start(site, tmp_path, "--yes")
    child.expect("signing in")
    text = stop(child)

    assert "nothing was changed" in text
    assert actions(site, "bittrex", "add") == []


def test_mid_save_the_summary_tells_what_the_server_holds(
    site: MockExchanges, tmp_path: Path
) -> None:
    child = start(site, tmp_path, "--yes")
    child.expect("2/6 added")
    text = stop(child)

    added = [a["ip"] for a in actions(site, "bittrex", "add")]
    assert 2 <= len(added) < 6
    assert added_in_summary(text) == len(added)  # read back after the stop, not guessed
    assert "a rerun adds only what is still missing" in text
    assert account_state(site, "bittrex")["allow_list"] == ["198.51.100.90", *added]


def test_at_a_code_prompt_the_summary_tells_what_the_server_holds(
    site: MockExchanges, tmp_path: Path
) -> None:
    """Without a TOTP secret the person types each code; Ctrl-C at the third prompt (the
    sign-in's code, the first address's, then this one)."""
    totp = pyotp.TOTP(SECRET, interval=site.site("bittrex").totp_period)
    child = start(site, tmp_path, "--yes", secret=False)
    for _ in range(2):
        child.expect("authenticator code for")
        child.expect(r":\s*$")  # the prompt itself, after any countdown
        child.sendline(totp.now())
    child.expect("authenticator code for adding")
    text = stop(child)

    added = [a["ip"] for a in actions(site, "bittrex", "add")]
    assert added == IPS[:1]
    assert added_in_summary(text) == 1


@pytest.mark.long
def test_killed_mid_save_the_next_apply_finishes_without_repeating_anything(
    site: MockExchanges, tmp_path: Path
) -> None:
    """A crash (SIGKILL: no clean-up at all) after two of six addresses; the next apply
    adds the other four, each with one code, and nothing twice."""
    child = start(site, tmp_path, "--yes")
    child.expect("2/6 added")
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    first = [a["ip"] for a in actions(site, "bittrex", "add")]
    assert 2 <= len(first) < 6

    again = start(site, tmp_path, "--yes")
    again.expect(pexpect.EOF)
    again.close()

    assert again.exitstatus == 0, again.before
    adds = [a["ip"] for a in actions(site, "bittrex", "add")]
    assert adds == IPS  # each address once, in order: the rerun sent only the missing ones
    assert len(adds) - len(first) == 6 - len(first)
    assert account_state(site, "bittrex")["allow_list"] == ["198.51.100.90", *IPS]
