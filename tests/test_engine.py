"""The engine's own decisions, without a browser: which key is meant, and how an
allocation becomes the whitelists to get right."""

from __future__ import annotations

import pytest

from assistant.allocation import Allocation
from assistant.errors import UserActionNeeded
from assistant.outcome import ACCOUNT_LIST
from assistant.targets import match_key, targets_of
from flows import FLOWS
from flows.base import KeyInfo

KEYS = [
    KeyInfo("Altrady main", "AbCdEfGh1234" + "x" * 52),
    KeyInfo("Altrady main (old)", "AbCdEfGh9999" + "y" * 52),
    KeyInfo("Personal bot", "ZzZzZzZz0000" + "z" * 52),
]


def test_exact_name_wins_over_a_near_namesake() -> None:
    assert match_key(FLOWS["binance"], "Altrady main", KEYS) is KEYS[0]
    assert match_key(FLOWS["binance"], "Altrady main (old)", KEYS) is KEYS[1]


def test_an_api_key_prefix_must_be_unique_and_long_enough() -> None:
    assert match_key(FLOWS["binance"], "AbCdEfGh1234", KEYS) is KEYS[0]
    with pytest.raises(UserActionNeeded, match="starts 2 API keys"):
        match_key(FLOWS["binance"], "AbCdEfGh", KEYS)
    with pytest.raises(UserActionNeeded, match="no key named 'ZzZz'"):
        match_key(FLOWS["binance"], "ZzZz", KEYS)  # under 8 characters: never a prefix


def test_a_name_shown_elsewhere_in_its_card_still_finds_the_key() -> None:
    """A page whose key list the flow read a wrong title from (say, a label) still shows the
    key's name whole in its card: that key, and only a whole text counts."""
    titled_by_label = [
        KeyInfo("API Key Remarks", None, ("API Key Remarks", "Altrady main", "On")),
        KeyInfo("API Key Remarks", None, ("API Key Remarks", "Altrady main 2", "Off")),
    ]
    found = match_key(FLOWS["gate"], "Altrady main", titled_by_label)
    assert (found.name, found.shown) == ("Altrady main", titled_by_label[0].shown)
    with pytest.raises(UserActionNeeded, match="no key named 'Altrady'"):
        match_key(FLOWS["gate"], "Altrady", titled_by_label)


def test_two_keys_with_the_same_name_are_refused() -> None:
    twins = [KeyInfo("Altrady main"), KeyInfo("Altrady main")]
    with pytest.raises(UserActionNeeded, match="2 keys are named 'Altrady main'"):
        match_key(FLOWS["kraken"], "Altrady main", twins)


def test_no_match_lists_every_candidate() -> None:
    with pytest.raises(UserActionNeeded) as info:
        match_key(FLOWS["kraken"], "Altrady", [KeyInfo(k.name) for k in KEYS])
    assert "'Altrady main', 'Altrady main (old)', 'Personal bot'" in info.value.message


def allocation(*accounts: tuple[str, str, list[str], list[str]]) -> Allocation:
    rows = [
        {"exchange": ex, "name": f"{ex} {key}", "key": key, "ips": ips, "extra_keys": extra}
        for ex, key, ips, extra in accounts
    ]
    return Allocation.model_validate({"accounts": rows}, context={"allow_count": True})


def test_extra_keys_are_targets_of_their_own_with_the_same_list() -> None:
    ips = ["8.8.8.8", "8.8.4.4"]
    targets = targets_of(allocation(("kraken", "main", ips, ["extra 1", "extra 2"])))
    assert [(t.key, t.ips) for t in targets["kraken"]] == [
        ("main", ips),
        ("extra 1", ips),
        ("extra 2", ips),
    ]


def test_an_account_wide_list_merges_every_key_once() -> None:
    targets = targets_of(
        allocation(
            ("bittrex", "a", ["8.8.8.8", "8.8.4.4"], []),
            ("bittrex", "b", ["8.8.4.4", "1.1.1.1"], []),
        )
    )
    [merged] = targets["bittrex"]
    assert merged.key == ACCOUNT_LIST
    assert merged.ips == ["8.8.8.8", "8.8.4.4", "1.1.1.1"]
    assert merged.accounts == ["bittrex a", "bittrex b"]
