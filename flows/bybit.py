"""Bybit (and Bybit Futures: one key serves both): no IP list, a key bound to Altrady.

Bybit shares a pool of Altrady's addresses across all Altrady users: a key is connected to
it by choosing Altrady as the key's third-party application, which can only be done when
the key is created. As a person does it (seed article, "Add IP addresses for Bybit"):
  1. API Management: "Create New Key", "System-generated API Keys".
  2. "Name"; "Connect to Third-Party Applications"; "Altrady" from the "Third-Party
     Application" dropdown; the permissions ("Read-Write", "Orders", "Positions", "Trade").
  3. "Submit": Bybit e-mails a code; the "Google Authenticator" code and the "Email
     verification code", "Confirm".
  4. The new "API Key" and "Secret Key" are shown once ("Understood"): they go into Altrady.
The key list shows each key's permissions and third-party application: the read-back.
"""

from __future__ import annotations

import re
from typing import ClassVar

from playwright.sync_api import Locator, expect

from assistant.errors import SiteChanged
from assistant.logs import redactor
from flows.base import Binding, Flow, KeyInfo, NewKey, Progress, SignIn, words

EDIT = words("Edit")
CREATE = re.compile(r"create new key", re.I)
VERIFICATION = re.compile(r"security verification", re.I)
GOOGLE_CODE = re.compile(r"^\s*google authenticator(\s+code)?\s*$", re.I)
EMAIL_CODE = re.compile(r"email verification code", re.I)
CREATED = re.compile(r"api key created", re.I)
APP_LINE = re.compile(r"third-party application:?\s*(.+)", re.I)
PERMISSIONS_LINE = re.compile(r"permissions:?\s*(.+)", re.I)
API_KEY_TEXT = re.compile(r"API Key:?\s*([A-Za-z0-9]{12,})")
SCOPES = ("Orders", "Positions", "Trade")
PAGE_WORDS = {"spot trade": "Trade"}  # how the key list writes a permission


class Bybit(Flow):
    id = "bybit"
    name = "Bybit"
    origins = ("https://www.bybit.com",)
    api_path = "/app/user/api-management"
    max_ips = 0  # no list: Bybit admits Altrady's shared pool to keys bound to Altrady
    keys_by = "name (exact); a new key is created"
    how = "creates a key bound to Altrady (its shared IP pool), e-mailed code + 2FA"
    mode = "third-party app"
    also: ClassVar[dict[str, str]] = {"bybit-futures": "Bybit Futures"}  # one key serves both
    permission_words = ("Read-Only", "Read-Write", *SCOPES)
    default_permissions = ("Read-Write", *SCOPES)
    sign_in = SignIn(
        username=re.compile(r"email\s*/\s*mobile", re.I),
        submit=words("Log In"),
        code=GOOGLE_CODE,
        code_submit=words("Confirm"),
    )

    @classmethod
    def permissions(cls, wanted: list[str] | None) -> tuple[str, ...]:
        chosen = super().permissions(wanted)
        if sum(level in chosen for level in ("Read-Only", "Read-Write")) != 1:
            raise ValueError("name one of 'Read-Only' or 'Read-Write'")
        return chosen

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=CREATE)

    # -- the keys and their bindings ---------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            keys = []
            for name, text in self.cards(self.page.get_by_role("button", name=EDIT)):
                match = API_KEY_TEXT.search(text)
                keys.append(KeyInfo(name, match.group(1) if match else None))
            return keys

    def binding(self, key: KeyInfo) -> Binding:
        with self.step(f"reading the application and permissions of {key.name!r}"):
            text = self.key_text(key.api_key or key.name, "button", EDIT)
        app, permissions = APP_LINE.search(text), PERMISSIONS_LINE.search(text)
        if app is None or permissions is None:
            raise SiteChanged(
                f"{self.name}: {key.name!r} shows no third-party application or permissions"
            )
        shown = [PAGE_WORDS.get(w.strip().lower(), w.strip()) for w in permissions[1].split(",")]
        name = app[1].strip()
        return Binding(None if name.lower() == "none" else name, self.permissions(shown))

    # -- Create New Key, bound to Altrady ----------------------------------------------------

    def create(self, name: str, binding: Binding, progress: Progress) -> NewKey:
        page = self.page
        form = page.get_by_role("dialog", name=CREATE)
        verify = page.get_by_role("dialog", name=VERIFICATION)
        alerts = page.get_by_role("alert")
        with self.step("Create New Key, System-generated API Keys"):
            page.get_by_role("button", name=CREATE).click()
            page.get_by_role("button", name=re.compile(r"system-generated api keys", re.I)).click()
        with self.step(f"{name!r}: name, Connect to Third-Party Applications, {binding.app}"):
            self.appear(form.get_by_label(words("Name"))).fill(name)  # the form comes with a list
            form.get_by_label(re.compile(r"connect to third-party applications", re.I)).check()
            apps = form.get_by_role("combobox", name=re.compile(r"third-party application", re.I))
            apps.click()
            # The options render outside the dialog, as dropdowns of UI libraries do.
            page.get_by_role("option", name=words(binding.app or "")).click()
            expect(apps).to_have_text(words(binding.app or ""))
        with self.step(f"{name!r}: permissions {', '.join(binding.permissions)}"):
            for level in ("Read-Only", "Read-Write"):
                if level in binding.permissions:
                    form.get_by_label(words(level)).check()
            for scope in SCOPES:
                form.get_by_role("checkbox", name=words(scope)).set_checked(
                    scope in binding.permissions
                )
        with self.step(f"{name!r}: Submit"):
            self.mark_seen(alerts)
            form.get_by_role("button", name=words("Submit")).click()
            self.appear(verify.or_(self.fresh(alerts)).first)
        if not verify.is_visible():
            self.refused(f"creating {name!r}", self.fresh(alerts))
        emailed = self.emailed_code(f"creating the API key {name!r}")
        with self.step(f"{name!r}: the e-mailed code"):
            self.type_secret(verify.get_by_label(EMAIL_CODE), emailed)

        def attempt(code: str) -> str | None:
            with self.step(f"{name!r}: Google Authenticator code, Confirm"):
                self.type_secret(verify.get_by_label(GOOGLE_CODE), code)
                return self.await_outcome(
                    verify.get_by_role("button", name=words("Confirm")).click, [verify], alerts
                )

        self.submit_code(f"creating {name!r}", attempt)
        progress(1, 1, "key created")
        return self.new_key(name)

    def new_key(self, name: str) -> NewKey:
        """The key and secret from the dialog that shows them once, masked from now on."""
        shown = self.page.get_by_role("dialog", name=CREATED)
        with self.step(f"{name!r}: reading the new API key and secret"):
            api_key = shown.get_by_label(words("API Key")).input_value()
            secret = shown.get_by_label(words("Secret Key")).input_value()
        redactor.add(api_key, secret)
        with self.step(f"{name!r}: Understood"):
            shown.get_by_role("button", name=words("Understood")).click()
            expect(shown).to_be_hidden()
        return NewKey(api_key, secret)
