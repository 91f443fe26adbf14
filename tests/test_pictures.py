"""The report's pictures prove what the report says: each key's picture is taken right after
its own read-back, of the view that shows its whole list (its card, its edit view, the page
for an account-wide list), and nothing of another key; ipbind's banner and outlines are not
in it; only fields holding a password or a code are masked; a long field of addresses shows
whole. The report and the terminal's summary tell one story, after a Ctrl-C too.
Assertions are on the report's data (result.json: what each picture shows) and the mock
server's state, not on the page alone."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ElementHandle, Page, expect
from rich.console import Console
from support import (
    MailboxHuman,
    account_state,
    altrady_ips,
    run_cli,
    seeded_account,
    settings_for,
    tiered,
    write_allocation,
)

from assistant import report, walkthrough
from assistant.errors import ExitCode
from assistant.outcome import (
    INTERRUPTED,
    NOT_REACHED,
    NOT_READ_BACK,
    KeyPlan,
    KeyResult,
    Target,
    stopped,
)
from assistant.output import ConsoleReporter, summary_line, summary_table
from fixtures.mockex import MockExchanges
from fixtures.mockex.sites import SITES
from flows import FLOWS
from flows.types import Binding, NewKey

MAIN, EXTRA = "Altrady main", "Altrady extra"
OWN = {MAIN: "198.51.100.1", EXTRA: "198.51.100.2"}  # each key's address before the run
LIST_FLOWS = [f for f, flow in FLOWS.items() if flow.mode not in ("assisted", "third-party app")]
FLOW_SECRET = "fund-9d1e%&"


def seed(exchange: str) -> dict[str, Any]:
    """One account; two keys (one on an account-wide list), each with an address of its own."""
    site = SITES[exchange]
    account = seeded_account(f"{exchange}@ipbind.test", fund_password=FLOW_SECRET)
    if FLOWS[exchange].scope == "account":
        return {"latency_ms": [0, 60], **site.sample(MAIN, [OWN[MAIN]], **account)}
    seeded = site.sample(MAIN, [OWN[MAIN]], **account)
    seeded["accounts"][0]["keys"].append(site.sample_key(EXTRA, [OWN[EXTRA]]))
    return {"latency_ms": [0, 60], **seeded}


def apply(
    mock: MockExchanges,
    exchange: str,
    tmp_path: Path,
    browser: Browser,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[str], dict[str, Any], dict[str, dict[str, set[str]]]]:
    """`ipbind apply` of as many addresses as the keys take (20 where they take 20) on both
    keys: the addresses; the report's data by key; and by key, what the server held for
    each key at the moment that key's picture was taken."""
    flow = FLOWS[exchange]
    ips = altrady_ips(min(20, flow.max_ips - 1))
    mock.reset(exchange, seed(exchange))
    names = [MAIN] if flow.scope == "account" else [MAIN, EXTRA]
    accounts = [
        {"exchange": exchange, "name": f"Trading {n}", "key": key, "ips": ips}
        for n, key in enumerate(names)
    ]
    allocation = write_allocation(tmp_path / "a.toml", accounts)
    secrets = {s: FLOW_SECRET for s in flow.secrets}
    settings = settings_for(mock, exchange, tmp_path, pictures=True, **secrets)
    at_picture: dict[str, dict[str, set[str]]] = {}
    take = report.picture

    def picture(page: Page, view: Any, run_dir: Path, exchange: str, key: str) -> Any:
        at_picture[key] = {name: held(mock, exchange, name) for name in names}
        shown = (view if view is not None else page.locator("body")).inner_text()
        assert not re.search(r"\bnull\b", shown), shown  # a mock's stray "null" (Bittrex)
        return take(page, view, run_dir, exchange, key)

    monkeypatch.setattr(report, "picture", picture)
    result = run_cli(
        "apply",
        allocation,
        settings,
        browser,
        capsys,
        person=MailboxHuman(mock, exchange),
        allow_count=True,
    )
    assert result.code == ExitCode.OK, result.out
    [data_file] = (tmp_path / "runs").glob("*/report/result.json")
    data = json.loads(data_file.read_text())
    return ips, {k["key"]: k for k in data["keys"]}, at_picture


def held(mock: MockExchanges, exchange: str, key: str) -> set[str]:
    return set(SITES[exchange].saved(account_state(mock, exchange), key))


# Every list flow in the full tier; fast: binance (a key's card), and Huobi's own view in
# test_huobi_poloniex_flows' shape test.
@pytest.mark.parametrize("exchange", tiered(LIST_FLOWS, {"binance"}))
def test_each_keys_picture_shows_its_whole_list_as_read_back_and_no_other_keys(
    exchange: str,
    mock: MockExchanges,
    tmp_path: Path,
    browser: Browser,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ips, keys, at_picture = apply(mock, exchange, tmp_path, browser, capsys, monkeypatch)

    account_wide = FLOWS[exchange].scope == "account"
    for name, key in keys.items():
        mine = MAIN if account_wide else name  # as the allocation names it
        picture = key["picture"]
        assert picture["file"] and picture["none_because"] is None, picture
        assert list((tmp_path / "runs").glob(f"*/report/{picture['file']}"))
        # Taken after the key's own save (the server held its whole list then) and before
        # the next key's (which still held only its own address) …
        server = at_picture[name]
        assert server[mine] == {*ips, OWN[mine]}
        later = list(server)[list(server).index(mine) + 1 :]
        assert all(server[other] == {OWN[other]} for other in later)
        # … showing all of it (Huobi: not "+17 more"), and nothing of another key.
        assert set(picture["shows"]) == server[mine]
        others = {OWN[other] for other in server if other != mine}
        assert not others & set(picture["shows"]), f"{name}'s picture shows another key"


# -- the picture itself, on a page of our own -----------------------------------------------

CARD = """<!doctype html><html><body style="margin:0;font:14px sans-serif">
<section aria-label="Altrady main" style="width:320px;padding:8px">
  <h3>Altrady main</h3>
  <label>Linked IPs <input id="ips" style="width:140px" value="{ips}"></label>
  <label>Password <input type="password" value="{password}"></label>
  <label>Empty password <input type="password"></label>
  <label>Code <input inputmode="numeric" value="493817"></label>
  <label>Empty code <input inputmode="numeric"></label>
  <button>Edit</button>
</section>
<section aria-label="Other key"><h3>Other key</h3><p>198.51.100.77</p></section>
</body></html>"""


@pytest.fixture
def card_page(page: Page) -> Page:
    """CARD at an address of its own (the walkthrough's banner lives in sessionStorage)."""
    html = CARD.format(ips=", ".join(altrady_ips()), password="hunter2-secret")
    page.route(
        "http://pictures.localhost/",
        lambda route: route.fulfill(body=html, content_type="text/html"),
    )
    page.goto("http://pictures.localhost/")
    return page


def test_a_picture_masks_only_filled_secret_fields_and_shows_a_long_list_whole(
    card_page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = card_page
    view = page.get_by_role("region", name="Altrady main")
    during: dict[str, Any] = {}
    take = ElementHandle.screenshot

    def screenshot(element: ElementHandle, **kwargs: Any) -> bytes:
        [mask] = kwargs["mask"]
        during["masked"] = mask.evaluate_all("els => els.map((e) => e.value)")
        whole = page.get_by_text(", ".join(altrady_ips()), exact=True)
        expect(whole).to_be_visible()  # in the field's place, every address
        expect(page.locator("#ips")).to_be_hidden()
        return take(element, **kwargs)

    monkeypatch.setattr(ElementHandle, "screenshot", screenshot)
    taken = report.picture(page, view, tmp_path, "huobi", "Altrady main")

    assert taken is not None and taken.path.is_file()
    assert during["masked"] == ["hunter2-secret", "493817"]  # not the empty ones
    assert taken.shows == altrady_ips()  # the whole list; nothing of the other key
    expect(page.locator("#ips")).to_be_visible()  # the page as it was after the shot
    expect(page.get_by_text(", ".join(altrady_ips()), exact=True)).to_have_count(0)


def test_a_picture_has_no_banner_and_no_outline_of_ipbinds(card_page: Page, tmp_path: Path) -> None:
    """The picture taken with the walkthrough's banner over the card and its button outlined
    is, to the byte, the picture of the card without them."""
    page = card_page
    page.set_viewport_size({"width": 400, "height": 150})
    view = page.get_by_role("region", name="Altrady main")
    edit = page.get_by_role("button", name="Edit")
    walkthrough.banner(page, "Huobi: reading", "Check that all 20 IP addresses have been added")
    edit.evaluate("(el) => el.setAttribute('data-ipbind-active', '')")
    edit.focus()
    assert walkthrough.shown(page) == ("Huobi: reading", "step")
    seen = view.screenshot()  # a plain shot: the banner and the outline are in it

    bannered = report.picture(page, view, tmp_path / "bannered", "x", "k")
    page.evaluate("() => { sessionStorage.clear(); window.__ipbindBanner(); }")
    edit.evaluate("(el) => { el.removeAttribute('data-ipbind-active'); el.blur(); }")
    assert walkthrough.shown(page) is None
    plain = report.picture(page, view, tmp_path / "plain", "x", "k")

    assert bannered is not None and plain is not None
    assert bannered.path.read_bytes() == plain.path.read_bytes() != seen


TABLE = """<!doctype html><html><body><table>
<thead><tr><th>Label</th><th>Trusted IPs</th><th>Actions</th></tr></thead>
<tbody>
<tr><td>Altrady main</td><td>203.0.113.10, 203.0.113.11</td><td><button>Edit</button></td></tr>
<tr><td>Other key</td><td>198.51.100.77</td><td><button>Edit</button></td></tr>
</tbody></table></body></html>"""


def test_a_key_in_a_table_row_is_pictured_under_the_header_without_the_other_rows(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.set_content(TABLE)
    row = page.get_by_role("row").filter(has_text="Altrady main")
    header = page.get_by_role("columnheader", name="Trusted IPs")
    other = page.get_by_role("row").filter(has_text="Other key")
    take = ElementHandle.screenshot

    def screenshot(element: ElementHandle, **kwargs: Any) -> bytes:
        expect(header).to_be_visible()  # the columns say what each value is
        expect(row).to_be_visible()
        expect(other).to_be_hidden()
        assert element.evaluate("(el) => el.tagName") == "TABLE"
        return take(element, **kwargs)

    monkeypatch.setattr(ElementHandle, "screenshot", screenshot)
    taken = report.picture(page, row, tmp_path, "binance", MAIN)

    assert taken is not None and taken.shows == ["203.0.113.10", "203.0.113.11"]
    expect(other).to_be_visible()  # the page as it was after the shot


# -- the report's words, against the terminal's ------------------------------------------------

IPS = altrady_ips()


def result_of(status: str, after: list[str] | None = None, **kwargs: Any) -> KeyResult:
    plan = KeyPlan(Target("kraken", MAIN, ["Trading"], IPS), to_add=list(IPS))
    if status == "interrupted":
        return stopped(plan, after)
    return KeyResult(plan, status, after, **kwargs)  # type: ignore[arg-type]


def section(result: KeyResult) -> str:
    return report.key_section(result, None)


def table(result: KeyResult) -> str:
    """The summary as a terminal shows it."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(summary_table([result], "apply"))
    return console.export_text()


def test_a_key_not_started_after_ctrl_c_is_missing_20_in_both() -> None:
    result = result_of("not started", note=NOT_REACHED)

    assert "missing 20 (" in summary_line(result, "apply")
    assert "203.0.113.10, 203.0.113.11, 203.0.113.12 (+17)" in table(result)
    assert "missing now</th><td>20: " in section(result)
    assert "No picture: the run was stopped before this key was changed" in section(result)


def test_a_key_stopped_and_read_back_says_so_and_one_not_read_back_says_why() -> None:
    read = result_of("interrupted", after=IPS[:7])
    unread = result_of("interrupted", after=None)

    assert read.note is not None and "as read back after the stop" in read.note
    assert "missing 13" in summary_line(read, "apply")
    assert "missing now</th><td>13: " in section(read)
    assert unread.note == NOT_READ_BACK and "as read back after the stop" not in unread.note
    assert "20 unknown" in summary_line(unread, "apply")
    assert "unknown (not read back)</th><td>20: " in section(unread)  # not accounted for
    assert "No picture: its list could not be read back after the stop" in section(unread)


def test_a_bybit_row_says_what_happened_to_the_key() -> None:
    binding = Binding("Altrady", ("Read-Write", "Orders", "Positions"))
    plan = KeyPlan(Target("bybit", MAIN, ["Trading"], [], binding=binding), create=True)
    result = KeyResult(plan, "verified", bound=binding, created=NewKey("AK123", "s3cr3t"))

    page = section(result)
    assert "created, bound to Altrady (Read-Write, Orders, Positions)" in page
    assert "allocated" not in page and "plan: to add" not in page and "addresses" not in page


@pytest.mark.full  # fast: the tests above, on results made by hand
def test_after_ctrl_c_the_report_and_the_summary_tell_one_story(
    mock: MockExchanges,
    tmp_path: Path,
    browser: Browser,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while the first key's addresses are entered, before its Save: that key is read
    back after the stop (and pictured then), the second is never started."""
    mock.reset("binance", seed("binance"))
    accounts = [
        {"exchange": "binance", "name": f"Trading {n}", "key": key, "ips": IPS}
        for n, key in enumerate([MAIN, EXTRA])
    ]
    allocation = write_allocation(tmp_path / "a.toml", accounts)
    settings = settings_for(mock, "binance", tmp_path, pictures=True)
    monkeypatch.setattr(ConsoleReporter, "progress", lambda *args, **kwargs: ctrl_c())

    result = run_cli("apply", allocation, settings, browser, capsys, allow_count=True)

    assert result.code == ExitCode.INTERRUPTED, result.out
    assert held(mock, "binance", MAIN) == {OWN[MAIN]} and held(mock, "binance", EXTRA) == {
        OWN[EXTRA]
    }
    [data_file] = (tmp_path / "runs").glob("*/report/result.json")
    keys = {k["key"]: k for k in json.loads(data_file.read_text())["keys"]}
    page = data_file.with_name("report.html").read_text()
    main, extra = keys[MAIN], keys[EXTRA]
    # The key under way: read back after the stop, in both, with the picture of that read.
    assert main["status"] == "interrupted" and main["missing"] == IPS
    assert f"'{MAIN}': {INTERRUPTED}" in result.out and INTERRUPTED in page
    assert set(main["picture"]["shows"]) == {OWN[MAIN]}
    # The key never started: missing all 20 in both, and the report says why no picture.
    assert extra["status"] == "not started" and extra["missing"] == IPS
    assert f"{EXTRA}: not started · added 0 · already there 0/20 · kept 1 · missing 20" in (
        result.out
    )
    assert page.count("missing now</th><td>20: ") == 2
    assert extra["picture"]["none_because"] in page


def ctrl_c() -> None:
    raise KeyboardInterrupt
