"""Faults the mock sites inject on demand, on every flow: ipbind either recovers and verifies,
or stops naming the exchange, key and step. Either way the whitelist on the server is never
smaller than it was, nothing is added twice, and success is reported only when read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from support import (
    account_state,
    actions,
    altrady_ips,
    binance_seed,
    bittrex_seed,
    kraken_seed,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges

IPS = altrady_ips(4)
OLD = "198.51.100.7"


# exchange: (seed, the save route's name in the mock, the key's saved list in the state)
def binance_list(state: dict[str, Any]) -> list[str]:
    return next(k for k in state["keys"] if k["label"] == "Altrady main")["ips"]


def kraken_list(state: dict[str, Any]) -> list[str]:
    return next(k for k in state["keys"] if k["name"] == "Altrady main")["ips"]


def bittrex_list(state: dict[str, Any]) -> list[str]:
    return state["allow_list"]


SITES = {
    "binance": (
        lambda: binance_seed({"label": "Altrady main", "ips": [OLD]}),
        "save",
        binance_list,
    ),
    "kraken": (lambda: kraken_seed({"name": "Altrady main", "ips": [OLD]}), "save", kraken_list),
    "bittrex": (lambda: bittrex_seed([OLD]), "add", bittrex_list),
}
FAULTS = {
    "http500": {},
    "session_expired": {},
    "rate_limited": {},
    "slow": {"seconds": 3},
}


@pytest.mark.parametrize("fault", [*FAULTS, "modal"])
@pytest.mark.parametrize("exchange", list(SITES))
def test_a_fault_is_recovered_from_and_the_list_verified(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, exchange: str, fault: str
) -> None:
    seed, save_route, saved = SITES[exchange]
    mock.reset(exchange, seed())
    if fault == "modal":
        mock.fault(exchange, "page", "modal", times=3)  # a promo covers every page loaded
    else:
        mock.fault(exchange, save_route, fault, **FAULTS[fault])
    path = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": exchange, "name": "A", "key": "Altrady main", "ips": IPS}],
    )
    result = run_cli(
        "apply", path, settings_for(mock, exchange, tmp_path), browser, capsys, allow_count=True
    )

    assert result.code == ExitCode.OK, result.out
    assert saved(account_state(mock, exchange)) == [OLD, *IPS]
    if fault == "session_expired":  # signed in again, and went on with the same key
        assert len(mock.state(exchange)["sign_ins"]) == 2
    if exchange == "bittrex":  # one code and one add per address, none twice
        assert [a["ip"] for a in actions(mock, "bittrex", "add")] == IPS
