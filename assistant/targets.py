"""What a run is to do, and whether it can: the allocation grouped into targets (a key, or
an account-wide list, and its addresses), each target's key found among the keys a page
lists, and the settings checked before any browser starts."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from loguru import logger

from assistant import browser as browsers
from assistant.allocation import Account, Allocation, documentation_ips
from assistant.errors import BadInput, UserActionNeeded
from assistant.outcome import ACCOUNT_LIST, Target
from assistant.paths import overrides_dir, write_private
from assistant.settings import BaseIpbindSettings, is_loopback_url, site_origin
from flows import FLOWS, SIGN_INS
from flows.base import COMMON, Binding, Flow, KeyInfo
from flows.fixes import Fixes


def targets_of(allocation: Allocation) -> dict[str, list[Target]]:
    """Targets per exchange, in file order. Account-wide exchanges get one merged list."""
    grouped: dict[str, list[Target]] = {}
    for account in allocation.accounts:
        flow = FLOWS[account.exchange]
        targets = grouped.setdefault(account.exchange, [])
        if account.binds:  # one key may serve several accounts (Bybit and Bybit Futures)
            binding = Binding(flow.app, account.permissions)
            same = [t for t in targets if t.key == account.key]
            if same:
                same[0].accounts.append(account.name)
            else:
                targets.append(Target(account.exchange, account.key, [account.name], [], binding))
            continue
        if flow.scope == "account":
            if not targets:
                targets.append(Target(account.exchange, ACCOUNT_LIST, [], []))
            merged = targets[0]
            merged.accounts.append(account.name)
            merged.ips.extend(ip for ip in account.ips if ip not in merged.ips)
            continue
        targets.extend(
            Target(account.exchange, key, [account.name], list(account.ips)) for key in account.keys
        )
    return grouped


class KeyNames:
    """The names the person said keys go by on exchanges that list keys by name only (Kraken,
    and the others whose pages SITES.md does not promise show the key string): asked once,
    when a key named by its API key (as `ipbind import` writes it) is not found by it, and
    remembered per exchange in `<state dir>/key-names.json` (0600). Names and key strings
    only: no secret."""

    FILE = "key-names.json"

    def __init__(self, state_home: Path):
        self.path = state_home / self.FILE
        self.lock = threading.Lock()

    def get(self, exchange: str, wanted: str) -> str:
        """The name `wanted` goes by on `exchange`, as the person said; else `wanted`."""
        return str(self._read().get(exchange, {}).get(wanted, wanted))

    def remember(self, exchange: str, wanted: str, name: str) -> None:
        with self.lock:
            names = self._read()
            names.setdefault(exchange, {})[wanted] = name
            try:
                write_private(self.path, json.dumps(names, indent=1))
            except OSError as err:
                logger.debug("could not keep the key's name: {}", err)

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def match_key(flow: type[Flow], wanted: str, keys: list[KeyInfo]) -> KeyInfo:
    """Exact name; else the exact API key or a unique prefix of one. Never a near miss."""
    by_name = [k for k in keys if k.name == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise UserActionNeeded(
            f"{flow.name}: {len(by_name)} keys are named {wanted!r}",
            hint="Give them distinct names on the exchange, or name the key by its API key.",
        )
    # A page that puts the name where the flow did not look for it (another column, a
    # value beside its label) still shows it whole in the key's card: that key, so named.
    by_text = [k for k in keys if wanted in k.shown]
    if len(by_text) == 1:
        return replace(by_text[0], name=wanted)
    by_key = (
        [k for k in keys if k.api_key and k.api_key.startswith(wanted)] if len(wanted) >= 8 else []
    )
    if len(by_key) == 1:
        return by_key[0]
    names = ", ".join(repr(k.name) for k in keys) or "none"
    if len(by_key) > 1:
        raise UserActionNeeded(
            f"{flow.name}: {wanted!r} starts {len(by_key)} API keys: {names}",
            hint="Use more of the API key, or the key's label.",
        )
    if not keys:  # an account with no key, or a page whose keys ipbind no longer knows
        raise UserActionNeeded(
            f"{flow.name}: no key named {wanted!r}: the API page, once settled, showed no key",
            hint=f"If the account has API keys, {flow.name}'s page may have changed: run "
            "again with -v and report it, with the debug log and the trace it writes.",
        )
    raise UserActionNeeded(
        f"{flow.name}: no key named {wanted!r} (matched by {flow.keys_by}). Keys on the "
        f"account: {names}",
        hint="Check `key` and `extra_keys` in the allocation file: names must match exactly.",
    )


def free_name(key: str, keys: list[KeyInfo]) -> str:
    """The first of "`key` 2", "`key` 3", … that no key on the page is named."""
    taken = {k.name for k in keys}
    return next(f"{key} {n}" for n in range(2, len(taken) + 3) if f"{key} {n}" not in taken)


def origin_of(settings: BaseIpbindSettings, exchange: str) -> str:
    """Where `exchange` is reached: its real origin, or the BASE_URL set for it."""
    flow = FLOWS[exchange]
    conf = settings.exchange(exchange)
    return site_origin(conf.base_url, flow.origins, f"IPBIND_{exchange.upper()}__BASE_URL")


def preflight(
    settings: BaseIpbindSettings,
    allocation: Allocation,
    origins: dict[str, str],
    *,
    can_ask: bool,
) -> None:
    """Before any browser: every setting that makes the run impossible, all at once
    (BadInput). `can_ask`: a terminal is there to ask for codes."""
    problems = site_problems(allocation, origins)
    for account in allocation.accounts:
        if FLOWS[account.exchange].mode == "assisted":
            continue
        problems.extend(credential_problems(settings, account))
        conf = settings.exchange(account.exchange)
        if conf.totp() is None and not can_ask:
            problems.append(
                f"{account.exchange} needs authenticator codes and there is no terminal to "
                f"ask: set IPBIND_{account.exchange.upper()}__TOTP_SECRET"
            )
    if problems:
        raise BadInput("\n".join(dict.fromkeys(problems)))


def site_problems(allocation: Allocation, origins: dict[str, str]) -> list[str]:
    """What no sign-in would get past: an exchange with no flow, documentation addresses
    against a real site, a local fix that cannot be used."""
    problems = []
    for account in allocation.accounts:
        if FLOWS[account.exchange].mode == "assisted":
            problems.append(
                f"{account.exchange}: ipbind has no flow for {FLOWS[account.exchange].name}; "
                "`ipbind assist FILE` opens its API page with your addresses beside it"
            )
            continue
        origin = origins[account.exchange]
        docs = documentation_ips(account)
        if docs and not is_loopback_url(origin):
            problems.append(
                f"{account.name!r} ({account.exchange}): {', '.join(docs[:3])} "
                "are documentation addresses (TEST-NET), accepted only against a local "
                f"mock site, not {origin}"
            )
        try:
            fixes_of(account.exchange)
        except BadInput as err:  # a local fix that is no name, or aims a field elsewhere
            problems.append(err.message)
    return problems


def credential_problems(settings: BaseIpbindSettings, account: Account) -> list[str]:
    conf = settings.exchange(account.exchange)
    prefix = f"IPBIND_{account.exchange.upper()}__"
    if conf.username and conf.password:
        return [
            f"saving on {account.exchange} asks for the {name.replace('_', ' ')}: set "
            f"{prefix}{name.upper()}"
            for name in FLOWS[account.exchange].secrets
            if getattr(conf, name, None) is None
        ]
    if conf.username or conf.password:
        return [f"{prefix}USERNAME and {prefix}PASSWORD go together; only one is set"]
    if browsers.session_file(settings.state_home, account.exchange).is_file():
        return []  # `ipbind login`'s session stands in for the sign-in
    if settings.headless:
        return [
            f"no {prefix}USERNAME / {prefix}PASSWORD set for {account.exchange}; set "
            "them, or run with --headed and sign in yourself"
        ]
    return []


def fixes_of(exchange: str) -> Fixes:
    """The exchange's local fixes (`ipbind repair`), read and checked against its flow's
    words: BadInput naming a bad one."""
    flow = SIGN_INS[exchange]
    words = [*COMMON.words, *getattr(flow, "vocabulary", COMMON).words]
    return Fixes(exchange, words, overrides_dir())
