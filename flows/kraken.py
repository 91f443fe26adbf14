"""Kraken: one address at a time, keys known only by their names.

As a person does it (seed article, "Add IP addresses to Kraken"):
  1. Connections & API: find the key by its name (Kraken never shows the key); "Edit".
  2. Turn on "IP whitelisting".
  3. "Add an IP address or range", paste one address into the new input; repeat for all.
  4. "Save" at the bottom; answer the "Two-factor authentication" prompt if the account
     has 2FA for API changes.
  5. Extra keys: the same for each, by its own name.
The saved list is read back from the key's edit view, where each entry is an input. A read
leaves that view open, so that the report's picture shows the key's addresses (the API page
shows keys by name only), and a change that comes a moment later goes on in it; otherwise the
hooks go back to the API page first. After Save, the run goes on once the server has answered
(SITES.md does not say where the page goes then); the read-back loads the API page afresh.

Kraken Pro's newer key form (SITES.md) has the switch "Enable IP address restriction" and
one field, "IP addresses", that takes the whole list; the rest is the same. Which form the
edit view shows is found by the switch's words.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator, expect

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in
from flows.vocabulary import Vocabulary, any_of

WORDS = Vocabulary("kraken")
EDIT = WORDS.promised("Edit", "button")
WHITELISTING = WORDS.promised("IP whitelisting", "switch")
RESTRICTION = WORDS.promised("Enable IP address restriction", "switch")  # the newer form
EITHER = any_of(WHITELISTING, RESTRICTION)
LIST_FIELD = WORDS.promised("IP addresses", "field")
ENTRY = WORDS.promised("IP address or range", "field", whole=False)
ADD = WORDS.promised("Add an IP address or range", "button")
# An entry's button may also name the entry ("Remove 203.0.113.1").
REMOVE = WORDS.promised("Remove", "button", whole=False)
TWO_FACTOR = WORDS.promised("Two-factor authentication", "field", whole=False)
CONTINUE = WORDS.promised("Continue", "button")
SAVE = WORDS.promised("Save", "button")
API_HEADING = WORDS.optional("API", "heading")
# An edit view read this recently still holds the server's list, as a view opened afresh
# would (adding the addresses takes longer than that): `change` goes on in it.
FRESH_VIEW_S = 2.0


class Kraken(Flow):
    id = "kraken"
    name = "Kraken"
    origins = ("https://pro.kraken.com", "https://www.kraken.com")
    api_path = "/app/settings/api"
    max_ips = 30
    cidr = True
    keys_by = "name (exact)"
    how = "one per input (newer form: one field), Save, 2FA if set"
    mode = "one by one"
    separators = "\n,"
    settles_on_open = False  # `list_keys` and `edit` wait for a late list; `read` settles
    vocabulary = WORDS
    sign_in = SignIn(
        username=WORDS.promised("Username", "field"),
        submit=WORDS.promised("Sign in", "button"),
        code=TWO_FACTOR,
        code_submit=CONTINUE,
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=EDIT).or_(
            self.page.get_by_role("heading", name=API_HEADING)
        )

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        self.leave_edit_view()
        with self.step("listing the API keys"):
            # Kraken shows keys by their names only (never the key itself).
            keys = self.keys_listed(self.page.get_by_role("button", name=EDIT))
            return [KeyInfo(key.name, None, key.shown) for key in keys]

    _viewing: tuple[str, float] | None = None  # the key whose edit view `read` left, when

    def read(self, key: KeyInfo) -> list[str]:
        """The key's list from its edit view, which stays open (see the module's doc)."""
        self.leave_edit_view()
        with self.step(f"{key.name!r}: reading the IP whitelist"):
            self.edit(key)
            self.settle(reading=True)
            if not self.switch().is_checked():
                found = []
            elif self.newer_form():
                found = ips_in(self.page.get_by_label(LIST_FIELD).input_value())
            else:
                values = self.entries().evaluate_all("inputs => inputs.map(i => i.value)")
                found = ips_in(" ".join(values))
        self._viewing = (key.name, time.monotonic())
        return found

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The key's edit view, which `read` left open (the API page shows names only): the
        innermost part of the page holding its switch and "Save"."""
        if not self.switch().first.is_visible():
            self.edit(key)
            self.settle()
        page = self.page
        yield (
            page.locator("*")
            .filter(has=self.switch())
            .filter(has=page.get_by_role("button", name=SAVE))
            .last
        )

    # -- edit, add one by one, Save, 2FA ---------------------------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        with self.step(f"{key.name!r}: Edit, IP whitelisting on"):
            if not self.just_read(key):  # else the view `read` left a moment ago will do
                self.leave_edit_view()  # it holds the server's list as it was then
                self.edit(key)
            self.outlined(self.switch()).check()
        if self.newer_form():
            self.enter_list(key, add, remove, progress)
        else:
            self.enter_one_by_one(key, add, remove, progress)
        self.save(key)

    def enter_list(
        self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress
    ) -> None:
        """The newer form: the whole list in one field, what stays and what is added."""
        with self.step(f"{key.name!r}: IP addresses ({len(add)} to add)"):
            self.settle()  # the field holds the saved list once the view has settled
            field = self.page.get_by_label(LIST_FIELD)
            current = ips_in(field.input_value())
            whole = [ip for ip in current if ip not in remove]
            text = "\n".join(whole + [ip for ip in add if ip not in whole])
            self.outlined(field).fill(text)
            expect(field).to_have_value(text)  # not wiped by a re-render before Save
        progress(len(add), len(add), "add")

    def enter_one_by_one(
        self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress
    ) -> None:
        page = self.page
        for ip in remove:
            with self.step(f"{key.name!r}: removing {ip}"):
                values = self.entries().evaluate_all("inputs => inputs.map(i => i.value.trim())")
                self.outlined(page.get_by_role("button", name=REMOVE).nth(values.index(ip))).click()
                expect(self.entries()).to_have_count(len(values) - 1)
        count = self.entries().count()
        for done, ip in enumerate(add, start=1):
            with self.step(f"{key.name!r}: Add an IP address or range ({ip})"):
                self.outlined(page.get_by_role("button", name=ADD)).click()
                self.outlined(self.entries().nth(count)).fill(ip)  # the new input, once it shows
                count += 1
            progress(done, len(add), "add")
        with self.step(f"{key.name!r}: {count} entries"):
            expect(self.entries()).to_have_count(count)  # none lost to a re-render

    def save(self, key: KeyInfo) -> None:
        page = self.page
        dialog = page.get_by_role("dialog").filter(has=page.get_by_label(TWO_FACTOR))
        saved = page.get_by_role("button", name=EDIT)  # back on the list of keys
        with self.step(f"{key.name!r}: Save"):
            self.until(
                self.outlined(page.get_by_role("button", name=SAVE)).click,
                dialog.or_(saved),
                f"saving {key.name!r}",
            )
        if not dialog.is_visible():
            return

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: two-factor authentication for Save"):
                self.type_secret(dialog.get_by_label(TWO_FACTOR), code)
                return self.await_outcome(
                    self.outlined(dialog.get_by_role("button", name=CONTINUE)).click, [dialog]
                )

        answered = len(self.traffic.answers)
        self.submit_code(f"saving {key.name!r}", attempt, dialog.get_by_label(TWO_FACTOR))
        with self.step(f"{key.name!r}: the server's answer to Save"):
            self.taken(answered)  # whatever the page shows next: the read-back loads afresh

    # -- helpers -----------------------------------------------------------------------------

    def just_read(self, key: KeyInfo) -> bool:
        """Whether the page shows the edit view that `read` left for `key` a moment ago."""
        viewing, self._viewing = self._viewing, None
        return (
            viewing is not None
            and viewing[0] == key.name
            and time.monotonic() - viewing[1] < FRESH_VIEW_S
            and self.switch().first.is_visible()
        )

    def leave_edit_view(self) -> None:
        """Back to the API page from the edit view a read left open."""
        self._viewing = None
        if self.switch().first.is_visible():
            self.back()

    def edit(self, key: KeyInfo) -> None:
        """From the API page, the key's edit view (a client-side route)."""
        self._viewing = None
        self.outlined(self.key_control(key.name, "button", EDIT)).click()
        self.appear(self.switch())

    def switch(self) -> Locator:
        """The older form's "IP whitelisting" or the newer form's "Enable IP address
        restriction"."""
        page = self.page
        return page.get_by_role("switch", name=EITHER).or_(
            page.get_by_role("checkbox", name=EITHER)
        )

    def newer_form(self) -> bool:
        return (
            self.page.get_by_role("switch", name=RESTRICTION)
            .or_(self.page.get_by_role("checkbox", name=RESTRICTION))
            .is_visible()
        )

    def entries(self) -> Locator:
        return self.page.get_by_role("textbox", name=ENTRY)
