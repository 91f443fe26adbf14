"""Where each exchange's sign-in comes from, for every command that signs in (plan, apply,
verify, run, login), in this order:

    settings   IPBIND_<EXCHANGE>__USERNAME / __PASSWORD / __TOTP_SECRET (environment, a
               .env file, the config file)
    keyring    the system keyring (the `keyring` package: Secret Service, macOS Keychain,
               Windows Credential Locker), under the service "ipbind", one entry per field
               ("kraken.password")
    session    the browser session `ipbind login` kept: it stands in for a sign-in, so
               nothing is asked (the run signs in as below only if the exchange ended it)
    typed      asked at the terminal, the password and secrets hidden; then ipbind offers to
               keep the password and TOTP secret in the keyring

With no terminal, or under --yes or --json, nothing is asked: a sign-in still missing stops
the run before any browser starts (exit 2), naming the variables to set. A machine with no
keyring backend is told so once, and the run carries on. Every value found or typed here is
registered with the log redactor at once.

A refused password is asked again at the terminal (`ask_again`, called through
`Human.sign_in_again`), and a sign-in still refused says where its credentials came from:
typed, the keyring, or the variables the person set (`check_for`), never others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Literal

import keyring
from keyring.errors import KeyringError
from pydantic import SecretStr
from rich.console import Console

from assistant import browser as browsers
from assistant import keyboard
from assistant.errors import BadInput, Interrupted
from assistant.logs import redactor
from assistant.settings import BaseIpbindSettings, ExchangeSettings, config_file, parse_totp
from flows import SIGN_INS
from flows.types import Credentials

Source = Literal["settings", "keyring", "typed"]
SERVICE = "ipbind"
TOTP = "totp_secret"

_told_no_keyring = False  # "no keyring here" is said once per process


def fields_of(exchange: str) -> list[str]:
    """What a sign-in of `exchange` may keep: its username, password, TOTP secret and the
    flow's own secrets (a fund password)."""
    return ["username", "password", TOTP, *SIGN_INS[exchange].secrets]


def source_of(conf: ExchangeSettings) -> Source:
    return getattr(conf, "_sign_in_from", None) or "settings"


def with_source(conf: ExchangeSettings, source: Source, **values: Any) -> ExchangeSettings:
    """`conf` with `values` (SecretStr where they are secret), marked with where its
    password came from."""
    update = {
        name: (SecretStr(value) if name != "username" and isinstance(value, str) else value)
        for name, value in values.items()
    }
    copy = conf.model_copy(update=update)
    copy._sign_in_from = source
    return copy


# -- the system keyring --------------------------------------------------------------------


def keyring_name() -> str | None:
    """The keyring backend's name ("SecretService Keyring"), None when there is none (the
    `fail` and `null` backends have no positive priority)."""
    try:
        backend = keyring.get_keyring()
        priority = getattr(backend, "priority", 1)
    except Exception:  # a broken backend is no backend
        return None
    if not isinstance(priority, int | float) or priority <= 0:
        return None
    return str(getattr(backend, "name", type(backend).__name__))


def no_keyring(console: Console, why: str | None = None) -> None:
    """Says, once, that there is no keyring to keep a sign-in in."""
    global _told_no_keyring
    if _told_no_keyring:
        return
    _told_no_keyring = True
    console.print(
        f"No system keyring is available here{f' ({why})' if why else ''}: a sign-in typed at "
        "the terminal is used for this run only. To sign in without typing next time, set "
        "the IPBIND_… variables or keep a session with `ipbind login EXCHANGE`.",
        style="yellow",
        markup=False,
        highlight=False,
    )


def kept(exchange: str, field: str) -> str | None:
    """The value the keyring keeps for `exchange`'s `field`, or None (none, or no keyring)."""
    if keyring_name() is None:
        return None
    try:
        value = keyring.get_password(SERVICE, f"{exchange}.{field}")
    except (KeyringError, OSError, RuntimeError):
        return None
    if value and field != "username":
        redactor.add(value)
    return value or None


def keep(exchange: str, values: dict[str, str]) -> None:
    for field, value in values.items():
        keyring.set_password(SERVICE, f"{exchange}.{field}", value)


def forget(exchange: str) -> bool:
    """Deletes every keyring entry of `exchange`; True if there was one."""
    if keyring_name() is None:
        return False
    found = False
    for field in fields_of(exchange):
        try:
            if keyring.get_password(SERVICE, f"{exchange}.{field}") is None:
                continue
            keyring.delete_password(SERVICE, f"{exchange}.{field}")
            found = True
        except (KeyringError, OSError, RuntimeError):
            continue
    return found


# -- settings → keyring → session → typed ------------------------------------------------


def complete(
    settings: BaseIpbindSettings,
    exchanges: Iterable[str],
    console: Console,
    *,
    ask: bool,
    terminal: bool,
    by_hand: bool = False,
    sessions: bool = True,
) -> BaseIpbindSettings:
    """`settings` with each exchange's sign-in found (settings, then the keyring) or typed
    (when `ask`). An exchange with a kept session needs none. `by_hand`: a person may sign in
    in the visible window instead (a headed run, `login`): a missing sign-in is left so, and
    Enter at the username chooses it. `terminal`: codes can be asked at the terminal (else a
    TOTP secret is named with what is missing; alone, the engine's preflight names it).
    `sessions`: a kept session counts (not for `ipbind login`, which makes a new one).
    BadInput (exit 2) names every variable still missing."""
    missing: list[str] = []
    for exchange in dict.fromkeys(exchanges):
        if SIGN_INS[exchange].mode == "assisted":  # no flow signs in: the person does
            continue
        conf = settings.exchange(exchange)
        redactor.add(*conf.secret_values())
        found = {
            field: kept(exchange, field) for field in fields_of(exchange) if not filled(conf, field)
        }
        found = {field: value for field, value in found.items() if value}
        source: Source = "keyring" if "password" in found else source_of(conf)
        if found:
            conf = with_source(conf, source, **found)
        if conf.username and conf.password:
            pass
        elif sessions and browsers.session_file(settings.state_home, exchange).is_file():
            continue  # `ipbind login`'s session stands in for the sign-in
        elif ask:
            typed = ask_sign_in(console, exchange, conf, by_hand=by_hand)
            if typed is None:  # Enter: the person signs in in the window
                continue
            conf = typed
        elif by_hand:
            continue
        else:
            missing.extend(needed(exchange, conf, terminal))
            continue
        settings = settings.model_copy(update={exchange: conf})
    if missing:
        raise BadInput(
            "no sign-in and nobody to ask (no terminal, or --yes / --json): set "
            + ", ".join(missing),
            hint="Or run it once at a terminal: ipbind asks, and can keep the password in the "
            "system keyring; or keep a session with `ipbind login EXCHANGE`.",
        )
    return settings


def filled(conf: ExchangeSettings, field: str) -> bool:
    value = getattr(conf, field, None)
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value().strip())
    return bool(value)


def needed(exchange: str, conf: ExchangeSettings, terminal: bool) -> list[str]:
    """The variables a run with nobody to ask needs for `exchange`."""
    fields = ["username", "password"] + ([] if terminal else [TOTP])
    return [
        f"IPBIND_{exchange.upper()}__{field.upper()}" for field in fields if not filled(conf, field)
    ]


def ask_sign_in(
    console: Console, exchange: str, conf: ExchangeSettings, *, by_hand: bool = False
) -> ExchangeSettings | None:
    """The sign-in typed at the terminal (what the settings and keyring lack), then the
    offer to keep it in the keyring. None: the person chose to sign in in the window."""
    name = SIGN_INS[exchange].name
    console.print(
        f"No sign-in for {name} is set (IPBIND_{exchange.upper()}__USERNAME / __PASSWORD) or "
        "kept in the system keyring. Type it here; the password is hidden.",
        markup=False,
        highlight=False,
    )
    hand = " (Enter: sign in yourself in the browser window)" if by_hand else ""
    username = conf.username or ""
    while not conf.username:
        username = prompt(console, f"{name} e-mail or username{hand}")
        if username or by_hand:
            break
        console.print("This one is needed.", style="yellow")
    if not username:
        return None
    values: dict[str, str] = {"username": username}
    if not filled(conf, "password"):
        values["password"] = hidden(console, f"{name} password (hidden)")
    if conf.totp_secret is None:
        totp = totp_secret(console, name, conf.totp_period)
        if totp:
            values[TOTP] = totp
    for secret in SIGN_INS[exchange].secrets:
        if not filled(conf, secret):
            values[secret] = hidden(console, f"{name} {secret.replace('_', ' ')} (hidden)")
    redactor.add(*(v for k, v in values.items() if k != "username"))
    typed = with_source(conf, "typed", **values)
    typed._on_taken = once(partial(offer_to_keep, console, exchange, values))
    return typed


def once(ask: Callable[[], None]) -> Callable[[], None]:
    """`ask`, asked the first time only (a run may sign in to an exchange more than once)."""
    asked: list[bool] = []

    def first_time() -> None:
        if not asked:
            asked.append(True)
            ask()

    return first_time


def totp_secret(console: Console, name: str, period: int) -> str:
    """The TOTP secret, checked; empty: the codes are asked as they are needed."""
    while True:
        raw = prompt(
            console,
            f"{name} authenticator (TOTP) secret, Base32 or otpauth:// (hidden; Enter to type "
            "each code when asked)",
            password=True,
        )
        if not raw:
            return ""
        try:
            parse_totp(raw, period)
        except ValueError as err:
            console.print(f"{err}: type it again.", style="yellow", markup=False)
            continue
        return raw


def offer_to_keep(console: Console, exchange: str, values: dict[str, str]) -> None:
    """Once the exchange has taken the sign-in typed at the terminal (a typo is never kept):
    offers to keep it in the keyring (default no); says once when there is no keyring."""
    backend = keyring_name()
    if backend is None:
        no_keyring(console)
        return
    what = "password and authenticator secret" if TOTP in values else "password"
    if not yes(
        console,
        f"{SIGN_INS[exchange].name} took the sign-in you typed. Keep the {what} in the system "
        f"keyring ({backend}), so that the next run does not ask?",
    ):
        console.print(
            f"Not kept. (`ipbind login {exchange}` keeps a browser session instead.)",
            markup=False,
        )
        return
    try:
        keep(exchange, values)
    except (KeyringError, OSError, RuntimeError) as err:
        no_keyring(console, type(err).__name__)
        return
    console.print(
        f"Kept in the system keyring; `ipbind logout {exchange}` forgets it.", markup=False
    )


def ask_again(
    console: Console, exchange: str, refused: Credentials | None, why: str, tries_left: int
) -> Credentials | None:
    """After a refused sign-in (`why`, in the site's words), the username and password asked
    again; once the exchange takes them, a keyring's refused password may be replaced by the
    new one, and one typed here offered to the keyring as a first typing is
    (`Credentials.accepted`: a refused one is never offered). None: nobody to ask (the
    caller then stops with the refusal)."""
    name = SIGN_INS[exchange].name
    console.print(
        f"{why}. Type the {name} sign-in again ({tries_left} "
        f"{'try' if tries_left == 1 else 'tries'} left):",
        style="yellow",
        markup=False,
        highlight=False,
    )
    before = refused.username if refused is not None else None
    username = ""
    while not username:
        username = prompt(console, f"{name} e-mail or username", default=before)
    password = ""
    while not password:
        password = hidden(console, f"{name} password (hidden)")
    redactor.add(password)
    from_keyring = refused is not None and refused.source == "keyring" and keyring_name()
    typed_before = refused is not None and refused.source == "typed"

    def replace_kept() -> None:
        question = f"{name} took the new password. Replace the one kept in the system keyring?"
        if yes(console, question):
            try:
                keep(exchange, {"username": username, "password": password})
            except (KeyringError, OSError, RuntimeError) as err:
                no_keyring(console, type(err).__name__)

    return Credentials(
        username,
        SecretStr(password),
        dict(refused.secrets) if refused else {},
        source="typed",
        check=check_for(exchange, "typed"),
        accepted=replace_kept
        if from_keyring
        else partial(offer_to_keep, console, exchange, {"username": username, "password": password})
        if typed_before
        else None,
    )


def check_for(exchange: str, source: Source) -> str:
    """What to check when the sign-in is refused: where its credentials came from, never
    variables the person has not set."""
    name = SIGN_INS[exchange].name
    if source == "typed":
        return f"Check the {name} username and password you typed, and run again."
    if source == "keyring":
        return (
            f"The {name} password kept in the system keyring was refused: `ipbind logout "
            f"{exchange}` forgets it, and the next run at a terminal asks."
        )
    names = [f"IPBIND_{exchange.upper()}__{f}" for f in ("USERNAME", "PASSWORD")]
    set_here = [n for n in names if n in os.environ]
    if set_here:
        return f"Check {' and '.join(set_here)}."
    return f"Check the {name} username and password in {config_file()} (or a .env file)."


# -- asking --------------------------------------------------------------------------------


def prompt(
    console: Console, text: str, *, password: bool = False, default: str | None = None
) -> str:
    shown = f"{text} [{default}]: " if default else f"{text}: "
    try:
        answer = keyboard.ask(console, shown, hidden=password)
    except (EOFError, KeyboardInterrupt):
        raise Interrupted("interrupted while asking for the sign-in; nothing was changed") from None
    return answer.strip() or (default or "")


def hidden(console: Console, text: str) -> str:
    while True:
        answer = prompt(console, text, password=True)
        if answer:
            return answer
        console.print("This one is needed.", style="yellow")


def yes(console: Console, question: str) -> bool:
    while True:
        answer = prompt(console, question + " [y/N]").lower()
        if answer in ("", "n", "no"):
            return False
        if answer in ("y", "yes"):
            return True
        console.print("Answer y or n.", style="yellow")
