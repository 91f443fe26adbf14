"""A small journal of each apply, in the state dir: what it planned, which key it began to
change, and what each key's change came to as read back. JSON lines, one file per run
(`<state dir>/journal/`, 0600 files in a 0700 folder), names and addresses only: never a
secret.

It is for telling, not for deciding: when the last apply of the same allocation stopped half
way (Ctrl-C, a crash, the machine off), the next run says so, and its report too. The engine
never skips work on the journal's word: every run reads each key afresh from the exchange,
and what the page shows is what counts.

Beside the runs, `added.json` remembers, per key, the addresses ipbind itself put there (as
read back) and has not taken off since, whatever the allocation file: when Altrady's list for
a key changes (a "Resolve", a new allocation), those no longer allocated are what `plan`
offers to remove ("no longer Altrady's"); the person's own addresses are never among them.
A key is known by every name it went by: as an allocation named it, its name on the
exchange, its API key.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from assistant.logs import redactor
from assistant.outcome import KeyPlan, KeyResult, Mode, Target, names_of
from assistant.paths import write_private
from assistant.words import count

JOURNAL_DIR = "journal"
ADDED_FILE = "added.json"  # in JOURNAL_DIR: what ipbind added to each key, and still there
KEEP = 30  # runs; older journals are deleted
KEEP_KEYS = 500  # keys whose added addresses are remembered; the longest unchanged go first


def allocation_id(targets: dict[str, list[Target]]) -> str:
    """The same allocation, whatever its file is called: its keys and their addresses."""
    keys = sorted(
        (t.exchange, t.key, sorted(t.ips), str(t.binding or ""))
        for group in targets.values()
        for t in group
    )
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()[:16]


@dataclass
class Unfinished:
    """The last apply of this allocation, stopped half way: when, the key it was changing
    (if it had begun one), and how many more of its planned changes it never finished."""

    started: datetime
    changing: tuple[str, str] | None
    not_finished: int

    def text(self, mode: Mode) -> str:
        when = self.started.strftime("%Y-%m-%d %H:%M")
        where = (
            f" while changing {self.changing[0]} {self.changing[1]!r}"
            if self.changing
            else " before its first change"
        )
        more = (
            f" ({count(self.not_finished, 'more key')} not finished)" if self.not_finished else ""
        )
        then = (
            "this run reads every key afresh and finishes it"
            if mode == "apply"
            else "`ipbind apply` finishes it"
        )
        return f"The last apply of this allocation ({when}) was interrupted{where}{more}; {then}."


class Journal:
    def __init__(self, state_home: Path, allocation: str):
        self.folder = state_home / JOURNAL_DIR
        self.allocation = allocation
        self.path: Path | None = None  # made by the first record
        self.lock = threading.Lock()  # keys may be changed side by side

    # -- writing ---------------------------------------------------------------------------

    def planned(self, plans: list[KeyPlan]) -> None:
        keys = [
            {
                "exchange": p.target.exchange,
                "key": p.target.key,
                "add": p.to_add,
                "remove": p.to_remove,
                "create": p.create,
            }
            for p in plans
            if p.changes
        ]
        self.write("plan", keys=keys)

    def changing(self, plan: KeyPlan) -> None:
        self.write("change", exchange=plan.target.exchange, key=plan.target.key)

    def result(self, result: KeyResult, whose: str | None = None) -> None:
        """`whose`: the account the key is on (see `remember`); none: not remembered."""
        if whose is not None:
            self.remember(result, whose)
        target = result.plan.target
        self.write(
            "result",
            exchange=target.exchange,
            key=target.key,
            status=result.status,
            added=result.added,
            missing=result.missing,
            unknown=len(result.unknown),
            error=result.error.message if result.error else None,
        )

    # -- what ipbind added to each key ------------------------------------------------------

    def added_before(self, whose: str, names: set[str]) -> set[str]:
        """The addresses earlier applies added to the key that went by any of `names` in the
        account `whose`, and have not removed since."""
        return {
            ip
            for entry in self._added()
            if entry.get("account") == whose and names & set(entry["names"])
            for ip in entry["ips"]
        }

    def remember(self, result: KeyResult, whose: str) -> None:
        """What this key's change came to: the addresses it added (as read back) are
        remembered, and those it removed forgotten. `whose`: the account the key is on (the
        exchange, where it was reached, the username), so that a key of the same name in
        another account is another key."""
        plan = result.plan
        removed = (
            [ip for ip in plan.to_remove if ip not in result.after]
            if result.after is not None
            else []
        )
        if not result.added and not removed:
            return
        names = names_of(plan.target, plan.key)
        with self.lock:
            entries = self._added()
            entry = next(
                (e for e in entries if e.get("account") == whose and names & set(e["names"])),
                None,
            )
            if entry is None:
                entry = {"account": whose, "names": [], "ips": []}
            else:
                entries.remove(entry)
            entry["names"] = sorted(set(entry["names"]) | names)
            kept = [ip for ip in entry["ips"] if ip not in removed]
            entry["ips"] = kept + [ip for ip in result.added if ip not in kept]
            # The last changed last; the oldest go beyond KEEP_KEYS (a mock's every port, the
            # demo's, would otherwise pile up).
            self._keep_added([*entries, entry][-KEEP_KEYS:])

    def _added(self) -> list[dict[str, Any]]:
        try:
            data = json.loads((self.folder / ADDED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return data.get("keys", []) if isinstance(data, dict) else []

    def _keep_added(self, entries: list[dict[str, Any]]) -> None:
        """Written whole (a temporary file, renamed), 0600; a failure is only logged."""
        try:
            write_private(self.folder / ADDED_FILE, json.dumps({"keys": entries}, indent=1))
        except OSError as err:
            logger.debug("could not keep what ipbind added: {}", err)

    def write(self, event: str, **fields: Any) -> None:
        """One line; a journal that cannot be written is only logged: it never stops a run."""
        record = {"at": datetime.now().isoformat(timespec="seconds"), "event": event, **fields}
        line = redactor(json.dumps(record)) + "\n"
        with self.lock:
            try:
                if self.path is None:
                    self.path = self._new_file()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as out:
                    out.write(line)
            except OSError as err:
                logger.debug("could not write the run's journal: {}", err)

    def _new_file(self) -> Path:
        self.folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        for old in sorted(self.folder.glob("*.jsonl"))[: -KEEP + 1]:
            old.unlink(missing_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        return self.folder / f"{stamp}-{self.allocation}.jsonl"

    # -- reading the last run ----------------------------------------------------------------

    def last_unfinished(self) -> Unfinished | None:
        """The last apply of this allocation, if it was stopped before every key it planned
        to change had a result."""
        runs = sorted(self.folder.glob(f"*-{self.allocation}.jsonl"))
        if not runs:
            return None
        try:
            lines = runs[-1].read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by the crash
        plan = next((r for r in records if r.get("event") == "plan"), None)
        if plan is None:
            return None
        done = {
            (r["exchange"], r["key"])
            for r in records
            if r.get("event") == "result" and r.get("status") != "interrupted"
        }
        begun = [(r["exchange"], r["key"]) for r in records if r.get("event") == "change"]
        planned = [(k["exchange"], k["key"]) for k in plan["keys"]]
        open_ = [k for k in planned if k not in done]
        if not open_:
            return None
        changing = next((k for k in reversed(begun) if k in open_), None)
        return Unfinished(
            datetime.fromisoformat(plan["at"]),
            changing,
            len([k for k in open_ if k != changing]),
        )
