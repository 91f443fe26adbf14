"""Secrets never leave the run, on every flow: each flow is run with secrets of its own
(password, TOTP secret, a fund or trading password, the API secret of a key it creates),
with -v (so a Playwright trace is recorded) and its report; then everything the run wrote or
printed is scanned for them: the terminal, the JSON, the debug log, the report, every file in
the run folder, every entry of the trace, the state folder, and the page's text at the
moment of each screenshot. Credentials are typed on no other origin than the exchange's, on
every flow. Assertions on what was saved are on the mock server's state."""

from __future__ import annotations

import base64
import html
import json
import os
import secrets
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyotp
import pytest
from playwright.sync_api import Browser, ElementHandle, Page
from support import (
    MailboxHuman,
    account_state,
    altrady_ips,
    leaks,
    run_cli,
    seeded_account,
    settings_for,
    tiered,
    write_allocation,
    written,
    zip_text,
)

from assistant.browser import session_file
from assistant.errors import ExitCode
from assistant.logs import MASK
from assistant.opening import TOTP_STEPS_FILE
from assistant.session import keep
from assistant.trace import scrub_zip
from assistant.twofa import CLOCK, StepMemory
from fixtures.mockex import MockExchanges
from fixtures.mockex.sites import SITES
from flows import FLOWS
from flows.generic import ProfileFlow

FLOW_IDS = [fid for fid, flow in FLOWS.items() if flow.mode != "assisted"]
IPS = altrady_ips(2)
KEY = "Altrady main"


@dataclass
class Known:
    """The secrets of one test, unlike any other test's, with characters that JSON, URLs
    and HTML each escape."""

    password: str = field(default_factory=lambda: f'pw "{secrets.token_hex(4)}" &+/\\<é>!')
    totp_secret: str = field(default_factory=lambda: base64.b32encode(os.urandom(20)).decode())
    flow_secret: str = field(default_factory=lambda: f"fund {secrets.token_hex(4)}%&=#")
    found: dict[str, str] = field(default_factory=dict)  # read during the run: codes, …

    def named(self) -> dict[str, str]:
        return {
            "password": self.password,
            "TOTP secret": self.totp_secret,
            "flow secret": self.flow_secret,
            **self.found,
        }


def seed_of(exchange: str, known: Known) -> dict[str, Any]:
    """The exchange's mock seeded (its registry's sample) with one account that signs in
    with `known`'s secrets and one key, KEY, with no addresses (Bybit: no key; one is
    created)."""
    account = seeded_account(f"{exchange}@ipbind.test", fund_password=known.flow_secret)
    account.update(password=known.password, totp_secret=known.totp_secret)
    return {"latency_ms": [0, 60], **SITES[exchange].sample(KEY, [], **account)}


def binds(exchange: str) -> bool:
    """No list: a key bound to Altrady is created (Bybit)."""
    return FLOWS[exchange].mode == "third-party app"


def set_up(mock: MockExchanges, exchange: str, tmp_path: Path, known: Known) -> tuple[Path, Any]:
    """The exchange's mock seeded (calm pages), an allocation for it, and settings holding
    `known`'s secrets."""
    # Calm pages: a page's markup and timing are no part of what is proven here, and unruly
    # ones hold every list request back by up to 600 ms.
    mock.control(exchange, "reset", {"chaos": None, "seed": seed_of(exchange, known)})
    account: dict[str, Any] = {"exchange": exchange, "name": f"My {exchange}", "key": KEY}
    if not binds(exchange):
        account["ips"] = IPS
    allocation = write_allocation(tmp_path / "allocation.toml", [account])
    own = {name: known.flow_secret for name in FLOWS[exchange].secrets}
    return allocation, settings_for(
        mock, exchange, tmp_path, secret=known.totp_secret, pictures=True, signed_in=False, **own
    )


def saved(mock: MockExchanges, exchange: str) -> Any:
    """What the server holds for KEY now: its list (Bybit: the created key's application)."""
    return SITES[exchange].saved(account_state(mock, exchange), KEY)


@pytest.fixture
def screenshot_text(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What every screenshot shows as text: a page's whole text (a failure's screenshot),
    or a key's picture's view (its card, its edit view), with the values of the fields the
    picture leaves unmasked (those of addresses)."""
    seen: list[str] = []
    page_shot, element_shot = Page.screenshot, ElementHandle.screenshot
    shown = """(root) => [root.innerText, ...[...root.querySelectorAll('input, textarea')]
      .filter((e) => !e.hasAttribute('data-ipbind-secret')).map((e) => e.value)].join('\\n')"""

    def page_screenshot(page: Page, *args: Any, **kwargs: Any) -> bytes:
        seen.append(page.evaluate(f"() => ({shown})(document.body)"))
        return page_shot(page, *args, **kwargs)

    def element_screenshot(element: ElementHandle, *args: Any, **kwargs: Any) -> bytes:
        seen.append(element.evaluate(shown))
        return element_shot(element, *args, **kwargs)

    monkeypatch.setattr(Page, "screenshot", page_screenshot)
    monkeypatch.setattr(ElementHandle, "screenshot", element_screenshot)
    return seen


def codes_between(known: Known, start: float, end: float, period: int) -> dict[str, str]:
    """Every authenticator code of the test's secret that was current while it ran."""
    totp = pyotp.TOTP(known.totp_secret, interval=period)
    first, last = int(start // period) - 1, int(end // period) + 1
    return {f"code of step {s}": totp.at(s * period) for s in range(first, last + 1)}


# The fast tier scans bybit, which signs in with a TOTP secret and creates a key and its
# secret (every in-process run of the tests scans what it printed and wrote, too); the full
# tier every flow.
@pytest.mark.parametrize("exchange", tiered(FLOW_IDS, {"bybit"}))
def test_no_secret_in_anything_a_verbose_apply_writes_or_prints(
    exchange: str,
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    screenshot_text: list[str],
) -> None:
    known = Known()
    allocation, settings = set_up(mock, exchange, tmp_path, known)
    person = MailboxHuman(mock, exchange)
    secret_file = tmp_path / "new-key.txt"  # Bybit's new key goes here, not to the terminal
    # Half the flows print the JSON object, half the tables: both are scanned.
    json_out = FLOW_IDS.index(exchange) % 2 == 1
    start = CLOCK.time()

    result = run_cli(
        "apply",
        allocation,
        settings,
        browser,
        capsys,
        person=person,
        verbose=1,
        allow_count=True,
        json_out=json_out,
        secret_file=secret_file,
    )

    assert result.code == ExitCode.OK, result.out
    assert saved(mock, exchange) == ([FLOWS[exchange].app] if binds(exchange) else IPS)
    period = mock.state(exchange)["totp_period"]
    known.found |= codes_between(known, start, CLOCK.time(), period)
    known.found |= {f"e-mailed code {n}": code for n, code in enumerate(person.given)}
    if binds(exchange):  # a key created: its secret, shown once, goes to the secret file
        [api_secret] = account_state(mock, exchange)["secrets"].values()
        known.found["API secret"] = api_secret
        assert leaks(secret_file.read_text(), known.named()) == ["API secret"]  # it is seen
    secrets_of = known.named()

    assert leaks(result.out, secrets_of) == []  # the terminal, the JSON
    [run_dir] = (tmp_path / "runs").iterdir()
    trace = run_dir / f"trace-{exchange}.zip"
    files = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert {"debug.log", "report/report.html", "report/result.json", trace.name} <= files
    # The log, the report and its pictures, every entry of the trace, the state folder.
    for path, text in [*written(run_dir), *written(tmp_path / "state")]:
        assert leaks(text, secrets_of) == [], path
    assert (tmp_path / "state" / "totp-steps.json").is_file()
    # The report's pictures, one per key (of the view that shows its list), at least.
    data = json.loads((run_dir / "report" / "result.json").read_text())
    pictures = [key["picture"]["file"] for key in data["keys"]]
    assert all(pictures) and {f"report/{p}" for p in pictures} <= files
    assert len(screenshot_text) >= len(pictures)
    for text in screenshot_text:
        assert leaks(text, secrets_of) == []
    assert f"Trace: {trace}" in result.out and "playwright show-trace" in result.out
    entries = zip_text(trace)
    assert not [n for n in entries if n.endswith((".jpeg", ".png"))]  # no screenshots
    assert MASK in entries["trace.trace"]  # what was typed is there, scrubbed
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


# The check is the one every flow's `open` makes; in the fast tier on each flow with sign-in
# steps of its own, and on one profile (the profiles sign in with the generic flow's).
OWN_SIGN_IN = {fid for fid in FLOW_IDS if not issubclass(FLOWS[fid], ProfileFlow)} | {"okx"}


@pytest.mark.parametrize("exchange", tiered(FLOW_IDS, OWN_SIGN_IN))
def test_credentials_are_typed_on_the_exchanges_origin_only(
    exchange: str,
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    known = Known()
    allocation, settings = set_up(mock, exchange, tmp_path, known)
    mock.fault(exchange, "page", "foreign_login")  # the API page redirects to a look-alike
    person = MailboxHuman(mock, exchange)
    result = run_cli(
        "apply", allocation, settings, browser, capsys, person=person, allow_count=True
    )

    assert result.code == ExitCode.USER_ACTION, result.out
    assert f"{exchange}-login.localhost" in result.out and "nothing was typed there" in result.out
    state = mock.state(exchange)
    sent = state["foreign_requests"]
    assert sent and sent[0]["method"] == "GET"  # the browser did reach the look-alike …
    username = next(iter(mock.site(exchange).accounts))
    for request in sent:  # … and sent it nothing to sign in with
        assert request["method"] == "GET" and request["body"] == "", request
        assert leaks(json.dumps(request), {"username": username, **known.named()}) == []
    assert state["foreign_sign_ins"] == [] and state["sign_ins"] == []
    assert saved(mock, exchange) == []  # nothing changed


# -- the trace's scrub, on a trace made by hand -------------------------------------------------


def test_a_trace_is_scrubbed_of_every_form_of_every_secret(tmp_path: Path) -> None:
    password, code = 'pw "x" &+/\\<é>!', "493817"
    body = json.dumps({"username": "me", "password": password, "ips": "203.0.113.10"})
    lines = [
        {"type": "before", "method": "fill", "params": {"value": password}},
        {"type": "log", "message": f"typed {code}. Done", "time": 493817, "n": "14938170"},
        {"snapshot": ["INPUT", {"__playwright_value_": "typed by hand", "type": "password"}]},
    ]
    network = {
        "type": "resource-snapshot",
        "snapshot": {
            "request": {
                "headers": [{"name": "Cookie", "value": "mock_session=abc"}],
                "cookies": [{"name": "mock_session", "value": "abc"}],
                "postData": {"text": body, "_file": "resources/body.json"},
            },
            "response": {"headers": [{"name": "Set-Cookie", "value": "mock_session=abc"}]},
        },
    }
    hand_typed = {"password": "by hand 2", "code": "112233", "ips": "203.0.113.10"}
    page = f'<a href="/x?p={quote(password, safe="")}">{html.escape(password)}</a> {code}'
    raw = tmp_path / "raw.zip"
    with zipfile.ZipFile(raw, "w") as out:
        out.writestr("trace.trace", "\n".join(json.dumps(line) for line in lines))
        out.writestr("trace.network", json.dumps(network))
        out.writestr("resources/body.json", json.dumps(hand_typed))
        out.writestr("resources/page.html", page + json.dumps(json.dumps({"p": password})))

    scrub_zip(raw, tmp_path / "trace.zip", [password, code])

    assert stat.S_IMODE((tmp_path / "trace.zip").stat().st_mode) == 0o600
    with zipfile.ZipFile(tmp_path / "trace.zip") as trace:
        entries = {n: trace.read(n).decode() for n in trace.namelist()}
    known = {"password": password, "code": code, "hand": "typed by hand", "hand 2": "by hand 2"}
    for name, text in zip_text(tmp_path / "trace.zip").items():  # the JSON logs' strings
        assert leaks(text, known) == [], name
        assert "abc" not in text and "112233" not in text, name  # cookies, a typed code
    fill, log, snapshot = map(json.loads, entries["trace.trace"].splitlines())
    assert fill["params"]["value"] == MASK
    assert log == {"type": "log", "message": f"typed {MASK}. Done", "time": 493817, "n": "14938170"}
    assert snapshot["snapshot"][1]["__playwright_value_"] == MASK
    assert json.loads(entries["resources/body.json"])["ips"] == "203.0.113.10"  # kept
    request = json.loads(entries["trace.network"])["snapshot"]["request"]
    assert json.loads(request["postData"]["text"]) == {
        "username": "me",
        "password": MASK,
        "ips": "203.0.113.10",
    }


def test_the_state_folder_and_a_kept_session_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    keep(session_file(state, "binance"), "{}")  # `ipbind login` before any run

    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "sessions").stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "sessions" / "binance.json").stat().st_mode) == 0o600

    other = tmp_path / "other-state"
    StepMemory(other / TOTP_STEPS_FILE, "http://binance.localhost").record(time.time() + 30)

    assert stat.S_IMODE(other.stat().st_mode) == 0o700  # a run before any login
    assert stat.S_IMODE((other / TOTP_STEPS_FILE).stat().st_mode) == 0o600
