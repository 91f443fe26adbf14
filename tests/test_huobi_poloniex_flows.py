"""The huobi and poloniex flows end to end against their mock sites: the whole list in one
field, an e-mailed code (huobi) or link (poloniex) played by `MailboxHuman` through the same
`Human` interface the CLI uses, a main key and two extra keys. Assertions are on the mock
server's state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from support import (
    MailboxHuman,
    account_state,
    actions,
    altrady_ips,
    run_cli,
    run_engine,
    seeded_account,
    settings_for,
    tiered,
    write_allocation,
)

from assistant.errors import ExitCode, Interrupted
from fixtures.mockex import MockExchanges

IPS = altrady_ips()
EXTRA = ["Altrady extra 1", "Altrady extra 2"]
ALTRADY_KEYS = ["Altrady main", *EXTRA]


def huobi_seed() -> dict[str, Any]:
    def key(n: int, note: str, ips: list[str]) -> dict[str, Any]:
        return {"note": note, "access_key": f"{n:08x}-5e6f7a8b-9c0d1e2f-3a4b5", "ips": ips}

    keys = [
        key(1, "Altrady main", IPS[:5]),
        key(2, "Altrady main 2", []),
        key(3, "Altrady extra 1", []),
        key(4, "Altrady extra 2", IPS[12:]),
        key(5, "Personal bot", ["198.51.100.80"]),
    ]
    return {"latency_ms": [0, 60], "accounts": [seeded_account("huobi@ipbind.test", keys=keys)]}


def poloniex_seed() -> dict[str, Any]:
    def key(n: int, label: str, ips: list[str]) -> dict[str, Any]:
        return {"label": label, "api_key": f"PLNX-{n:04d}-ABCD-EFGH", "ips": ips}

    keys = [
        key(1, "Altrady main", IPS[:5]),
        key(2, "Altrady main (old)", []),
        key(3, "Altrady extra 1", []),
        key(4, "Altrady extra 2", []),
        key(5, "Personal bot", ["198.51.100.80"]),
    ]
    return {"latency_ms": [0, 60], "accounts": [seeded_account("polo@ipbind.test", keys=keys)]}


def allocation(tmp_path: Path, exchange: str) -> Path:
    account = {
        "exchange": exchange,
        "name": f"My {exchange}",
        "key": "Altrady main",
        "extra_keys": EXTRA,
        "ips": IPS,
    }
    return write_allocation(tmp_path / "allocation.toml", [account])


def one_poloniex_key(tmp_path: Path) -> Path:
    """Poloniex's "Altrady extra 1" alone, with the 20 addresses."""
    account = {"exchange": "poloniex", "name": "P", "key": "Altrady extra 1", "ips": IPS}
    return write_allocation(tmp_path / "allocation.toml", [account])


def lists(mock: MockExchanges, site: str, by: str) -> dict[str, list[str]]:
    return {k[by]: k["ips"] for k in account_state(mock, site)["keys"]}


@pytest.mark.long
@pytest.mark.full  # 20 addresses; the shape test is Huobi end to end
def test_huobi_main_key_and_two_extra_keys_get_the_20_addresses(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    mock.reset("huobi", huobi_seed())
    human = MailboxHuman(mock, "huobi")
    results = run_engine(
        settings_for(mock, "huobi", tmp_path), allocation(tmp_path, "huobi"), browser, human
    )

    assert [(r.plan.target.key, r.status) for r in results] == [
        (name, "verified") for name in ALTRADY_KEYS
    ], [r.error for r in results]
    saved = lists(mock, "huobi", "note")
    # The field's whole content is saved: what was there stays in it, then what was missing.
    assert saved["Altrady main"] == IPS
    assert saved["Altrady extra 1"] == IPS
    assert saved["Altrady extra 2"] == IPS[12:] + IPS[:12]
    assert saved["Altrady main 2"] == []  # the look-alike is untouched
    assert saved["Personal bot"] == ["198.51.100.80"]
    assert len(human.given) == 3  # one e-mailed code per key, each read from the inbox
    assert [a["key"] for a in actions(mock, "huobi", "save_ips")] == ALTRADY_KEYS
    assert actions(mock, "huobi", "create") == []  # the page's other form was never used


@pytest.mark.full  # 20 addresses; the shape test is Poloniex end to end
def test_poloniex_main_key_and_two_extra_keys_get_the_20_addresses(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    mock.reset("poloniex", poloniex_seed())
    human = MailboxHuman(mock, "poloniex")
    results = run_engine(
        settings_for(mock, "poloniex", tmp_path), allocation(tmp_path, "poloniex"), browser, human
    )

    assert [(r.plan.target.key, r.status) for r in results] == [
        (name, "verified") for name in ALTRADY_KEYS
    ], [r.error for r in results]
    keys = {k["label"]: k for k in account_state(mock, "poloniex")["keys"]}
    assert keys["Altrady main"]["ips"] == IPS  # the five already there stayed in the field
    assert keys["Altrady extra 1"]["ips"] == IPS
    assert keys["Altrady extra 2"]["ips"] == IPS
    assert all(keys[name]["restricted"] and not keys[name]["pending"] for name in ALTRADY_KEYS)
    assert keys["Altrady main (old)"]["ips"] == []  # the look-alike is untouched
    assert keys["Personal bot"]["ips"] == ["198.51.100.80"]
    assert len(human.opened) == 3
    assert actions(mock, "poloniex", "create") == []


def test_poloniex_link_never_opened_is_not_verified_and_verify_says_it_is_pending(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock.reset("poloniex", poloniex_seed())
    path = one_poloniex_key(tmp_path)
    human = MailboxHuman(mock, "poloniex", open_links=False)
    results = run_engine(settings_for(mock, "poloniex", tmp_path), path, browser, human)

    assert [r.status for r in results] == ["not verified"]
    assert results[0].error is not None
    assert "Pending email confirmation" in results[0].error.message
    assert "confirmation link" in (results[0].error.hint or "")
    key = {k["label"]: k for k in account_state(mock, "poloniex")["keys"]}["Altrady extra 1"]
    assert key["ips"] == [] and key["pending"]["ips"] == IPS  # saved, not in effect
    # The person's own address meanwhile: with the 20 pending, more than the key may hold,
    # which verify (it changes nothing) does not hold against it.
    site = mock.site("poloniex")
    with mock.app.lock:
        held = next(iter(site.accounts.values())).data["keys"]
        own = next(k for k in held if k["label"] == "Altrady extra 1")
        own["restricted"], own["ips"] = True, ["198.51.100.7"]

    verified = run_cli("verify", path, settings_for(mock, "poloniex", tmp_path), browser, capsys)
    assert verified.code != ExitCode.OK
    assert "over the limit" not in verified.out, verified.out
    assert "poloniex · Altrady extra 1: not verified" in verified.out
    assert f"pending e-mail confirmation {len(IPS)}" in verified.out  # not "missing"
    assert "missing" not in verified.out
    assert "open the confirmation link" in verified.out
    # The report says what the terminal says.
    [report] = (tmp_path / "runs").glob("*/report/report.html")
    page = report.read_text(encoding="utf-8")
    assert f"<th>pending e-mail confirmation</th><td>{len(IPS)}:" in page
    assert "missing now" not in page


@pytest.mark.parametrize("shape", tiered(["cards", "table", "grid", "regions", "dl"], {"cards"}))
def test_huobi_whatever_the_list_shape_and_with_no_code_sent_text(
    shape: str,
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The key found by its Note in any shape of list; the e-mailed code asked for once the
    site has answered "Send code", though the page never says it was sent. The report's
    picture of the key (its own view: the list page shows "+N more") shows its whole list."""
    seed = huobi_seed()
    mock.reset("huobi", {**seed, "options": {"listShape": shape, "code_sent": False}})
    path = write_allocation(
        tmp_path / "allocation.toml",
        [{"exchange": "huobi", "name": "H", "key": "Altrady extra 2", "ips": IPS}],
    )
    human = MailboxHuman(mock, "huobi")
    settings = settings_for(mock, "huobi", tmp_path, pictures=True, signed_in=False)
    result = run_cli("apply", path, settings, browser, capsys, person=human)

    assert result.code == ExitCode.OK, result.out
    saved = lists(mock, "huobi", "note")
    assert saved["Altrady extra 2"] == IPS[12:] + IPS[:12]
    [report] = (tmp_path / "runs").glob("*/report/result.json")
    [key] = json.loads(report.read_text())["keys"]
    assert set(key["picture"]["shows"]) == set(IPS), key["picture"]
    assert saved["Altrady main"] == IPS[:5]  # the others untouched
    assert len(human.given) == 1
    assert [a["key"] for a in actions(mock, "huobi", "save_ips")] == ["Altrady extra 2"]


@pytest.mark.parametrize("shape", tiered(["table", "grid", "cards", "regions", "dl"], {"grid"}))
def test_poloniex_finds_each_key_and_its_controls_in_each_shape_of_list(
    mock: MockExchanges, browser: Browser, tmp_path: Path, shape: str
) -> None:
    """A main key and an extra key, beside a look-alike, in a list of each shape; their API
    keys in the format the chaos seed draws (the seed gives none)."""
    keys = [
        {"label": "Altrady main", "ips": IPS[:1]},
        {"label": "Altrady main (old)", "ips": []},
        {"label": "Altrady extra 1", "ips": []},
    ]
    account = seeded_account("polo@ipbind.test", keys=keys)
    options = {"listShape": shape}
    mock.reset("poloniex", {"latency_ms": [0, 60], "options": options, "accounts": [account]})
    allocation = write_allocation(
        tmp_path / "allocation.toml",
        [
            {
                "exchange": "poloniex",
                "name": "P",
                "key": "Altrady main",
                "extra_keys": ["Altrady extra 1"],
                "ips": IPS[:2],
            }
        ],
    )
    human = MailboxHuman(mock, "poloniex")
    results = run_engine(
        settings_for(mock, "poloniex", tmp_path, signed_in=False),
        allocation,
        browser,
        human,
        allow_count=True,
    )

    assert [r.status for r in results] == ["verified", "verified"], [r.error for r in results]
    saved = lists(mock, "poloniex", "label")
    assert saved == {
        "Altrady main": IPS[:2],
        "Altrady main (old)": [],
        "Altrady extra 1": IPS[:2],
    }
    assert actions(mock, "poloniex", "create") == []


def test_with_no_one_to_read_the_mail_apply_refuses_at_the_plan_naming_the_exchange(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No terminal (pytest's stdin) and no stand-in reading the mock's inbox.
    mock.reset("huobi", huobi_seed())
    path = write_allocation(
        tmp_path / "allocation.toml",
        [{"exchange": "huobi", "name": "H", "key": "Altrady extra 2", "ips": IPS}],
    )
    result = run_cli("apply", path, settings_for(mock, "huobi", tmp_path), browser, capsys)

    assert result.code == ExitCode.USER_ACTION, result.out
    assert (
        "Huobi (HTX): changing 'Altrady extra 2' needs an e-mailed code, and there is no "
        "terminal to ask for it; nothing was changed"
    ) in result.out
    assert actions(mock, "huobi", "save_ips") == []
    assert mock.state("huobi")["inbox"] == []  # not even a code asked for


class StopsAtTheLink(MailboxHuman):
    """The person presses Ctrl-C when asked to open the e-mailed link."""

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        raise Interrupted("interrupted while waiting for an e-mailed link")


def test_a_stop_at_the_link_prompt_says_pending_not_missing(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mock.reset("poloniex", poloniex_seed())
    path = one_poloniex_key(tmp_path)
    stopped = run_cli(
        "apply", path, settings_for(mock, "poloniex", tmp_path), browser, capsys,
        person=StopsAtTheLink(mock, "poloniex"),
    )  # fmt: skip
    assert stopped.code == ExitCode.INTERRUPTED, stopped.out
    key = {k["label"]: k for k in account_state(mock, "poloniex")["keys"]}["Altrady extra 1"]
    assert key["pending"]["ips"] == IPS  # saved before the stop, waiting for the link
    [line] = [ln for ln in stopped.out.splitlines() if ln.startswith("poloniex · Altrady")]
    assert f"pending e-mail confirmation {len(IPS)}" in line and "missing" not in line
    summary, report = stopped.out.index("Summary:"), stopped.out.index("Report")
    assert summary < report  # the report's path after what each key holds
