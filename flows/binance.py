"""Binance: the "most exchanges" pattern — paste all, Confirm, Save, Security Verification.

As a person does it (seed article, "most exchanges"):
  1. API Management: find the key by its label or its API key; "Edit restrictions".
  2. Choose "Restrict access to trusted IPs only (Recommended)".
  3. Paste the addresses into "IP address" and press "Confirm": each becomes an entry.
  4. "Save", then "Security Verification": the authenticator app code, "Submit".
  5. The key now lists its trusted IPs as read-only text: that is what we verify.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in, words

EDIT = words("Edit restrictions")
VERIFICATION = re.compile(r"security verification", re.I)
CODE = re.compile(r"authenticator app code", re.I)
SUBMIT = words("Submit")
RESTRICTED = re.compile(r"restrict access to trusted ips", re.I)
API_KEY_TEXT = re.compile(r"\b[A-Za-z0-9]{48,80}\b")


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
    sign_in = SignIn(
        username=re.compile(r"email\s*/\s*phone", re.I),
        submit=words("Log In"),
        code=CODE,
        code_submit=SUBMIT,
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=EDIT).or_(
            self.page.get_by_role("heading", name=re.compile(r"api management", re.I))
        )

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            keys = []
            for name, text in self.cards(self.page.get_by_role("button", name=EDIT)):
                match = API_KEY_TEXT.search(text)
                keys.append(KeyInfo(name, match.group(0) if match else None))
            return keys

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"reading the trusted IPs of {key.name!r}"):
            text = self.key_text(key.api_key or key.name, "button", EDIT)
            return ips_in(text.replace(key.api_key, " ") if key.api_key else text)

    # -- edit, paste, Confirm, Save, Security Verification ---------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        page = self.page
        with self.step(f"{key.name!r}: Edit restrictions"):
            self.key_control(key.api_key or key.name, "button", EDIT).click()
            self.appear(page.get_by_label(RESTRICTED)).check()
        for ip in remove:
            with self.step(f"{key.name!r}: removing {ip}"):
                page.get_by_role(
                    "button",
                    name=re.compile(rf"(remove|delete)\b.*{re.escape(ip)}(?![\d.:/])", re.I),
                ).click()
        if add:
            with self.step(f"{key.name!r}: pasting {len(add)} addresses, Confirm"):
                page.get_by_label(re.compile(r"^\s*ip address", re.I)).fill("\n".join(add))
                page.get_by_role("button", name=words("Confirm")).click()
                # Text not turned into entries would be ignored on Save: check every one
                # (all at once; one by one only those not shown yet).
                one_of = "|".join(map(re.escape, add))
                entries = page.get_by_text(re.compile(rf"^\s*(?:{one_of})\s*$"))
                self.appear(entries.first)
                shown = {text.strip() for text in entries.filter(visible=True).all_inner_texts()}
                for ip in add:
                    if ip not in shown:
                        self.appear(page.get_by_text(ip, exact=True).first)
            progress(len(add), len(add), "addresses entered")
        dialog = page.get_by_role("dialog", name=VERIFICATION)
        save = page.get_by_role("button", name=words("Save"))
        alerts = page.get_by_role("alert")

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Save, Security Verification"):
                if not dialog.is_visible():
                    self.mark_seen(alerts)
                    save.click()
                    self.appear(dialog.or_(self.fresh(alerts)).first)
                    if not dialog.is_visible():  # refused before any code was asked for
                        return " ".join(self.fresh(alerts).inner_text().split())
                self.type_secret(dialog.get_by_label(CODE), code)
                # Saved once both the dialog and the edit form are gone; an inline error
                # (from the code, or the server's validation) is the other way out.
                return self.await_outcome(
                    dialog.get_by_role("button", name=SUBMIT).click, [dialog, save], alerts
                )

        self.submit_code(f"saving {key.name!r}", attempt)
