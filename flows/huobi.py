"""Huobi (HTX): the whole list in one comma-separated field, an e-mailed code and 2FA.

As a person does it (seed article, "most exchanges", and "Extra Keys"):
  1. API Management: find the key by its Note (or its access key); "Edit".
  2. "Link IP address or IP segment (optional)" holds the key's list, comma-separated:
     what is saved is the field's whole content, so the addresses already there stay in it.
  3. "Confirm" opens "Security Authentication": "Send code" e-mails a code to the person;
     their e-mailed code and the "Google Authenticator code", then "Confirm".
  4. Extra keys: the same list on each, by its own Note.
The list page shows only the first few linked IPs ("+N more"), so the saved list is read
from the key's edit view, which `read` leaves open: the report's picture is taken of it, and
a change of that key straight after starts from it; every other hook closes it first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator, expect

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in
from flows.vocabulary import Vocabulary

WORDS = Vocabulary("huobi")
USERNAME = WORDS.promised("Email/Phone", "field")
LOG_IN = WORDS.promised("Log In", "button")
EDIT = WORDS.promised("Edit", "button")
IP_FIELD = WORDS.promised("Link IP address or IP segment (optional)", "field")
CONFIRM = WORDS.promised("Confirm", "button")
SEND_CODE = WORDS.promised("Send code", "button")
EMAIL_CODE = WORDS.promised("Email verification code", "field")
GOOGLE_CODE = WORDS.promised("Google Authenticator code", "field")
# How a key's note sits next to its label is not fixed; nor is a way out of the edit view
# (without one, Escape), nor a heading on the page.
NOTE = WORDS.optional("Note", "label", whole=True)
CANCEL = WORDS.optional("Cancel", "button", whole=True)
API_HEADING = WORDS.optional("API", "heading")
# A key's edit view that `read` left open is changed in place this soon after (it shows the
# server's list as it was then); later, it is opened afresh.
FRESH_VIEW_S = 2.0


class Huobi(Flow):
    id = "huobi"
    name = "Huobi (HTX)"
    origins = ("https://www.htx.com", "https://www.huobi.com")
    api_path = "/en-us/apikey/"
    max_ips = 20
    cidr = True
    keys_by = "Note, or access key"
    how = "comma-separated list, Confirm, e-mailed code + 2FA; extra keys get the same list"
    mail = "an e-mailed code"
    mode = "bulk"
    unrestricted = "90 days"
    vocabulary = WORDS
    sign_in = SignIn(username=USERNAME, submit=LOG_IN, code=GOOGLE_CODE, code_submit=CONFIRM)
    _viewing: tuple[str, str | None, float] | None = None  # the key's view `read` left, when

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=EDIT).or_(
            self.page.get_by_role("heading", name=API_HEADING)
        )

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        self.leave_edit_view()
        with self.step("listing the API keys"):
            return self.keys_listed(self.page.get_by_role("button", name=EDIT), NOTE)

    def read(self, key: KeyInfo) -> list[str]:
        """The key's list from its edit view, which stays open (for the picture, or a change
        of the same key straight after); every other hook closes it first."""
        self.leave_edit_view()
        with self.step(f"{key.name!r}: reading the linked IPs"):
            field = self.edit(key)
            ips = ips_in(field.input_value())
        self._viewing = (key.name, key.api_key, time.monotonic())
        return ips

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The key's edit view: the list page shows only the first few linked IPs ("+N
        more"), the edit view the whole list. The one `read` left open, else opened again;
        closed after the picture."""
        if not self.viewing(key, None):
            self.leave_edit_view()
            with self.step(f"{key.name!r}: reading the linked IPs again, for the picture"):
                self.edit(key)
        try:
            yield self.edit_view()
        finally:
            with self.step(f"{key.name!r}: closing the linked IPs"):
                self.leave_edit_view(always=True)

    # -- edit, the whole list, Confirm, e-mailed code and 2FA ------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        page = self.page
        purpose = f"saving the linked IPs of {key.name!r}"
        with self.step(f"{key.name!r}: Edit, the linked IPs"):
            if self.viewing(key, FRESH_VIEW_S):  # the view `read` left a moment ago will do
                field = self.edit_view().get_by_label(IP_FIELD)
            else:  # it holds the server's list as it was then
                self.leave_edit_view()
                field = self.edit(key)
            self._viewing = None
            current = [ip for ip in ips_in(field.input_value()) if ip not in remove]
            self.outlined(field).fill(", ".join(current + [ip for ip in add if ip not in current]))
            progress(len(add), len(add), "add")
        # "Security Authentication", whatever its title: the dialog holding the e-mailed
        # code's field.
        auth = page.get_by_role("dialog").filter(has=page.get_by_label(EMAIL_CODE))
        with self.step(f"{key.name!r}: Confirm, Security Authentication, Send code"):
            self.until(
                self.outlined(self.edit_view().get_by_role("button", name=CONFIRM)).click,
                auth,
                purpose,
            )
            self.sent(
                self.outlined(auth.get_by_role("button", name=SEND_CODE)).click,
                "sending the e-mailed code",
            )
        emailed = self.emailed_code(purpose)
        with self.step(f"{key.name!r}: the e-mailed code"):
            self.type_secret(auth.get_by_label(EMAIL_CODE), emailed)

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Google Authenticator code, Confirm"):
                self.type_secret(auth.get_by_label(GOOGLE_CODE), code)
                # Saved once both are gone; an error in either is the other way out.
                return self.await_outcome(
                    self.outlined(auth.get_by_role("button", name=CONFIRM)).click,
                    [auth, self.edit_view()],
                )

        self.submit_code(f"saving {key.name!r}", attempt, auth.get_by_label(GOOGLE_CODE))

    # -- helpers -----------------------------------------------------------------------------

    def edit_view(self) -> Locator:
        """The key's edit view, a dialog or in place, whatever its title: the innermost
        element holding the IP field and "Confirm". The page's "Create API Key" form holds a
        field of the same words, but no "Confirm"."""
        page = self.page
        return (
            page.locator("*")
            .filter(has=page.get_by_label(IP_FIELD))
            .filter(has=page.get_by_role("button", name=CONFIRM))
            .last
        )

    def viewing(self, key: KeyInfo, within_s: float | None) -> bool:
        """Whether the page shows the edit view `read` left open for `key` (`within_s`
        seconds ago at most, unless None)."""
        if self._viewing is None or self._viewing[:2] != (key.name, key.api_key):
            return False
        if within_s is not None and time.monotonic() - self._viewing[2] > within_s:
            return False
        return self.edit_view().is_visible()

    def leave_edit_view(self, *, always: bool = False) -> None:
        """Closes the edit view a `read` left open, if the page still shows it (the engine
        may have loaded the API page since); `always`: whatever opened it."""
        left, self._viewing = self._viewing, None
        if (left is not None or always) and self.edit_view().is_visible():
            self.close_edit_view()

    def close_edit_view(self) -> None:
        """Leaves the key's edit view unsaved: its "Cancel", else Escape."""
        view = self.edit_view()
        cancel = view.get_by_role("button", name=CANCEL)
        if cancel.count():
            self.outlined(cancel.first).click()
        else:
            self.page.keyboard.press("Escape")
        expect(view).to_be_hidden()

    def edit(self, key: KeyInfo) -> Locator:
        """The key's edit view, settled: its field holding the key's whole list."""
        self.outlined(self.key_control(key.api_key or key.name, "button", EDIT)).click()
        field = self.edit_view().get_by_label(IP_FIELD)
        self.appear(field)
        self.settle(reading=True)  # what follows reads the field, in this view
        return field
