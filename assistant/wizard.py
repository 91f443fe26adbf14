"""`ipbind run` without a file: the guided terminal run.

Asks, in order: the exchange, the Altrady trading account's name, the key (and any extra
keys), the addresses as copied from Altrady (ended by an empty line; checked as an
allocation file is, every problem named and the addresses asked again), whether to save
the answers as an allocation file, and the exchange's sign-in when none is configured
(the password hidden, kept in memory for this run only). Then the same plan → confirm →
apply → verify as `ipbind apply`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from assistant.errors import BadInput, ExitCode, Interrupted, IpbindError
from assistant.human import interactive
from assistant.output import ConsoleReporter
from assistant.runner import Options, load_allocation, run
from assistant.settings import load_settings
from flows import FLOWS


class Stop(Exception):
    """Ctrl-C or end of input while asking."""


class Wizard:
    def __init__(self, console: Console):
        self.console = console

    def ask(self, prompt: str, *, password: bool = False, default: str | None = None) -> str:
        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        try:
            answer = self.console.input(shown, password=password)
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
        ids = list(FLOWS)
        self.console.print("Which exchange?", style="bold")
        for number, (fid, flow) in enumerate(FLOWS.items(), 1):
            note = "" if flow.working else " (currently broken)"
            self.console.print(
                f"  {number}) {fid:<10} {flow.name}: {flow.how}{note}", soft_wrap=True
            )
        while True:
            answer = self.ask("Exchange (number or name)").lower()
            if answer.isdigit() and 1 <= int(answer) <= len(ids):
                return ids[int(answer) - 1]
            if answer in FLOWS:
                return answer
            self.console.print(
                f"{answer!r} is not one of them: type a number from 1 to {len(ids)}, or a name "
                f"({', '.join(ids)}).",
                style="yellow",
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
                line = self.console.input("")
            except (EOFError, KeyboardInterrupt):
                raise Stop from None
            if not line.strip():
                if lines:
                    return lines
                continue
            lines.append(line.strip())

    def account(self) -> dict[str, Any]:
        exchange = self.exchange()
        flow = FLOWS[exchange]
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
            account["key"] = self.required(f"The key's {flow.keys_by} on {flow.name}")
            extra = self.ask("Extra keys that get the same list (comma-separated; Enter for none)")
            account["extra_keys"] = [k.strip() for k in extra.split(",") if k.strip()]
        return account

    def allocation(self, allow_count: bool) -> tuple[dict[str, Any], Path]:
        """The answers, checked as a file would be (asked again until they pass), in a file."""
        account = self.account()
        folder = Path(tempfile.mkdtemp(prefix="ipbind-run-"))
        path = folder / "allocation.toml"
        while True:
            account["ips"] = self.addresses()
            write_toml(path, account)
            try:
                load_allocation(path, allow_count)
            except BadInput as err:
                self.console.print("Those addresses do not pass the checks:", style="red")
                for line in err.message.splitlines():
                    problem = line.removeprefix(f"{path}: ").removeprefix("accounts[0] ")
                    self.console.print(f"  - {problem}", style="red", markup=False)
                self.console.print("Paste them again.", style="yellow")
                continue
            return account, path

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

    def sign_in(self, exchange: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """The exchange's username and password when none are configured (kept in memory)."""
        settings = load_settings(**overrides)
        conf = settings.exchange(exchange)
        if conf.username and conf.password:
            return {}
        name = FLOWS[exchange].name
        self.console.print(
            f"No sign-in for {name} is configured (IPBIND_{exchange.upper()}__USERNAME / "
            "__PASSWORD). Type it here: it is used for this run only and stored nowhere.",
        )
        username = self.required(f"{name} e-mail or username")
        password = ""
        while not password:
            password = self.ask(f"{name} password (hidden)", password=True)
        return {exchange: {"username": username, "password": password}}


def write_toml(path: Path, account: dict[str, Any]) -> None:
    lines = ["[[accounts]]"]
    for field in ("exchange", "name", "key", "extra_keys"):
        if field in account:
            lines.append(f"{field} = {json.dumps(account[field])}")
    lines.append('ips = """\n' + "\n".join(account["ips"]) + '\n"""')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def run_wizard(options: Options) -> ExitCode:
    reporter = ConsoleReporter(json_mode=options.json_out)
    console = reporter.console
    if not interactive():
        reporter.error(
            BadInput(
                "`ipbind run` without a file asks its questions at a terminal, and there is "
                "none: pass an allocation file (`ipbind run FILE` or `ipbind apply FILE`)"
            )
        )
        return ExitCode.BAD_INPUT
    wizard = Wizard(console)
    console.print(
        "[bold]ipbind[/]: puts Altrady's IP addresses on your exchange API key, then reads "
        "them back to prove it. Nothing changes until you confirm the plan. Ctrl-C stops.\n"
    )
    path: Path | None = None
    try:
        account, path = wizard.allocation(options.allow_count)
        wizard.offer_to_save(account)
        sign_in = wizard.sign_in(account["exchange"], options.overrides)
    except Stop:
        console.print()
        reporter.error(Interrupted("interrupted; nothing was changed"))
        return ExitCode.INTERRUPTED
    except IpbindError as err:
        reporter.error(err)
        return err.exit_code
    try:
        return run("apply", path, replace(options, overrides=merge(options.overrides, sign_in)))
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
            os.rmdir(path.parent)
