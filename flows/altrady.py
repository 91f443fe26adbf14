"""Altrady itself: where the allocation comes from (SITES.md, section "altrady").

Not an exchange, so not in FLOWS: `ipbind import altrady` reads it. It signs in as every flow
does ("Email", "Password", "Log in", then the "Google Authenticator" code), follows
"Settings" and "Exchange Account API Keys", and reads each trading account's row (its name,
its API key, "Edit" or "Resolve") and edit dialog (the key, the allocated addresses, the
extra keys), giving the "5 word pass key" when Altrady asks for it. It never clicks "Update
API Key or Secret" or "+Add extra key"; "Update" only in `update`, which `sync` calls once a
trading account's keys are all verified on their exchange.

SITES.md fixes no path but the app's own, no dialog title, and not how a row says which
exchange the account is on: the exchange is found by its name anywhere in the row or the
dialog (`exchange_named`), and the dialog by what it holds (the "Update" button).
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from assistant.errors import SignInRefused, UserActionNeeded
from flows.base import Flow, KeyInfo, SignIn, ips_in
from flows.cards import key_strings
from flows.vocabulary import Vocabulary, any_of

WORDS = Vocabulary("altrady")
EMAIL = WORDS.promised("Email", "field")
PASSWORD = WORDS.promised("Password", "field")
LOG_IN = WORDS.promised("Log in", "button")
CODE = WORDS.promised("Google Authenticator", "field", whole=False)
SETTINGS = WORDS.promised("Settings", "button")
API_KEYS = WORDS.promised("Exchange Account API Keys", "button")
EDIT = WORDS.promised("Edit", "button")
RESOLVE = WORDS.promised("Resolve", "button")
PASS_KEY = WORDS.promised("5 word pass key", "field", whole=False)
UPDATE = WORDS.promised("Update", "button")
CLOSE = WORDS.optional("Close", "button")


@dataclass(frozen=True)
class TradingAccount:
    """A trading account as Altrady's list and edit dialog show it."""

    name: str
    key: str
    ips: list[str]
    extra_keys: list[str]
    resolve: bool  # "Resolve" in place of "Edit": its whitelist is no longer valid
    shown: tuple[str, ...]  # every text of its row and dialog (the exchange is among them)


class Altrady(Flow):
    id = "altrady"
    name = "Altrady"
    origins = ("https://app.altrady.com",)
    api_path = "/"  # the app; its settings are found by following "Settings"
    max_ips = 20
    how = "the source of the allocation: read by `ipbind import altrady`"
    mode = "source"
    keys_by = "trading account"
    secrets = ("pass_key",)
    vocabulary = WORDS
    sign_in = SignIn(username=EMAIL, password=PASSWORD, submit=LOG_IN, code=CODE, code_submit=None)

    def api_page_ready(self) -> Locator:
        return self.control(SETTINGS)

    def control(self, name: re.Pattern[str]) -> Locator:
        """A control a person clicks to go somewhere: a link, a button, a tab or a menu item."""
        page = self.page
        roles = ("link", "tab", "menuitem")
        found = page.get_by_role("button", name=name)
        for role in roles:
            found = found.or_(page.get_by_role(role, name=name))  # type: ignore[arg-type]
        return found

    # -- reading ---------------------------------------------------------------------------

    def open_keys(self) -> None:
        """Settings > Exchange Account API Keys, from the app."""
        with self.step('following "Settings"'):
            self.outlined(self.appear(self.control(SETTINGS).first)).click()
        with self.step('following "Exchange Account API Keys"'):
            self.outlined(self.appear(self.control(API_KEYS).first)).click()
            self.settle()
        self.list_url = self.page.url

    def rows(self) -> Locator:
        return self.page.get_by_role("button", name=any_of(EDIT, RESOLVE))

    def trading_accounts(self) -> list[KeyInfo]:
        """Each row: the trading account's name, its API key, and all it shows ("Resolve"
        among it, where it shows that)."""
        with self.step("reading the trading accounts"):
            return self.keys_listed(self.rows())

    def edit(self, name: str) -> tuple[Locator, bool]:
        """Opens the trading account's dialog (the pass key first, if Altrady asks): the
        dialog, found by its "Update" button, and whether the row said "Resolve"."""
        page = self.page
        update = page.get_by_role("button", name=UPDATE)
        pass_key = page.get_by_label(PASS_KEY)
        with self.step(f"opening {name!r}"):
            control = self.key_control(name, "button", any_of(EDIT, RESOLVE))
            resolve = bool(RESOLVE.search(control.inner_text()))
            self.outlined(control).click()
            self.appear(update.or_(pass_key).first)
        if not update.first.is_visible() and pass_key.first.is_visible():
            self.unlock(pass_key, update)
        return page.get_by_role("dialog").filter(has=update), resolve

    def update(self, name: str) -> None:
        """Clicks "Update" in the trading account's dialog: Altrady takes its keys as
        whitelisted. Done once the server has taken it (SITES.md promises no words after)."""
        dialog, _ = self.edit(name)
        with self.step(f'clicking "Update" for {name!r}'):
            self.settle()
            button = dialog.first.get_by_role("button", name=UPDATE)
            self.sent(self.outlined(button).click, f'"Update" of {name!r}')
        self.close_dialog(dialog)

    def read_account(self, row: KeyInfo) -> TradingAccount:
        """Opens the row's dialog (the pass key first, if Altrady asks), reads it, closes it."""
        dialog, resolve = self.edit(row.name)
        with self.step(f"reading {row.name!r}"):
            self.settle()
            text = dialog.first.inner_text()
            values = dialog.first.locator("input, textarea").evaluate_all(
                "els => els.map((el) => el.value)"
            )
        whole = "\n".join([text, *values])
        keys = key_strings(whole)
        key = row.api_key or (keys[0] if keys else "")
        self.close_dialog(dialog)
        return TradingAccount(
            name=row.name,
            key=key,
            ips=ips_in(whole),
            extra_keys=[k for k in keys if k != key],
            resolve=resolve,
            shown=(*row.shown, *(line.strip() for line in text.splitlines() if line.strip())),
        )

    def unlock(self, field: Locator, revealed: Locator) -> None:
        secret = self.credentials.secrets.get("pass_key") if self.credentials else None
        if secret is None:
            raise UserActionNeeded(
                "Altrady asks for your 5 word pass key to show the keys",
                hint="Set IPBIND_ALTRADY__PASS_KEY, or run `ipbind import altrady` at a "
                "terminal, which asks for it (hidden).",
            )
        with self.step("giving the 5 word pass key"):
            self.type_secret(field.first, secret)
            self.until(
                lambda: field.first.press("Enter"),
                revealed,
                "the pass key",
                hint="Check IPBIND_ALTRADY__PASS_KEY (Altrady's 5 word pass key).",
                refused=SignInRefused,
            )

    def close_dialog(self, dialog: Locator) -> None:
        """Its close button, else Escape, else the list loaded again (SITES.md says nothing of
        how a dialog closes, nor whether "Update" closes it)."""
        with self.step("closing the dialog"):
            close = dialog.first.get_by_role("button", name=CLOSE)
            with suppress(PlaywrightError):  # a dialog that closed meanwhile
                if dialog.first.is_visible() and close.count():
                    close.first.click(timeout=1000)
                if dialog.first.is_visible():
                    self.page.keyboard.press("Escape")
            with suppress(PlaywrightTimeout):
                dialog.first.wait_for(state="hidden", timeout=1000)
            if dialog.first.is_visible():
                self.page.goto(self.list_url)
            self.settle()

    list_url: str = ""
