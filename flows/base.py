"""The contract every exchange flow follows.

A flow is one small subclass of `Flow` per exchange. Its class attributes are the
exchange's metadata; its five hooks are the steps a person would take, in the words of the
seed article, and the engine calls them in this order:

    login()                       on the login page the API page sent us to (shared: the
                                  flow gives the words of its `sign_in`)
    list_keys() -> [KeyInfo]      the keys on the API page (the engine picks the right one)
    read(key) -> [ip, …]          the key's saved whitelist, as the page shows it
    change(key, add, remove)      edit, enter, save, pass 2FA (engine re-reads to verify)
    pending(key) -> str | None    a saved change not yet in effect (an e-mailed link unopened)
    showing(key)                  the view that shows the key's whole list, for the report's
                                  picture, taken right after the key's read-back

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

The page mechanics every flow shares live in rooms of their own, behind `Flow`'s methods:
`settle` (when a page has settled), `cards` (a key's card or row, whatever the list's
shape), `answers` (codes, refusals and the server's trouble), `overlays` (cookie banners,
promotions), `wording` (a failure in a person's words); `types` holds what flows and the
engine pass each other, `vocabulary` the words each flow looks for.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from pydantic import SecretStr

from assistant.errors import (
    BrowserGone,
    SignInRefused,
    SiteChanged,
    UserActionNeeded,
    first_line,
)
from assistant.logs import redactor
from assistant.net import unreachable_hint
from assistant.twofa import Codes
from flows.answers import Answers
from flows.cards import Cards
from flows.fixes import Fixes
from flows.overlays import clear_overlays
from flows.settle import Settler
from flows.types import Binding, Credentials, Human, KeyInfo, NewKey, SignIn, words
from flows.vocabulary import COMMON, Vocabulary
from flows.wording import expected_of

__all__ = [  # what flows and the engine take from here
    "COMMON",
    "Binding",
    "Credentials",
    "Flow",
    "Human",
    "KeyInfo",
    "NewKey",
    "Progress",
    "SignIn",
    "Step",
    "expected_of",
    "ips_in",
    "origin_of",
    "words",
]

# A change under way: (done, total, step), the step one of "add", "remove", "create".
Step = Literal["add", "remove", "create"]
Progress = Callable[[int, int, Step], None]
# How an exchange takes the list: pasted whole; one entry at a time; one entry and one fresh
# 2FA code at a time (account-wide); no list but a key bound to a third-party app; or no
# flow at all, the person entering it with ipbind's help; or not an exchange but where the
# allocation comes from (Altrady, flows/altrady.py).
ExchangeMode = Literal[
    "bulk", "one by one", "per-address 2FA", "third-party app", "assisted", "source"
]

IPV4 = r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w.])"
IPV6 = r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:/\d{1,3})?(?![\w:])"
IP_TEXT = re.compile(f"{IPV4}|{IPV6}")
NETWORK_ERROR = re.compile(r"net::ERR_[A-Z_]+")

# Playwright re-checks what a wait waits for ever less often: every 500 ms once the wait has
# taken 270 ms, unless the wait's timeout is under 2.5 s (then every 100 ms at most). What a
# flow waits on the server for (a list, a dialog's body, the answer to a Save) it waits for
# in turns this long, so as to see it about when it shows, not up to half a second later.
WAIT_TURN_S = 2.0
# A refused password is asked again (at a terminal) until this many tries in all.
SIGN_IN_TRIES = 3


class Flow(Answers, Cards):
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
    # What each change needs from the person's mailbox ("an e-mailed code"), if anything: a
    # run that cannot ask for it refuses before changing anything.
    mail: ClassVar[str | None] = None
    mode: ClassVar[ExchangeMode]  # the pattern, as `ipbind exchanges` groups them
    notice: ClassVar[str | None] = None  # shown before a run against the real site
    also: ClassVar[dict[str, str]] = {}  # other ids the flow serves (an alias), with names
    sign_in: ClassVar[SignIn]
    # Every word the flow looks for on the exchange's pages, promised by SITES.md or not
    # (flows/vocabulary.py); COMMON holds those of the base class, for every flow.
    vocabulary: ClassVar[Vocabulary]
    # Told each step's name before it starts (the headed walkthrough's banners); per flow.
    narrator: Callable[[str], None] | None = None
    # Shown each control just before it is used (the walkthrough's outline); per flow.
    pointer: Callable[[Locator], None] | None = None
    # In a window the person sees (a headed run); per flow.
    headed: bool = False
    # True while the engine reads a key back after changing it (a read before is the plan's);
    # per flow.
    checking: bool = False
    # Called before each step; raises to stop the flow there (the engine's, for a Ctrl-C
    # heard in another thread); per flow.
    checkpoint: Callable[[], None] | None = None
    # What the exchange does to a key with no IP restriction ("30 days without trading"):
    # plan and verify warn about every key still unrestricted.
    unrestricted: ClassVar[str | None] = None
    secrets: ClassVar[tuple[str, ...]] = ()  # settings saving asks for (e.g. "fund_password")
    separators: ClassVar[str] = ",\n"  # what the whitelist field takes between addresses
    # Whether `open` lets the API page settle before it returns. A flow whose every step
    # from the API page settles by itself where it reads (Kraken: keys found by name, which
    # waits for a late list, and lists read in each key's own view) skips that wait.
    settles_on_open: ClassVar[bool] = True

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
        self.settler = Settler(page)
        self.traffic = self.settler.traffic
        clear_overlays(page, self.settle)

    # -- the hooks -------------------------------------------------------------------------

    def login(self) -> None:
        """Username and password, a puzzle if the site shows one (a person's job), then the
        authenticator code."""
        assert self.credentials is not None
        page, sign_in = self.page, self.sign_in
        # The field, not a dialog named by the same words ("Google Authenticator").
        code_field = page.get_by_role("textbox", name=sign_in.code).or_(
            page.get_by_role("spinbutton", name=sign_in.code)
        )
        puzzle = page.get_by_role("slider")
        with self.step("signing in: username and password"):
            self.outlined(page.get_by_label(sign_in.username)).fill(self.credentials.username)
            self.type_secret(page.get_by_label(sign_in.password), self.credentials.password)
            self.until(
                self.outlined(page.get_by_role("button", name=sign_in.submit)).click,
                code_field.or_(puzzle),
                "the sign-in",
                hint=self.credentials.check or f"Check the {self.name} username and password.",
                session=False,
                refused=SignInRefused,
            )
        if puzzle.first.is_visible():
            self.human.hand_off(page, f"{self.name} shows a puzzle: solve it", code_field)

        def attempt(code: str) -> str | None:
            with self.step("signing in: authenticator code"):
                self.type_secret(code_field, code)
                if sign_in.code_submit is None:  # no word for its button: Enter sends the form
                    return self.await_outcome(lambda: code_field.press("Enter"), [code_field])
                send = page.get_by_role("button", name=sign_in.code_submit)
                return self.await_outcome(self.outlined(send).click, [code_field])

        self.submit_code("signing in", attempt, code_field)

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

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The view that shows the key's whole list (or its binding) as `read` (or
        `binding`) just found it, for the report's picture: its card or row on the API page,
        or its own view where the API page shows only part of the list; None for the whole
        page (an account-wide list). Found as every control is, by role, name, label or text;
        what it opened is closed on the way out."""
        raise NotImplementedError
        yield  # a generator, for @contextmanager

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
        if self.mailbox is not None:
            self.mailbox.mark()  # the exchange's mail from now on; none older is read
        with self.step("opening the API page"):
            self.load_api_page()
            self.check_origin("the API page")
            ready, login = self.api_page_ready(), self.login_page_ready()
            self.arrive(ready, login)
        if not ready.first.is_visible() and login.first.is_visible():
            if self.credentials is None:  # none set (a kept session ended): asked, if it can be
                self.credentials = self.human.sign_in_again(
                    self.id, None, f"{self.name} asks to sign in again", SIGN_IN_TRIES
                )
            if self.credentials is None:  # no password configured: the person signs in
                self.human.hand_off(self.page, f"sign in to {self.name}", ready.first)
                self.codes.used_elsewhere()  # their code's step is spent for us too
                if not ready.first.is_visible() and login.first.is_visible():
                    raise UserActionNeeded(  # carried on before signing in: not a changed page
                        f"{self.name}: you have not signed in yet (its sign-in form still "
                        "shows); nothing was changed",
                        hint=f"Run it again and sign in in the browser window first, or set "
                        f"IPBIND_{self.id.upper()}__USERNAME and __PASSWORD.",
                    )
            else:
                logger.info("{}: signing in", self.name)
                self.signed_in(ready, login)
            with self.step("returning to the API page after signing in"):
                self.arrive(ready, None)
        if self.settles_on_open:
            self.settle()
        logger.info("{}: on the API page", self.name)

    def signed_in(self, ready: Locator, login: Locator) -> None:
        """`login`, and after a refused password, again with the one the person types
        (`Human.sign_in_again`), up to SIGN_IN_TRIES tries in all, each on a freshly loaded
        sign-in page; the last refusal (or the first, with nobody to ask) stops the run."""
        for tries in range(1, SIGN_IN_TRIES + 1):
            try:
                self.login()
                if self.credentials is not None and self.credentials.accepted is not None:
                    accepted, self.credentials.accepted = self.credentials.accepted, None
                    self.human.signed_in(accepted)  # the exchange took them: what waited
                return
            except SignInRefused as refusal:
                logger.info("{}: the sign-in was refused (try {})", self.name, tries)
                if tries == SIGN_IN_TRIES:
                    raise
                why = refusal.message.split(": ", 1)[-1].rstrip(".")
                again = self.human.sign_in_again(
                    self.id,
                    self.credentials,
                    f"{self.name} refused the sign-in ({why})",
                    SIGN_IN_TRIES - tries,
                )
                if again is None:
                    raise
                self.credentials = again
            with self.step("opening the sign-in page again"):
                self.load_api_page()
                self.check_origin("the sign-in page")
                self.arrive(ready, login)

    def load_api_page(self) -> None:
        """Loads the API page. A page already on its way elsewhere by itself (a site whose
        script answers an ended session by going to its sign-in page) can cut that load
        short: once that page has loaded, the API page is loaded again."""
        try:
            self.page.goto(self.api_url)
        except PlaywrightError as err:
            if "interrupted by another navigation" not in str(err):
                raise
            logger.debug("{}: the page was on its way elsewhere; loading it again", self.name)
            self.page.wait_for_load_state()
            self.page.goto(self.api_url)

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

    def settle(self, until: Locator | None = None, *, reading: bool = False) -> bool:
        """Waits until the page has settled (see `flows.settle`): no spinner, none of its
        requests in flight for a moment; at once on a page that has not changed since it was
        last found settled. Gives up after the step's timeout and reads the page as it is.
        With `until`, done as soon as that shows; `reading` (the settle before a key's own
        view is read, a view left right after): as soon as the page shows the whole list a
        read-back expects (`Settler.expecting`). Whether it settled."""
        return self.settler.settle(self.timeout_ms, self.name, until, reading=reading)

    def changed(self, since: object, timeout_s: float) -> None:
        """Waits, up to `timeout_s`, until the page has changed since `changes()` said
        `since`: a read that found the page incomplete is tried again when there is
        something new to read, not on a timer."""
        self.settler.changed(since, timeout_s)

    def changes(self) -> object:
        """How far the page has changed so far (None when it cannot say)."""
        return self.settler.changes()

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
        target = self.outlined(field)
        if not target.first.evaluate(TEXT_FIELD_JS):  # a fix, or a page, aiming it elsewhere
            raise SiteChanged(
                f"{self.name}: what ipbind would type a credential into is not a text field; "
                "nothing was typed"
            )
        target.fill(value)

    def outlined(self, control: Locator) -> Locator:
        """`control`, about to be clicked, checked or typed into: in the walkthrough it is
        outlined on the page for a moment first (`pointer`), so that the person sees what
        ipbind is about to use before it happens. Every action of a flow goes through here,
        and so through the local fixes (`fixed`)."""
        control = self.fixed(control)
        if self.pointer is not None:
            self.pointer(control)
        return control

    # -- local fixes (flows/fixes.py) --------------------------------------------------------

    fixes: Fixes | None = None  # this exchange's, set by the one who opens the flow

    def fixed(self, control: Locator, *, repair: bool = True) -> Locator:
        """`control` as the local fixes find it (a renamed control by its new name too); in
        a headed run, one of the flow's words that the page does not show within the step's
        time is shown to ipbind by the person, once (`repair`), unless not `repair` (a
        control that may rightly be absent: an empty list has no "Edit")."""
        if self.fixes is None:
            return control
        control = self.fixes.rewrite(control)
        if not (self.headed and repair):
            return control
        word = self.fixes.word_of(control)
        if word is None:
            return control
        with suppress(PlaywrightTimeout):  # as long as the step would have waited for it
            control.first.wait_for(state="visible", timeout=self.timeout_ms)
        if control.first.is_visible():
            return control
        return self.fixes.shown_by(self.human, control, word, self.name)

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
                f"({expected_of(err)})",
                hint=self.changed_hint(),
            ) from None
        except PlaywrightError as err:
            if "Target" in str(err) and "closed" in str(err):
                browser = self.page.context.browser
                if browser is not None and not browser.is_connected():  # its process ended
                    raise BrowserGone(f"{self.name}: {what}: the browser stopped") from None
                raise UserActionNeeded(f"{self.name}: {what}: the browser was closed") from None
            if network := NETWORK_ERROR.search(str(err)):
                raise UserActionNeeded(
                    f"{self.name}: {what}: could not reach {self.origin} ({network.group(0)})",
                    hint=unreachable_hint(self.origin),
                ) from None
            raise SiteChanged(f"{self.name}: {what}: {first_line(err)}") from None

    def changed_hint(self) -> str:
        """What to do about a page that lacks what ipbind looks for: show ipbind the control
        in a headed run, or report it, with the local fixes it ran with (no secret in them)."""
        hint = (
            "The exchange's page may have changed. Run it again headed (`ipbind --headed "
            "plan FILE`): where a control ipbind looks for is missing, it asks you to click "
            "it, once, and remembers it. Or run again with -v and report it, with the debug "
            "log and the trace it writes (neither holds a secret)."
        )
        if self.fixes:
            hint += f" Your local fixes for {self.name}, to send with it: " + "; ".join(
                self.fixes.lines()
            )
        return hint

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

    def appear(self, locator: Locator, *, repair: bool = True) -> Locator:
        """`locator` once it shows, within the step's timeout; seen within about 100 ms of
        showing (see WAIT_TURN_S). A wait that runs out raises as Playwright's waits do. A
        renamed control is found as the local fixes say (`fixed`)."""
        locator = self.fixed(locator, repair=repair)
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
                self.appear(expected.first, repair=False)  # absent may be right: not asked
            except PlaywrightTimeout:
                logger.debug("{}: still not there after waiting for the page's requests", self.name)

    def back(self) -> None:
        """Back to the API page from a view opened on it (a key's edit view), as the
        browser's Back button goes: on a single-page app, no page load."""
        with self.step("back to the API page"):
            self.page.go_back()
            self.appear(self.api_page_ready().first)


# An element a credential may be typed into: a text input or area, or an editable element.
TEXT_FIELD_JS = """(el) => el.isContentEditable || el.tagName === 'TEXTAREA' ||
  (el.tagName === 'INPUT' && !['button', 'submit', 'reset', 'checkbox', 'radio', 'file',
   'image', 'hidden', 'range', 'color'].includes((el.type || '').toLowerCase()))"""


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
