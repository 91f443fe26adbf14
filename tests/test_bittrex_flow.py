"""The bittrex flow end to end against the mock Bittrex: an account-wide allow list, one
address and one fresh 2FA code at a time. Assertions are on the mock server's state."""

from __future__ import annotations

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

from assistant.allocation import load
from assistant.errors import BadInput, ExitCode
from fixtures.mockex import MockExchanges
from flows import FLOWS

IPS = altrady_ips()


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    mock.reset("bittrex", bittrex_seed())


def allocation(tmp_path: Path, ips: list[str] = IPS, accounts: int = 1) -> Path:
    rows = [
        {"exchange": "bittrex", "name": f"Bittrex {n}", "key": f"Key {n}", "ips": ips}
        for n in range(accounts)
    ]
    return write_allocation(tmp_path / "allocation.toml", rows)


def allow_list(mock: MockExchanges) -> list[str]:
    return account_state(mock, "bittrex")["allow_list"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.wallclock  # real TOTP waits: one test per entry mode
def test_five_addresses_unattended_one_fresh_code_each(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, IPS[:5]),
        settings_for(mock, "bittrex", tmp_path, signed_in=False),
        browser,
        capsys,
        allow_count=True,
    )

    assert result.code == ExitCode.OK, result.out
    assert allow_list(mock) == IPS[:5]
    assert [a["ip"] for a in actions(mock, "bittrex", "add")] == IPS[:5]
    assert "Adding 5 addresses to 'account allow list' on Bittrex Global (5/5)" in result.out


@pytest.mark.long
@pytest.mark.usefixtures("seeded")
@pytest.mark.full  # 17 TOTP steps; five addresses prove one code each
def test_only_the_missing_seventeen_are_added(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("bittrex", bittrex_seed(["198.51.100.90", IPS[3], IPS[7], IPS[15]]))
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(mock, "bittrex", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    assert len(actions(mock, "bittrex", "add")) == 17
    assert sorted(allow_list(mock)) == sorted(["198.51.100.90", *IPS])


@pytest.mark.usefixtures("seeded")
def test_keys_of_one_account_share_one_merged_list(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    path = write_allocation(
        tmp_path / "two.toml",
        [
            {"exchange": "bittrex", "name": "Main", "key": "Key A", "ips": IPS[:3]},
            {"exchange": "bittrex", "name": "Bot", "key": "Key B", "ips": [*IPS[2:4]]},
        ],
    )
    result = run_cli(
        "apply", path, settings_for(mock, "bittrex", tmp_path), browser, capsys, allow_count=True
    )

    assert result.code == ExitCode.OK, result.out
    assert allow_list(mock) == IPS[:4]  # IPS[2] once, though both keys have it


@pytest.mark.usefixtures("seeded")
def test_a_refused_code_is_retried_once_with_the_next_one(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.fault("bittrex", "add", "totp_refused_once")
    result = run_cli(
        "apply",
        allocation(tmp_path, IPS[:2]),
        settings_for(mock, "bittrex", tmp_path),
        browser,
        capsys,
        allow_count=True,
    )

    assert result.code == ExitCode.OK, result.out
    assert allow_list(mock) == IPS[:2]
    assert [a["ip"] for a in actions(mock, "bittrex", "add")] == IPS[:2]  # nothing twice
    assert "trying once more with the next code" in result.out


@pytest.mark.usefixtures("seeded")
def test_two_refused_codes_stop_the_run_with_nothing_re_added(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.fault("bittrex", "add", "totp_refused_once", times=1)
    mock.fault("bittrex", "add", "totp_refused_once", times=1)
    result = run_cli(
        "apply",
        allocation(tmp_path, IPS[:2]),
        settings_for(mock, "bittrex", tmp_path),
        browser,
        capsys,
        allow_count=True,
    )

    assert result.code == ExitCode.USER_ACTION
    assert "two authenticator codes in a row were refused" in result.out
    assert allow_list(mock) == []


@pytest.mark.usefixtures("seeded")
def test_typed_codes_a_repeated_one_is_refused_before_it_is_sent(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    """Without a TOTP secret the user types each code; typing one twice is caught here."""
    totp = pyotp.TOTP(SECRET, interval=mock.site("bittrex").totp_period)
    typed: list[str] = []
    prompts: list[str] = []

    def person(prompt: str, wait: float, sent_in_page: Any = None) -> str:
        prompts.append(prompt)
        time.sleep(wait)  # stands in for the terminal's countdown to the next time step
        slip = len(prompts) == 2  # the second time, the person types the last code again
        typed.append(typed[-1] if slip else totp.now())
        return typed[-1]

    settings = settings_for(mock, "bittrex", tmp_path, secret="")
    results = run_engine(
        settings, allocation(tmp_path, IPS[:2]), browser, ask_code=person, allow_count=True
    )

    assert [r.status for r in results] == ["verified"]
    assert allow_list(mock) == IPS[:2]
    assert "already used" in prompts[2]  # refused here, before it could reach the site
    assert len(actions(mock, "bittrex", "add")) == 2


def test_cidr_is_refused_for_bittrex_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="is a range"):
        load(
            allocation(tmp_path, [*IPS[:19], "203.0.113.0/28"]),
            exchanges=FLOWS,
            cidr={fid: f.cidr for fid, f in FLOWS.items()},
        )
