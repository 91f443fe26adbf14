"""`ipbind import altrady -o FILE`: the allocation, read from Altrady instead of copied by hand.

It signs in to Altrady (IPBIND_ALTRADY__USERNAME, __PASSWORD, __TOTP_SECRET and __PASS_KEY,
the keyring, or typed at a terminal, as every sign-in), reads each trading account under
Settings > "Exchange Account API Keys" (its key, the addresses Altrady allocated to it, its
extra keys; flows/altrady.py), and writes one `[[accounts]]` entry per trading account:

    exchange   found by its name where the row (or its dialog) shows it
    name       the trading account's name
    key        the API key as Altrady shows it: the exchanges find a key by it
    extra_keys the extra keys (Huobi, Kraken, Poloniex)
    ips        the allocated addresses; none for Bybit, whose keys take Altrady as their
               third-party application (Altrady shows no list for them)

Accounts Altrady shows with "Resolve" (their whitelist is no longer valid) come first. It
reads only: nothing in Altrady is changed. The file is checked as `plan` checks it before it
is written (0600, whole or not at all), and holds no secret: an API key is no secret, its
secret is, and Altrady never shows it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from playwright.sync_api import Browser, StorageState

from assistant import browser as browsers
from assistant import logs, signin
from assistant.errors import BadInput, ExitCode, IpbindError, UserActionNeeded
from assistant.human import TerminalHuman, interactive
from assistant.opening import codes_for, open_exchange, origin_of
from assistant.output import ConsoleReporter
from assistant.runner import load_allocation
from assistant.settings import BaseIpbindSettings, load_settings
from flows import ALIASES, FLOWS
from flows.altrady import Altrady, TradingAccount

SOURCES = ("altrady",)


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def names_of_exchanges() -> dict[str, set[tuple[str, ...]]]:
    """Each exchange id an allocation may name, with the names a page may call it by (as
    word sequences): its id, its name, the name without or within brackets ("Huobi (HTX)"),
    the first word of a longer name ("Bittrex Global"); an alias by its own names."""
    named: dict[str, set[tuple[str, ...]]] = {}
    for flow in FLOWS.values():
        words = {flow.id, flow.name, re.sub(r"\(.*?\)", " ", flow.name)}
        words |= set(re.findall(r"\((.*?)\)", flow.name))
        if len(flow.name.split()) > 1:
            words.add(flow.name.split()[0])
        named[flow.id] = {tuple(tokens(w)) for w in words if tokens(w)}
    for alias, flow_id in ALIASES.items():
        display = FLOWS[flow_id].also[alias]
        named[alias] = {tuple(tokens(alias)), tuple(tokens(display))}
    return named


def exchange_named(texts: Iterable[str], but: str) -> str | None:
    """The exchange a trading account's row (and dialog) names: a text that is an exchange's
    name and nothing else, else the longest name found within a text; never in the account's
    own name (`but`: free text, "My Binance bot" may be on any exchange). None: none, or two
    as likely."""
    named = names_of_exchanges()
    seen = [tuple(tokens(t)) for t in texts if t.strip() and t.strip() != but.strip()]
    whole = {fid for fid, names in named.items() for t in seen if t in names}
    if len(whole) == 1:
        return whole.pop()
    best: dict[str, int] = {}
    for fid, names in named.items():
        for name in names:
            if any(contains(t, name) for t in seen):
                best[fid] = max(best.get(fid, 0), len(name))
    if not best:
        return None
    top = max(best.values())
    winners = [fid for fid, length in best.items() if length == top]
    return winners[0] if len(winners) == 1 else None


def contains(words: tuple[str, ...], name: tuple[str, ...]) -> bool:
    return any(words[i : i + len(name)] == name for i in range(len(words) - len(name) + 1))


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string is JSON's


def entry(account: TradingAccount, exchange: str) -> str:
    lines = []
    if account.resolve:
        lines.append(
            '# Altrady shows "Resolve": this key\'s whitelist is no longer valid. Put this '
            "list on the exchange, then click Update in Altrady."
        )
    flow = FLOWS[ALIASES.get(exchange, exchange)]
    lines += [
        "[[accounts]]",
        f"exchange = {toml_string(exchange)}",
        f"name = {toml_string(account.name)}",
        f"key = {toml_string(account.key)}",
    ]
    if account.extra_keys:
        lines.append(f"extra_keys = [{', '.join(map(toml_string, account.extra_keys))}]")
    if flow.mode == "third-party app":
        lines.append(f"# {flow.name} takes no list: the key is bound to Altrady instead.")
    else:
        lines.append('ips = """\n' + "\n".join(account.ips) + '\n"""')
    return "\n".join(lines)


def with_exchanges(found: list[TradingAccount]) -> list[tuple[TradingAccount, str]]:
    """Each trading account with the exchange it is on; UserActionNeeded naming those whose
    exchange the page does not name in words ipbind knows (then nothing is written)."""
    accounts = [(account, exchange_named(account.shown, but=account.name)) for account in found]
    unknown = [account.name for account, exchange in accounts if exchange is None]
    if unknown:
        raise UserActionNeeded(
            "which exchange these trading accounts are on, Altrady's page does not say in "
            f"words ipbind knows: {', '.join(map(repr, unknown))}; nothing was written",
            hint="See `ipbind exchanges` for those ipbind knows; write the file by hand for "
            "the others (README: Use it on your exchange).",
        )
    return [(account, exchange) for account, exchange in accounts if exchange is not None]


def file_text(accounts: list[tuple[TradingAccount, str]], origin: str) -> str:
    head = (
        f"# Written by `ipbind import altrady` on {date.today().isoformat()} from {origin}: "
        f"{len(accounts)} trading account(s),\n# each key named by its API key as Altrady "
        "shows it. Where an exchange lists keys by name only (Kraken),\n# the first `plan` at "
        "a terminal asks which key it is, and remembers. Next: ipbind plan THIS-FILE\n"
    )
    ordered = sorted(accounts, key=lambda pair: not pair[0].resolve)  # "Resolve" first
    return head + "\n" + "\n\n".join(entry(a, x) for a, x in ordered) + "\n"


def write_checked(path: Path, text: str) -> None:
    """`text` checked as `plan` checks a file, then written to `path` whole, 0600 from its
    first byte (a temporary file beside it, renamed): a problem writes nothing."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".toml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            load_allocation(Path(temp), allow_count=False)
        except BadInput as err:
            raise BadInput(
                "what Altrady shows is not a whole allocation; nothing was written:\n"
                + err.message.replace(temp, "Altrady"),
                hint="Check those trading accounts in Altrady (Settings > Exchange Account "
                "API Keys).",
            ) from None
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def check_output(path: Path, force: bool) -> None:
    if path.is_dir():
        raise BadInput(f"-o {path}: a folder; give the file to write")
    if not path.parent.is_dir():
        raise BadInput(f"-o {path}: no folder {path.parent}")
    if path.exists() and not force:
        raise BadInput(
            f"-o {path}: the file exists; nothing was read", hint="Add --force to replace it."
        )


@dataclass
class Read:
    """What Altrady showed: each trading account with its exchange, where it was read, and
    the browser session it was read in (for `sync` to click Update without signing in
    again)."""

    accounts: list[tuple[TradingAccount, str]]
    origin: str
    session: StorageState


def altrady_settings(
    settings: BaseIpbindSettings, reporter: ConsoleReporter, *, ask: bool
) -> BaseIpbindSettings:
    """Altrady's sign-in: settings, the keyring, else typed when `ask` (BadInput naming the
    variables otherwise)."""
    return signin.complete(
        settings, [Altrady.id], reporter.console, ask=ask, terminal=ask, sessions=False
    )


def opened_altrady(
    chromium: Browser,
    settings: BaseIpbindSettings,
    human: TerminalHuman,
    *,
    ask: bool,
    state: StorageState | None = None,
) -> Altrady:
    """Altrady's flow on a page of its own (`state`: a session kept from earlier), signed
    in and on Settings > Exchange Account API Keys."""
    origin = origin_of(settings, Altrady.id)
    codes = codes_for(settings, Altrady.id, origin, ask=human.ask_code if ask else None)
    flow = open_exchange(
        chromium, settings, Altrady.id, human, origin=origin, codes=codes, state=state
    )
    assert isinstance(flow, Altrady)
    flow.open()
    flow.open_keys()
    return flow


def read_altrady(
    chromium: Browser, settings: BaseIpbindSettings, human: TerminalHuman, *, ask: bool
) -> Read:
    """Every trading account Altrady lists, read whole; UserActionNeeded when it lists none
    or names an exchange ipbind does not know."""
    reporter = human.reporter
    flow = opened_altrady(chromium, settings, human, ask=ask)
    rows = flow.trading_accounts()
    if not rows:
        raise UserActionNeeded(
            "Altrady shows no trading account under Settings > Exchange Account API Keys; "
            "nothing was written",
            hint="Add the exchange account in Altrady first.",
        )
    found = []
    for number, row in enumerate(rows, 1):
        reporter.say(f"Reading {row.name!r} in Altrady ({number}/{len(rows)})")
        found.append(flow.read_account(row))
    session = flow.page.context.storage_state()
    flow.page.context.close()
    return Read(with_exchanges(found), flow.origin, session)


def import_into(
    path: Path,
    settings: BaseIpbindSettings,
    human: TerminalHuman,
    chromium: Browser | None,
    *,
    ask: bool,
) -> Read:
    """Altrady read (in `chromium`, else a browser of its own) and its allocation written to
    `path` (`write_checked`), said: `import`'s whole job, and `sync`'s first step."""
    with browsers.opened(settings, given=chromium) as browser:
        read = read_altrady(browser, settings, human, ask=ask)
    write_checked(path, file_text(read.accounts, read.origin))
    say_written(human.reporter, path, read.accounts)
    return read


def import_allocation(
    source: str,
    output: Path,
    overrides: dict[str, object],
    *,
    force: bool = False,
    chromium: Browser | None = None,
) -> ExitCode:
    reporter = ConsoleReporter()
    logs.setup()
    try:
        if source.strip().lower() not in SOURCES:
            raise BadInput(f"unknown source {source!r}; ipbind imports from: {', '.join(SOURCES)}")
        check_output(output, force)
        settings = altrady_settings(load_settings(**overrides), reporter, ask=interactive())
        human = TerminalHuman(reporter, headless=settings.headless)
        reporter.say(f"Signing in to Altrady at {origin_of(settings, Altrady.id)} …")
        import_into(output, settings, human, chromium, ask=interactive())
    except IpbindError as err:
        reporter.error(err)
        return err.exit_code
    except KeyboardInterrupt:
        reporter.say("Interrupted; nothing was written.", "yellow", error=True)
        return ExitCode.INTERRUPTED
    reporter.say(f"Next: ipbind plan {output}")
    return ExitCode.OK


def say_written(
    reporter: ConsoleReporter, output: Path, accounts: list[tuple[TradingAccount, str]]
) -> None:
    resolve = [a.name for a, _ in accounts if a.resolve]
    reporter.say(
        f"Wrote {output} (readable by you alone): {len(accounts)} trading account(s) from "
        "Altrady; nothing in Altrady was changed.",
        "green",
    )
    if resolve:
        reporter.say(
            f"Altrady shows Resolve for {', '.join(map(repr, resolve))}: those come first.",
            "yellow",
        )
