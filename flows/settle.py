"""When a page has settled: what a flow waits for before it reads ("found nothing" is "the
list is empty" only then). Single-page apps render their frame first and their lists from
later requests; a page has settled when no busy indicator shows and none of its own requests
has been in flight for a moment. `Settler` watches one page for that; flows (`Flow.settle`)
and the assisted mode use it alike."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout

QUIET_MS = 250  # no request of the page in flight for this long, and the page has settled
# However long the page has been quiet, a settle watches it this long: a request that the
# last action started reaches Playwright's events a moment after the action returns.
WATCH_MS = 50
STREAM_S = 10.0  # a request in flight this long is a stream or a long poll, not a page loading
# What a page loads itself with; images, fonts, beacons and sockets do not hold a read back.
LOADING = {"document", "script", "fetch", "xhr"}
# Counts, in each page, what changes it (the DOM, a click, a key): a page found settled
# that has seen neither a change nor a request since is settled still (see `settle`).
CHANGES_JS = """(() => {
  const changes = { page: Math.random(), count: 0 };
  const count = () => { changes.count += 1; };
  new MutationObserver(count).observe(document,
    { subtree: true, childList: true, attributes: true, characterData: true });
  for (const kind of ["pointerdown", "keydown", "input", "change"])
    addEventListener(kind, count, true);
  Object.defineProperty(window, "__ipbindChanges", { get: () => [changes.page, changes.count] });
})();"""
# Whether the page shows every one of the addresses given, each as a word of its own, in its
# text or in a field shown (see `Settler.expecting`).
HOLDS_JS = """(wanted) => {
  const parts = [document.body ? document.body.innerText : ""];
  for (const el of document.querySelectorAll("input, textarea"))
    if (el.value && el.checkVisibility()) parts.push(el.value);
  const words = new Set(parts.join(" ").split(/[^0-9A-Fa-f:.\\/]+/));
  return wanted.every((ip) => words.has(ip));
}"""


class Traffic:
    """The page's own requests in flight, from Playwright's request events (Playwright has no
    network-idle wait for a single-page app; Puppeteer's `waitForNetworkIdle` is the model)."""

    def __init__(self, page: Page):
        self.in_flight: dict[Request, float] = {}
        self.last_change = time.monotonic()  # when a request last started or ended
        # The last answer of the server's that was trouble: a 5xx, 429 or 401 to the page's
        # own fetch/XHR, with its Retry-After in seconds; cleared by whoever acts on it.
        self.trouble: tuple[int, float | None] | None = None
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)
        page.on("response", self._answered)
        # The status of every answer to the page's own non-GET requests (a save, a "Send
        # code"), in order: whether the server took what was sent, whatever the page shows.
        self.answers: list[int] = []

    def _answered(self, response: Response) -> None:
        status = response.status
        request = response.request
        if request.method != "GET" and request.resource_type in ("fetch", "xhr", "document"):
            self.answers.append(status)
        if request.resource_type in ("fetch", "xhr") and (status in (401, 429) or status >= 500):
            retry = (response.headers.get("retry-after") or "").strip()
            self.trouble = (status, float(retry) if retry.isdigit() else None)

    def _started(self, request: Request) -> None:
        if request.resource_type in LOADING:
            self.in_flight[request] = self.last_change = time.monotonic()

    def _ended(self, request: Request) -> None:
        if self.in_flight.pop(request, None) is not None:
            self.last_change = time.monotonic()

    def busy(self) -> bool:
        now = time.monotonic()
        return any(now - started < STREAM_S for started in self.in_flight.values())

    def sending(self) -> bool:
        """A request of the page's own that sends something (not a GET) in flight."""
        return any(request.method != "GET" for request in self.in_flight)

    def pending(self) -> bool:
        """Anything in flight at all, a long poll or a very slow list included."""
        return bool(self.in_flight)


class Settler:
    """Watches `page` (its requests, and what changes it) from now on, to tell when it has
    settled. Made before the page loads, so that the first load is watched too."""

    def __init__(self, page: Page):
        self.page = page
        self.traffic = Traffic(page)
        page.add_init_script(CHANGES_JS)
        self._settled: tuple[object, float] | None = None  # the page's changes, and when
        self.expected: tuple[str, ...] = ()  # see `expecting`

    @contextmanager
    def expecting(self, addresses: Sequence[str] | None) -> Iterator[None]:
        """While reading back a list whose every entry is known (what was there, and what was
        just saved), a settle made to read a key's own view (`reading`: its edit view, left
        right after the read) ends as soon as the page shows them all, quiet window or not:
        that the page holds everything is proof, where "found nothing" is not. Never the
        settle of a page the next step works in: flows click on a page `open` found settled,
        and one cut short can still be re-rendering (a list drawn twice, a promotion coming
        up). Whoever reads checks what they read against the same list, and settles fully if
        it falls short (a page may show an address in another key's list first)."""
        self.expected = tuple(addresses or ())
        try:
            yield
        finally:
            self.expected = ()

    def holds_expected(self) -> bool:
        """Whether the page shows every address `expecting` gave (False without any)."""
        if not self.expected:
            return False
        try:
            return bool(self.page.evaluate(HOLDS_JS, list(self.expected)))
        except PlaywrightError:  # between two pages
            return False

    def vouch(self) -> None:
        """The page as it is now is as good as settled (its whole list was read from it): a
        settle that finds it unchanged since is done at once."""
        changes = self.changes()
        self._settled = None if changes is None else (changes, time.monotonic())

    def doubt(self) -> None:
        """The page is not to be taken as settled until a settle has watched it again (what
        was vouched for proved not to be the whole story)."""
        self._settled = None

    def settle(
        self, timeout_ms: float, name: str, until: Locator | None = None, *, reading: bool = False
    ) -> bool:
        """Waits until the page has settled: no busy indicator shows (a spinner, i.e. a
        `role=progressbar` without a value, or `aria-busy=true`) and none of its requests
        has been in flight for QUIET_MS. Quick on a page that has been quiet that long
        already; gives up after the step timeout (a page that never stops polling is read as
        it is then: the engine's re-read of a short read-back covers that). At once on a page
        that has seen no change and no request since it was last found settled. With
        `until`, returns as soon as that shows, settled or not; `reading`, as soon as the page
        shows every address `expecting` gave. Whether it settled."""
        page = self.page
        settled = self._settled
        if settled and self.traffic.last_change < settled[1] and self.changes() == settled[0]:
            return True
        # An indeterminate progress bar (a spinner) that shows is busy; one with a value is a
        # gauge. (One with no size shows nothing, and its wait for "hidden" would end at once:
        # counted, it would turn this loop into a spin until the deadline.)
        spinner = page.get_by_role("progressbar").and_(
            page.locator(":not([aria-valuenow]):visible")
        )
        busy = spinner.or_(page.locator("[aria-busy='true']:visible"))
        called = time.monotonic()
        deadline = called + timeout_ms / 1000
        while (now := time.monotonic()) < deadline:
            if until is not None and until.first.is_visible():
                return False
            if reading and self.holds_expected():
                return True
            try:
                if busy.count():
                    busy.first.wait_for(state="hidden", timeout=min(deadline - now, 0.5) * 1000)
                elif self.traffic.busy():
                    page.wait_for_event("requestfinished", timeout=min(deadline - now, 0.1) * 1000)
                else:  # quiet: long enough, unless a request starts in what is left to watch
                    left = max(
                        QUIET_MS / 1000 - (now - self.traffic.last_change),
                        WATCH_MS / 1000 - (now - called),
                    )
                    if left <= 0:
                        at, changes = time.monotonic(), self.changes()
                        self._settled = None if changes is None else (changes, at)
                        return True
                    wait = min(left, deadline - now) * 1000
                    if reading and self.expected:  # the addresses showing, or the window over
                        with suppress(PlaywrightError):  # a timeout, or a page replaced
                            page.wait_for_function(HOLDS_JS, arg=list(self.expected), timeout=wait)
                    else:
                        page.wait_for_event(
                            "request",
                            predicate=lambda r: r.resource_type in LOADING,
                            timeout=wait,
                        )
            except PlaywrightTimeout:
                pass
        logger.debug("{}: the page was still busy after {} s", name, timeout_ms / 1000)
        return False

    def changed(self, since: object, timeout_s: float) -> None:
        """Waits, up to `timeout_s`, until the page has changed (see CHANGES_JS) from how it
        was when `_changes()` said `since`: a read that found the page incomplete is tried
        again when there is something new to read, not on a timer."""
        with suppress(PlaywrightTimeout, PlaywrightError):
            self.page.wait_for_function(
                "since => JSON.stringify(window.__ipbindChanges ?? null) !== JSON.stringify(since)",
                arg=since,
                timeout=max(timeout_s, 0.05) * 1000,
            )

    def changes(self) -> object:
        """How far the page has changed (see CHANGES_JS); None when it cannot say."""
        try:
            return self.page.evaluate("() => window.__ipbindChanges ?? null")
        except PlaywrightError:  # between two pages
            return None
