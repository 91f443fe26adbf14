"""Huobi (HTX): the whole list in one comma-separated field, an e-mailed code and 2FA.

As a person does it (seed article, "most exchanges", and "Extra Keys"):
  1. API Management: find the key by its Note (or its access key); "Edit".
  2. "Link IP address or IP segment (optional)" holds the key's list, comma-separated:
     what is saved is the field's whole content, so the addresses already there stay in it.
  3. "Confirm" opens "Security Authentication": "Send code" e-mails a code to the person;
     their e-mailed code and the "Google Authenticator code", then "Confirm".
  4. Extra keys: the same list on each, by its own Note.
The list page shows only the first few linked IPs ("+N more"), so the saved list is read
from the key's edit view.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, expect

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in, words

EDIT = words("Edit")
EDIT_DIALOG = re.compile(r"edit api key", re.I)
IP_FIELD = re.compile(r"link ip address or ip segment", re.I)
AUTHENTICATION = re.compile(r"security authentication", re.I)
EMAIL_CODE = re.compile(r"email verification code", re.I)
GOOGLE_CODE = re.compile(r"google authenticator code", re.I)
CONFIRM = words("Confirm")
CODE_SENT = re.compile(r"code has been sent|code sent", re.I)
ACCESS_KEY_TEXT = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{5,}\b", re.I)


class Huobi(Flow):
    id = "huobi"
    name = "Huobi (HTX)"
    origins = ("https://www.htx.com", "https://www.huobi.com")
    api_path = "/en-us/apikey/"
    max_ips = 20
    cidr = True
    keys_by = "Note, or access key"
    how = "comma-separated list, Confirm, e-mailed code + 2FA; extra keys get the same list"
    mode = "bulk"
    unrestricted = "90 days"
    sign_in = SignIn(
        username=re.compile(r"email\s*/\s*phone", re.I),
        submit=words("Log In"),
        code=GOOGLE_CODE,
        code_submit=CONFIRM,
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("heading", name=re.compile(r"api management", re.I))

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            keys = []
            for name, text in self.cards(self.page.get_by_role("button", name=EDIT)):
                match = ACCESS_KEY_TEXT.search(text)
                keys.append(KeyInfo(name, match.group(0) if match else None))
            return keys

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"{key.name!r}: reading the linked IPs"):
            field = self.edit(key)
            ips = ips_in(field.input_value())
            dialog = self.edit_dialog()
            dialog.get_by_role("button", name=words("Cancel")).click()
            expect(dialog).to_be_hidden()
        return ips

    # -- edit, the whole list, Confirm, e-mailed code and 2FA ------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        page = self.page
        with self.step(f"{key.name!r}: Edit, the linked IPs"):
            field = self.edit(key)
            current = [ip for ip in ips_in(field.input_value()) if ip not in remove]
            field.fill(", ".join(current + [ip for ip in add if ip not in current]))
            progress(len(add), len(add), "addresses entered")
        auth = page.get_by_role("dialog", name=AUTHENTICATION)
        alerts = page.get_by_role("alert")
        with self.step(f"{key.name!r}: Confirm, Security Authentication, Send code"):
            self.edit_dialog().get_by_role("button", name=CONFIRM).click()
            self.appear(auth)
            auth.get_by_role("button", name=re.compile(r"^\s*send code\s*$", re.I)).click()
            self.appear(auth.get_by_text(CODE_SENT))
        emailed = self.emailed_code(f"saving the linked IPs of {key.name!r}")
        with self.step(f"{key.name!r}: the e-mailed code"):
            self.type_secret(auth.get_by_label(EMAIL_CODE), emailed)

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Google Authenticator code, Confirm"):
                self.type_secret(auth.get_by_label(GOOGLE_CODE), code)
                # Saved once both dialogs are gone; an error in either is the other way out.
                return self.await_outcome(
                    auth.get_by_role("button", name=CONFIRM).click,
                    [auth, self.edit_dialog()],
                    alerts,
                )

        self.submit_code(f"saving {key.name!r}", attempt)

    # -- helpers -----------------------------------------------------------------------------

    def edit_dialog(self) -> Locator:
        return self.page.get_by_role("dialog", name=EDIT_DIALOG)

    def edit(self, key: KeyInfo) -> Locator:
        """The key's edit dialog, settled: its field holding the key's whole list. The page's
        "Create API Key" form has a field of the same words; this one is the dialog's."""
        self.key_control(key.api_key or key.name, "button", EDIT).click()
        field = self.edit_dialog().get_by_label(IP_FIELD)
        self.appear(field)
        self.settle()
        return field
