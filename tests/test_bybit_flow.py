"""The bybit flow end to end against the mock Bybit: no IP list, a key created bound to
Altrady (one key for bybit and bybit-futures), an e-mailed code played by `MailboxHuman`,
and the new secret handed to the user exactly once. Assertions are on the mock server's
state, the output, and every file the run wrote."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import pexpect
import pytest
from playwright.sync_api import Browser
from support import (
    SECRET,
    MailboxHuman,
    account_state,
    actions,
    ipbind_here,
    run_cli,
    seeded_account,
    settings_for,
    write_allocation,
)

from assistant.errors import BadInput, ExitCode, UserActionNeeded
from assistant.runner import Options, load_allocation, run
from fixtures.mockex import MockExchanges

ALL = {"access": "Read-Write", "scopes": ["Orders", "Positions", "Trade"]}


def bybit_seed(**options: Any) -> dict[str, Any]:
    """Two keys that are not the one asked for; `options` fix what chaos varies (bybit.js)."""
    keys = [
        {"name": "Altrady (old)", "api_key": "OLDKEY0000000000001", "permissions": ALL},
        {"name": "Bot", "api_key": "BOTKEY0000000000002", "app": "3Commas", "permissions": ALL},
    ]
    return {
        "latency_ms": [0, 60],
        "options": options,
        "accounts": [seeded_account("bybit@ipbind.test", keys=keys)],
    }


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    mock.reset("bybit", bybit_seed())


def allocation(tmp_path: Path, key: str = "Altrady", **extra: Any) -> Path:
    accounts = [
        {"exchange": "bybit", "name": "My Bybit", "key": key, **extra},
        {"exchange": "bybit-futures", "name": "My Bybit Futures", "key": key, **extra},
    ]
    return write_allocation(tmp_path / "allocation.toml", accounts)


def keys(mock: MockExchanges) -> dict[str, dict[str, Any]]:
    return {k["name"]: k for k in account_state(mock, "bybit")["keys"]}


def files_written(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.usefixtures("seeded")
@pytest.mark.wallclock  # real TOTP waits: one test per entry mode
def test_creates_one_key_bound_to_altrady_and_a_second_apply_changes_nothing(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    settings = settings_for(mock, "bybit", tmp_path, signed_in=False)
    human = MailboxHuman(mock, "bybit")
    result = run_cli(
        "apply", allocation(tmp_path), settings, browser, capsys, person=human, verbose=2
    )

    assert result.code == ExitCode.OK, result.out
    created = keys(mock)["Altrady"]
    assert created["app"] == "Altrady"
    assert created["permissions"] == ALL
    assert len(actions(mock, "bybit", "create")) == 1  # one key serves bybit and bybit-futures
    secret = account_state(mock, "bybit")["secrets"][created["api_key"]]
    assert result.out.count(secret) == 1  # shown once
    assert result.out.count(created["api_key"]) == 1
    assert "created, bound to Altrady" in result.out
    assert "Settings > Exchange API Keys" in result.out
    written = files_written(tmp_path / "runs")
    assert any(p.name == "debug.log" for p in written)
    for path in written:  # the debug log, screenshots, anything else the run wrote
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert created["api_key"].encode() not in data, path
    assert keys(mock)["Altrady (old)"]["app"] is None  # the look-alike is untouched

    again = run_cli("apply", allocation(tmp_path), settings, browser, capsys, person=human)

    assert again.code == ExitCode.OK, again.out
    assert "already bound to Altrady" in again.out
    assert len(actions(mock, "bybit", "create")) == 1
    assert secret not in again.out


@pytest.mark.usefixtures("seeded")
def test_an_unbound_key_of_the_same_name_stops_the_plan_with_nothing_created(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, key="Altrady (old)"),
        settings_for(mock, "bybit", tmp_path),
        browser,
        capsys,
        person=MailboxHuman(mock, "bybit"),
    )

    assert result.code == ExitCode.USER_ACTION, result.out
    assert "cannot bind an existing key" in result.out
    assert "exists, not bound to Altrady" in result.out
    assert actions(mock, "bybit", "create") == []
    assert mock.state("bybit")["inbox"] == []  # not even a code was asked for


@pytest.mark.usefixtures("seeded")
def test_json_carries_the_secret_and_secret_file_takes_it_instead(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    secret_file = tmp_path / "bybit-key.txt"
    result = run_cli(
        "apply",
        allocation(tmp_path, permissions=["Read-Write", "Trade"]),
        settings_for(mock, "bybit", tmp_path),
        browser,
        capsys,
        person=MailboxHuman(mock, "bybit"),
        json_out=True,
        secret_file=secret_file,
    )

    assert result.code == ExitCode.OK, result.out
    created = keys(mock)["Altrady"]
    assert created["permissions"] == {"access": "Read-Write", "scopes": ["Trade"]}
    secret = account_state(mock, "bybit")["secrets"][created["api_key"]]
    assert secret not in result.out  # it went to the file the user named
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret in secret_file.read_text()
    row = json.JSONDecoder().raw_decode(result.out[result.out.index("{") :])[0]["keys"][0]
    assert row["status"] == "verified"
    assert row["binding"]["created"] and row["binding"]["secret"] is None


@pytest.mark.usefixtures("seeded")
def test_an_existing_secret_file_is_never_overwritten(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    secret_file = tmp_path / "taken.txt"
    secret_file.write_text("mine")
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "bybit", tmp_path),
        browser,
        capsys,
        secret_file=secret_file,
    )

    assert result.code == ExitCode.BAD_INPUT
    assert "never overwrites" in result.out
    assert secret_file.read_text() == "mine"
    assert mock.state("bybit")["sign_ins"] == []


def test_bybit_takes_no_ips_and_one_set_of_permissions_per_key(tmp_path: Path) -> None:
    path = write_allocation(
        tmp_path / "a.toml",
        [
            {"exchange": "bybit", "name": "A", "key": "Altrady", "ips": ["203.0.113.10"]},
            {"exchange": "bybit", "name": "B", "key": "K", "permissions": ["Read-Only"]},
            {"exchange": "bybit-futures", "name": "C", "key": "K", "permissions": ["Orders"]},
            {"exchange": "kraken", "name": "D", "key": "K", "permissions": ["Orders"]},
        ],
    )
    with pytest.raises(BadInput) as err:
        load_allocation(path, allow_count=False)

    message = err.value.message
    assert "bybit takes no IP addresses" in message
    assert "name one of 'Read-Only' or 'Read-Write'" in message  # C: Orders alone
    assert "permissions: only for exchanges whose keys are bound to Altrady" in message


@pytest.mark.usefixtures("seeded")
def test_with_json_the_secret_is_only_inside_the_json(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    code = run(
        "apply",
        allocation(tmp_path),
        Options(yes=True, json_out=True),
        settings=settings_for(mock, "bybit", tmp_path),
        chromium=browser,
        person=MailboxHuman(mock, "bybit"),
    )
    captured = capsys.readouterr()

    assert code == ExitCode.OK, captured.err
    created = keys(mock)["Altrady"]
    secret = account_state(mock, "bybit")["secrets"][created["api_key"]]
    assert secret not in captured.err  # the terminal's messages go to stderr with --json
    assert captured.out.count(secret) == 1
    binding = json.loads(captured.out)["keys"][0]["binding"]
    assert binding == {
        "app": "Altrady",
        "permissions": ["Read-Write", "Orders", "Positions", "Trade"],
        "done": "created, bound to Altrady (Read-Write, Orders, Positions, Trade)",
        "created": True,
        "api_key": created["api_key"],
        "secret": secret,
    }


def test_exchanges_lists_the_new_exchanges_with_how_each_is_done() -> None:
    listing = ipbind_here("exchanges").stdout
    for fid in ("bybit", "bybit-futures", "huobi", "poloniex"):
        assert f"id: {fid} ·" in listing or f"│ {fid} " in listing, listing
    assert "bound to Altrady" in listing
    assert "e-mailed link" in listing


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        pytest.param("Your new API key", "caption", id="titled-caption", marks=pytest.mark.full),
        pytest.param(None, "dl", id="untitled-dl"),
        pytest.param("Success", "line", id="success-line", marks=pytest.mark.full),
    ],
)
def test_the_new_key_is_read_whatever_its_dialog_is_called_and_however_it_shows_it(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, title: str | None, shown: str
) -> None:
    mock.reset("bybit", bybit_seed(new_key_title=title, key_shown=shown))
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "bybit", tmp_path),
        browser,
        capsys,
        person=MailboxHuman(mock, "bybit"),
    )

    assert result.code == ExitCode.OK, result.out
    created = keys(mock)["Altrady"]
    assert created["app"] == "Altrady"
    secret = account_state(mock, "bybit")["secrets"][created["api_key"]]
    assert f"API key:    {created['api_key']}" in result.out
    assert f"Secret key: {secret}" in result.out  # the secret shown is the server's


class NoOneAtTheWindow(MailboxHuman):
    """The person as a headless run has them: e-mailed codes, but no one at the browser."""

    handed: list[tuple[str, bool]]

    def hand_off(self, page: Any, message: str, done: Any) -> None:
        on_page = page.get_by_role("dialog").filter(has_text="Secret Key").is_visible()
        self.handed = [*getattr(self, "handed", []), (message, on_page)]
        raise UserActionNeeded(f"{message} — a step only a person can do")


@pytest.mark.long
def test_an_unreadable_secret_stops_saying_what_was_created_and_a_rerun_offers_a_fresh_key(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("bybit", bybit_seed(secret_shown="canvas"))
    settings = settings_for(mock, "bybit", tmp_path)
    person = NoOneAtTheWindow(mock, "bybit")
    result = run_cli("apply", allocation(tmp_path), settings, browser, capsys, person=person)

    assert result.code == ExitCode.USER_ACTION, result.out
    created = keys(mock)["Altrady"]
    assert created["app"] == "Altrady"
    secret = account_state(mock, "bybit")["secrets"][created["api_key"]]
    assert secret not in result.out
    [(message, on_page)] = person.handed
    assert "copy the Secret Key of the new Bybit key 'Altrady'" in message
    assert on_page  # handed over on the page that shows the secret, still open
    text = " ".join(result.out.split())
    assert f"the API key 'Altrady' (API key {created['api_key']}) was created" in text
    assert "could not read its secret" in text
    assert "delete the key on Bybit (API Management, the key's Delete)" in text
    assert "Open it now?" not in text and "ipbind assist" not in text  # assist cannot help

    again = run_cli("apply", allocation(tmp_path), settings, browser, capsys, person=person)

    assert again.code == ExitCode.OK, again.out
    text = " ".join(again.out.split())
    assert "'Altrady' exists, already bound to Altrady" in text
    assert "its secret was shown once, on the run that created it" in text
    assert 'set key = "Altrady 2"' in text  # the first free name, never created silently
    assert "shows no third-party application" not in text
    assert len(actions(mock, "bybit", "create")) == 1


@pytest.mark.usefixtures("seeded")
def test_a_key_bound_otherwise_is_refused_with_a_free_name_to_use(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, key="Bot"),
        settings_for(mock, "bybit", tmp_path),
        browser,
        capsys,
        person=MailboxHuman(mock, "bybit"),
    )

    assert result.code == ExitCode.USER_ACTION, result.out
    text = " ".join(result.out.split())
    assert "a key named 'Bot' exists, not bound to Altrady" in text
    assert "cannot bind an existing key" in text
    assert "(say 'Bot 2')" in text
    assert actions(mock, "bybit", "create") == []


@pytest.mark.full  # a pty; fast: with no one to ask, the free name to set, above
@pytest.mark.long
def test_at_a_terminal_a_fresh_key_is_offered_and_no_is_the_default(
    mock: MockExchanges, tmp_path: Path
) -> None:
    seed = bybit_seed()
    seed["accounts"][0]["keys"].append(
        {"name": "Altrady", "api_key": "ALTKEY0000000000003", "app": "Altrady", "permissions": ALL}
    )
    mock.reset("bybit", seed)
    path = allocation(tmp_path)
    user = next(iter(mock.site("bybit").accounts.values()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        {
            "IPBIND_BYBIT__USERNAME": user.username,
            "IPBIND_BYBIT__PASSWORD": user.password,
            "IPBIND_BYBIT__TOTP_SECRET": SECRET,
            "IPBIND_BYBIT__TOTP_PERIOD": str(mock.site("bybit").totp_period),
            "IPBIND_BYBIT__BASE_URL": mock.base_url("bybit"),
            "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
            "IPBIND_CONFIG": str(tmp_path / "none.toml"),
            "TERM": "dumb",
        }
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "apply", str(path)],
        env=env,
        cwd=tempfile.gettempdir(),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    child.expect(r"Create a fresh Bybit key 'Altrady 2' now instead")
    child.sendline("")  # Enter: the default
    child.expect(pexpect.EOF)
    child.close()
    text = " ".join(child.before.split())

    assert child.exitstatus == ExitCode.OK, text
    assert actions(mock, "bybit", "create") == []
    assert mock.state("bybit")["inbox"] == []
