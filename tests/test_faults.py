"""Faults the mock sites inject on demand, on every flow: ipbind either recovers and verifies,
or stops naming the exchange, key and step. Either way the whitelist on the server is never
smaller than it was, nothing is added twice, and success is reported only when read back.

The matrix is two runs per flow (their ids name the faults):

- recovers: every fault a flow can recover from, in one run: a promotion over the first
  pages; the first save failed by the server — a 500, a 429 or an ended session, spread
  over the flows (the engine's one retry, from what the key holds by then, signing in again
  if need be); on that retry the 2FA code refused once (the flow's own dialog takes the next
  code); and each of these saves, and the one that goes through, held back by the server
  (slow) for longer than a save takes.
- label_changed: a control the flow needs while changing the key has other words: exit 4
  naming the exchange, key and step, a screenshot, and the server untouched.

One run meeting four faults costs about what one run meeting one does: sign-in, plan, save
and read-back are most of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from support import (
    MailboxHuman,
    account_state,
    actions,
    altrady_ips,
    binance_seed,
    bittrex_seed,
    codes,
    kraken_seed,
    run_cli,
    seeded_account,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges
from flows import FLOWS

IPS = altrady_ips(4)
OLD = "198.51.100.7"
PROFILE_SECRET = "fund-Passw0rd!"


def named(field: str) -> Callable[[dict[str, Any]], list[str]]:
    """The list of the key whose `field` is 'Altrady main', in a site's state."""
    return lambda state: next(k for k in state["keys"] if k[field] == "Altrady main")["ips"]


@dataclass(frozen=True)
class Subject:
    """A flow under faults: its mock site's seed (the key 'Altrady main' holding OLD, or on
    Bybit another key), the server's failure it meets, the route its save goes to, the key's
    list in the site's state (None: Bybit, whose key is created), and a control's words
    used while changing the key, with the step that names it."""

    seed: Callable[[], dict[str, Any]]
    trouble: str
    save_route: str
    saved: Callable[[dict[str, Any]], list[str]] | None
    label: str
    step: str
    settings: dict[str, str] = field(default_factory=dict)


def huobi_seed() -> dict[str, Any]:
    keys = [
        {"note": "Altrady main", "access_key": "0000000a-5e6f7a8b-9c0d1e2f-3a4b5", "ips": [OLD]}
    ]
    return {"latency_ms": [0, 60], "accounts": [seeded_account("h@ipbind.test", keys=keys)]}


def poloniex_seed() -> dict[str, Any]:
    keys = [{"label": "Altrady main", "api_key": "PLNX-0001-ABCD-EFGH", "ips": [OLD]}]
    return {"latency_ms": [0, 60], "accounts": [seeded_account("p@ipbind.test", keys=keys)]}


def bybit_seed() -> dict[str, Any]:
    keys = [{"name": "Bot", "api_key": "BOTKEY0000000000002", "app": "3Commas"}]
    return {"latency_ms": [0, 60], "accounts": [seeded_account("b@ipbind.test", keys=keys)]}


def profile(trouble: str, **settings: str) -> Subject:
    """A profile of the generic flow: the same steps, words from the profile."""
    account = seeded_account(
        "g@ipbind.test",
        fund_password=PROFILE_SECRET,
        keys=[{"name": "Altrady main", "ips": [OLD]}],
    )
    return Subject(
        lambda: {"latency_ms": [0, 60], "accounts": [account]},
        trouble,
        "save",
        named("name"),
        "Save",
        "'Altrady main': Save",
        settings,
    )


SUBJECTS = {
    "binance": Subject(
        lambda: binance_seed({"label": "Altrady main", "ips": [OLD]}),
        "http500",
        "save",
        named("label"),
        "Confirm",
        f"'Altrady main': pasting {len(IPS)} addresses, Confirm",
    ),
    "kraken": Subject(
        lambda: kraken_seed({"name": "Altrady main", "ips": [OLD]}),
        "session_expired",
        "save",
        named("name"),
        "Add an IP address or range",
        f"'Altrady main': Add an IP address or range ({IPS[0]})",
    ),
    "bittrex": Subject(
        lambda: bittrex_seed([OLD]),
        "session_expired",
        "add",
        lambda state: state["allow_list"],
        "IP Address",
        f"Add New IP Address ({IPS[0]})",
    ),
    "huobi": Subject(
        huobi_seed,
        "rate_limited",
        "save",
        named("note"),
        "Send code",
        "'Altrady main': Confirm, Security Authentication, Send code",
    ),
    "poloniex": Subject(
        poloniex_seed,
        "http500",
        "save",
        named("label"),
        "2FA Code",
        "'Altrady main': Save, 2FA Code",
    ),
    "bybit": Subject(
        bybit_seed,
        "session_expired",
        "create",
        None,
        "Connect to Third-Party Applications",
        "'Altrady': name, Connect to Third-Party Applications, Altrady",
    ),
    # One profile per shape of save: the authenticator code alone; the password and an
    # e-mailed link; a "Risk Reminder" and the fund password; the trading password, an
    # e-mailed code and the authenticator code; an e-mailed code and the authenticator code.
    "binanceus": profile("rate_limited"),
    "bitvavo": profile("http500"),
    "gate": profile("session_expired", fund_password=PROFILE_SECRET),
    "kucoin": profile("http500", trading_password=PROFILE_SECRET),
    "okx": profile("rate_limited"),
}
RECOVERS = {ex: f"{s.trouble},slow,modal,totp_refused_once" for ex, s in SUBJECTS.items()}
CASES = [
    *[
        pytest.param(ex, faults, id=f"{ex}-{faults}", marks=pytest.mark.long)
        for ex, faults in RECOVERS.items()
    ],
    *[pytest.param(ex, "label_changed", id=f"{ex}-label_changed") for ex in SUBJECTS],
]


def inject(mock: MockExchanges, exchange: str, subject: Subject, faults: str) -> None:
    if faults == "label_changed":
        mock.fault(exchange, "page", "label_changed", label=subject.label, to="Continue ›")
        return
    mock.fault(exchange, "page", "modal", times=3)  # a promotion over the first pages
    # The first save fails; the second carries a code the server refuses; the third goes
    # through. Each is held back: longer than a save takes, shorter than a code stays good.
    mock.fault(exchange, subject.save_route, subject.trouble)
    mock.fault(exchange, subject.save_route, "totp_refused_once")
    mock.fault(exchange, subject.save_route, "slow", times=3, seconds=0.4)


@pytest.mark.parametrize(("exchange", "faults"), CASES)
def test_each_flow_recovers_from_faults_or_stops_naming_the_step(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, exchange: str, faults: str
) -> None:
    subject = SUBJECTS[exchange]
    mock.reset(exchange, subject.seed())
    inject(mock, exchange, subject, faults)
    account = {"exchange": exchange, "name": "A", "key": "Altrady main", "ips": IPS}
    if subject.saved is None:  # a key bound to Altrady: no list
        account = {"exchange": exchange, "name": "A", "key": "Altrady"}
    settings = settings_for(mock, exchange, tmp_path, **subject.settings)
    stops = faults == "label_changed"
    if stops:  # the missing control is waited for a step's time: a short one
        settings = settings.model_copy(update={"timeout": 4})
    result = run_cli(
        "apply",
        write_allocation(tmp_path / "a.toml", [account]),
        settings,
        browser,
        capsys,
        person=MailboxHuman(mock, exchange),
        allow_count=True,
    )

    state = account_state(mock, exchange)
    if subject.saved is None:  # one key bound to Altrady, or none; the other key as it was
        created = [k for k in state["keys"] if k["name"] == "Altrady"]
        assert [k["app"] for k in created] == ([] if stops else ["Altrady"])
        assert len(actions(mock, exchange, "create")) == len(created)
        assert [k["name"] for k in state["keys"]] == ["Bot", *[k["name"] for k in created]]
    else:  # what was there, and every address once
        assert subject.saved(state) == ([OLD] if stops else [OLD, *IPS])
    if exchange == "bittrex":  # one add per address, none twice
        assert [a["ip"] for a in actions(mock, exchange, "add")] == ([] if stops else IPS)
    if stops:
        assert result.code == ExitCode.SITE_CHANGED, result.out
        flat = " ".join(result.out.split())
        key = "account allow list" if exchange == "bittrex" else account["key"]
        assert f"{exchange}: {key}: " in flat  # the key, in the summary
        assert f"{FLOWS[exchange].name}: {subject.step}" in flat, flat  # exchange and step
        assert list((tmp_path / "runs").rglob(f"{exchange}-apply-*.png"))  # its screenshot
        return
    assert result.code == ExitCode.OK, result.out
    # The failed save's code never reached a check; the retry's first was refused, the next
    # taken (and on Bittrex one more for each further address).
    accepted = [c["accepted"] for c in codes(mock, exchange, subject.save_route)]
    assert accepted == [False, True] + [True] * (len(IPS) - 1 if exchange == "bittrex" else 0)
    if subject.trouble == "session_expired":  # signed in again, and went on with the same key
        assert len(mock.state(exchange)["sign_ins"]) == 2
    assert mock.state(exchange)["pending_faults"] == {}  # every fault was met
