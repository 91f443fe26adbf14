"""What the exchange answers to what a flow sends: codes and their refusals, the next step
showing or a refusal in the site's words (wherever the page shows it, in whatever words),
and the server's own trouble (a 5xx, a 429, an ended session). `Answers` gives these to
`Flow`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import suppress
from typing import ClassVar

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from assistant.errors import SentInPage, SiteTrouble, UserActionNeeded
from assistant.logs import file_only, redactor
from assistant.mail import Mailbox
from assistant.twofa import Codes
from flows.settle import Traffic
from flows.types import Human
from flows.vocabulary import COMMON, any_of

# Whether a refusal is about the code (then the next code may do) is read from its wording,
# which no site promises: a refusal that says none of this stops the run instead of retrying.
CODE_REFUSAL = any_of(
    *(
        COMMON.optional(w, "text")
        for w in ("code", "verif", "2fa", "two-factor", "authenticat", "otp", "already used")
    )
)
# After "Send code" and the like, how long to wait for the server's answer when the page's
# request for it is not seen (a site that sends it otherwise): then the person is asked.
SEND_WAIT_S = 5.0


class Answers:
    """The answer-watching of `Flow` (its page, traffic, codes, person and `settle`)."""

    id: ClassVar[str]
    name: ClassVar[str]
    page: Page
    traffic: Traffic
    codes: Codes
    human: Human
    timeout_ms: float
    headed: bool  # a window the person sees: they may type a code into the page themselves
    mailbox: Mailbox | None = None  # the person's mail over IMAP, when set (assistant/mail.py)

    def settle(self, until: Locator | None = None) -> bool:
        raise NotImplementedError

    def submit_code(
        self, purpose: str, attempt: Callable[[str], str | None], field: Locator | None = None
    ) -> None:
        """`attempt(code)` types a code, sends it, and returns None once the page accepted it
        or the page's refusal text. A refused code is retried once, never with the same code:
        the provider hears why it was refused and decides whether the next one must wait for
        a new time step; a second refusal stops the run. In a visible window, a person asked
        for the code at the terminal may type it into `field` and send it there instead:
        once the page has taken it (the field is gone), the step is done."""
        refusal = ""
        sent = self.sent_in_page(field) if field is not None and self.headed else None
        for tries in (1, 2):
            try:
                code = self.codes.next(purpose, sent)
            except SentInPage:
                logger.info("{}: {}: the person sent the code in the page", self.name, purpose)
                return
            refusal = attempt(code) or ""
            if not refusal:
                return
            if not CODE_REFUSAL.search(refusal):  # e.g. a validation error: no code will help
                raise UserActionNeeded(f"{self.name}: {purpose}: the site said: {refusal}")
            self.codes.refused(refusal)
            # Typed codes: the next prompt tells the person why; once is enough.
            (file_only() if self.codes.tells_refusals else logger).warning(
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

    @staticmethod
    def sent_in_page(field: Locator) -> Callable[[], bool]:
        """Whether the person has sent a code in the page: its field, showing now, gone on
        two looks in a row later (a field re-rendered in between is not gone), the page
        having taken the code (a refused one leaves it showing). A field not showing now (a
        step still to come) is never "gone". Asked from the page's own thread."""

        def showing() -> bool:
            try:
                return field.first.is_visible()
            except PlaywrightError:  # between two pages: look again
                return True

        if not showing():
            return lambda: False
        looks: list[bool] = []

        def gone() -> bool:
            looks.append(showing())
            return looks[-2:] == [False, False]

        return gone

    def emailed_code(self, purpose: str) -> str:
        """The code the exchange has just e-mailed for `purpose`: from the mailbox over IMAP
        when one is set, else as the person gives it (asked once: never resent blindly);
        masked in every log line from now on."""
        if self.mailbox is not None:
            return self.mailbox.code(purpose)
        code = self.human.emailed_code(self.name, purpose)
        redactor.add(code)
        return code

    def emailed_link(self, purpose: str) -> bool:
        """The confirmation link the exchange has just e-mailed for `purpose`, opened: from
        the mailbox over IMAP when one is set (a link on the exchange's own origin only, in
        a tab of its own, as a mail client would open it), else by the person. False when
        nobody can open it (no terminal): the change then stays pending."""
        if self.mailbox is None:
            return self.human.open_emailed_link(self.name, purpose)
        link = self.mailbox.link(purpose)
        tab = self.page.context.new_page()
        try:
            tab.goto(link)
        finally:
            tab.close()
        logger.info("{}: opened the e-mailed link for {}", self.name, purpose)
        return True

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
        refused: type[UserActionNeeded] = UserActionNeeded,
    ) -> None:
        """Does `action`, then waits for `shows` (the next step: a dialog, a field). If the
        server refuses instead (an answer 4xx, or an alert that comes with none), the page's
        message about it, wherever it shows, stops the run in the site's words. An ended
        session (401) is the server's trouble, not a refusal, unless `session` is False (a
        sign-in, where a wrong password may come with a 401). A refusal raises `refused`."""
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
                raise refused(f"{self.name} refused {what}: {refusal}", hint=hint)
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

    def taken(self, since: int) -> None:
        """After a step the page shows as done (its dialog gone): waits until the server has
        taken what the page sent, a 2xx answer to one of its own non-GET requests since
        `since` answers, with none of those still in flight; where none is seen (a site
        that sends it otherwise), until the page has settled. Whatever the page goes on to
        show (SITES.md says nothing of it), what was sent is then safe from a page load."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            self.check_trouble("the site")
            took = any(200 <= status < 300 for status in self.traffic.answers[since:])
            if took and not self.traffic.sending():
                return
            if (not took and not self.traffic.pending()) or time.monotonic() >= deadline:
                break
            with suppress(PlaywrightTimeout):
                self.page.wait_for_event("requestfinished", timeout=100)
        self.settle()

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
