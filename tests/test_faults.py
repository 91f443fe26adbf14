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

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from support import (
    MailboxHuman,
    account_state,
    actions,
    altrady_ips,
    codes,
    run_cli,
    seeded_account,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from assistant.outcome import ACCOUNT_LIST
from fixtures.mockex import MockExchanges
from fixtures.mockex.core import Site
from fixtures.mockex.sites import SITES
from flows import FLOWS
from flows.generic import ProfileFlow

IPS = altrady_ips(2)  # two: an add on a per-address flow is never sent twice
OLD = "198.51.100.7"
KEY = "Altrady main"
PROFILE_SECRET = "fund-Passw0rd!"
TROUBLES = ("http500", "session_expired", "rate_limited")  # the server's, spread over flows


@dataclass(frozen=True)
class Subject:
    """A flow under faults, all of it from the registries (the mock site's `sample`,
    `saved`, `save_route` and `changing_control`; the flow's metadata): the key KEY holding
    OLD (where the site takes lists; on Bybit another key, and KEY is created), the
    server's failure it meets, and the settings its saves ask for."""

    exchange: str
    trouble: str

    @property
    def site(self) -> type[Site]:
        return SITES[self.exchange]

    @property
    def binds(self) -> bool:  # no list: a key bound to Altrady is created
        return FLOWS[self.exchange].mode == "third-party app"

    @property
    def settings(self) -> dict[str, str]:
        return {name: PROFILE_SECRET for name in FLOWS[self.exchange].secrets}

    def seed(self, ips: list[str] | None = None) -> dict[str, Any]:
        account = seeded_account(f"{self.exchange}@ipbind.test", fund_password=PROFILE_SECRET)
        return {
            "latency_ms": [0, 60],
            **self.site.sample(KEY, [OLD] if ips is None else ips, **account),
        }

    def saved(self, state: dict[str, Any]) -> list[str]:
        return self.site.saved(state, KEY)

    def account(self, ips: list[str]) -> dict[str, Any]:
        account: dict[str, Any] = {"exchange": self.exchange, "name": "A", "key": KEY}
        return account if self.binds else {**account, "ips": ips}


def verified_by(flow: type[ProfileFlow]) -> tuple[object, ...]:
    """How a profile's save is verified: its password, e-mailed code, reminder, link."""
    verification = flow.profile.verification
    secret = verification.secret.setting if verification.secret else None
    return (
        secret,
        bool(verification.email_code),
        bool(verification.acknowledge),
        bool(verification.link),
    )


def subjects() -> dict[str, Subject]:
    """Every flow with a way of its own, and one profile per way a save is verified (the
    profiles' steps are one flow's, with other words)."""
    chosen: list[str] = []
    seen: set[tuple[object, ...]] = set()
    for exchange in SITES:
        flow = FLOWS[exchange]
        if issubclass(flow, ProfileFlow):
            if verified_by(flow) in seen:
                continue
            seen.add(verified_by(flow))
        chosen.append(exchange)
    return {ex: Subject(ex, TROUBLES[n % len(TROUBLES)]) for n, ex in enumerate(chosen)}


SUBJECTS = subjects()
RECOVERS = {ex: f"{s.trouble},slow,modal,totp_refused_once" for ex, s in SUBJECTS.items()}
# The fast tier: recovery from each of the server's troubles once (binance: a 500, kraken:
# an ended session, bittrex: a 429); a changed page there is binance's own test's, and
# test_no_trap's. The full tier: every flow both ways.
FAST_RECOVERS = {"binance", "kraken", "bittrex"}
FAST_CHANGED: set[str] = set()
CASES = [
    *[
        pytest.param(
            ex,
            faults,
            id=f"{ex}-{faults}",
            marks=[pytest.mark.long] + ([] if ex in FAST_RECOVERS else [pytest.mark.full]),
        )
        for ex, faults in RECOVERS.items()
    ],
    *[
        pytest.param(
            ex,
            "label_changed",
            id=f"{ex}-label_changed",
            marks=() if ex in FAST_CHANGED else pytest.mark.full,
        )
        for ex in SUBJECTS
    ],
]


def inject(mock: MockExchanges, exchange: str, subject: Subject, faults: str) -> None:
    if faults == "label_changed":
        label = subject.site.changing_control
        mock.fault(exchange, "page", "label_changed", label=label, to="Continue ›")
        return
    mock.fault(exchange, "page", "modal", times=3)  # a promotion over the first pages
    # The first save fails; the second carries a code the server refuses; the third goes
    # through. Each is held back: longer than a save takes, shorter than a code stays good.
    save = subject.site.save_route
    mock.fault(exchange, save, subject.trouble)
    mock.fault(exchange, save, "totp_refused_once")
    mock.fault(exchange, save, "slow", times=3, seconds=0.4)


@pytest.mark.parametrize(("exchange", "faults"), CASES)
def test_each_flow_recovers_from_faults_or_stops_naming_the_step(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, exchange: str, faults: str
) -> None:
    subject = SUBJECTS[exchange]
    mock.reset(exchange, subject.seed())
    inject(mock, exchange, subject, faults)
    account = subject.account(IPS)
    # A session that ends mid-run is one the run signed in to (and signs in to again).
    ends = subject.trouble == "session_expired"
    settings = settings_for(
        mock, exchange, tmp_path, signed_in=False if ends else None, **subject.settings
    )
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
    flow = FLOWS[exchange]
    if subject.binds:  # one key bound to Altrady, or none; the other key as it was
        apps = subject.saved(state)
        assert apps == ([] if stops else [flow.app])
        assert len(actions(mock, exchange, subject.site.save_route)) == len(apps)
        assert [k["name"] for k in state["keys"]] == ["Bot", *[KEY for _ in apps]]
    else:  # what was there, and every address once
        assert subject.saved(state) == ([OLD] if stops else [OLD, *IPS]), result.out
    if flow.mode == "per-address 2FA":  # one add per address, none twice
        added = [a["ip"] for a in actions(mock, exchange, subject.site.save_route)]
        assert added == ([] if stops else IPS)
    if stops:
        assert result.code == ExitCode.SITE_CHANGED, result.out
        flat = " ".join(result.out.split())
        key = ACCOUNT_LIST if flow.scope == "account" else KEY
        assert f"{exchange}: {key}: " in flat  # the key, in the summary
        # The exchange, and the step: the one that uses the renamed control, named by it.
        control = re.escape(subject.site.changing_control)
        key_of_step = rf"(?:{re.escape(repr(KEY))}: )?"  # Bittrex's steps name no key
        step = rf"{re.escape(flow.name)}: {key_of_step}[^:]*{control}[^:]*: the page no longer has"
        assert re.search(step, flat), flat
        assert list((tmp_path / "runs").rglob(f"{exchange}-apply-*.png"))  # its screenshot
        return
    assert result.code == ExitCode.OK, result.out
    # The failed save's code never reached a check; the retry's first was refused, the next
    # taken (and on Bittrex one more for each further address).
    accepted = [c["accepted"] for c in codes(mock, exchange, subject.site.save_route)]
    each = flow.mode == "per-address 2FA"
    assert accepted == [False, True] + [True] * (len(IPS) - 1 if each else 0)
    if subject.trouble == "session_expired":  # signed in again, and went on with the same key
        assert len(mock.state(exchange)["sign_ins"]) == 2
    assert mock.state(exchange)["pending_faults"] == {}  # every fault was met
