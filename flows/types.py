"""What flows and the engine pass each other: a key as a page shows it, a binding, a new
key, the words of a sign-in, the credentials, and the person (`Human`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from playwright.sync_api import Locator, Page
from pydantic import SecretStr

from flows.vocabulary import pattern_of


@dataclass(frozen=True)
class KeyInfo:
    """A key as its exchange's API page shows it."""

    name: str  # its label / name / note
    api_key: str | None = None  # the key string, on sites that show it
    # Every text its card or row shows (cells, values, lines): a key whose name the page
    # puts where ipbind did not look for it is still found by it.
    shown: tuple[str, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Binding:
    """What a key has on an exchange that binds keys to a third-party application instead
    of taking an IP list (Bybit): the application, and the key's permissions."""

    app: str | None
    permissions: tuple[str, ...]

    def __str__(self) -> str:
        return f"bound to {self.app or 'no application'} ({', '.join(self.permissions)})"


@dataclass(frozen=True)
class NewKey:
    """A key the flow created: its API key and secret, as the exchange showed them once."""

    api_key: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class SignIn:
    """The words on an exchange's two-step sign-in (password, then authenticator code):
    labels of the fields and names of the buttons, as patterns."""

    username: re.Pattern[str]
    submit: re.Pattern[str]
    code: re.Pattern[str]
    code_submit: re.Pattern[str] | None  # None: the site names no button; Enter sends the code
    password: re.Pattern[str] = re.compile(r"^\s*password\s*$", re.I)


def words(text: str) -> re.Pattern[str]:
    """A control's whole name, case and spacing aside: "Log In" matches " log  in "."""
    return pattern_of(text)


@dataclass
class Credentials:
    username: str
    password: SecretStr
    secrets: dict[str, SecretStr] = field(default_factory=dict)  # a flow's `secrets`, by name
    source: str = "settings"  # where they came from: "settings", "keyring" or "typed"
    check: str | None = None  # what to check when the exchange refuses them (names the source)
    # Called once the exchange has taken them (a question that waits for that: keep a newly
    # typed password in the keyring in place of the refused one?), then forgotten.
    accepted: Callable[[], None] | None = None


class Human(Protocol):
    """The person at the keyboard, for the steps only they can do: a captcha, a sign-in by
    hand, a code or a link the exchange has e-mailed them. The CLI asks at the terminal (or
    hands the visible browser over); tests play the person with a scripted stand-in that
    reads the mock site's inbox (tests/support.py `MailboxHuman`)."""

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        """The person does `message` in the visible browser; returns once `done` shows."""
        ...

    def emailed_code(self, exchange: str, purpose: str) -> str:
        """The code `exchange` has just e-mailed the person for `purpose`, as they give it."""
        ...

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        """Asks the person to open the confirmation link `exchange` e-mailed them for
        `purpose`; True once they say they have, False when they cannot be asked (no
        terminal): the change then stays pending, and the read-back says so."""
        ...

    def signed_in(self, ask: Callable[[], None]) -> None:
        """The exchange has taken a sign-in typed at the terminal: `ask` (keep it in the
        system keyring?) is asked now, in the person's turn."""
        ...

    def which_key(
        self, exchange: str, wanted: str, accounts: list[str], names: list[str]
    ) -> str | None:
        """Which of `names` (the keys `exchange` lists, by name only) is the key Altrady shows
        as `wanted` (its API key) for the trading accounts `accounts`. None: none of them, or
        nobody to ask."""
        ...

    def sign_in_again(
        self, exchange: str, refused: Credentials | None, why: str, tries_left: int
    ) -> Credentials | None:
        """The sign-in of `exchange` (a flow id), asked again: after `refused` was refused
        (`why`, in the site's words), or with `refused` None when there is none to use (a
        kept session the exchange has ended). None: nobody to ask; the run stops there."""
        ...
