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

SITES.md names no dialog and fixes no key format: the form is the dialog holding "Name",
the verification the one holding "Email verification code", the new key the one holding
"API Key" and "Secret Key"; a key is told apart by its name, and its binding is read from
the words of its card or row, wherever they stand.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import ClassVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, expect

from assistant.errors import IpbindError, UserActionNeeded
from assistant.logs import redactor
from flows.base import Binding, Flow, KeyInfo, NewKey, Progress, SignIn
from flows.vocabulary import Vocabulary

WORDS = Vocabulary("bybit")
USERNAME = WORDS.promised("Email / Mobile", "field")
LOG_IN = WORDS.promised("Log In", "button")
GOOGLE_CODE = WORDS.promised("Google Authenticator", "field", whole=False)
CONFIRM = WORDS.promised("Confirm", "button")
CREATE = WORDS.promised("Create New Key", "button")
SYSTEM_GENERATED = WORDS.promised("System-generated API Keys", "button")
NAME = WORDS.promised("Name", "field")
THIRD_PARTY = WORDS.promised("Connect to Third-Party Applications", "choice")
APPS = WORDS.promised("Third-Party Application", "field", whole=False)
ALTRADY = WORDS.promised("Altrady", "option")
SUBMIT = WORDS.promised("Submit", "button")
EMAIL_CODE = WORDS.promised("Email verification code", "field", whole=False)
API_KEY = WORDS.promised("API Key", "label")
SECRET_KEY = WORDS.promised("Secret Key", "label")
HOLDS_API_KEY = WORDS.promised("API Key", "text", whole=False)
HOLDS_SECRET_KEY = WORDS.promised("Secret Key", "text", whole=False)
UNDERSTOOD = WORDS.promised("Understood", "button")
EDIT = WORDS.promised("Edit", "button")
# The permissions, as the form's controls and as words of the key list ("Read-Write,
# Orders, Positions, Spot Trade": "Trade" is a word of "Spot Trade").
ACCESS = {level: WORDS.promised(level, "choice") for level in ("Read-Only", "Read-Write")}
SCOPES = {scope: WORDS.promised(scope, "option") for scope in ("Orders", "Positions", "Trade")}
PERMISSIONS = {**ACCESS, **SCOPES}
READ_S = 5.0  # how long the new key's dialog is read before its secret is called unreadable


class Bybit(Flow):
    id = "bybit"
    name = "Bybit"
    origins = ("https://www.bybit.com",)
    api_path = "/app/user/api-management"
    max_ips = 0  # no list: Bybit admits Altrady's shared pool to keys bound to Altrady
    keys_by = "name (exact); a new key is created"
    how = "creates a key bound to Altrady (its shared IP pool), e-mailed code + 2FA"
    mail = "an e-mailed code"
    mode = "third-party app"
    also: ClassVar[dict[str, str]] = {"bybit-futures": "Bybit Futures"}  # one key serves both
    vocabulary = WORDS
    permission_words = tuple(PERMISSIONS)
    default_permissions = ("Read-Write", *SCOPES)
    sign_in = SignIn(username=USERNAME, submit=LOG_IN, code=GOOGLE_CODE, code_submit=CONFIRM)
    delete_how = "API Management, the key's Delete"

    @classmethod
    def permissions(cls, wanted: list[str] | None) -> tuple[str, ...]:
        chosen = super().permissions(wanted)
        if sum(level in chosen for level in ACCESS) != 1:
            raise ValueError("name one of 'Read-Only' or 'Read-Write'")
        return chosen

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=CREATE)

    # -- the keys and their bindings ---------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        """Keys by name: SITES.md fixes no format for an API key, so none is guessed at."""
        with self.step("listing the API keys"):
            listed = self.keys_listed(self.page.get_by_role("button", name=EDIT))
            return [KeyInfo(key.name, shown=key.shown) for key in listed]

    def binding(self, key: KeyInfo) -> Binding:
        """The words of the key's card or row, its name (where it first shows) aside:
        "Altrady" among them is the key bound to Altrady (a column, a badge, "Connected app:
        Altrady"); the permission words, wherever they stand."""
        with self.step(f"reading the application and permissions of {key.name!r}"):
            text = self.key_text(key.name, "button", EDIT).replace(key.name, " ", 1)
        tokens = [token.strip(",;:()[]") for token in text.split()]
        shown = tuple(w for w, pattern in PERMISSIONS.items() if any(map(pattern.search, tokens)))
        if not any(level in shown for level in ACCESS):
            raise UserActionNeeded(
                f"{self.name}: {key.name!r} shows none of the permissions "
                f"{', '.join(ACCESS)} where ipbind reads it",
                hint="Check the key on the exchange's API page.",
            )
        app = self.app if any(map(ALTRADY.search, tokens)) else None
        return Binding(app, shown)

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The key's card or row: its permissions and its third-party application."""
        yield self.card(key.name, "button", EDIT)

    # -- Create New Key, bound to Altrady ----------------------------------------------------

    def create(self, name: str, binding: Binding, progress: Progress) -> NewKey:
        assert binding.app == self.app, binding
        page = self.page
        form = page.get_by_role("dialog").filter(has=page.get_by_label(NAME))
        verify = page.get_by_role("dialog").filter(has=page.get_by_label(EMAIL_CODE))
        self.created = None
        with self.step("Create New Key, System-generated API Keys"):
            self.outlined(page.get_by_role("button", name=CREATE)).click()
            self.outlined(page.get_by_role("button", name=SYSTEM_GENERATED)).click()
        with self.step(f"{name!r}: name, Connect to Third-Party Applications, {self.app}"):
            self.outlined(self.appear(form.get_by_label(NAME))).fill(name)
            self.outlined(form.get_by_label(THIRD_PARTY)).check()
            apps = form.get_by_role("combobox", name=APPS)
            self.outlined(apps).click()
            # The options may render outside the dialog, as dropdowns of UI libraries do.
            self.outlined(page.get_by_role("option", name=ALTRADY)).click()
            expect(apps).to_have_text(ALTRADY)
        with self.step(f"{name!r}: permissions {', '.join(binding.permissions)}"):
            for level, pattern in ACCESS.items():
                if level in binding.permissions:
                    self.outlined(form.get_by_label(pattern)).check()
            for scope, pattern in SCOPES.items():
                self.outlined(form.get_by_role("checkbox", name=pattern)).set_checked(
                    scope in binding.permissions
                )
        with self.step(f"{name!r}: Submit"):
            # A refusal shows wherever the site puts its messages, not only as an alert.
            self.until(
                self.outlined(form.get_by_role("button", name=SUBMIT)).click,
                verify,
                f"creating {name!r}",
            )
        emailed = self.emailed_code(f"creating the API key {name!r}")
        with self.step(f"{name!r}: the e-mailed code"):
            self.type_secret(verify.get_by_label(EMAIL_CODE), emailed)

        # From "Confirm" until the secret is read, a Ctrl-C waits: the key may exist by then,
        # and its secret shows this once.
        shield = ExitStack()

        def attempt(code: str) -> str | None:
            with self.step(f"{name!r}: Google Authenticator code, Confirm"):
                self.type_secret(verify.get_by_label(GOOGLE_CODE), code)
                shield.enter_context(self.uninterrupted())
                refusal = self.await_outcome(
                    self.outlined(verify.get_by_role("button", name=CONFIRM)).click, [verify]
                )
            if refusal:  # nothing was created: a Ctrl-C meanwhile stops here
                shield.close()
            return refusal

        with shield:
            self.submit_code(f"creating {name!r}", attempt, verify.get_by_label(GOOGLE_CODE))
            progress(1, 1, "create")
            return self.new_key(name)

    def new_key(self, name: str) -> NewKey:
        """The key and secret from the dialog that shows them once (the dialog holding "API
        Key" and "Secret Key", whatever its title), masked from the moment they are read. The
        dialog is closed only then; a secret that cannot be read is handed to the person on
        that page (`secret_unread`)."""
        page = self.page
        shown = (
            page.get_by_role("dialog")
            .filter(has_text=HOLDS_API_KEY)
            .filter(has_text=HOLDS_SECRET_KEY)
            .first
        )
        api_key = secret = None
        try:
            with self.step(f"{name!r}: reading the new API key and secret"):
                self.appear(shown)
                deadline = time.monotonic() + READ_S
                while True:
                    self.settle()
                    seen = self.changes()
                    api_key = self.value_of(shown, API_KEY)
                    secret = self.value_of(shown, SECRET_KEY)
                    if secret:
                        redactor.add(secret)
                    if (api_key and secret) or time.monotonic() > deadline:
                        break
                    self.changed(seen, deadline - time.monotonic())
        except IpbindError as err:
            self.secret_unread(name, api_key, err.message)
        if not api_key or not secret:
            missing = "its Secret Key" if api_key else "its API Key and Secret Key"
            self.secret_unread(name, api_key, f"the dialog shows {missing} in no way ipbind reads")
        assert api_key and secret
        redactor.add(api_key)
        self.created = NewKey(api_key, secret)
        with self.step(f"{name!r}: Understood"):
            self.outlined(shown.get_by_role("button", name=UNDERSTOOD)).click()
            expect(shown).to_be_hidden()
        return self.created

    def secret_unread(self, name: str, api_key: str | None, why: str) -> None:
        """The key exists now and its secret shows this once: the page is the person's. In a
        visible browser a banner asks them to copy it into Altrady, and the run waits for
        them; then (or at once, headless) the run stops, saying what was created and how to
        delete it."""
        which = f"{name!r}" + (f" (API key {api_key})" if api_key else "")
        try:
            self.human.hand_off(
                self.page,
                f"copy the Secret Key of the new {self.name} key {which} into Altrady now: "
                f"{self.name} shows it this once, and ipbind could not read it ({why}); "
                "then close the dialog",
                self.page.locator("html:not(:has([role=dialog]))"),
            )
            handed = "its secret was left on the page for you"
        except (UserActionNeeded, PlaywrightError):  # no one at the window (headless)
            handed = "its secret was shown only on the page, which is closed now"
        raise UserActionNeeded(
            f"{self.name}: the API key {which} was created, bound to {self.app}, but ipbind "
            f"could not read its secret ({why}); {handed}",
            hint=f"If its secret is not in Altrady, delete the key on {self.name} "
            f"({self.delete_how}) and run again.",
        )
