"""Pages that are not ready when they look ready: the frame first, the list from a slow
request of its own. The flows must read a list only once the page has settled (an empty
read of an unsettled page is not an empty list), and load no more pages than correctness
needs. Assertions are on the plan ipbind reported and on the mock server's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page
from support import (
    account_state,
    actions,
    altrady_ips,
    bittrex_seed,
    kraken_seed,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from assistant.outcome import KeyPlan, Target
from assistant.worker import Worker
from fixtures.mockex import MockExchanges
from flows.base import KeyInfo
from flows.settle import Settler

IPS = altrady_ips()  # 203.0.113.10 … 203.0.113.29
# Already on the exchange: two that are not Altrady's (and prefixes of allocated ones), and
# one that is.
OLD = ["203.0.113.1", "203.0.113.2"]
KRAKEN_API = "/app/settings/api"


def plan_of(out: str) -> dict[str, dict[str, Any]]:
    """The --json result's keys, by name (the JSON object leads the captured output)."""
    result, _ = json.JSONDecoder().raw_decode(out)
    return {key["key"]: key for key in result["keys"]}


def test_bittrex_list_that_arrives_late_is_read_whole(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("bittrex", bittrex_seed([*OLD, IPS[3]]))
    mock.fault("bittrex", "list", "slow", times=2, seconds=1.5)  # the plan's and the read-back
    ips = IPS[:6]  # one code step per address: six keep the test short
    path = write_allocation(
        tmp_path / "a.toml", [{"exchange": "bittrex", "name": "B", "key": "K", "ips": ips}]
    )
    settings = settings_for(mock, "bittrex", tmp_path)
    result = run_cli("apply", path, settings, browser, capsys, json_out=True, allow_count=True)

    assert result.code == ExitCode.OK, result.out
    [key] = plan_of(result.out).values()
    assert key["already_there"] == [IPS[3]]
    assert key["kept"] == OLD
    assert key["added"] == [*IPS[:3], *IPS[4:6]] and key["verified"]
    # Only the missing five were sent: no code spent on an address already listed.
    assert [a["ip"] for a in actions(mock, "bittrex", "add")] == key["added"]
    assert account_state(mock, "bittrex")["allow_list"] == [*OLD, IPS[3], *key["added"]]


@pytest.mark.long
@pytest.mark.full  # Bittrex's late list is in the fast tier
def test_kraken_lists_that_arrive_late_are_read_whole(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset(
        "kraken",
        kraken_seed(
            {"name": "Altrady main (old)", "ips": ["203.0.113.10"]},  # a look-alike, first
            {"name": "Altrady main", "ips": [*OLD, IPS[5]]},
            {"name": "Altrady extra 10"},
            {"name": "Altrady extra 1", "ips": ["203.0.113.1"]},
        ),
    )
    mock.fault("kraken", "keys", "slow", times=12, seconds=0.6)  # every list, every edit view
    path = write_allocation(
        tmp_path / "a.toml",
        [
            {
                "exchange": "kraken",
                "name": "K",
                "key": "Altrady main",
                "extra_keys": ["Altrady extra 1"],
                "ips": IPS,
            }
        ],
    )
    result = run_cli(
        "apply", path, settings_for(mock, "kraken", tmp_path), browser, capsys, json_out=True
    )

    assert result.code == ExitCode.OK, result.out
    keys = plan_of(result.out)
    assert (keys["Altrady main"]["already_there"], keys["Altrady main"]["kept"]) == ([IPS[5]], OLD)
    assert keys["Altrady extra 1"]["already_there"] == []
    assert keys["Altrady extra 1"]["kept"] == ["203.0.113.1"]
    lists = {k["name"]: k["ips"] for k in account_state(mock, "kraken")["keys"]}
    assert lists == {
        "Altrady main (old)": ["203.0.113.10"],
        "Altrady main": [*OLD, IPS[5], *IPS[:5], *IPS[6:]],
        "Altrady extra 10": [],
        "Altrady extra 1": ["203.0.113.1", *IPS],
    }


@pytest.mark.long
@pytest.mark.full  # 20 one-by-one entries; the rerun test proves the loads
def test_kraken_loads_a_page_only_to_sign_in_and_to_read_back_what_it_saved(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    """Planning reads each key in its edit view (a client-side route) and comes back; a save
    returns to the keys by itself; only the read-back of each saved key loads the API page
    afresh. Two keys: the sign-in page, the API page after it, one read-back each."""
    mock.reset("kraken", kraken_seed({"name": "Altrady main"}, {"name": "Altrady extra 1"}))
    path = write_allocation(
        tmp_path / "a.toml",
        [
            {
                "exchange": "kraken",
                "name": "K",
                "key": "Altrady main",
                "extra_keys": ["Altrady extra 1"],
                "ips": IPS,
            }
        ],
    )
    settings = settings_for(mock, "kraken", tmp_path)
    assert run_cli("apply", path, settings, browser, capsys).code == ExitCode.OK
    assert mock.state("kraken")["page_loads"] == ["/sign-in", KRAKEN_API, KRAKEN_API, KRAKEN_API]
    assert len(actions(mock, "kraken", "save_whitelist")) == 2


def test_kraken_rerun_with_nothing_to_change_loads_only_the_sign_in(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("kraken", kraken_seed({"name": "Altrady main", "ips": IPS}))
    path = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "kraken", "name": "K", "key": "Altrady main", "ips": IPS}],
    )
    result = run_cli(
        "apply", path, settings_for(mock, "kraken", tmp_path, signed_in=False), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    assert mock.state("kraken")["page_loads"] == ["/sign-in", KRAKEN_API]
    assert actions(mock, "kraken", "save_whitelist") == []


# A page that looks busy for ever (a spinner that stays), and on which, before its list
# arrives, a longer address starting with an expected one shows and a hidden field holds one.
BUSY_PAGE = """<div role="progressbar" aria-label="Loading" style="width:28px;height:28px"></div>
<p>Earlier: 203.0.113.100</p><input type="hidden" value="203.0.113.1"><ul id="list"></ul>"""
LIST_ARRIVES = """document.getElementById("list").innerHTML =
  '<li>203.0.113.1</li><li><input aria-label="IP" value="203.0.113.10"></li>'"""


def test_a_settle_expecting_a_whole_list_ends_once_the_page_shows_it_and_not_before(
    browser: Browser,
) -> None:
    """A read-back knows the whole list it should find: for the settle made to read a key's
    own view, the page has settled enough once it shows every address of it, in its text or
    in a field shown, each as a word of its own, however busy it still looks. Not for any
    other settle, and not with nothing expected: a page that never stops looking busy is
    read as it is after the step's timeout (settle says it did not settle)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        settler = Settler(page)
        page.set_content(BUSY_PAGE)
        with settler.expecting(["203.0.113.1", "203.0.113.10"]):
            assert not settler.settle(600, "test", reading=True)  # a prefix, a hidden field
            page.evaluate(LIST_ARRIVES)
            assert not settler.settle(600, "test")  # not made to read: a click may follow
            assert settler.settle(30_000, "test", reading=True)  # at once (a miss: 30 s, fails)
        assert not settler.settle(600, "test", reading=True)  # the spinner: nothing expected
    finally:
        context.close()


def test_a_spinner_that_shows_nothing_does_not_hold_a_settle(browser: Browser) -> None:
    """A progress bar with no size (an empty placeholder) shows the person nothing: the page
    settles as it would without it, not at the step's timeout (which it spun through, its
    wait for "hidden" ending at once, before)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        settler = Settler(page)
        page.set_content('<div role="progressbar" aria-label="Loading"></div><ul><li>1</li></ul>')
        assert settler.settle(2_000, "test")
    finally:
        context.close()


class PageShowingItFirst:
    """A flow whose page shows every expected address (one in another key's list) before
    the key's own list holds them all: what a settle expecting them lets through."""

    name = "Demo"

    def __init__(self, reads: list[list[str]]):
        self.reads = reads
        self.expected: list[tuple[str, ...]] = []  # what each read was made expecting
        self.vouched = self.settled = 0
        self.checking = False
        self.settler = SimpleNamespace(expecting=self._expecting, vouch=self._vouch)
        self._now: tuple[str, ...] = ()

    @contextmanager
    def _expecting(self, addresses: list[str] | None) -> Iterator[None]:
        self._now = tuple(addresses or ())
        yield
        self._now = ()

    def _vouch(self) -> None:
        self.vouched += 1

    def open(self) -> None:
        pass

    def settle(self) -> bool:
        self.settled += 1
        return True

    def read(self, key: KeyInfo) -> list[str]:
        self.expected.append(self._now)
        return self.reads.pop(0)


@pytest.mark.parametrize("remove", [[], ["192.0.2.9"]], ids=["adding", "removing"])
def test_a_read_back_short_of_the_whole_list_is_read_again_on_a_fully_settled_page(
    remove: list[str],
) -> None:
    """The person's own address (kept) and the one just saved: a first read that lacks
    either is not the answer; the key is read again after a settle that expects nothing
    (else "kept" would count one too few). Where an address was to be removed, nothing
    is expected: its absence cannot show early."""
    own, saved = "198.51.100.9", "203.0.113.10"
    plan = KeyPlan(Target("demo", "Main", ["Main"], [saved]), KeyInfo("Main", None))
    plan.current, plan.to_remove = [own, *remove], remove
    run = SimpleNamespace(reporter=SimpleNamespace(status=lambda exchange, text: None))
    worker = Worker(run, "demo", [plan.target])  # type: ignore[arg-type]
    flow = PageShowingItFirst([[saved], [own, saved]])

    assert worker._read_back(flow, plan) == [own, saved]  # type: ignore[arg-type]
    first = () if remove else (own, saved)
    assert flow.expected == [first, ()] and flow.settled == 1 and not flow.vouched

    whole = PageShowingItFirst([[own, saved]])
    assert worker._read_back(whole, plan) == [own, saved]  # type: ignore[arg-type]
    assert len(whole.expected) == 1 and whole.vouched == 1 and not whole.settled


class ViewDrawnAgain:
    """A flow whose key's view, read whole a moment ago, is being drawn again when its
    picture is taken: a part of the list first, the whole once a settle has watched it."""

    name = "Demo"

    def __init__(self, page: Page, shown: list[str], whole: list[str]):
        self.page, self.whole = page, whole
        self.settles: list[bool] = []  # whether each settle was made doubting the page
        self.doubted = False
        self.settler = SimpleNamespace(doubt=self._doubt)
        page.set_content(f"<section aria-label='Main'><p>{' '.join(shown)}</p></section>")

    def _doubt(self) -> None:
        self.doubted = True

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator]:
        yield self.page.get_by_role("region", name="Main")

    def settle(self) -> bool:
        self.settles.append(self.doubted)
        if self.doubted:  # watched until quiet: the view is drawn whole by then
            self.page.locator("p").evaluate(
                "(p, ips) => { p.textContent = ips.join(' ') }", self.whole
            )
        return True


@pytest.mark.parametrize("drawn", ["whole", "in part"])
def test_a_picture_short_of_the_list_just_read_is_taken_again_on_a_fully_settled_page(
    drawn: str, page: Page, tmp_path: Path
) -> None:
    """The report's picture proves the list read back: a view read whole as soon as it
    showed every address (see `Settler.expecting`) can be re-rendering when pictured, and a
    shot that lacks any address read (or that fails, the view gone from under it) is taken
    once more after a settle that does not trust the page's vouched-for state."""
    whole = ["198.51.100.9", "203.0.113.10"]
    plan = KeyPlan(Target("demo", "Main", ["Main"], whole[1:]), KeyInfo("Main", None))
    outcome = SimpleNamespace(pictures={})
    settings = SimpleNamespace(pictures=True)
    run = SimpleNamespace(run_dir=tmp_path, settings=settings, outcome=outcome)
    worker = Worker(run, "demo", [plan.target])  # type: ignore[arg-type]
    flow = ViewDrawnAgain(page, whole if drawn == "whole" else whole[:1], whole)

    worker._picture(flow, plan, whole)  # type: ignore[arg-type]

    [taken] = outcome.pictures.values()
    assert taken.shows == whole and taken.path.is_file()
    assert flow.settles == ([False] if drawn == "whole" else [False, True])
