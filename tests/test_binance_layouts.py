"""The binance flow on a Binance that keeps SITES.md (paths, words, steps, server rules) but
is marked up like another single-page app: the mock's "table" layout (a row per key, no
per-key heading, editing in a modal dialog, "Delete <ip>" icon buttons, no <label for>).
Through the CLI's code path; every test asserts the mock server's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from support import (
    altrady_ips,
    api_key,
    binance_seed,
    keys_of,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges

IPS = altrady_ips()
TABLE = {"layout": "table"}
KEYS = (  # the near-namesake comes first, so a loose match would pick it
    {"label": "Altrady main (old)", "ips": ["198.51.100.1"]},
    {"label": "Altrady main", "ips": ["198.51.100.9"]},
    {"label": "Personal bot", "ips": ["198.51.100.50", "198.51.100.51"], "spot_trading": True},
)


def table_site(mock: MockExchanges, *keys: dict[str, Any]) -> MockExchanges:
    mock.reset("binance", binance_seed(*keys, options=TABLE))
    return mock


@pytest.fixture
def site(mock: MockExchanges) -> MockExchanges:
    return table_site(mock, *KEYS)


def allocation(tmp_path: Path, key: str = "Altrady main") -> Path:
    account = {"exchange": "binance", "name": "My Binance", "key": key, "ips": IPS}
    return write_allocation(tmp_path / "allocation.toml", [account])


def saves(mock: MockExchanges) -> list[dict[str, Any]]:
    return [entry for entry in mock.state("binance")["log"] if entry["action"] == "save"]


def test_apply_adds_the_twenty_to_the_right_row(
    site: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    before = keys_of(site, "binance")
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(site, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    after = keys_of(site, "binance")
    assert after[1]["ips"] == ["198.51.100.9", *IPS]  # the existing address kept, first
    assert after[1]["restricted"] is True
    assert [after[0], after[2]] == [before[0], before[2]]  # the near-namesake untouched
    assert [save["key"] for save in saves(site)] == ["Altrady main"]
    assert "verified" in result.out


def test_second_apply_is_a_no_op(
    site: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    settings = settings_for(site, "binance", tmp_path)
    assert run_cli("apply", allocation(tmp_path), settings, browser, capsys).code == ExitCode.OK
    state = site.state("binance")["accounts"]

    again = run_cli("apply", allocation(tmp_path), settings, browser, capsys)

    assert again.code == ExitCode.OK, again.out
    assert site.state("binance")["accounts"] == state
    assert len(saves(site)) == 1
    assert "unchanged" in again.out


def test_replace_deletes_the_extras(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    site = table_site(
        mock, KEYS[0], {"label": "Altrady main", "ips": ["198.51.100.9", IPS[0]]}, KEYS[2]
    )
    before = keys_of(site, "binance")
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(site, "binance", tmp_path),
        browser,
        capsys,
        replace=True,
    )

    assert result.code == ExitCode.OK, result.out
    after = keys_of(site, "binance")
    assert sorted(after[1]["ips"]) == sorted(IPS)  # 198.51.100.9 deleted, IPS[0] kept
    assert [after[0], after[2]] == [before[0], before[2]]
    assert len(saves(site)) == 1


def test_key_found_by_api_key_prefix(
    site: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, key=api_key(2)[:12]),
        settings_for(site, "binance", tmp_path),
        browser,
        capsys,
    )

    assert result.code == ExitCode.OK, result.out
    after = keys_of(site, "binance")
    assert after[2]["ips"] == ["198.51.100.50", "198.51.100.51", *IPS]
    assert after[2]["spot_trading"] is True
    assert [key["ips"] for key in after[:2]] == [["198.51.100.1"], ["198.51.100.9"]]


def test_a_single_key_is_found_by_its_label(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    site = table_site(mock, {"label": "Altrady main"})
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(site, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    assert keys_of(site, "binance")[0]["ips"] == IPS
