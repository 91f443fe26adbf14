"""Binance: the "most exchanges" pattern — paste all, Confirm, Save, Security Verification.

As a person does it (seed article, "most exchanges"):
  1. API Management: find the key by its label or its API key; "Edit restrictions".
  2. Choose "Restrict access to trusted IPs only (Recommended)".
  3. Paste the addresses into "IP address" and press "Confirm": each becomes an entry.
  4. "Save", then "Security Verification": the authenticator app code, "Submit".
  5. The key now lists its trusted IPs as read-only text: that is what we verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in
from flows.vocabulary import Vocabulary, any_of

WORDS = Vocabulary("binance")
LABEL = WORDS.promised("label", "label")  # "keys listed with their label"
EDIT = WORDS.promised("Edit restrictions", "button")
CODE = WORDS.promised("Authenticator App Code", "field", whole=False)
SUBMIT = WORDS.promised("Submit", "button")
RESTRICTED = WORDS.promised("Restrict access to trusted IPs only", "choice", whole=False)
IP_FIELD = WORDS.promised("IP address", "field")
CONFIRM = WORDS.promised("Confirm", "button")
SAVE = WORDS.promised("Save", "button")
# "each with a remove button": its name may also say "delete", and name the entry.
REMOVE = any_of(WORDS.promised("remove", "button", whole=False), WORDS.optional("delete", "button"))


class Binance(Flow):
    id = "binance"
    name = "Binance"
    origins = ("https://www.binance.com", "https://accounts.binance.com")
    api_path = "/en/my/settings/api-management"
    max_ips = 30
    how = "paste all, Confirm, Save, 2FA"
    mode = "bulk"
    unrestricted = "30 days without trading"
    separators = ", \n"
    vocabulary = WORDS
    sign_in = SignIn(
        username=WORDS.promised("Email/Phone number", "field"),
        submit=WORDS.promised("Log In", "button"),
        code=CODE,
        code_submit=SUBMIT,
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=EDIT)

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            return self.keys_listed(self.page.get_by_role("button", name=EDIT), LABEL)

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"reading the trusted IPs of {key.name!r}"):
            text = self.key_text(key.api_key or key.name, "button", EDIT)
            return ips_in(text.replace(key.api_key, " ") if key.api_key else text)

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The key's card: its trusted IPs as read-only text."""
        yield self.card(key.api_key or key.name, "button", EDIT)

    # -- edit, paste, Confirm, Save, Security Verification ---------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        page = self.page
        with self.step(f"{key.name!r}: Edit restrictions"):
            self.outlined(self.key_control(key.api_key or key.name, "button", EDIT)).click()
            self.outlined(self.appear(page.get_by_label(RESTRICTED))).check()
        for ip in remove:
            with self.step(f"{key.name!r}: removing {ip}"):
                # The entry's own remove button: the one beside the entry's text.
                self.outlined(self.key_control(ip, "button", REMOVE)).click()
        if add:
            with self.step(f"{key.name!r}: pasting {len(add)} addresses, Confirm"):
                self.outlined(page.get_by_label(IP_FIELD)).fill("\n".join(add))
                self.outlined(page.get_by_role("button", name=CONFIRM)).click()
                # Text not turned into entries would be ignored on Save: check every one.
                for ip in add:
                    self.appear(page.get_by_text(ip, exact=True).first)
            progress(len(add), len(add), "add")
        # The dialog is the one asking for the code, whatever its title (or none).
        dialog = page.get_by_role("dialog").filter(has=page.get_by_label(CODE))
        save = page.get_by_role("button", name=SAVE)

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Save, Security Verification"):
                if not dialog.first.is_visible():
                    self.until(self.outlined(save.first).click, dialog, f"saving {key.name!r}")
                self.type_secret(dialog.first.get_by_label(CODE), code)
                # Saved once both the dialog and the edit form are gone; an error (from the
                # code, or the server's validation), wherever it shows, is the other way out.
                return self.await_outcome(
                    self.outlined(dialog.first.get_by_role("button", name=SUBMIT)).click,
                    [dialog, save],
                )

        self.submit_code(f"saving {key.name!r}", attempt, dialog.first.get_by_label(CODE))
