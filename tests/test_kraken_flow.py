"""The kraken flow end to end against the mock Kraken: one input per address, keys known
only by name, extra keys, 2FA on save. Assertions are on the mock server's state."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser
from support import (
    account_state,
    actions,
    altrady_ips,
    kraken_seed,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from assistant.human import TerminalHuman
from assistant.opening import open_exchange
from assistant.output import ConsoleReporter
from fixtures.mockex import MockExchanges
from flows import kraken

IPS = altrady_ips()
NAMES = ["Altrady main", "Altrady main (old)", "Altrady extra 1", "Altrady extra 2"]


# Every test on both key forms; the older (one input per entry) in the full tier only.
@pytest.fixture(params=[pytest.param("older", marks=pytest.mark.full), "newer"])
def seeded(mock: MockExchanges, request: pytest.FixtureRequest) -> None:
    """The mock Kraken, on its older key form (one input per entry) and its newer one
    (a switch "Enable IP address restriction" and one field for the list)."""
    mock.reset(
        "kraken",
        kraken_seed(
            *({"name": n} for n in NAMES),
            {"name": "Personal bot", "ips": ["198.51.100.80"]},
            layout=request.param,
        ),
    )


def allocation(tmp_path: Path, key: str = "Altrady main", ips: list[str] = IPS, **extra) -> Path:
    account = {"exchange": "kraken", "name": "My Kraken", "key": key, "ips": ips, **extra}
    return write_allocation(tmp_path / "allocation.toml", [account])


def whitelists(mock: MockExchanges) -> dict[str, list[str]]:
    return {k["name"]: k["ips"] for k in account_state(mock, "kraken")["keys"]}


# Twenty addresses on two extra keys, on real TOTP time (one test per entry mode), in the
# full tier; three on one extra key in the fast one.
@pytest.mark.parametrize(
    ("count", "extras"),
    [pytest.param(20, 2, marks=[pytest.mark.full, pytest.mark.wallclock]), (3, 1)],
)
@pytest.mark.long
@pytest.mark.usefixtures("seeded")
def test_the_addresses_on_the_main_key_and_its_extra_keys(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, count: int, extras: int
) -> None:
    ips = IPS[:count]
    extra_keys = ["Altrady extra 1", "Altrady extra 2"][:extras]
    path = allocation(tmp_path, ips=ips, extra_keys=extra_keys)
    settings = settings_for(mock, "kraken", tmp_path, signed_in=False)
    result = run_cli("apply", path, settings, browser, capsys, allow_count=count < 20)

    assert result.code == ExitCode.OK, result.out
    lists = whitelists(mock)
    targets = ["Altrady main", *extra_keys]
    for name in targets:
        assert lists[name] == ips
        assert f"kraken: {name}: verified" in result.out  # every key reported separately
    assert lists["Altrady main (old)"] == []  # the near-namesake is never confused
    assert lists["Personal bot"] == ["198.51.100.80"]
    switched = {k["name"] for k in account_state(mock, "kraken")["keys"] if k["ip_whitelisting"]}
    assert switched == {*targets, "Personal bot"}


def test_existing_entries_are_kept_cidr_ranges_accepted_and_no_2fa_asked_without_one(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    """On the older form, of an account with no 2FA on saving keys: the save goes through
    without a code, what the key held stays, and ranges go in as ranges."""
    site = mock  # its own seed, on the older form
    site.reset(
        "kraken",
        kraken_seed({"name": "Altrady main", "ips": ["198.51.100.0/28"]}, api_2fa=False),
    )
    ips = [*IPS[:3], "203.0.113.128/25"]
    result = run_cli(
        "apply",
        allocation(tmp_path, ips=ips),
        settings_for(site, "kraken", tmp_path),
        browser,
        capsys,
        allow_count=True,
    )

    assert result.code == ExitCode.OK, result.out
    assert whitelists(site)["Altrady main"] == ["198.51.100.0/28", *ips]


@pytest.mark.usefixtures("seeded")
def test_a_name_that_matches_no_key_lists_the_candidates(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, key="Altrady"),
        settings_for(mock, "kraken", tmp_path),
        browser,
        capsys,
    )

    assert result.code == ExitCode.USER_ACTION
    assert "no key named 'Altrady'" in result.out
    assert "'Altrady main (old)'" in result.out
    assert actions(mock, "kraken", "save_whitelist") == []


# Full tier; fast: test_engine's exact name over a near namesake (match_key), and the main key
# beside "Altrady main (old)" in the main-and-extra test above.
@pytest.mark.full
@pytest.mark.usefixtures("seeded")
def test_the_longer_of_two_alike_names_gets_only_its_own_key(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, key="Altrady main (old)", ips=IPS[:2]),
        settings_for(mock, "kraken", tmp_path),
        browser,
        capsys,
        allow_count=True,
    )

    assert result.code == ExitCode.OK, result.out
    assert whitelists(mock)["Altrady main (old)"] == IPS[:2]
    assert whitelists(mock)["Altrady main"] == []


@pytest.mark.full  # fast: binance's no-op rerun, the newer form's replace
@pytest.mark.long
def test_rerun_is_a_no_op_and_replace_removes_extras(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    site = mock  # its own seed, on the older form
    site.reset("kraken", kraken_seed({"name": "Altrady main", "ips": ["198.51.100.9"]}))
    settings = settings_for(site, "kraken", tmp_path)
    path = allocation(tmp_path, ips=IPS[:4])
    assert run_cli("apply", path, settings, browser, capsys, allow_count=True).code == 0
    assert run_cli("apply", path, settings, browser, capsys, allow_count=True).code == 0
    assert len(actions(site, "kraken", "save_whitelist")) == 1

    result = run_cli("apply", path, settings, browser, capsys, allow_count=True, replace=True)

    assert result.code == ExitCode.OK, result.out
    assert whitelists(site)["Altrady main"] == IPS[:4]


# Full tier; fast: the older form's kept entries (above), binance's one field kept and
# replaced (the newer form's list is one field too), and the newer form end to end.
@pytest.mark.full
@pytest.mark.long
def test_the_newer_form_keeps_existing_entries_and_replace_removes_them(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset(
        "kraken",
        kraken_seed({"name": "Altrady main", "ips": ["198.51.100.0/28"]}, layout="newer"),
    )
    settings = settings_for(mock, "kraken", tmp_path)
    path = allocation(tmp_path, ips=IPS[:3])
    result = run_cli("apply", path, settings, browser, capsys, allow_count=True)

    assert result.code == ExitCode.OK, result.out
    assert whitelists(mock)["Altrady main"] == ["198.51.100.0/28", *IPS[:3]]

    result = run_cli("apply", path, settings, browser, capsys, allow_count=True, replace=True)

    assert result.code == ExitCode.OK, result.out
    assert whitelists(mock)["Altrady main"] == IPS[:3]


@pytest.mark.usefixtures("seeded")
def test_a_change_opens_the_key_afresh_once_its_read_is_not_a_moment_old(
    mock: MockExchanges, browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change goes on in the edit view its read left only a moment ago (`FRESH_VIEW_S`);
    later, the list there may be old: an address another session saved meanwhile stays."""
    monkeypatch.setattr(kraken, "FRESH_VIEW_S", 0.0)  # every read is too old
    reporter = ConsoleReporter()
    flow = open_exchange(
        browser,
        settings_for(mock, "kraken", tmp_path),
        "kraken",
        TerminalHuman(reporter, headless=True),
    )
    flow.open()
    [key] = [k for k in flow.list_keys() if k.name == "Altrady extra 1"]
    assert flow.read(key) == []
    account = next(iter(mock.site("kraken").accounts.values()))
    [meanwhile] = [k for k in account.data["keys"] if k["name"] == "Altrady extra 1"]
    meanwhile.update(ip_whitelisting=True, ips=["198.51.100.7"])  # saved elsewhere

    flow.change(key, IPS[:2], [], lambda done, total, step: None)

    assert whitelists(mock)["Altrady extra 1"] == ["198.51.100.7", *IPS[:2]]
    flow.page.context.close()


# SITES.md says nothing of what the page shows after Save (the mock goes back to the keys
# once the server has answered). A page that closes its dialog first, or stays where it is,
# must not have its save cut short by the read-back's page load.
def test_after_save_the_page_is_left_only_once_the_server_has_answered(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    mock.reset("kraken", kraken_seed({"name": "Altrady main"}, api_2fa=False))
    mock.fault("kraken", "save", "slow", times=1, seconds=1.0)
    flow = open_exchange(
        browser,
        settings_for(mock, "kraken", tmp_path),
        "kraken",
        TerminalHuman(ConsoleReporter(), headless=True),
    )
    flow.open()
    since = len(flow.traffic.answers)
    flow.page.evaluate(  # the save, sent as the page sends it; the page shows nothing of it
        """() => { fetch("/api/keys/whitelist", {method: "POST",
            headers: {"Content-Type": "application/json"}, credentials: "same-origin",
            body: JSON.stringify({name: "Altrady main", ip_whitelisting: true,
                                  ips: ["203.0.113.10"]})}); }"""
    )

    flow.taken(since)

    assert whitelists(mock)["Altrady main"] == ["203.0.113.10"]
    assert flow.traffic.answers[since:] == [200]
    flow.page.context.close()
