"""What the user sees: rich on a terminal, plain lines in a pipe or CI, one JSON object with
--json. The JSON shape is stable; scripts may rely on it."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from assistant import __version__
from assistant.errors import ExitCode, IpbindError
from assistant.logs import redactor
from assistant.outcome import DECLINED, KeyPlan, KeyResult, Mode, Reporter

LOG_EVERY = 2.0  # seconds between progress lines when the output is not a terminal

STATUS_STYLE = {
    "verified": "green",
    "unchanged": "green",
    "planned": "cyan",
    "not verified": "red",
    "failed": "red",
    "not started": "yellow",
    "declined": "yellow",
    "interrupted": "yellow",
}
KEPT_MEANS = (
    "kept: addresses already on the exchange that are not Altrady's; ipbind leaves them "
    "alone (`apply --replace` removes them)."
)
RETIRING_MEANS = (
    "to remove: addresses ipbind put on that key before, which Altrady no longer allocates "
    "to it; removed only once you confirm. Your own addresses stay (kept)."
)


def short(ips: list[str], limit: int = 3) -> str:
    if not ips:
        return "-"
    head = ", ".join(ips[:limit])
    return head + (f" (+{len(ips) - limit})" if len(ips) > limit else "")


def of_total(part: list[str], plan: KeyPlan) -> str:
    """A count out of the key's allocated addresses, written the same way everywhere."""
    return f"{len(part)}/{len(plan.target.ips)}"


class ProgressLine:
    """One progress line whose countdown to the next usable code ticks while it shows."""

    def __init__(self, text: str, next_code_in: Callable[[], float]):
        self.plain = text
        self._next_code_in = next_code_in
        self.done = False  # the last line of its step: nothing more to wait for

    def text(self) -> str:
        wait = 0.0 if self.done else self._next_code_in()
        return self.plain + (f" · next code in {wait:.0f} s" if wait >= 1 else "")

    def __rich__(self) -> Text:
        return Text(redactor(self.text()), style="cyan")


class Board:
    """The live lines: one per exchange under way, in the order they came. Replaced whole
    on every change, so that the live display's own thread always reads a whole one."""

    def __init__(self) -> None:
        self.lines: dict[str, ProgressLine] = {}

    def __rich__(self) -> Group:
        return Group(*(line.__rich__() for line in self.lines.values()))


class ConsoleReporter(Reporter):
    """Tables and live progress lines (one per exchange under way) on a terminal; elsewhere
    (a pipe, CI, a log) plain lines that are never squeezed or cut to a width. Safe to call
    from the workers' threads; while one thread asks the person something (`paused`), what
    the others say waits until the answer is in."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        json_mode: bool = False,
        errors: Console | None = None,
    ):
        # With --json, stdout carries only the JSON object; everything else goes to stderr.
        # Errors and warnings go to stderr always (`errors`), so that a pipe of the results
        # does not carry them; a console given alone (a test's) takes both.
        self.console = console or Console(stderr=json_mode, highlight=False)
        self.errors = errors or (console if console else Console(stderr=True, highlight=False))
        self.json_mode = json_mode
        self._lock = threading.RLock()
        self._live: Live | None = None
        self._board = Board()
        self._last_logged: dict[str, float] = {}  # per exchange, when its last line was
        self._asker: int | None = None  # the thread asking the person something, if any
        self._asking = 0  # how deep in `paused` it is
        self._held: list[tuple[str, str | None, bool]] = []  # said by others meanwhile
        self._told: set[str] = set()  # error messages already shown: each is shown once
        self._kept_explained = False
        self._retiring_explained = False

    @property
    def rich(self) -> bool:
        return self.console.is_terminal

    def say(self, text: str, style: str | None = None, *, error: bool = False) -> None:
        """A line of the results (stdout), or with `error` an error or warning (stderr)."""
        with self._lock:
            if self._asker not in (None, threading.get_ident()):
                self._held.append((text, style, error))  # not across the question being asked
                return
            console = self.errors if error else self.console
            # The live lines are drawn on one console; a line another console writes to the
            # same screen meanwhile would land inside them, and leave stale copies behind as
            # they redraw. So they come off the screen for it, and a new set is drawn under
            # it (a restarted Live would move up over the line as if its lines were there).
            around_live = self._live is not None and console is not self.console
            if around_live:
                self._stop_live()
            # On a terminal rich wraps at word boundaries; a log line is never broken.
            console.print(
                redactor(text), style=style, soft_wrap=not console.is_terminal, markup=False
            )
            if around_live:
                self._start_live()

    def notice(self, text: str) -> None:
        self.say(f"Note: {text}", "yellow", error=True)

    def tell(self, err: IpbindError, prefix: str = "") -> None:
        """An error's message and hint, the first time it comes up."""
        with self._lock:
            if err.message in self._told:
                return
            self._told.add(err.message)
            self.say(prefix + err.message, "red", error=True)
            if err.hint:
                self.say(f"  {err.hint}", "yellow", error=True)

    def explain_kept(self, plans: list[KeyPlan]) -> None:
        if any(p.kept for p in plans) and not self._kept_explained:
            self._kept_explained = True
            self.say(KEPT_MEANS, "dim")
        if any(p.retiring for p in plans) and not self._retiring_explained:
            self._retiring_explained = True
            self.say(RETIRING_MEANS, "dim")

    def plans(self, plans: list[KeyPlan], mode: Mode) -> None:
        if mode != "verify":  # verify's own table is its summary: present and missing
            if self.rich:
                self.console.print(plan_table(plans))
            else:
                for plan in plans:
                    self.say(plan_line(plan))
            self.explain_kept(plans)
        for plan in plans:  # one exchange's sign-in failure is every one of its keys' error
            if plan.error:
                self.tell(plan.error)

    def progress(
        self,
        exchange: str,
        text: str,
        done: int,
        total: int,
        next_code_in: Callable[[], float],
    ) -> None:
        line = ProgressLine(text, next_code_in)
        line.done = done == total
        self.show(exchange, line)

    def status(self, exchange: str, text: str) -> None:
        line = ProgressLine(text, lambda: 0.0)
        line.done = True  # a new step: always worth a line
        self.show(exchange, line)

    def show(self, exchange: str, line: ProgressLine) -> None:
        """`exchange`'s live line on a terminal; elsewhere, a log-friendly line per call."""
        with self._lock:
            if not self.rich:  # a log: one line per step, at most every 2 s per exchange
                now = time.monotonic()
                if line.done or now - self._last_logged.get(exchange, -LOG_EVERY) >= LOG_EVERY:
                    self._last_logged[exchange] = now
                    self.say(line.text(), "dim")
                return
            self._board.lines = {**self._board.lines, exchange: line}
            if self._asker is None:  # else the lines come back once the answer is in
                self._start_live()
                assert self._live is not None
                self._live.refresh()  # now, not at the next tick of the countdown

    def _start_live(self) -> None:
        if self._live is None:
            # What this console prints meanwhile goes on its own lines above the live lines
            # (and what the errors console prints, see `say`; a log line reaches stderr
            # through the proxy Live puts there while it runs).
            self._live = Live(
                self._board, console=self.console, refresh_per_second=4, transient=True
            )
            self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()  # transient: its lines come off the screen
            self._live = None

    def _drop(self, exchange: str) -> None:
        with self._lock:
            self._board.lines = {k: v for k, v in self._board.lines.items() if k != exchange}
            if not self._board.lines:
                self._stop_live()

    def end_progress(self) -> None:
        with self._lock:
            self._stop_live()
            self._board.lines = {}

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Takes the live progress lines off the screen while the user is asked something,
        and holds back what other threads say until the answer is in."""
        with self._lock:
            self._asker = threading.get_ident()
            self._asking += 1
            live, self._live = self._live, None
            if live is not None:
                live.stop()
                for line in self._board.lines.values():  # where each exchange is, above the
                    self.say(line.plain, "cyan")  # question; its countdown is the question's
        try:
            yield
        finally:
            with self._lock:
                self._asking -= 1
                if not self._asking:
                    self._asker = None
                    held, self._held = self._held, []
                    for text, style, error in held:
                        self.say(text, style, error=error)
                    if self._board.lines and self.rich:
                        self._start_live()

    def result(self, result: KeyResult) -> None:
        t = result.plan.target
        text = f"{t.exchange}: {t.key}: {result.status}"
        if result.status == "verified" and t.binding is not None:
            text += f" ({binding_done(result)}, read back)"
        elif result.status == "verified":
            text += f" ({len(t.ips)}/{len(t.ips)} read back)"
        with self._lock:
            self._drop(t.exchange)
            self.say(text, STATUS_STYLE[result.status])
            if result.error:
                self.tell(result.error, prefix="  ")

    def summary(self, results: list[KeyResult], mode: Mode = "apply") -> None:
        if results and all(r.status == "declined" for r in results):
            self.say(f"Stopped: {DECLINED}.", "yellow")
            return
        if self.rich:
            self.console.print(summary_table(results, mode))
        else:
            self.say("Summary:", "bold")
            for r in results:
                self.say(summary_line(r, mode), STATUS_STYLE[r.status])
        self.explain_kept([r.plan for r in results])
        for note in dict.fromkeys(r.note for r in results if r.note):
            keys = ", ".join(repr(r.plan.target.key) for r in results if r.note == note)
            self.say(f"{keys}: {note}", "yellow")
        for r in results:
            if r.error:
                self.tell(r.error, prefix=f"{r.plan.target.exchange}: {r.plan.target.key}: ")

    def error(self, err: IpbindError, log_path: Path | None = None) -> None:
        self.say(f"Error: {err.message}", "bold red", error=True)
        if err.hint:
            self.say(err.hint, "yellow", error=True)
        if log_path:
            self.say(f"Debug log (no secrets): {log_path}", "dim", error=True)


def plan_table(plans: list[KeyPlan]) -> Table:
    removing = any(p.to_remove for p in plans)
    table = Table(title="Plan")
    for column in ("exchange", "account", "key", "to add", "already there", "kept"):
        table.add_column(column)
    if removing:
        table.add_column("to remove")
    for plan in plans:
        t = plan.target
        row = [t.exchange, ", ".join(t.accounts), t.key]
        if plan.error:
            row += ["[red]cannot plan[/red]", "", ""]
        elif t.binding is not None:
            row += [binding_plan(plan), "", ""]
        else:
            row += [str(len(plan.to_add)), of_total(plan.present, plan), str(len(plan.kept))]
        if removing:
            row.append(str(len(plan.to_remove)))
        table.add_row(*[redactor(cell) for cell in row])
    return table


def plan_line(plan: KeyPlan) -> str:
    t = plan.target
    head = f"plan: {t.exchange} · {', '.join(t.accounts)} · {t.key}: "
    if plan.error:
        return head + "cannot plan"
    if t.binding is not None:
        return head + binding_plan(plan)
    text = (
        head + f"to add {len(plan.to_add)} · already there {of_total(plan.present, plan)} · "
        f"kept {len(plan.kept)}"
    )
    if not plan.to_remove:
        return text
    why = " (no longer Altrady's)" if plan.retiring else ""
    return text + f" · to remove {len(plan.to_remove)}{why}"


def binding_plan(plan: KeyPlan) -> str:
    """A key bound to an app instead of a list: what the plan does with it."""
    binding = plan.target.binding
    assert binding is not None
    if plan.create:
        return f"create key {plan.target.key!r} {binding}"
    if plan.fresh:
        return (
            f"nothing to do: {plan.target.key!r} exists, already {binding}; its secret was "
            "shown once, on the run that created it"
        )
    return f"nothing to do: already {binding}"


def binding_done(r: KeyResult) -> str:
    """What happened to a key bound to an app, in words that fit a binding."""
    binding = r.plan.target.binding
    if r.status == "verified" and r.created is not None:
        return f"created, {r.bound}"
    if r.status in ("verified", "unchanged"):
        return f"already {binding}"
    if r.created is not None:
        return "created; not read back as bound"
    if r.status == "not verified":
        return f"no key {binding}"
    return "not created"


def counts(r: KeyResult, mode: Mode) -> list[tuple[str, str]]:
    """The summary's numbers: what was added (apply) or is present (verify), and the rest."""
    plan = r.plan
    if mode == "verify":
        present = [ip for ip in plan.target.ips if ip not in r.missing]
        first = [("present", of_total(present, plan))]
    else:
        # what the exchange showed afterwards, not what was planned or typed
        first = [("added", str(len(r.added))), ("already there", of_total(plan.present, plan))]
    return [*first, ("kept", str(len(plan.kept)))]


def missing_of(r: KeyResult) -> list[str]:
    """What the summary and the report call missing: what the exchange is known not to hold.
    A key a run stopped while planning may not have been read at all: none is named."""
    return [] if r.status == "planned" else r.missing


PENDING = "pending e-mail confirmation"  # what a key saved but not yet confirmed lacks


def missing_cell(r: KeyResult) -> str:
    missing = missing_of(r)
    if missing and r.plan.pending:
        return f"{len(missing)} {PENDING}"
    return short(missing) + unknown_of(r)


def unknown_of(r: KeyResult) -> str:
    """ " · N unknown" for addresses nobody could read back, else nothing."""
    return f" · {len(r.unknown)} unknown" if r.unknown else ""


def summary_table(results: list[KeyResult], mode: Mode) -> Table:
    table = Table(title="Summary")
    names = [name for name, _ in counts(results[0], mode)] if results else []
    for column in ("exchange", "key", "status", *names, "missing"):
        table.add_column(column)
    for r in results:
        t = r.plan.target
        numbers = [value for _, value in counts(r, mode)]
        if t.binding is not None:  # no list: what happened to the key, across the columns
            numbers = [binding_done(r)] + [""] * (len(numbers) - 1)
        table.add_row(
            t.exchange,
            t.key,
            f"[{STATUS_STYLE[r.status]}]{r.status}[/]",
            *numbers,
            missing_cell(r),
        )
    return table


def summary_line(r: KeyResult, mode: Mode) -> str:
    t = r.plan.target
    if t.binding is not None:
        return f"{t.exchange} · {t.key}: {r.status} · {binding_done(r)}"
    numbers = " · ".join(f"{name} {value}" for name, value in counts(r, mode))
    missing = missing_of(r)
    text = f"{t.exchange} · {t.key}: {r.status} · {numbers}"
    if missing and r.plan.pending:
        return f"{text} · {PENDING} {len(missing)}"
    text += f" · missing {len(missing)}"
    return text + (f" ({', '.join(missing)})" if missing else "") + unknown_of(r)


def result_json(
    command: str,
    results: list[KeyResult],
    exit_code: ExitCode,
    *,
    error: IpbindError | None = None,
    log_path: Path | None = None,
    report_path: Path | None = None,
    secrets_out: bool = True,
) -> dict[str, Any]:
    """The stable --json shape. A key created by the run carries its API key and secret
    (`binding.api_key`, `binding.secret`): the one place they are given with --json, unless
    `secrets_out` is False (they went to --secret-file). `added` is
    what the exchange showed afterwards that it did not before; `missing` what it is known
    not to hold; `unknown` what nobody could read."""
    if error is None and exit_code != ExitCode.OK:  # the top level names the failure too
        error = next((r.error for r in results if r.error), None)
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
                "verified": r.status in ("verified", "unchanged")
                and not r.missing
                and not r.unknown,
                "ips": r.plan.target.ips,
                "added": r.added,
                "to_add": r.plan.to_add,
                "already_there": r.plan.present,
                "kept": r.plan.kept,
                "removed": r.plan.to_remove if r.status == "verified" else [],
                "missing": r.missing,
                "unknown": r.unknown,
                "error": redactor(r.error.message) if r.error else None,
                "binding": binding_json(r, secrets_out),
            }
            for r in results
        ],
        "log": str(log_path) if log_path else None,
        "report": str(report_path) if report_path else None,  # the report with pictures
    }


def binding_json(r: KeyResult, secrets_out: bool) -> dict[str, Any] | None:
    """For a key bound to an app instead of a list: the binding asked for, what was done,
    and the new key when the run created one."""
    binding = r.plan.target.binding
    if binding is None:
        return None
    created = r.created
    return {
        "app": binding.app,
        "permissions": list(binding.permissions),
        "done": binding_done(r),
        "created": created is not None,
        "api_key": created.api_key if created and secrets_out else None,
        "secret": created.secret if created and secrets_out else None,
    }


def new_keys_text(results: list[KeyResult]) -> str | None:
    """The keys the run created, with their secrets: shown once, never through the
    redactor (it masks exactly these), and never logged."""
    created = [r for r in results if r.created is not None]
    if not created:
        return None
    lines = [
        f"New {'API keys' if len(created) > 1 else 'API key'}: shown this once. Add each in "
        "Altrady now (Settings > Exchange API Keys > add the exchange's key), then keep the "
        "secret nowhere else:"
    ]
    for r in created:
        assert r.created is not None
        lines += [
            f"  {r.plan.target.exchange} · {r.plan.target.key} "
            f"(for {', '.join(r.plan.target.accounts)})",
            f"    API key:    {r.created.api_key}",
            f"    Secret key: {r.created.secret}",
        ]
    return "\n".join(lines)


def print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()
