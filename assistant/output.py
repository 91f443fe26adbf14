"""What the user sees: rich on a terminal, plain lines in a pipe or CI, one JSON object with
--json. The JSON shape is stable; scripts may rely on it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from assistant import __version__
from assistant.engine import KeyPlan, KeyResult, Mode, Reporter
from assistant.errors import ExitCode, IpbindError
from assistant.logs import redactor

LOG_EVERY = 2.0  # seconds between progress lines when the output is not a terminal

STATUS_STYLE = {
    "verified": "green",
    "unchanged": "green",
    "planned": "cyan",
    "not verified": "red",
    "failed": "red",
    "skipped": "yellow",
}


def short(ips: list[str], limit: int = 3) -> str:
    if not ips:
        return "-"
    head = ", ".join(ips[:limit])
    return head + (f" (+{len(ips) - limit})" if len(ips) > limit else "")


class ProgressLine:
    """One progress line whose countdown to the next usable code ticks while it shows."""

    def __init__(self, text: str, next_code_in: Callable[[], float]):
        self._text = text
        self._next_code_in = next_code_in
        self.done = False  # the last line of its step

    def text(self) -> str:
        wait = self._next_code_in()
        return self._text + (f" · next code in {wait:.0f} s" if wait >= 1 else "")

    def __rich__(self) -> Text:
        return Text(redactor(self.text()), style="cyan")


class ConsoleReporter(Reporter):
    def __init__(self, console: Console | None = None, *, json_mode: bool = False):
        # With --json, stdout carries only the JSON object; everything else goes to stderr.
        self.console = console or Console(stderr=json_mode, highlight=False)
        self.json_mode = json_mode
        self._live: Live | None = None
        self._line: ProgressLine | None = None
        self._last_logged = -LOG_EVERY

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(redactor(text), style=style, soft_wrap=True)

    def notice(self, text: str) -> None:
        self.say(f"Note: {text}", "yellow")

    def plans(self, plans: list[KeyPlan], mode: Mode) -> None:
        table = Table(title="Plan" if mode != "verify" else "Current whitelists")
        for column in (
            "exchange",
            "account",
            "key",
            "to add",
            "already there",
            "kept",
            "to remove" if any(p.to_remove for p in plans) else None,
        ):
            if column:
                table.add_column(column)
        for plan in plans:
            t = plan.target
            if plan.error:
                row = [t.exchange, ", ".join(t.accounts), t.key, "[red]cannot plan[/red]", "", ""]
            else:
                row = [
                    t.exchange,
                    ", ".join(t.accounts),
                    t.key,
                    f"{len(plan.to_add)}",
                    f"{len(plan.present)}/{len(t.ips)}",
                    f"{len(plan.kept)}",
                ]
            if any(p.to_remove for p in plans):
                row.append(str(len(plan.to_remove)))
            table.add_row(*[redactor(cell) for cell in row])
        self.console.print(table)
        shown: set[str] = set()
        for plan in plans:  # one exchange's sign-in failure is every one of its keys' error
            if plan.error and plan.error.message not in shown:
                shown.add(plan.error.message)
                self.say(plan.error.message, "red")
                if plan.error.hint:
                    self.say(f"  {plan.error.hint}", "yellow")

    def progress(
        self,
        exchange: str,
        key: str,
        done: int,
        total: int,
        note: str,
        next_code_in: Callable[[], float],
    ) -> None:
        line = ProgressLine(f"{exchange}: {key}: {done}/{total} {note}", next_code_in)
        line.done = done == total
        self.show(line)

    def status(self, text: str) -> None:
        line = ProgressLine(text, lambda: 0.0)
        line.done = True  # a new step: always worth a line
        self.show(line)

    def show(self, line: ProgressLine) -> None:
        """A live line on a terminal; elsewhere, a log-friendly line per call."""
        if not self.console.is_terminal:  # a log: one line per step, at most every 2 s
            now = time.monotonic()
            if line.done or now - self._last_logged >= LOG_EVERY:
                self._last_logged = now
                self.say(line.text(), "dim")
            return
        self._line = line
        if self._live is None:
            self._live = Live(line, console=self.console, refresh_per_second=4, transient=True)
            self._live.start()
        else:
            self._live.update(line)

    def end_progress(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Takes the live progress line off the screen while the user is asked something."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()
            if self._line is not None:  # keep where we are on screen, above the question
                self.say(self._line.text(), "cyan")
        try:
            yield
        finally:
            if live is not None:
                live.start()
                self._live = live

    def result(self, result: KeyResult) -> None:
        self.end_progress()
        t = result.plan.target
        style = STATUS_STYLE[result.status]
        text = f"{t.exchange}: {t.key}: {result.status}"
        if result.status == "verified":
            text += f" ({len(t.ips)}/{len(t.ips)} read back)"
        if result.error:
            text += f": {result.error.message}"
        self.say(text, style)

    def summary(self, results: list[KeyResult]) -> None:
        table = Table(title="Summary")
        for column in ("exchange", "key", "status", "added", "already there", "kept", "missing"):
            table.add_column(column)
        for r in results:
            t = r.plan.target
            added = len(r.plan.to_add) if r.status == "verified" else 0
            table.add_row(
                t.exchange,
                t.key,
                f"[{STATUS_STYLE[r.status]}]{r.status}[/]",
                str(added),
                str(len(r.plan.present)),
                str(len(r.plan.kept)),
                short(r.missing) if r.status != "planned" else "-",
            )
        self.console.print(table)
        for r in results:
            if r.error:
                self.say(f"{r.plan.target.exchange}: {r.plan.target.key}: {r.error.message}", "red")
                if r.error.hint:
                    self.say(f"  {r.error.hint}", "yellow")

    def error(self, err: IpbindError, log_path: Path | None = None) -> None:
        self.say(f"Error: {err.message}", "bold red")
        if err.hint:
            self.say(err.hint, "yellow")
        if log_path:
            self.say(f"Debug log (no secrets): {log_path}", "dim")


def result_json(
    command: str,
    results: list[KeyResult],
    exit_code: ExitCode,
    *,
    error: IpbindError | None = None,
    log_path: Path | None = None,
) -> dict[str, Any]:
    """The stable --json shape."""
    return {
        "ipbind": __version__,
        "command": command,
        "ok": exit_code == ExitCode.OK,
        "exit_code": int(exit_code),
        "error": redactor(error.message) if error else None,
        "keys": [
            {
                "exchange": r.plan.target.exchange,
                "accounts": r.plan.target.accounts,
                "key": r.plan.target.key,
                "status": r.status,
                "verified": r.status in ("verified", "unchanged") and not r.missing,
                "ips": r.plan.target.ips,
                "added": r.plan.to_add if r.status == "verified" else [],
                "to_add": r.plan.to_add,
                "already_there": r.plan.present,
                "kept": r.plan.kept,
                "removed": r.plan.to_remove if r.status == "verified" else [],
                "missing": r.missing,
                "error": redactor(r.error.message) if r.error else None,
            }
            for r in results
        ],
        "log": str(log_path) if log_path else None,
    }


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()
