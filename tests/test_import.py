"""`ipbind import altrady -o FILE`: the allocation read from the mock Altrady (built to SITES.md's
"altrady" section), written whole or not at all, and read by `plan` against the mock exchanges
whose keys it names."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from assistant.errors import ExitCode, UserActionNeeded
from assistant.importer import exchange_named, file_text, with_exchanges
from assistant.runner import load_allocation
from assistant.settings import load_settings
from fixtures.mockex import MockExchanges
from fixtures.mockex.core import load_seed
from flows.altrady import TradingAccount
from tests.support import (
    account_state,
    actions,
    ipbind,
    ipbind_here,
    keys_of,
    run_cli,
    site_env,
)

EXCHANGES = ("binance", "poloniex", "huobi", "bybit")
# Each trading account of the default Altrady seed: the exchange, and the names of its key
# and extra keys there (the name field, the key string's field).
HOLDS = {
    "My Binance": ("binance", ["Altrady main"]),
    "Binance bot": ("binance", ["Altrady extra"]),
    "My Poloniex": ("poloniex", ["Altrady main", "Altrady extra 1"]),
    "My Huobi": ("huobi", ["Altrady main", "Altrady extra 1"]),
    "My Bybit": ("bybit", ["Altrady (old)"]),
}
FIELDS = {
    "binance": ("label", "api_key"),
    "poloniex": ("label", "api_key"),
    "huobi": ("note", "access_key"),
    "bybit": ("name", "api_key"),
}


def seed_altrady(mock: MockExchanges) -> None:
    """Altrady holding the keys as the mock exchanges issued them (under chaos, a site may
    write its keys in a format of its own)."""
    seed = load_seed("altrady")
    for entry in seed["accounts"][0]["trading_accounts"]:
        site, names = HOLDS[entry["name"]]
        named, key_field = FIELDS[site]
        strings = [
            next(k[key_field] for k in keys_of(mock, site) if k[named] == name) for name in names
        ]
        entry["api_key"], entry["extra_keys"] = strings[0], strings[1:]
    mock.reset("altrady", seed)


def altrady_env(mock: MockExchanges, tmp_path: Path, **extra: str) -> dict[str, str]:
    account = next(iter(mock.site("altrady").accounts.values()))
    return {
        **site_env(mock, "altrady", tmp_path),
        "IPBIND_ALTRADY__PASS_KEY": account.data["pass_key"],
        **extra,
    }


def trading_accounts(mock: MockExchanges) -> list[dict[str, Any]]:
    return list(account_state(mock, "altrady")["trading_accounts"])


def settings_of_exchanges(mock: MockExchanges, tmp_path: Path) -> Any:
    """Each exchange's first seeded account (its own TOTP secret), on the mock."""
    logins = {}
    for site in EXCHANGES:
        account = next(iter(mock.site(site).accounts.values()))
        logins[site] = {
            "username": account.username,
            "password": account.password,
            "totp_secret": account.totp_secret,
            "totp_period": mock.site(site).totp_period,
            "base_url": mock.base_url(site),
        }
    return load_settings(**logins, artifacts_dir=tmp_path / "runs", timeout=10, _env_file=None)


def test_import_writes_every_trading_account_asking_nothing_and_plan_reads_it(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_altrady(mock)
    out = tmp_path / "allocation.toml"
    env = altrady_env(mock, tmp_path)
    done = ipbind("import", "altrady", "-o", str(out), env=env)  # no terminal: nothing asked
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Type it here" not in done.stdout + done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    seeded = trading_accounts(mock)
    allocation = load_allocation(out, allow_count=False)
    by_name = {account.name: account for account in allocation.accounts}
    assert set(by_name) == {t["name"] for t in seeded}
    assert allocation.accounts[0].name == "My Poloniex"  # Altrady shows "Resolve" for it
    for entry in seeded:
        account = by_name[entry["name"]]
        assert account.exchange == entry["exchange"].lower()
        assert account.key == entry["api_key"]
        assert account.extra_keys == entry["extra_keys"]
        assert account.ips == entry["ips"]  # bybit: none (bound to Altrady instead)
    assert by_name["My Bybit"].binds
    # It read and changed nothing: no "Update" clicked, and the pass key is nowhere.
    assert actions(mock, "altrady", "update") == []
    assert all(t["updates"] == 0 for t in trading_accounts(mock))
    pass_key = env["IPBIND_ALTRADY__PASS_KEY"]
    assert pass_key not in out.read_text() + done.stdout + done.stderr

    # The file round-trips: plan finds every key it names on the mock exchanges.
    result = run_cli("plan", out, settings_of_exchanges(mock, tmp_path), browser, capsys)
    assert result.code == ExitCode.OK, result.out
    for name in ("My Binance", "Binance bot", "My Poloniex", "My Huobi"):
        assert name in result.out


def test_a_wrong_pass_key_stops_the_import_and_writes_nothing(
    mock: MockExchanges, tmp_path: Path
) -> None:
    out = tmp_path / "allocation.toml"
    wrong = "wrong horse battery staple twice"
    env = altrady_env(mock, tmp_path, IPBIND_ALTRADY__PASS_KEY=wrong)
    done = ipbind("import", "altrady", "-o", str(out), env=env)
    assert done.returncode == ExitCode.USER_ACTION, done.stdout + done.stderr
    assert "Altrady refused the pass key" in done.stderr
    assert "IPBIND_ALTRADY__PASS_KEY" in done.stderr
    assert wrong not in done.stdout + done.stderr
    assert not out.exists()
    assert list(tmp_path.glob(".allocation.toml.*")) == []  # no temporary file left


def test_bad_requests_stop_before_any_browser_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "allocation.toml"
    env = {"IPBIND_CONFIG": str(tmp_path / "none.toml")}
    unknown = ipbind_here("import", "coinmarketcap", "-o", str(out), env=env)
    assert unknown.returncode == 2 and "unknown source 'coinmarketcap'" in unknown.stderr
    unset = ipbind_here("import", "altrady", "-o", str(out), env=env)  # no terminal to ask
    assert unset.returncode == 2, unset.stderr
    for name in ("USERNAME", "PASSWORD", "TOTP_SECRET"):
        assert f"IPBIND_ALTRADY__{name}" in unset.stderr
    out.write_text("# the person's own file\n")
    kept = ipbind_here("import", "altrady", "-o", str(out), env=env)
    assert kept.returncode == 2 and "the file exists" in kept.stderr and "--force" in kept.stderr
    assert out.read_text() == "# the person's own file\n"
    folder = ipbind_here("import", "altrady", "-o", str(tmp_path), env=env)
    assert folder.returncode == 2 and "a folder" in folder.stderr


@pytest.mark.parametrize(
    ("texts", "exchange"),
    [
        (["Binance", "a90b5oAlHS6mICYEYKcq3U"], "binance"),
        (["Exchange: Binance US"], "binanceus"),
        (["Binance.US"], "binanceus"),
        (["Bybit Futures"], "bybit-futures"),
        (["Bybit"], "bybit"),
        (["HTX"], "huobi"),
        (["Huobi"], "huobi"),
        (["Gate.io"], "gate"),
        (["Bittrex"], "bittrex"),
        (["Crypto.com"], "cryptocom"),
        (["My account", "KuCoin spot"], "kucoin"),
        (["Deribit"], None),
        (["Binance", "Kraken"], None),  # two as likely: not a guess
    ],
)
def test_the_exchange_is_found_by_its_name_in_the_row(texts: list[str], exchange: str) -> None:
    assert exchange_named(texts, but="My account") == exchange


def test_the_accounts_own_name_never_names_its_exchange() -> None:
    # "Binance bot" on Kraken: the row's exchange cell decides, not the account's name.
    assert exchange_named(["Binance bot", "Kraken"], but="Binance bot") == "kraken"
    assert exchange_named(["Binance bot"], but="Binance bot") is None


def account(name: str, *shown: str, **fields: Any) -> TradingAccount:
    values = {"key": f"{name}-0123456789abcdef", "ips": [], "extra_keys": [], "resolve": False}
    return TradingAccount(name=name, shown=(name, *shown), **{**values, **fields})


def test_an_account_on_an_exchange_ipbind_does_not_know_writes_nothing() -> None:
    with pytest.raises(UserActionNeeded, match="'On Deribit'; nothing was written"):
        with_exchanges([account("Main", "Binance"), account("On Deribit", "Deribit")])


def test_the_file_says_what_a_person_must_do_where_altrady_cannot_tell(tmp_path: Path) -> None:
    ips = [f"198.51.100.{n}" for n in range(20)]
    text = file_text(
        with_exchanges(
            [
                account("Spot", "Kraken", ips=ips, extra_keys=["K2-0123456789abcdefgh"]),
                account(
                    "Old",
                    "Binance",
                    ips=ips[:10] + [f"192.0.2.{n}" for n in range(10)],
                    resolve=True,
                ),
            ]
        ),
        "https://app.altrady.com",
    )
    assert text.index('name = "Old"') < text.index('name = "Spot"')  # "Resolve" first
    assert "Kraken finds keys by their name" in text
    path = tmp_path / "a.toml"
    path.write_text(text)
    assert [a.name for a in load_allocation(path, allow_count=False).accounts] == ["Old", "Spot"]
