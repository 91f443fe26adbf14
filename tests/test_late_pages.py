"""Pages that are not ready when they look ready: the frame first, the list from a slow
request of its own. The flows must read a list only once the page has settled (an empty
read of an unsettled page is not an empty list), and load no more pages than correctness
needs. Assertions are on the plan ipbind reported and on the mock server's state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from support import (
    account_state,
    actions,
    altrady_ips,
    bittrex_seed,
    kraken_seed,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges

IPS = altrady_ips()  # 203.0.113.10 … 203.0.113.29
# Already on the exchange: two that are not Altrady's (and prefixes of allocated ones), and
# one that is.
OLD = ["203.0.113.1", "203.0.113.2"]
KRAKEN_API = "/app/settings/api"


def plan_of(out: str) -> dict[str, dict[str, Any]]:
    """The --json result's keys, by name (the JSON object leads the captured output)."""
    result, _ = json.JSONDecoder().raw_decode(out)
    return {key["key"]: key for key in result["keys"]}


def test_bittrex_list_that_arrives_late_is_read_whole(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("bittrex", bittrex_seed([*OLD, IPS[3]]))
    mock.fault("bittrex", "list", "slow", times=2, seconds=1.5)  # the plan's and the read-back
    ips = IPS[:6]  # one code step per address: six keep the test short
    path = write_allocation(
        tmp_path / "a.toml", [{"exchange": "bittrex", "name": "B", "key": "K", "ips": ips}]
    )
    settings = settings_for(mock, "bittrex", tmp_path)
    result = run_cli("apply", path, settings, browser, capsys, json_out=True, allow_count=True)

    assert result.code == ExitCode.OK, result.out
    [key] = plan_of(result.out).values()
    assert key["already_there"] == [IPS[3]]
    assert key["kept"] == OLD
    assert key["added"] == [*IPS[:3], *IPS[4:6]] and key["verified"]
    # Only the missing five were sent: no code spent on an address already listed.
    assert [a["ip"] for a in actions(mock, "bittrex", "add")] == key["added"]
    assert account_state(mock, "bittrex")["allow_list"] == [*OLD, IPS[3], *key["added"]]


@pytest.mark.long
@pytest.mark.full  # Bittrex's late list is in the fast tier
def test_kraken_lists_that_arrive_late_are_read_whole(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset(
        "kraken",
        kraken_seed(
            {"name": "Altrady main (old)", "ips": ["203.0.113.10"]},  # a look-alike, first
            {"name": "Altrady main", "ips": [*OLD, IPS[5]]},
            {"name": "Altrady extra 10"},
            {"name": "Altrady extra 1", "ips": ["203.0.113.1"]},
        ),
    )
    mock.fault("kraken", "keys", "slow", times=12, seconds=0.6)  # every list, every edit view
    path = write_allocation(
        tmp_path / "a.toml",
        [
            {
                "exchange": "kraken",
                "name": "K",
                "key": "Altrady main",
                "extra_keys": ["Altrady extra 1"],
                "ips": IPS,
            }
        ],
    )
    result = run_cli(
        "apply", path, settings_for(mock, "kraken", tmp_path), browser, capsys, json_out=True
    )

    assert result.code == ExitCode.OK, result.out
    keys = plan_of(result.out)
    assert (keys["Altrady main"]["already_there"], keys["Altrady main"]["kept"]) == ([IPS[5]], OLD)
    assert keys["Altrady extra 1"]["already_there"] == []
    assert keys["Altrady extra 1"]["kept"] == ["203.0.113.1"]
    lists = {k["name"]: k["ips"] for k in account_state(mock, "kraken")["keys"]}
    assert lists == {
        "Altrady main (old)": ["203.0.113.10"],
        "Altrady main": [*OLD, IPS[5], *IPS[:5], *IPS[6:]],
        "Altrady extra 10": [],
        "Altrady extra 1": ["203.0.113.1", *IPS],
    }


@pytest.mark.long
@pytest.mark.full  # 20 one-by-one entries; the rerun test proves the loads
def test_kraken_loads_a_page_only_to_sign_in_and_to_read_back_what_it_saved(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    """Planning reads each key in its edit view (a client-side route) and comes back; a save
    returns to the keys by itself; only the read-back of each saved key loads the API page
    afresh. Two keys: the sign-in page, the API page after it, one read-back each."""
    mock.reset("kraken", kraken_seed({"name": "Altrady main"}, {"name": "Altrady extra 1"}))
    path = write_allocation(
        tmp_path / "a.toml",
        [
            {
                "exchange": "kraken",
                "name": "K",
                "key": "Altrady main",
                "extra_keys": ["Altrady extra 1"],
                "ips": IPS,
            }
        ],
    )
    settings = settings_for(mock, "kraken", tmp_path)
    assert run_cli("apply", path, settings, browser, capsys).code == ExitCode.OK
    assert mock.state("kraken")["page_loads"] == ["/sign-in", KRAKEN_API, KRAKEN_API, KRAKEN_API]
    assert len(actions(mock, "kraken", "save_whitelist")) == 2


def test_kraken_rerun_with_nothing_to_change_loads_only_the_sign_in(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("kraken", kraken_seed({"name": "Altrady main", "ips": IPS}))
    path = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "kraken", "name": "K", "key": "Altrady main", "ips": IPS}],
    )
    result = run_cli("apply", path, settings_for(mock, "kraken", tmp_path), browser, capsys)

    assert result.code == ExitCode.OK, result.out
    assert mock.state("kraken")["page_loads"] == ["/sign-in", KRAKEN_API]
    assert actions(mock, "kraken", "save_whitelist") == []
