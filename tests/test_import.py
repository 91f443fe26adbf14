"""`ipbind import altrady -o FILE`: the allocation read from the mock Altrady (built to SITES.md's
"altrady" section), written whole or not at all, and read by `plan` against the mock exchanges
whose keys it names."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import support
from playwright.sync_api import Browser
from support import (
    SECRET,
    account_state,
    actions,
    altrady_ips,
    assert_nothing_leaks,
    binance_seed,
    bittrex_seed,
    ipbind,
    ipbind_here,
    keep_sessions,
    keys_of,
    kraken_seed,
    login_of,
    run_cli,
    secrets_of,
    settings_for,
    site_env,
    write_allocation,
)

from assistant.errors import ExitCode, UserActionNeeded
from assistant.importer import exchange_named, file_text, import_allocation, with_exchanges
from assistant.runner import Options, load_allocation
from assistant.settings import load_settings
from assistant.sync import sync
from fixtures.mockex import MockExchanges
from fixtures.mockex.core import load_seed
from flows.altrady import TradingAccount

EXCHANGES = ("binance", "poloniex", "huobi", "bybit")
PASS_KEY = "amber river candle stone mirror"  # the default seed's
# Each trading account of the default Altrady seed: the exchange, and the names of its key
# and extra keys there (the name field, the key string's field).
HOLDS = {
    "My Binance": ("binance", ["Altrady main"]),
    "Binance bot": ("binance", ["Altrady extra"]),
    "My Poloniex": ("poloniex", ["Altrady main", "Altrady extra 1"]),
    "My Huobi": ("huobi", ["Altrady main", "Altrady extra 1"]),
    "My Bybit": ("bybit", ["Altrady"]),
}
FIELDS = {
    "binance": ("label", "api_key"),
    "poloniex": ("label", "api_key"),
    "huobi": ("note", "access_key"),
    "bybit": ("name", "api_key"),
}


READ_ONLY = {"permissions": {"access": "Read-Only"}}


def seed_altrady(mock: MockExchanges) -> None:
    """Altrady holding the keys as the mock exchanges issued them (under chaos, a site may
    write its keys in a format of its own)."""
    bybit = load_seed("bybit")  # a key bound to Altrady, as Altrady's Bybit keys are
    bybit["accounts"][0]["keys"].append(
        {"name": "Altrady", "api_key": "Ab1Cd2Ef3Gh4Ij5Kl6", "app": "Altrady", **READ_ONLY}
    )
    mock.reset("bybit", bybit)
    seed = load_seed("altrady")
    trading = seed["accounts"][0]["trading_accounts"]
    trading.append({"name": "My Bybit", "exchange": "Bybit", "api_key": ""})
    for entry in trading:
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
    logins = {
        site: login_of(mock, site, next(iter(mock.site(site).accounts.values())).totp_secret)
        for site in EXCHANGES
    }
    return load_settings(**logins, artifacts_dir=tmp_path / "runs", timeout=10, _env_file=None)


def assert_written_as_altrady_shows(mock: MockExchanges, out: Path) -> None:
    """The file: every trading account of the mock Altrady, "Resolve" first, each with its
    exchange, key, extra keys and addresses (Bybit: a binding, no list), 0600."""
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
    # It read and changed nothing: no "Update" clicked.
    assert actions(mock, "altrady", "update") == []
    assert all(t["updates"] == 0 for t in trading_accounts(mock))


def test_import_writes_every_trading_account_asking_nothing(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command's own code, in this process and the session's browser, with no terminal
    (the installed command, and `plan` reading its file on every exchange: the full tier's
    test below; `apply` of an imported file: the sync test)."""
    seed_altrady(mock)
    out = tmp_path / "allocation.toml"
    altrady = next(iter(mock.site("altrady").accounts.values()))
    pass_key = altrady.data["pass_key"]
    sign_in = {**login_of(mock, "altrady", altrady.totp_secret), "pass_key": pass_key}
    code = import_allocation(
        "altrady", out, {"altrady": sign_in, "_env_file": None}, chromium=browser
    )
    printed = capsys.readouterr()
    assert code == ExitCode.OK, printed.out + printed.err
    assert "Type it here" not in printed.out + printed.err  # no terminal: nothing asked
    assert_written_as_altrady_shows(mock, out)
    assert pass_key not in out.read_text() + printed.out + printed.err


@pytest.mark.full  # fast: the import in this process above, and sync applying its file
def test_the_installed_import_writes_a_file_plan_reads_on_every_exchange(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_altrady(mock)
    out = tmp_path / "allocation.toml"
    env = altrady_env(mock, tmp_path)
    done = ipbind("import", "altrady", "-o", str(out), env=env)  # no terminal: nothing asked
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Type it here" not in done.stdout + done.stderr
    assert_written_as_altrady_shows(mock, out)
    pass_key = env["IPBIND_ALTRADY__PASS_KEY"]
    assert pass_key not in out.read_text() + done.stdout + done.stderr

    # The file round-trips: plan finds every key it names on the mock exchanges.
    result = run_cli("plan", out, settings_of_exchanges(mock, tmp_path), browser, capsys)
    assert result.code == ExitCode.OK, result.out
    for name in ("My Binance", "Binance bot", "My Poloniex", "My Huobi"):
        assert name in result.out
    # The Bybit key Altrady holds is found by its API key, bound as its owner made it.
    assert "create" not in result.out and "bound to Altrady (Read-Only)" in result.out


def test_a_bybit_key_named_by_its_api_key_is_never_replaced_by_a_new_one(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unbound = next(k for k in keys_of(mock, "bybit") if k["name"] == "Altrady (old)")
    allocation = write_allocation(
        tmp_path / "a.toml", [{"exchange": "bybit", "name": "My Bybit", "key": unbound["api_key"]}]
    )
    secret = next(iter(mock.site("bybit").accounts.values())).totp_secret
    settings = load_settings(
        bybit=login_of(mock, "bybit", secret), artifacts_dir=tmp_path / "runs", _env_file=None
    )
    result = run_cli("plan", allocation, settings, browser, capsys)
    assert result.code == ExitCode.USER_ACTION, result.out
    assert "is not bound to Altrady, and Bybit cannot bind an existing key" in result.out
    assert actions(mock, "bybit", "create") == []


def test_a_wrong_pass_key_stops_the_import_and_writes_nothing(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "allocation.toml"
    wrong = "wrong horse battery staple twice"
    altrady = next(iter(mock.site("altrady").accounts.values()))
    sign_in = {**login_of(mock, "altrady", altrady.totp_secret), "pass_key": wrong}
    code = import_allocation(
        "altrady", out, {"altrady": sign_in, "_env_file": None}, chromium=browser
    )  # in this process, in the session's browser; no terminal
    printed = capsys.readouterr()
    assert code == ExitCode.USER_ACTION, printed.out + printed.err
    assert "Altrady refused the pass key" in printed.err
    assert "IPBIND_ALTRADY__PASS_KEY" in printed.err
    assert wrong not in printed.out + printed.err
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
    assert "lists keys by name only (Kraken)" in text
    path = tmp_path / "a.toml"
    path.write_text(text)
    assert [a.name for a in load_allocation(path, allow_count=False).accounts] == ["Old", "Spot"]


@pytest.mark.full  # fast: the sync test's "Resolve" account, and test_journal's record
def test_a_changed_allocation_removes_what_ipbind_added_before_and_keeps_the_persons_own(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Altrady re-allocates (a "Resolve"): the addresses an earlier apply put on the key and
    Altrady no longer allocates are planned "to remove (no longer Altrady's)" and removed
    once confirmed; the person's own address stays. Known across the key's names: the first
    file names it by label, the second (as `import` writes it) by its API key."""
    own = "198.51.100.9"
    mock.reset("binance", binance_seed({"label": "Altrady main", "ips": [own]}))
    settings = settings_for(mock, "binance", tmp_path)
    old, new = altrady_ips(4, start=10), altrady_ips(4, start=12)  # two stay, two go
    first = write_allocation(
        tmp_path / "old.toml",
        [{"exchange": "binance", "name": "My Binance", "key": "Altrady main", "ips": old}],
    )
    assert run_cli("apply", first, settings, browser, capsys, allow_count=True).code == 0
    assert keys_of(mock, "binance")[0]["ips"] == [own, *old]

    api_key_now = keys_of(mock, "binance")[0]["api_key"]
    second = write_allocation(
        tmp_path / "new.toml",
        [{"exchange": "binance", "name": "My Binance", "key": api_key_now, "ips": new}],
    )
    plan = run_cli("plan", second, settings, browser, capsys, allow_count=True)
    assert plan.code == 0, plan.out
    assert "to remove 2 (no longer Altrady's)" in plan.out and "kept 1" in plan.out
    assert keys_of(mock, "binance")[0]["ips"] == [own, *old]  # plan changed nothing

    done = run_cli("apply", second, settings, browser, capsys, allow_count=True)
    assert done.code == 0, done.out
    assert sorted(keys_of(mock, "binance")[0]["ips"]) == sorted([own, *new])
    again = run_cli("plan", second, settings, browser, capsys, allow_count=True)
    assert "to remove" not in again.out  # what it took off is forgotten


def test_sync_whitelists_everywhere_then_updates_exactly_the_accounts_that_verified(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One command: Altrady's three trading accounts read, applied (one of them a "Resolve":
    the addresses an earlier ipbind run put there go, the person's own stays), and Update
    clicked in Altrady for the two that verified; not for the one whose exchange failed."""
    own = "198.51.100.9"
    mock.reset("binance", binance_seed({"label": "Altrady main", "ips": [own]}, {"label": "Bot"}))
    mock.reset("bittrex", bittrex_seed())
    altrady = next(iter(mock.site("altrady").accounts.values()))
    settings = load_settings(
        binance=login_of(mock, "binance", SECRET),
        bittrex=login_of(mock, "bittrex", SECRET),
        altrady={**login_of(mock, "altrady", altrady.totp_secret), "pass_key": PASS_KEY},
        artifacts_dir=tmp_path / "runs",
        timeout=10,
        pictures=support.PICTURES,
        _env_file=None,
    )
    keep_sessions(mock, settings, "binance", "bittrex")  # their sign-ins: not what this proves
    old = altrady_ips(4, start=40)  # what an earlier ipbind run put on the main key
    earlier = write_allocation(
        tmp_path / "earlier.toml",
        [{"exchange": "binance", "name": "Main", "key": "Altrady main", "ips": old}],
    )
    assert run_cli("apply", earlier, settings, browser, capsys, allow_count=True).code == 0
    binance = {k["label"]: k for k in keys_of(mock, "binance")}
    lists = {
        "Main": altrady_ips(20, start=100),
        "Bot": altrady_ips(20, base="198.51.100", start=120),
        "Old exchange": altrady_ips(20, base="192.0.2", start=20),
    }
    trading = [
        {"name": "Main", "exchange": "Binance", "resolve": True,
         "api_key": binance["Altrady main"]["api_key"], "ips": lists["Main"]},
        {"name": "Bot", "exchange": "Binance", "api_key": binance["Bot"]["api_key"],
         "ips": lists["Bot"]},
        {"name": "Old exchange", "exchange": "Bittrex", "api_key": "b7c1d2e3f4a5b6c7d8e9f0a1",
         "ips": lists["Old exchange"]},
    ]  # fmt: skip
    seed = load_seed("altrady")
    seed["accounts"][0]["trading_accounts"] = trading
    mock.reset("altrady", seed)
    mock.fault("bittrex", "add", "http500", times=2)  # its first add, and the retry

    code = sync(Options(yes=True), tmp_path / "synced.toml", settings=settings, chromium=browser)
    out = capsys.readouterr()
    printed = out.out + out.err
    assert code != ExitCode.OK, printed
    after = {k["label"]: k for k in keys_of(mock, "binance")}
    assert sorted(after["Altrady main"]["ips"]) == sorted([own, *lists["Main"]])  # old gone
    assert sorted(after["Bot"]["ips"]) == sorted(lists["Bot"])
    assert account_state(mock, "bittrex")["allow_list"] == []
    updates = {t["name"]: t["updates"] for t in trading_accounts(mock)}
    assert updates == {"Main": 1, "Bot": 1, "Old exchange": 0}
    assert not next(t for t in trading_accounts(mock) if t["name"] == "Main")["resolve"]
    assert "'Main' (binance): verified · Updated in Altrady" in printed
    assert "'Old exchange' (bittrex): not whitelisted" in printed
    known = secrets_of(settings)  # passwords, TOTP secrets and the pass key
    assert_nothing_leaks(printed, tmp_path, known)


class Chooser:
    """The person at a terminal, asked which of an exchange's keys is the one Altrady shows
    by its API key: answers `name`, and counts the questions."""

    def __init__(self, name: str | None):
        self.name = name
        self.asked: list[tuple[str, str, list[str]]] = []

    def which_key(self, exchange: str, wanted: str, accounts: list[str], names: list[str]):
        self.asked.append((exchange, wanted, names))
        return self.name


def test_where_keys_are_listed_by_name_the_person_is_asked_once_which_key_it_is(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock.reset("kraken", kraken_seed({"name": "Altrady main"}, {"name": "Personal bot"}))
    settings = settings_for(mock, "kraken", tmp_path)
    shown_by_altrady = "kQ9xWv2Lm8Zr4Tn6Yp1Bc3Hd5Jf7Gs0"
    allocation = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "kraken", "name": "My Kraken", "key": shown_by_altrady,
          "ips": altrady_ips(3)}],
    )  # fmt: skip
    person = Chooser("Altrady main")
    first = run_cli("plan", allocation, settings, browser, capsys, allow_count=True, person=person)
    assert first.code == ExitCode.OK, first.out
    assert person.asked == [("Kraken", shown_by_altrady, ["Altrady main", "Personal bot"])]
    assert "to add 3" in first.out

    again = Chooser(None)
    second = run_cli("plan", allocation, settings, browser, capsys, allow_count=True, person=again)
    assert second.code == ExitCode.OK and again.asked == []  # remembered

    other = write_allocation(
        tmp_path / "b.toml",
        [{"exchange": "kraken", "name": "My Kraken", "key": "zZ8yXx7wWv6uUt5sSr4qQp3",
          "ips": altrady_ips(3)}],
    )  # fmt: skip
    nobody = run_cli("plan", other, settings, browser, capsys, allow_count=True)  # no terminal
    assert nobody.code == ExitCode.USER_ACTION
    assert "run `ipbind plan FILE` once at a terminal" in nobody.out
