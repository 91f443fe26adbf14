"""`ipbind run` without a file: the guided terminal run.

Asks, in order: the exchange, the Altrady trading account's name, the key (and any extra
keys), the addresses as copied from Altrady (ended by an empty line; checked as an
allocation file is, every problem named and the addresses asked again), whether to save
the answers as an allocation file (remembered in `<state dir>/wizard.json`: the next
`ipbind run` without a file offers it). Then the same plan → confirm → apply → verify as
`ipbind apply`, which asks for the sign-in if none is set or kept (`assistant.signin`). On
an exchange with no flow (assisted: Bitget, Bitfinex) it goes straight to `ipbind assist`,
asking no password.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import keyboard
from assistant.allocation import documentation_ips
from assistant.errors import BadInput, ExitCode, Interrupted, IpbindError
from assistant.exchanges import listing
from assistant.human import interactive
from assistant.output import ConsoleReporter, print_json, result_json
from assistant.runner import Options, load_allocation, run
from assistant.settings import is_loopback_url, load_settings, site_origin
from flows import ALIASES, FLOWS
from flows.base import Flow

WIZARD_FILE = "wizard.json"  # in the state folder: the allocation file saved last


class Stop(Exception):
    """Ctrl-C or end of input while asking."""


class Wizard:
    def __init__(self, console: Console):
        self.console = console

    def ask(self, prompt: str, *, password: bool = False, default: str | None = None) -> str:
        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        try:  # as written: "[y/N]" and "[allocation.toml]" are not rich markup
            answer = keyboard.ask(self.console, shown, hidden=password)
        except (EOFError, KeyboardInterrupt):
            raise Stop from None
        return answer.strip() or (default or "")

    def yes(self, prompt: str, default: bool = False) -> bool:
        while True:
            answer = self.ask(prompt + (" [Y/n]" if default else " [y/N]")).lower()
            if not answer:
                return default
            if answer in ("y", "yes", "n", "no"):
                return answer.startswith("y")
            self.console.print("Answer y or n.", style="yellow")

    def exchange(self) -> str:
        """An id an allocation may name (an alias such as bybit-futures too)."""
        entries = listing()
        ids = [e["id"] for e in entries]
        self.console.print("Which exchange?", style="bold")
        self.console.print(menu(entries))
        while True:
            answer = self.ask("Exchange (number or name)").lower()
            if answer.isdigit() and 1 <= int(answer) <= len(ids):
                return ids[int(answer) - 1]
            if answer in ids:
                return answer
            guess = difflib.get_close_matches(answer, ids, n=1, cutoff=0.6)
            self.console.print(
                (
                    f"{answer!r}: did you mean {guess[0]}? Type"
                    if guess
                    else f"{answer!r} is not one of them: type"
                )
                + f" a number from 1 to {len(ids)}, or a name ({', '.join(ids)}).",
                style="yellow",
                markup=False,
            )

    def required(self, prompt: str, default: str | None = None) -> str:
        while True:
            answer = self.ask(prompt, default=default)
            if answer:
                return answer
            self.console.print("This one is needed.", style="yellow")

    def addresses(self) -> list[str]:
        self.console.print(
            "In Altrady: Settings > Exchange API Keys, edit the trading account, copy its list."
        )
        self.console.print(
            "Paste the addresses exactly as copied, then an empty line:", style="bold"
        )
        lines: list[str] = []
        while True:
            try:
                line = keyboard.typed()
            except (EOFError, KeyboardInterrupt):
                raise Stop from None
            if not line.strip():
                if lines:
                    return lines
                continue
            lines.append(line.strip())

    def account(self) -> dict[str, Any]:
        exchange = self.exchange()
        flow = FLOWS[ALIASES.get(exchange, exchange)]
        if flow.notice:
            self.console.print(f"Note: {flow.name}: {flow.notice}", style="yellow")
        name = self.required("Your Altrady trading account's name", default=f"My {flow.name}")
        account: dict[str, Any] = {"exchange": exchange, "name": name}
        if flow.scope == "account":
            self.console.print(
                f"{flow.name} has one allow list for the whole account: no key to name."
            )
            account["key"] = name
        else:
            account["key"] = self.required(key_prompt(flow))
        if flow.scope != "account" and flow.mode != "third-party app":
            account["extra_keys"] = self.extra_keys(account["key"])
        return account

    def extra_keys(self, key: str) -> list[str]:
        """Asked again until no key is named twice (the main key among them): a list a file
        would refuse is not kept to refuse every paste after it."""
        while True:
            extra = self.ask("Extra keys that get the same list (comma-separated; Enter for none)")
            keys = [k.strip() for k in extra.split(",") if k.strip()]
            twice = sorted({k for k in [key, *keys] if [key, *keys].count(k) > 1})
            if not twice:
                return keys
            self.console.print(
                f"{', '.join(map(repr, twice))} named twice: each key once (the main key is "
                f"{key!r}). Type them again.",
                style="yellow",
                markup=False,
            )

    def allocation(
        self, allow_count: bool, overrides: dict[str, Any]
    ) -> tuple[dict[str, Any], Path]:
        """The answers, checked as a file would be and against the site the run will use
        (the addresses asked again until they pass), in a file."""
        account = self.account()
        flow = FLOWS[ALIASES.get(account["exchange"], account["exchange"])]
        origin = site_of(flow, overrides)
        path = Path(tempfile.mkdtemp(prefix="ipbind-run-")) / "allocation.toml"
        if flow.mode == "third-party app":  # bound to Altrady: no list, nothing to paste
            self.console.print(
                f"{flow.name}: the key is bound to Altrady and takes its pool of addresses; "
                "there is no list to paste."
            )
            write_toml(path, account)
            try:
                load_allocation(path, allow_count)
            except BadInput:
                forget(path)
                raise
            return account, path
        while True:
            account["ips"] = self.addresses()
            write_toml(path, account)
            problems = address_problems(path, allow_count, origin)
            if not problems:
                return account, path
            self.console.print("Those addresses do not pass the checks:", style="red")
            for problem in problems:
                self.console.print(f"  - {problem}", style="red", markup=False)
            self.console.print("Paste them again.", style="yellow")

    def offer_to_save(self, account: dict[str, Any]) -> Path | None:
        if not self.yes("Save these answers as an allocation file (for `ipbind apply` later)?"):
            return None
        while True:
            target = Path(self.ask("File", default="allocation.toml")).expanduser()
            if target.exists() and not self.yes(f"{target} exists. Replace it?"):
                continue
            try:
                write_toml(target, account)
            except OSError as err:
                self.console.print(f"Cannot write {target}: {err.strerror}", style="red")
                continue
            self.console.print(f"Saved: {target}  (next time: ipbind apply {target})")
            return target


def menu(entries: list[dict[str, Any]]) -> Table:
    """The numbered exchanges, aligned past 9, each how wrapped under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for number, e in enumerate(entries, 1):
        grid.add_row(f"  {number})", e["id"], f"{e['name']}: {e['how']}")
    return grid


def address_problems(path: Path, allow_count: bool, origin: str) -> list[str]:
    """What is wrong with the pasted list: a file's checks, and documentation (TEST-NET)
    addresses unless the run is against a local mock site."""
    try:
        allocation = load_allocation(path, allow_count)
    except BadInput as err:
        return [
            line.removeprefix(f"{path}: ").removeprefix("accounts[0] ")
            for line in err.message.splitlines()
        ]
    docs = documentation_ips(allocation.accounts[0])
    if not docs or is_loopback_url(origin):
        return []
    return [
        f"{', '.join(docs[:3])}{' …' if len(docs) > 3 else ''}: documentation addresses "
        f"(TEST-NET), never Altrady's; accepted only against a local mock site, not {origin}"
    ]


def key_prompt(flow: type[Flow]) -> str:
    """What the key is called on the exchange, in a question that reads."""
    if flow.mode == "assisted":  # the person finds it: any name they know it by
        return f"The key's name on {flow.name}"
    return f"The key on {flow.name}, by its {flow.keys_by.split(';')[0]}"


def site_of(flow: type[Flow], overrides: dict[str, Any]) -> str:
    """The origin a run signs in at: the real site, or a local mock."""
    conf = load_settings(**overrides).exchange(flow.id)
    return site_origin(conf.base_url, flow.origins, f"IPBIND_{flow.id.upper()}__BASE_URL")


def write_toml(path: Path, account: dict[str, Any]) -> None:
    lines = ["[[accounts]]"]
    for field in ("exchange", "name", "key", "extra_keys"):
        if field in account:
            lines.append(f"{field} = {json.dumps(account[field])}")
    if "ips" in account:
        lines.append('ips = """\n' + "\n".join(account["ips"]) + '\n"""')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def forget(path: Path) -> None:
    """The answers' file, made for this run only, and its folder."""
    path.unlink(missing_ok=True)
    os.rmdir(path.parent)


def run_wizard(options: Options) -> ExitCode:
    reporter = ConsoleReporter(json_mode=options.json_out)
    console = reporter.console  # with --json, stderr: stdout carries the JSON alone
    if not interactive():
        return stop(
            reporter,
            options,
            BadInput(
                "`ipbind run` without a file asks its questions at a terminal, and there is "
                "none: pass an allocation file (`ipbind run FILE` or `ipbind apply FILE`)"
            ),
        )
    wizard = Wizard(console)
    console.print(
        "[bold]ipbind[/]: puts Altrady's IP addresses on your exchange API key, then reads "
        "them back to prove it. Nothing changes until you confirm the plan. Ctrl-C stops.\n"
    )
    path: Path | None = None
    try:
        try:
            state = load_settings(**options.overrides).state_home
            last = saved_file(state)
            if last is not None:
                console.print(f"Last time you saved your answers in {last}.", markup=False)
                if wizard.yes("Use them?", default=True):
                    return go(last, options, reporter)
            account, path = wizard.allocation(options.allow_count, options.overrides)
            saved = wizard.offer_to_save(account)
            if saved is not None:
                remember(state, saved)
        except Stop:
            console.print()
            return stop(reporter, options, Interrupted("interrupted; nothing was changed"))
        except IpbindError as err:
            return stop(reporter, options, err)
        return go(saved or path, options, reporter)
    finally:
        if path is not None:
            forget(path)


def go(path: Path, options: Options, reporter: ConsoleReporter) -> ExitCode:
    """`ipbind apply` on the answers; on an exchange with no flow (assisted: Bitget,
    Bitfinex), `ipbind assist`: no flow signs in there, so no password is asked."""
    try:
        exchanges = {a.exchange for a in load_allocation(path, options.allow_count).accounts}
    except BadInput:
        exchanges = set()  # the run says what is wrong with it
    if not exchanges or any(FLOWS[e].mode != "assisted" for e in exchanges):
        return run("apply", path, dataclasses.replace(options, asks_sign_in=True))
    from assistant.assist import assist

    names = " and ".join(FLOWS[e].name for e in sorted(exchanges))
    reporter.say(
        f"ipbind has no flow for {names}: it opens the API page in a browser window with your "
        "addresses beside it; you enter them there, and it checks what the page shows."
    )
    return assist(
        path,
        settings=load_settings(**options.overrides),
        allow_count=options.allow_count,
        reporter=reporter,
    )


def saved_file(state: Path) -> Path | None:
    """The allocation file the wizard last saved (`<state dir>/wizard.json`), if it is
    still there."""
    try:
        data = json.loads((state / WIZARD_FILE).read_text(encoding="utf-8"))
        last = Path(data["file"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return last if last.is_file() else None


def remember(state: Path, saved: Path) -> None:
    """Notes where the answers were saved, for the next `ipbind run` without a file."""
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        (state / WIZARD_FILE).write_text(
            json.dumps({"file": str(saved.resolve())}) + "\n", encoding="utf-8"
        )
    except OSError:
        pass  # a courtesy: the file is saved all the same


def stop(reporter: ConsoleReporter, options: Options, err: IpbindError) -> ExitCode:
    """The wizard ended before the run: told, and with --json the result object too."""
    reporter.error(err)
    if options.json_out:
        print_json(result_json("apply", [], err.exit_code, error=err))
    return err.exit_code
