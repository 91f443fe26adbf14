"""Poloniex: the whole list in one comma-separated field, 2FA, then an e-mailed link.

As a person does it (seed article, "most exchanges", and "Extra Keys"):
  1. API Keys: find the key by its label (or its API key).
  2. "IP Access Restriction": "Restrict access to trusted IPs only"; then "Trusted IPs"
     "Edit": one comma-separated field holding the current list (it stays in it).
  3. "Save", then the dialog holding the "2FA Code": the code, "Submit"; "Got it".
  4. Open the confirmation link Poloniex e-mailed: only then does the change take effect.
     Until then the key shows "Pending email confirmation" and its old list, so a key whose
     link was not opened reads back short, and is not called verified.
  5. Extra keys: the same list on each, by its own label.
The page's own "Create API Key" form uses the same words: every control is looked up in
the smallest part of the page that holds the key's label (or API key) and that control,
whatever the list's shape; the form shows no API key, so it is no key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator, expect

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in
from flows.vocabulary import Vocabulary

WORDS = Vocabulary("poloniex")
LABEL = WORDS.promised("label", "label")  # "Keys listed by label"
RESTRICTED = WORDS.promised("Restrict access to trusted IPs only", "choice", whole=False)
TRUSTED = WORDS.promised("Trusted IPs", "field")
EDIT = WORDS.promised("Edit", "button")
SAVE = WORDS.promised("Save", "button")
CODE = WORDS.promised("2FA Code", "field", whole=False)
SUBMIT = WORDS.promised("Submit", "button")
GOT_IT = WORDS.promised("Got it", "button")
PENDING = WORDS.promised("Pending email confirmation", "text", whole=False)


class Poloniex(Flow):
    id = "poloniex"
    name = "Poloniex"
    origins = ("https://poloniex.com",)
    api_path = "/apikeys"
    max_ips = 20
    keys_by = "label, or API key (prefix)"
    how = "comma-separated list, Save, 2FA, then the e-mailed link; extra keys get the same list"
    mail = "an e-mailed confirmation link"
    mode = "bulk"
    vocabulary = WORDS
    sign_in = SignIn(
        username=WORDS.promised("Email", "field"),
        submit=WORDS.promised("Log In", "button"),
        code=WORDS.promised("Authenticator Code", "field", whole=False),
        code_submit=SUBMIT,
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("radio", name=RESTRICTED)

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            keys = self.keys_listed(self.page.get_by_role("radio", name=RESTRICTED), LABEL)
            # Keys are listed with their API key; the "Create API Key" form shows none.
            return [key for key in keys if key.api_key]

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"reading the trusted IPs of {key.name!r}"):
            text = self.card_text(key)
            return ips_in(text.replace(key.api_key, " ") if key.api_key else text)

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The key's card: its "Trusted IPs" (and a "Pending email confirmation")."""
        yield self.card(key.api_key or key.name, "radio", RESTRICTED)

    def pending(self, key: KeyInfo) -> str | None:
        with self.step(f"{key.name!r}: is a change pending?"):
            found = PENDING.search(self.card_text(key))
        return found.group(0) if found else None

    # -- restricted, Edit, the whole list, Save, 2FA, the e-mailed link --------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        page = self.page
        who = key.api_key or key.name
        with self.step(f"{key.name!r}: Restrict access to trusted IPs only, Edit"):
            restricted = self.key_control(who, "radio", RESTRICTED)
            if restricted.is_checked():
                self.outlined(self.key_control(who, "button", EDIT)).click()
            else:
                self.outlined(restricted).check()
            self.appear(page.get_by_role("button", name=SAVE).first)
            field = self.key_control(who, "textbox", TRUSTED)
            current = [ip for ip in ips_in(field.input_value()) if ip not in remove]
            text = ", ".join(current + [ip for ip in add if ip not in current])
            self.outlined(field).fill(text)
            expect(field).to_have_value(text)  # not wiped by a re-render before Save
            progress(len(add), len(add), "add")
        # The dialog is the one asking for the 2FA code, whatever its title (or none).
        dialog = page.get_by_role("dialog").filter(has=page.get_by_label(CODE))
        code_field = dialog.get_by_label(CODE)

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Save, 2FA Code"):
                if not code_field.first.is_visible():
                    save = self.key_control(who, "button", SAVE)
                    self.until(self.outlined(save).click, code_field, f"saving {key.name!r}")
                self.type_secret(code_field.first, code)
                submit = dialog.first.get_by_role("button", name=SUBMIT)
                return self.await_outcome(self.outlined(submit).click, [code_field])

        self.submit_code(f"saving {key.name!r}", attempt, code_field)
        with self.step(f"{key.name!r}: the confirmation e-mail notice, Got it"):
            got_it = page.get_by_role("dialog").get_by_role("button", name=GOT_IT)
            self.outlined(self.appear(got_it.first)).click()
            expect(got_it).to_have_count(0)
        self.emailed_link(f"the trusted IPs of {key.name!r}")

    # -- helpers -----------------------------------------------------------------------------

    def card_text(self, key: KeyInfo) -> str:
        """The key's card, row or region: every key has the restriction choice."""
        return self.key_text(key.api_key or key.name, "radio", RESTRICTED)
