"""The contract every exchange flow follows.

A flow is one small subclass of `Flow` per exchange. Its class attributes are the
exchange's metadata; its four hooks are the steps a person would take, in the words of the
seed article, and the engine calls them in this order:

    login()                       on the login page the API page sent us to (shared: the
                                  flow gives the words of its `sign_in`)
    list_keys() -> [KeyInfo]      the keys on the API page (the engine picks the right one)
    read(key) -> [ip, …]          the key's saved whitelist, as the page shows it
    change(key, add, remove)      edit, enter, save, pass 2FA (engine re-reads to verify)
    pending(key) -> str | None    a saved change not yet in effect (an e-mailed link unopened)

Every hook starts and ends on the API page and loads no page of its own (but a `read` may
leave open the key's own view where its list shows, for the report's picture: the flow's
other hooks then go back first, as Kraken's do): the engine loads the API page once to
plan, and once afresh to read back each key it changed. Single-page
apps render their frame first and their lists from later requests, and "found nothing" is
"the list is empty" only on a settled page (`settle()`: no spinner, no request in flight
for a moment; quick when the page is quiet already). So every read settles first (`cards`,
`key_text`, and a flow's own reads), and a key not found on the page is looked for once
more after settling.

The engine, not the flow, decides what to add, asks the user, and verifies. A flow holds
all of its exchange's locators, and finds controls only by role, accessible name, label or
visible text (case-insensitive patterns where wording drifts), never by CSS class, id or
DOM path: the mock sites in `fixtures/` are built to the same words as the real sites, and
a flow must work on both. Credentials are typed only through `type_secret`, which checks
the page is on the exchange's own origin first.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol
from urllib.parse import urlsplit

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from pydantic import SecretStr

from assistant.errors import SiteChanged, SiteTrouble, UserActionNeeded, first_line
from assistant.logs import redactor
from assistant.net import unreachable_hint
from assistant.twofa import Codes
from flows.vocabulary import Vocabulary, any_of, pattern_of

Progress = Callable[[int, int, str], None]
# How an exchange takes the list: pasted whole; one entry at a time; one entry and one fresh
# 2FA code at a time (account-wide); no list but a key bound to a third-party app; or no
# flow at all, the person entering it with ipbind's help.
Mode = Literal["bulk", "one by one", "per-address 2FA", "third-party app", "assisted"]

IPV4 = r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w.])"
IPV6 = r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:/\d{1,3})?(?![\w:])"
IP_TEXT = re.compile(f"{IPV4}|{IPV6}")
NETWORK_ERROR = re.compile(r"net::ERR_[A-Z_]+")

# The words of the base class, for every flow: SITES.md's common rules, and guesses.
COMMON = Vocabulary("common")
# Whether a refusal is about the code (then the next code may do) is read from its wording,
# which no site promises: a refusal that says none of this stops the run instead of retrying.
CODE_REFUSAL = any_of(
    *(
        COMMON.optional(w, "text")
        for w in ("code", "verif", "2fa", "two-factor", "authenticat", "otp", "already used")
    )
)
# A cookie banner goes with "a button whose name contains "Accept" (or "Reject")".
CONSENT = any_of(
    COMMON.promised("Accept", "button", whole=False),
    COMMON.promised("Reject", "button", whole=False),
)
COOKIE = COMMON.optional("cookie", "text")
# What closes a dialog the flow did not open (a promotion): guesses, all of them.
DISMISS = any_of(
    *(
        COMMON.optional(w, "button", whole=True)
        for w in (
            "Close",
            "×",
            "✕",
            "x",
            "No thanks",
            "No, thanks",
            "Dismiss",
            "Skip",
            "Not now",
            "Maybe later",
        )
    )
)
NOT_DISMISS = re.compile(rf"^(?!(?:{DISMISS.pattern})$)", re.I)  # any other button
QUIET_MS = 250  # no request of the page in flight for this long, and the page has settled
# However long the page has been quiet, a settle watches it this long: a request that the
# last action started reaches Playwright's events a moment after the action returns.
WATCH_MS = 50
STREAM_S = 10.0  # a request in flight this long is a stream or a long poll, not a page loading
# Playwright re-checks what a wait waits for ever less often: every 500 ms once the wait has
# taken 270 ms, unless the wait's timeout is under 2.5 s (then every 100 ms at most). What a
# flow waits on the server for (a list, a dialog's body, the answer to a Save) it waits for
# in turns this long, so as to see it about when it shows, not up to half a second later.
WAIT_TURN_S = 2.0
# After "Send code" and the like, how long to wait for the server's answer when the page's
# request for it is not seen (a site that sends it otherwise): then the person is asked.
SEND_WAIT_S = 5.0
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

    def pending(self) -> bool:
        """Anything in flight at all, a long poll or a very slow list included."""
        return bool(self.in_flight)


@dataclass(frozen=True)
class KeyInfo:
    """A key as its exchange's API page shows it."""

    name: str  # its label / name / note
    api_key: str | None = None  # the key string, on sites that show it
    # Every text its card or row shows (cells, values, lines): a key whose name the page
    # puts where ipbind did not look for it is still found by it.
    shown: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Binding:
    """What a key has on an exchange that binds keys to a third-party application instead
    of taking an IP list (Bybit): the application, and the key's permissions."""

    app: str | None
    permissions: tuple[str, ...]

    def __str__(self) -> str:
        return f"bound to {self.app or 'no application'} ({', '.join(self.permissions)})"


@dataclass(frozen=True)
class NewKey:
    """A key the flow created: its API key and secret, as the exchange showed them once."""

    api_key: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class SignIn:
    """The words on an exchange's two-step sign-in (password, then authenticator code):
    labels of the fields and names of the buttons, as patterns."""

    username: re.Pattern[str]
    submit: re.Pattern[str]
    code: re.Pattern[str]
    code_submit: re.Pattern[str]
    password: re.Pattern[str] = re.compile(r"^\s*password\s*$", re.I)


def words(text: str) -> re.Pattern[str]:
    """A control's whole name, case and spacing aside: "Log In" matches " log  in "."""
    return pattern_of(text)


@dataclass
class Credentials:
    username: str
    password: SecretStr
    secrets: dict[str, SecretStr] = field(default_factory=dict)  # a flow's `secrets`, by name


class Human(Protocol):
    """The person at the keyboard, for the steps only they can do: a captcha, a sign-in by
    hand, a code or a link the exchange has e-mailed them. The CLI asks at the terminal (or
    hands the visible browser over); tests play the person with a scripted stand-in that
    reads the mock site's inbox (tests/support.py `MailboxHuman`)."""

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        """The person does `message` in the visible browser; returns once `done` shows."""
        ...

    def emailed_code(self, exchange: str, purpose: str) -> str:
        """The code `exchange` has just e-mailed the person for `purpose`, as they give it."""
        ...

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        """Asks the person to open the confirmation link `exchange` e-mailed them for
        `purpose`; True once they say they have, False when they cannot be asked (no
        terminal): the change then stays pending, and the read-back says so."""
        ...


class Flow:
    # -- metadata (class attributes; `ipbind exchanges` and the engine read them) ---------
    id: ClassVar[str]
    name: ClassVar[str]
    origins: ClassVar[tuple[str, ...]]  # the exchange's own origins; the first is the default
    api_path: ClassVar[str]  # where a person starts: the API key (or allow-list) page
    max_ips: ClassVar[int]  # per key (or per account when scope == "account")
    cidr: ClassVar[bool] = False  # ranges accepted as entries
    scope: ClassVar[Literal["key", "account"]] = "key"  # whitelists per key, or account-wide
    keys_by: ClassVar[str] = "label or API key"  # what `key` in the allocation matches
    how: ClassVar[str]  # one line: how the whitelist is entered
    mode: ClassVar[Mode]  # the pattern, as `ipbind exchanges` groups them
    working: ClassVar[bool] = True
    notice: ClassVar[str | None] = None  # shown before a run against the real site
    also: ClassVar[dict[str, str]] = {}  # other ids the flow serves (an alias), with names
    sign_in: ClassVar[SignIn]
    # Every word the flow looks for on the exchange's pages, promised by SITES.md or not
    # (flows/vocabulary.py); COMMON holds those of the base class, for every flow.
    vocabulary: ClassVar[Vocabulary]
    # Told each step's name before it starts (the headed walkthrough's banners); per flow.
    narrator: Callable[[str], None] | None = None
    # Called before each step; raises to stop the flow there (the engine's, for a Ctrl-C
    # heard in another thread); per flow.
    checkpoint: Callable[[], None] | None = None
    # What the exchange does to a key with no IP restriction ("30 days without trading"):
    # plan and verify warn about every key still unrestricted.
    unrestricted: ClassVar[str | None] = None
    secrets: ClassVar[tuple[str, ...]] = ()  # settings saving asks for (e.g. "fund_password")
    separators: ClassVar[str] = ",\n"  # what the whitelist field takes between addresses

    def __init__(
        self,
        page: Page,
        origin: str,
        credentials: Credentials | None,
        codes: Codes,
        human: Human,
        *,
        timeout: float = 20,
    ):
        self.page = page
        self.origin = origin
        # On the real site, sign-in may live on a sibling origin of the exchange's own (e.g.
        # accounts.binance.com); against a mock, only the mock's origin is allowed.
        self.allowed_origins = set(self.origins) if origin in self.origins else {origin}
        self.credentials = credentials
        self.codes = codes
        self.human = human
        self.timeout_ms = timeout * 1000
        page.set_default_timeout(self.timeout_ms)
        self.traffic = Traffic(page)
        page.add_init_script(CHANGES_JS)
        self._settled: tuple[object, float] | None = None  # the page's changes, and when
        self._dismiss_cookie_banner()
        self._dismiss_promotions()

    # -- the hooks -------------------------------------------------------------------------

    def login(self) -> None:
        """Username and password, a puzzle if the site shows one (a person's job), then the
        authenticator code."""
        assert self.credentials is not None
        page, sign_in = self.page, self.sign_in
        code_field = page.get_by_label(sign_in.code)
        puzzle = page.get_by_role("slider")
        with self.step("signing in: username and password"):
            page.get_by_label(sign_in.username).fill(self.credentials.username)
            self.type_secret(page.get_by_label(sign_in.password), self.credentials.password)
            self.until(
                page.get_by_role("button", name=sign_in.submit).click,
                code_field.or_(puzzle),
                "the sign-in",
                hint=f"Check IPBIND_{self.id.upper()}__USERNAME and __PASSWORD.",
                session=False,
            )
        if puzzle.first.is_visible():
            self.human.hand_off(page, f"{self.name} shows a puzzle: solve it", code_field)

        def attempt(code: str) -> str | None:
            with self.step("signing in: authenticator code"):
                self.type_secret(code_field, code)
                send = page.get_by_role("button", name=sign_in.code_submit)
                return self.await_outcome(send.click, [code_field])

        self.submit_code("signing in", attempt)

    def list_keys(self) -> list[KeyInfo]:
        raise NotImplementedError

    def read(self, key: KeyInfo) -> list[str]:
        raise NotImplementedError

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        raise NotImplementedError

    # -- the hooks of a "third-party app" flow (no IP list: a key bound to Altrady) ----------

    app: ClassVar[str] = "Altrady"  # the application keys are bound to
    permission_words: ClassVar[tuple[str, ...]] = ()  # what `permissions` may name
    default_permissions: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def permissions(cls, wanted: list[str] | None) -> tuple[str, ...]:
        """The allocation's `permissions` in the exchange's words and order (the default when
        none are given); ValueError naming what is wrong."""
        if not wanted:
            return cls.default_permissions
        canonical = {w.lower(): w for w in cls.permission_words}
        unknown = [w for w in wanted if w.strip().lower() not in canonical]
        if unknown:
            raise ValueError(
                f"unknown permission(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(cls.permission_words)}"
            )
        chosen = {canonical[w.strip().lower()] for w in wanted}
        return tuple(w for w in cls.permission_words if w in chosen)

    def binding(self, key: KeyInfo) -> Binding:
        """The key's application and permissions, as the API page shows them."""
        raise NotImplementedError

    def create(self, name: str, binding: Binding, progress: Progress) -> NewKey:
        """Creates key `name` with `binding`; its API key and secret, registered with the
        redactor the moment they are read from the page, and kept in `created` from then on
        (the engine shows them to the person whatever happens next)."""
        raise NotImplementedError

    created: NewKey | None = None  # the key `create` made, once read from the page

    def pending(self, key: KeyInfo) -> str | None:
        """Why the key's last saved change is not in effect yet, in the page's words (say,
        "Pending email confirmation"); None when nothing is pending. The engine asks when a
        list read back lacks what was saved."""
        return None

    def api_page_ready(self) -> Locator:
        """Visible once the API page has rendered for a signed-in user."""
        raise NotImplementedError

    def login_page_ready(self) -> Locator:
        return self.page.get_by_label(self.sign_in.username)

    # -- what every flow shares --------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.origin + self.api_path

    def open(self) -> None:
        """Load the API page afresh (what the server has now, not what the page last showed),
        signing in first when the site sends us to its login page; then let it settle."""
        with self.step("opening the API page"):
            self.page.goto(self.api_url)
            self.check_origin("the API page")
            ready, login = self.api_page_ready(), self.login_page_ready()
            self.arrive(ready, login)
        if not ready.first.is_visible() and login.first.is_visible():
            if self.credentials is None:  # no password configured: the person signs in
                self.human.hand_off(self.page, f"sign in to {self.name}", ready.first)
                self.codes.used_elsewhere()  # their code's step is spent for us too
            else:
                logger.info("{}: signing in", self.name)
                self.login()
            with self.step("returning to the API page after signing in"):
                self.arrive(ready, None)
        self.settle()
        logger.info("{}: on the API page", self.name)

    def arrive(self, ready: Locator, login: Locator | None) -> None:
        """Waits for the API page (`ready`: its keys' controls) or, given `login`, the login
        page. An API page with no keys shows none of its keys' controls, and SITES.md names
        no heading to know it by: on the API path, settled, with no sign-in field showing, it
        is the API page all the same (a login page is at a path of its own)."""
        expected = ready.first if login is None else ready.first.or_(login.first)
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            with suppress(PlaywrightTimeout):
                expected.wait_for(state="visible", timeout=1000)
            if expected.is_visible():
                return
            if urlsplit(self.page.url).path == self.api_path:
                self.settle()
                on_api_path = urlsplit(self.page.url).path == self.api_path
                if on_api_path and not self.login_page_ready().first.is_visible():
                    return
            if time.monotonic() >= deadline:
                expected.wait_for(state="visible", timeout=1)  # raises, naming what it is

    def settle(self) -> None:
        """Waits until the page has settled: no busy indicator shows (a spinner, i.e. a
        `role=progressbar` without a value, or `aria-busy=true`) and none of its requests
        has been in flight for QUIET_MS. Quick on a page that has been quiet that long
        already; gives up after the step timeout (a page that never stops polling is read as
        it is then: the engine's re-read of a short read-back covers that). At once on a page
        that has seen no change and no request since it was last found settled."""
        page = self.page
        settled = self._settled
        if settled and self.traffic.last_change < settled[1] and self._changes() == settled[0]:
            return
        # An indeterminate progress bar (a spinner) is busy; one with a value is a gauge.
        spinner = page.get_by_role("progressbar").and_(page.locator(":not([aria-valuenow])"))
        busy = spinner.or_(page.locator("[aria-busy='true']:visible"))
        called = time.monotonic()
        deadline = called + self.timeout_ms / 1000
        while (now := time.monotonic()) < deadline:
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
                        at, changes = time.monotonic(), self._changes()
                        self._settled = None if changes is None else (changes, at)
                        return
                    page.wait_for_event(
                        "request",
                        predicate=lambda r: r.resource_type in LOADING,
                        timeout=min(left, deadline - now) * 1000,
                    )
            except PlaywrightTimeout:
                pass
        logger.debug("{}: the page was still busy after {} s", self.name, self.timeout_ms / 1000)

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

    def _changes(self) -> object:
        """How far the page has changed (see CHANGES_JS); None when it cannot say."""
        try:
            return self.page.evaluate("() => window.__ipbindChanges ?? null")
        except PlaywrightError:  # between two pages
            return None

    def check_origin(self, what: str) -> None:
        if origin_of(self.page.url) not in self.allowed_origins:
            raise UserActionNeeded(
                f"{self.name}: {what} is at {origin_of(self.page.url)}, not at {self.origin}; "
                "nothing was typed there",
                hint="The exchange may have moved; if this is expected, report it.",
            )

    def type_secret(self, field: Locator, secret: SecretStr | str) -> None:
        """Fill a credential or code, only on the exchange's own origin; whatever is typed
        this way is masked in every log line and trace from now on."""
        self.appear(field)
        self.check_origin("the page asking for a credential")
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        redactor.add(value)
        field.fill(value)

    def submit_code(self, purpose: str, attempt: Callable[[str], str | None]) -> None:
        """`attempt(code)` types a code, sends it, and returns None once the page accepted it
        or the page's refusal text. A refused code is retried once, never with the same code:
        the provider hears why it was refused and decides whether the next one must wait for
        a new time step; a second refusal stops the run."""
        refusal = ""
        for tries in (1, 2):
            refusal = attempt(self.codes.next(purpose)) or ""
            if not refusal:
                return
            if not CODE_REFUSAL.search(refusal):  # e.g. a validation error: no code will help
                raise UserActionNeeded(f"{self.name}: {purpose}: the site said: {refusal}")
            self.codes.refused(refusal)
            logger.warning(
                "{}: {}: the code was refused ({}){}",
                self.name,
                purpose,
                refusal,
                "; trying once more with the next code" if tries == 1 else "",
            )
        raise UserActionNeeded(
            f"{self.name}: {purpose}: two authenticator codes in a row were refused "
            f"(the site said: {refusal})",
            hint=f"{self.codes.refusal_hint(self.id)} Nothing more was sent.",
        )

    def emailed_code(self, purpose: str) -> str:
        """The code the exchange has just e-mailed for `purpose`, as the person gives it (asked
        once: never resent blindly); masked in every log line from now on."""
        code = self.human.emailed_code(self.name, purpose)
        redactor.add(code)
        return code

    def messages(self) -> Locator:
        """What the page tells the person, wherever it shows it (SITES.md fixes neither the
        place nor the words): alerts, status notes and live regions, in or out of a dialog."""
        page = self.page
        return (
            page.get_by_role("alert")
            .or_(page.get_by_role("status"))
            .or_(page.locator("[aria-live]:not([aria-live='off'])"))
        )

    def mark_seen(self, messages: Locator) -> None:
        """Marks the messages now on the page, so that `fresh` finds only later ones."""
        messages.evaluate_all("els => els.forEach(el => el.setAttribute('data-ipbind-seen', ''))")

    def fresh(self, messages: Locator) -> Locator:
        """The first of `messages` that came after `mark_seen` and holds some text."""
        unseen = messages.and_(self.page.locator(":not([data-ipbind-seen])"))
        return unseen.filter(has_text=re.compile(r"\S")).first

    def until(
        self,
        action: Callable[[], None],
        shows: Locator,
        what: str,
        *,
        hint: str | None = None,
        session: bool = True,
    ) -> None:
        """Does `action`, then waits for `shows` (the next step: a dialog, a field). If the
        server refuses instead (an answer 4xx, or an alert that comes with none), the page's
        message about it, wherever it shows, stops the run in the site's words. An ended
        session (401) is the server's trouble, not a refusal, unless `session` is False (a
        sign-in, where a wrong password may come with a 401)."""
        messages = self.messages()
        self.mark_seen(messages)
        answered = len(self.traffic.answers)
        self.traffic.trouble = None
        action()
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            self.check_trouble(what, session=session)
            with suppress(PlaywrightTimeout):
                shows.first.wait_for(state="visible", timeout=200)
            if shows.first.is_visible():
                return
            refusal = self._refusal(messages, answered)
            if refusal is not None:
                self.check_trouble(what, session=session)
                raise UserActionNeeded(f"{self.name} refused {what}: {refusal}", hint=hint)
            if time.monotonic() >= deadline:
                # raises, naming what it waited for
                shows.first.wait_for(state="visible", timeout=1)

    def sent(self, action: Callable[[], None], what: str, *, wait: float = SEND_WAIT_S) -> None:
        """Does `action` (say, "Send code"), then waits until the server has answered the
        request it made, or `wait` seconds when none is seen: no confirmation is looked for
        (SITES.md promises none). A refusal stops the run in the site's words."""
        messages = self.messages()
        self.mark_seen(messages)
        answered = len(self.traffic.answers)
        self.traffic.trouble = None
        action()
        deadline = time.monotonic() + wait
        while len(self.traffic.answers) == answered and time.monotonic() < deadline:
            self.check_trouble(what)
            with suppress(PlaywrightTimeout):
                self.page.wait_for_event("response", timeout=100)
        self.check_trouble(what)
        if any(400 <= status < 500 for status in self.traffic.answers[answered:]):
            self.settle()
            refusal = self._refusal(messages, answered) or "the server refused it"
            raise UserActionNeeded(f"{self.name} refused {what}: {refusal}")

    def _refusal(self, messages: Locator, answered: int) -> str | None:
        """The page's refusal since `answered` answers: a fresh alert when no answer took
        what was sent, or after an answer 4xx, once the page has settled, any fresh message
        (else the answer's status). None: no refusal (yet)."""
        answers = self.traffic.answers[answered:]
        refused = next((status for status in answers if 400 <= status < 500), None)
        taken = any(200 <= status < 400 for status in answers)
        alert = self.fresh(self.page.get_by_role("alert"))
        if refused is None and not taken and alert.is_visible():
            return " ".join(alert.inner_text().split())
        if refused is None:
            return None
        self.settle()
        message = self.fresh(messages)
        if message.is_visible():
            return " ".join(message.inner_text().split())
        return f"the server refused it (HTTP {refused})"

    def await_outcome(
        self,
        submit: Callable[[], None],
        finished: list[Locator],
    ) -> str | None:
        """Does `submit`, then waits until every `finished` locator (say, the verification
        dialog) is gone — accepted: None — or the server refuses: the page's words about it,
        wherever they show (see `_refusal`)."""
        messages = self.messages()
        self.mark_seen(messages)
        answered = len(self.traffic.answers)
        self.traffic.trouble = None
        submit()
        deadline = time.monotonic() + self.timeout_ms / 1000
        while time.monotonic() < deadline:
            self.check_trouble("the site")  # a failed request is not an accepted one
            with suppress(PlaywrightTimeout):  # each turn waits for the step to end, then looks
                finished[0].first.wait_for(state="hidden", timeout=200)
            if all(locator.first.is_hidden() for locator in finished):
                self.check_trouble("the site")
                # Gone is accepted, unless the server said no (a site may close its dialog
                # and show why on the page beneath).
                return self._refusal(messages, answered)
            refused = self._refusal(messages, answered)
            if refused is not None:
                self.check_trouble("the site")
                return refused
        raise PlaywrightTimeout(f"waiting for {finished[0]} to close, or an error to show")

    def check_trouble(self, what: str, *, session: bool = True) -> None:
        """Raises SiteTrouble when the server answered the page's last request with a 5xx,
        429 or (with `session`) 401: the page may show it as an error, or just go back to its
        sign-in."""
        if self.traffic.trouble is None or (self.traffic.trouble[0] == 401 and not session):
            return
        status, retry_after = self.traffic.trouble
        self.traffic.trouble = None
        why = {401: "ended the session", 429: "limited the requests (HTTP 429)"}.get(
            status, f"failed (HTTP {status})"
        )
        raise SiteTrouble(
            f"{self.name}: {what}: the server {why}", status=status, retry_after=retry_after
        )

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Names the step in any failure: a missing control means the page changed. A run
        stopped by Ctrl-C stops between steps: `checkpoint` raises before the next."""
        if self.checkpoint is not None:
            self.checkpoint()
        logger.debug("{}: {}", self.name, what)
        if self.narrator is not None:
            self.narrator(what)
        try:
            yield
        except (PlaywrightTimeout, AssertionError) as err:  # `expect` raises AssertionError
            raise SiteChanged(
                f"{self.name}: {what}: the page no longer has what ipbind looks for "
                f"({expected_of(err)})"
            ) from None
        except PlaywrightError as err:
            if "Target" in str(err) and "closed" in str(err):
                raise UserActionNeeded(f"{self.name}: {what}: the browser was closed") from None
            if network := NETWORK_ERROR.search(str(err)):
                raise UserActionNeeded(
                    f"{self.name}: {what}: could not reach {self.origin} ({network.group(0)})",
                    hint=unreachable_hint(self.origin),
                ) from None
            raise SiteChanged(f"{self.name}: {what}: {first_line(err)}") from None

    @contextmanager
    def uninterrupted(self) -> Iterator[None]:
        """What must not be cut short (a secret the site shows once, from the click that
        makes it until it is read): a Ctrl-C meanwhile, heard by the engine (`checkpoint`) or
        by this thread, takes effect once it is over."""
        checkpoint, self.checkpoint = self.checkpoint, None
        pressed: list[int] = []
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
        try:
            yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self.checkpoint = checkpoint
        if pressed:
            raise KeyboardInterrupt

    def key_control(self, name: str, role: str, control: re.Pattern[str] | str) -> Locator:
        """The control `role`/`control` (say, its "Edit" button) of the key whose name (or
        API key) is `name`, found without knowing the markup (see CARD_JS)."""
        controls, found = self._key(name, role, control)
        return controls.nth(int(found["index"]))

    def key_text(self, name: str, role: str, control: re.Pattern[str] | str) -> str:
        """The whole text of the card or row of the key whose name (or API key) is `name`:
        the element around that text holding exactly one of the controls `role`/`control`."""
        self.settle()
        return str(self._key(name, role, control)[1]["text"])

    def _key(
        self, name: str, role: str, control: re.Pattern[str] | str
    ) -> tuple[Locator, dict[str, int | str]]:
        # One evaluation finds the name, its card and its control together: a list that
        # re-renders between two calls (every element new) cannot leave a stale half behind.
        controls = self.page.get_by_role(role, name=control)  # type: ignore[arg-type]

        def look() -> dict[str, int | str] | None:
            return controls.evaluate_all(
                f"(controls, name) => {{ {CARD_JS}; return keyOf(name, controls); }}",
                " ".join(name.split()),
            )

        found = look()
        if found is None or found["index"] == -1:  # not there yet is not "not there"
            self.settle()
            self.await_late(self.page.get_by_text(name, exact=True))
            found = look()
        if found is None:
            raise UserActionNeeded(f"{self.name}: no key named {name!r} on the page")
        if found["index"] == -1:
            raise SiteChanged(
                f"{self.name}: {name!r} is on the API page, but none of the controls ipbind "
                "looks for is around it"
            )
        return controls, found

    def value_of(self, scope: Locator, label: re.Pattern[str]) -> str | None:
        """The value that belongs to `label` inside `scope`, however the page ties them: a
        field labelled so (`for`, aria-label, aria-labelledby, a wrapping label), or text
        beside the label (`<dt>API Key</dt><dd>…</dd>`, a caption and a `<code>` after it,
        "API Key: …" on one line). None when `scope` shows no value for it (yet)."""
        field = scope.get_by_label(label)
        for n in range(field.count()):
            value = field.nth(n).evaluate(
                "el => ('value' in el && typeof el.value === 'string') ? el.value : el.innerText"
            )
            if value.strip():
                return value.strip()
        found = scope.first.evaluate(
            f"(scope, label) => {{ {VALUE_JS}; return valueOf(scope, label); }}",
            {"source": label.pattern, "flags": "i" if label.flags & re.I else ""},
        )
        return found or None

    def shows(self, text: str) -> bool:
        """Whether the page shows `text` as the whole text of an element."""
        return self.page.get_by_text(text, exact=True).first.is_visible()

    def cards(self, controls: Locator) -> list[tuple[str, str]]:
        """For each control (say, every key's "Edit" button), its key's card or row (see
        CARD_JS) as (its name, its whole text). One evaluation, so a re-render cannot split
        it."""
        return [(key.name, text) for key, text in self._cards(controls, None)]

    def keys_listed(
        self, controls: Locator, name_label: re.Pattern[str] | None = None
    ) -> list[KeyInfo]:
        """The keys on the API page, one per control of `controls` (say, every key's "Edit"
        button) whose card shows a name: each named by the value of `name_label` where its
        card shows that label (else by its card's name or first value, see CARD_JS), with
        the key string the card shows, if any."""
        return [key for key, _ in self._cards(controls, name_label) if key.name]

    def _cards(
        self, controls: Locator, name_label: re.Pattern[str] | None
    ) -> list[tuple[KeyInfo, str]]:
        self.settle()
        self.await_late(controls)
        found = controls.evaluate_all(
            f"(controls, label) => {{ {CARD_JS};"
            " const nameLabel = label ? new RegExp(label, 'i') : null;"
            " return controls.map((c) => { const card = cardOf(c, controls) || c.parentElement;"
            " return [titleOf(card, c, nameLabel), apiKeyOf(card), textsOf(card),"
            " card.innerText]; }); }",
            name_label.pattern if name_label else None,
        )
        return [
            (KeyInfo(name, api_key, tuple(texts)), text) for name, api_key, texts, text in found
        ]

    def appear(self, locator: Locator) -> Locator:
        """`locator` once it shows, within the step's timeout; seen within about 100 ms of
        showing (see WAIT_TURN_S). A wait that runs out raises as Playwright's waits do."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            turn = min(WAIT_TURN_S, deadline - time.monotonic())
            try:
                locator.wait_for(state="visible", timeout=max(turn, 0.5) * 1000)
                return locator
            except PlaywrightTimeout:
                if time.monotonic() >= deadline:
                    raise

    def await_late(self, expected: Locator) -> None:
        """On a settled page that shows no `expected` while a request is still out (one
        slower than a page usually takes: a list behind a slow server), give `expected`
        the step's time to show before "not there" is believed."""
        if self.traffic.pending() and not expected.count():
            try:
                self.appear(expected.first)
            except PlaywrightTimeout:
                logger.debug("{}: still not there after waiting for the page's requests", self.name)

    def back(self) -> None:
        """Back to the API page from a view opened on it (a key's edit view), as the
        browser's Back button goes: on a single-page app, no page load."""
        with self.step("back to the API page"):
            self.page.go_back()
            self.appear(self.api_page_ready().first)

    def _dismiss_promotions(self) -> None:
        # A dialog the flow did not open and has no use for (a promotion, an announcement:
        # no field, no slider, nothing loading, no button but one that closes it) is closed
        # whenever it stands in the way.
        page = self.page
        promo = (
            page.get_by_role("dialog")
            .filter(has_not=page.locator("input, textarea, select"))
            .filter(has_not=page.get_by_role("slider"))
            .filter(has_not=page.get_by_role("progressbar"))
            .filter(has_not=page.get_by_role("button", name=NOT_DISMISS))
            .filter(has=page.get_by_role("button", name=DISMISS))
        )

        def dismiss(_: Locator) -> None:
            # A dialog of the flow's own may look like that while its body still loads (a
            # skeleton has no role): only what still looks so once the page has settled.
            self.settle()
            if promo.count():
                # The run may be closing the page meanwhile (its end, a Ctrl-C): then there is
                # nothing left to dismiss, and the run, not the handler, says how it ended.
                with suppress(PlaywrightError):
                    promo.first.get_by_role("button", name=DISMISS).first.click()

        page.add_locator_handler(promo.first, dismiss, no_wait_after=True)

    def _dismiss_cookie_banner(self) -> None:
        # Consent banners come late and may cover the next control; Playwright clears one
        # whenever it stands in the way of an action.
        page = self.page
        banner = page.get_by_role("region", name=COOKIE).or_(
            page.get_by_role("dialog", name=COOKIE)
        )
        both = re.compile(rf"^(?=.*(?:{CONSENT.pattern}))(?=.*(?:{COOKIE.pattern}))", re.I)
        consent = page.get_by_role("button", name=both).or_(
            banner.get_by_role("button", name=CONSENT)
        )
        page.add_locator_handler(consent.first, lambda button: button.click())


# A key's card or row, from its name (or its control) upward: the first ancestor holding
# one of the page's `controls`, then wider while it holds no other — but never past an
# element that is a list item or table row, so that a lone key does not grow into the page.
# SITES.md fixes no list's shape (table, ARIA grid, cards, named regions, definition lists):
# a key's name is read as the value of its label where the card shows one, else as the
# card's own name or heading, else its first text that is neither a label nor a value of
# another kind (an API key, addresses).
CARD_JS = r"""
const ITEM = 'tr, li, article, [role="row"], [role="listitem"], [role="article"]';
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
const holds = (el, controls) => controls.filter((c) => el.contains(c)).length;
function cardOf(start, controls) {
  let card = start;
  while (card && holds(card, controls) === 0) card = card.parentElement;
  if (!card || holds(card, controls) !== 1) return null;
  while (!card.matches(ITEM) && card.parentElement && holds(card.parentElement, controls) === 1)
    card = card.parentElement;
  return card;
}
// "Label: value" -> [label, value]; null for text that is no such line.
function labelled(text) {
  const m = norm(text).match(/^([^:]{1,40}):\s*(.+)$/);
  return m ? [m[1].trim(), m[2].trim()] : null;
}
// The innermost visible elements whose whole text (spacing aside) is `text`, or whose text
// is `text` as the value of a "Label: text" line.
function ownersOf(text) {
  const all = [...document.body.querySelectorAll('*')].filter((el) => {
    if (el.getClientRects().length === 0) return false;
    const whole = norm(el.textContent);
    if (whole === text) return true;
    const pair = whole.endsWith(text) ? labelled(whole) : null;
    return pair !== null && pair[1] === text;
  });
  return all.filter((el) => !all.some((other) => other !== el && el.contains(other)));
}
// The key named `name`: {index: its control's index in `controls`, text: its card's text};
// index -1 when the name shows but no card holds a control; null when the name is nowhere.
function keyOf(name, controls) {
  const owners = ownersOf(name);
  if (!owners.length) return null;
  for (const owner of owners) {
    const card = cardOf(owner, controls);
    if (card) return { index: controls.findIndex((c) => card.contains(c)), text: card.innerText };
  }
  return { index: -1, text: '' };
}
const IP = /^[0-9a-f.:\/]+$/i;
// A key string as keys are written: one long token of letters and digits (and - _ . + / =).
const isKey = (t) => t.length >= 16 && /^[\w\-.+\/=]+$/.test(t) && /\d/.test(t) && /[a-z]/i.test(t);
// Label -> value pairs the card shows: column headers over the row's cells (table or grid),
// dt/dd, and "Label: value" lines.
function pairsOf(card) {
  const pairs = [];
  if (card.matches('tr, [role="row"]')) {
    const table = card.closest('table, [role="grid"], [role="table"], [role="treegrid"]');
    const head = table && [...table.querySelectorAll('tr, [role="row"]')]
      .find((r) => r !== card && r.querySelector('th, [role="columnheader"]'));
    const headers = head ? [...head.children] : [];
    [...card.children].forEach((cell, i) => {
      if (headers[i]) pairs.push([norm(headers[i].innerText), norm(cell.innerText)]);
    });
  }
  for (const dt of card.querySelectorAll('dt')) {
    const dd = dt.nextElementSibling;
    if (dd && dd.tagName === 'DD') pairs.push([norm(dt.innerText), norm(dd.innerText)]);
  }
  for (const line of card.innerText.split('\n')) {
    const pair = labelled(line);
    if (pair) pairs.push(pair);
  }
  return pairs;
}
// The texts of the card a person reads as values: cells, dd's, lines (a "Label: value" line
// as its value), and the card's own name.
function textsOf(card) {
  const texts = [];
  const add = (t) => { t = norm(t); if (t && !texts.includes(t)) texts.push(t); };
  for (const el of card.querySelectorAll('*')) {
    if (el.children.length || el.getClientRects().length === 0) continue;
    const t = norm(el.textContent);
    add(t);
    const pair = labelled(t);
    if (pair) add(pair[1]);
  }
  for (const line of card.innerText.split('\n')) {
    add(line);
    const pair = labelled(line);
    if (pair) add(pair[1]);
  }
  return texts;
}
function ownName(card) {
  const by = card.getAttribute('aria-labelledby');
  const text = (id) => document.getElementById(id)?.innerText || '';
  if (by) return norm(by.split(/\s+/).map(text).join(' '));
  return norm(card.getAttribute('aria-label'));
}
// A key's name: the value of `nameLabel` (a pattern) where the card shows that label; else
// its own name or its last heading before its control (the value, for a "Label: name" one);
// else its first cell or value that is no label, key string, address or control.
function titleOf(card, control, nameLabel) {
  const pairs = pairsOf(card);
  const byLabel = nameLabel && pairs.find(([label, value]) => nameLabel.test(label) && value);
  if (byLabel) return byLabel[1];
  const valueOf = (t) => { const pair = labelled(t); return pair ? pair[1] : norm(t); };
  const own = ownName(card);
  if (own) return valueOf(own);
  const headings = [...card.querySelectorAll('h1, h2, h3, h4, h5, h6, [role="heading"]')]
    .filter((h) => h.compareDocumentPosition(control) & Node.DOCUMENT_POSITION_FOLLOWING);
  if (headings.length) return valueOf(headings[headings.length - 1].innerText);
  const labels = new Set(pairs.map(([label]) => label));
  const controls = [...card.querySelectorAll(
    'button, [role="button"], input, select, textarea, a')];
  const parts = card.matches('tr, [role="row"]') ? [...card.children].map((c) => c.innerText)
    : [...card.querySelectorAll('dd')].map((d) => d.innerText).concat(card.innerText.split('\n'));
  for (const part of parts) {
    const t = valueOf(part);
    if (!t || labels.has(norm(part)) || isKey(t)) continue;
    if (t.split(/[\s,]+/).every((w) => IP.test(w))) continue;
    if (controls.some((c) => norm(c.innerText || c.value) === t)) continue;
    return t;
  }
  return norm(card.innerText.split('\n')[0]);
}
// The key string the card shows: the value of a label naming a key, else its longest token
// that looks like one.
function apiKeyOf(card) {
  const labelledKey = pairsOf(card)
    .find(([label, value]) => /\bkey\b/i.test(label) && isKey(value));
  if (labelledKey) return labelledKey[1];
  const tokens = card.innerText.split(/[\s,;]+/).map((t) => t.replace(/^[("'`]+|[)"'`.:]+$/g, ''));
  const keys = tokens.filter(isKey).sort((a, b) => b.length - a.length);
  return keys.length ? keys[0] : null;
}
"""


# The value beside a label, as text (see `Flow.value_of`): the label is the innermost visible
# element whose text (a trailing colon and buttons aside) is the label's words; its value is
# what immediately follows it (a field's value, or text). Failing that, "Label: value" on one
# line: the innermost element whose text is that. A dialog's title is never a label.
VALUE_JS = """
const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
const SKIP = 'button, [role="button"], [aria-hidden="true"], script, style';
function textOf(node) {
  if (node.nodeType === Node.TEXT_NODE) return norm(node.textContent);
  if (node.nodeType !== Node.ELEMENT_NODE || node.matches(SKIP)) return '';
  if (node.matches('input, textarea')) return norm(node.value);
  const field = node.querySelector('input, textarea');
  if (field && norm(field.value)) return norm(field.value);
  const copy = node.cloneNode(true);
  copy.querySelectorAll(SKIP).forEach((el) => el.remove());
  return norm(copy.textContent);
}
function after(el, scope) {
  // What immediately follows the label (in its parent, or after the wrappers that hold only
  // the label): the value, or nothing readable (an image, a canvas): never text further on.
  for (let node = el; node && node !== scope; node = node.parentElement) {
    for (let next = node.nextSibling; next; next = next.nextSibling) {
      if (next.nodeType === Node.TEXT_NODE && !norm(next.textContent)) continue;
      if (next.nodeType === Node.ELEMENT_NODE && next.matches(SKIP)) continue;
      if (next.nodeType !== Node.TEXT_NODE && next.nodeType !== Node.ELEMENT_NODE) continue;
      return textOf(next) || null;
    }
  }
  return null;
}
function innermost(els) {
  return els.filter((el) => !els.some((other) => other !== el && el.contains(other)));
}
function valueOf(scope, label) {
  const whole = new RegExp(label.source, label.flags);
  const title = (scope.getAttribute('aria-labelledby') || '').split(/\\s+/);
  const visible = [...scope.querySelectorAll('*')].filter((el) =>
    !el.matches(SKIP) && !(el.id && title.includes(el.id)) && el.getClientRects().length > 0);
  const labels = innermost(visible.filter((el) => whole.test(textOf(el).replace(/:$/, ''))));
  for (const el of labels) {
    const value = after(el, scope);
    if (value) return value;
  }
  const lines = innermost(visible.filter((el) => {
    const text = textOf(el);
    const colon = text.indexOf(':');
    return colon > 0 && whole.test(text.slice(0, colon)) && norm(text.slice(colon + 1));
  }));
  if (!lines.length) return null;
  const text = textOf(lines[0]);
  return norm(text.slice(text.indexOf(':') + 1));
}
"""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def ips_in(text: str) -> list[str]:
    """The IP addresses (and CIDR ranges) written in `text`, canonical, in order, once each."""
    found: list[str] = []
    for token in IP_TEXT.findall(text):
        try:
            net = ipaddress.ip_network(token, strict=False)
        except ValueError:
            continue
        canonical = str(net.network_address) if "/" not in token else str(net)
        if canonical not in found:
            found.append(canonical)
    return found


def expected_of(err: Exception) -> str:
    """The control that never came, in words ("the 'Edit restrictions' button"), from
    Playwright's "waiting for <locator>" line: a user reads this, not a locator."""
    for line in str(err).splitlines():
        line = line.strip(" -")
        for prefix in ("waiting for ", "Locator: "):
            if line.startswith(prefix):
                return control_in_words(line.removeprefix(prefix))
    return first_line(err)


# A locator as Playwright writes it: get_by_role("button", name=re.compile(r"^\s*Edit\s*$"…)).
QUOTED = r'(?:re\.compile\()?r?"(?:[^"\\]|\\.)*"'
LOCATOR_PART = re.compile(
    rf'get_by_(?P<kind>role|label|text|placeholder|title|alt_text)\((?:"(?P<role>[\w-]+)"'
    rf"(?:, name=(?P<name>{QUOTED}))?|(?P<value>{QUOTED}))"
)
KIND_WORDS = {
    "label": "the field labelled {}",
    "placeholder": "the field showing {}",
    "text": "the text {}",
    "title": "the element titled {}",
    "alt_text": "the image {}",
}


def control_in_words(locator: str) -> str:
    """`get_by_role("button", name=…Edit…restrictions…)` → "the 'Edit restrictions'
    button". Alternatives (`.or_`) are each named; in a chain, the last part is the one
    waited for."""
    parts = [part_in_words(m) for m in LOCATOR_PART.finditer(locator)]
    if not parts:
        return "an element of the page"
    return " or ".join(dict.fromkeys(parts)) if ".or_(" in locator else parts[-1]


def part_in_words(match: re.Match[str]) -> str:
    if match["kind"] == "role":
        role = match["role"].replace("_", " ")
        return f"the {name_in_words(match['name'])!r} {role}" if match["name"] else f"a {role}"
    return KIND_WORDS[match["kind"]].format(repr(name_in_words(match["value"])))


def name_in_words(quoted: str) -> str:
    """The words a name pattern stands for: the pattern of `words("Log In")` → Log In."""
    text = re.sub(r'^(?:re\.compile\()?r?"|"$', "", quoted)
    text = re.sub(r"\\s[*+?]?|\\b|[\^$]|\(\?:|[()]", " ", text)  # spacing, anchors, groups
    text = re.sub(r"\.[*+]", "…", text).replace("|", " / ")  # "anything", alternatives
    text = re.sub(r"\\(.)", r"\1", text)  # escaped punctuation
    return " ".join(text.split()).replace("/ ", "/").replace(" /", "/")
