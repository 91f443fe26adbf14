"""Poloniex: the whole list in one comma-separated field, 2FA, then an e-mailed link.

As a person does it (seed article, "most exchanges", and "Extra Keys"):
  1. API Keys: find the key by its label (or its API key).
  2. "IP Access Restriction": "Restrict access to trusted IPs only"; then "Trusted IPs"
     "Edit": one comma-separated field holding the current list (it stays in it).
  3. "Save", "Two-Factor Authentication": the "2FA Code", "Submit"; "Got it".
  4. Open the confirmation link Poloniex e-mailed: only then does the change take effect.
     Until then the key shows "Pending email confirmation" and its old list, so a key whose
     link was not opened reads back short, and is not called verified.
  5. Extra keys: the same list on each, by its own label.
The page's own "Create API Key" form uses the same words: every control is looked up in
the card of the key being edited.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, expect

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in, words

RESTRICTED = re.compile(r"restrict access to trusted ips", re.I)
TRUSTED = re.compile(r"^\s*trusted ips\s*$", re.I)
EDIT = words("Edit")
SAVE = words("Save")
TWO_FACTOR = re.compile(r"two-factor authentication", re.I)
CODE = re.compile(r"2fa code", re.I)
SUBMIT = words("Submit")
PENDING = re.compile(r"pending e-?mail confirmation", re.I)
API_KEY_TEXT = re.compile(r"\b[A-Z0-9]{4,}(?:-[A-Z0-9]{4,}){2,}\b")


class Poloniex(Flow):
    id = "poloniex"
    name = "Poloniex"
    origins = ("https://poloniex.com",)
    api_path = "/apikeys"
    max_ips = 20
    keys_by = "label, or API key (prefix)"
    how = "comma-separated list, Save, 2FA, then the e-mailed link; extra keys get the same list"
    mode = "bulk"
    sign_in = SignIn(
        username=words("Email"),
        submit=words("Log In"),
        code=re.compile(r"authenticator code", re.I),
        code_submit=SUBMIT,
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("heading", name=re.compile(r"^\s*api keys\s*$", re.I))

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            keys = []
            for name, text in self.cards(self.page.get_by_role("radio", name=RESTRICTED)):
                match = API_KEY_TEXT.search(text)
                if match:  # a key's card; the page's "Create API Key" form shows no key
                    keys.append(KeyInfo(name, match.group(0)))
            return keys

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"reading the trusted IPs of {key.name!r}"):
            text = self.card_text(key)
            return ips_in(text.replace(key.api_key, " ") if key.api_key else text)

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
                self.key_control(who, "button", EDIT).click()
            else:
                restricted.check()
            self.appear(page.get_by_role("button", name=SAVE))
            field = self.key_control(who, "textbox", TRUSTED)
            current = [ip for ip in ips_in(field.input_value()) if ip not in remove]
            field.fill(", ".join(current + [ip for ip in add if ip not in current]))
            progress(len(add), len(add), "addresses entered")
        dialog = page.get_by_role("dialog", name=TWO_FACTOR)
        alerts = page.get_by_role("alert")

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Save, Two-Factor Authentication"):
                if not dialog.is_visible():
                    self.key_control(who, "button", SAVE).click()
                code_field = dialog.get_by_label(CODE)
                self.type_secret(code_field, code)
                return self.await_outcome(
                    dialog.get_by_role("button", name=SUBMIT).click, [code_field], alerts
                )

        self.submit_code(f"saving {key.name!r}", attempt)
        with self.step(f"{key.name!r}: the confirmation e-mail notice, Got it"):
            self.appear(dialog.get_by_role("button", name=words("Got it"))).click()
            expect(dialog).to_be_hidden()
        self.human.open_emailed_link(self.name, f"the trusted IPs of {key.name!r}")

    # -- helpers -----------------------------------------------------------------------------

    def card_text(self, key: KeyInfo) -> str:
        """The key's card: every card (and the create form) has the restriction radios."""
        return self.key_text(key.api_key or key.name, "radio", RESTRICTED)
