"""What a run comes to: its targets, each key's plan and result, and what the engine tells
the person as it goes (`Reporter`). Output, report, journal and the runner read these; none
of them needs the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from assistant.errors import IpbindError
from flows.base import Binding, KeyInfo, NewKey

Mode = Literal["plan", "apply", "verify"]
Status = Literal[
    "planned",
    "unchanged",
    "verified",
    "not verified",
    "failed",
    "not started",
    "declined",
    "interrupted",
]
DECLINED = "you answered no at the confirmation; nothing was changed"
ACCOUNT_LIST = "account allow list"
INTERRUPTED = "stopped with Ctrl-C while being changed; its list as read back after the stop"
NOT_READ_BACK = (
    "stopped with Ctrl-C while being changed; its list could not be read back after the stop"
)
NOT_CREATED = "stopped with Ctrl-C while being created; not read back"
NOT_REACHED = "not started: the run was stopped with Ctrl-C before this key"
EXISTING = (
    "exists, bound as asked; its secret was shown once, on the run that created it: if it is "
    "not in Altrady, a fresh key is needed (see above)"
)


@dataclass
class Target:
    """One whitelist to get right: a key (or an account-wide list) and its addresses."""

    exchange: str
    key: str  # as the allocation names it; ACCOUNT_LIST for account-wide lists
    accounts: list[str]  # the Altrady trading accounts it serves
    ips: list[str]
    binding: Binding | None = None  # instead of a list: the key bound to Altrady (Bybit)


def names_of(target: Target, key: KeyInfo | None) -> set[str]:
    """Every name a key goes by: as the allocation names it, and its name and API key on the
    exchange as found there."""
    names = {target.key}
    if key is not None:
        names |= {n for n in (key.name, key.api_key) if n}
    return names


@dataclass
class KeyPlan:
    target: Target
    key: KeyInfo | None = None
    current: list[str] = field(default_factory=list)
    to_add: list[str] = field(default_factory=list)
    to_remove: list[str] = field(default_factory=list)
    # The addresses to remove are those ipbind added before and the allocation no longer
    # holds ("no longer Altrady's"), not every address outside it (--replace).
    retiring: bool = False
    create: bool = False  # a key bound to Altrady is created (no key of its name yet)
    # A key of the target's name exists, bound as asked: its secret was shown once, on the
    # run that made it. The first name free for a fresh key, should the person need one.
    fresh: str | None = None
    error: IpbindError | None = None
    # verify: a change saved but not in effect yet, in the page's words ("Pending email
    # confirmation": an e-mailed link not opened yet), when the list read lacks addresses.
    pending: str | None = None

    @property
    def present(self) -> list[str]:
        return [ip for ip in self.target.ips if ip in self.current]

    @property
    def kept(self) -> list[str]:
        """On the exchange but not in the allocation, and left alone."""
        return [ip for ip in self.current if ip not in self.target.ips and ip not in self.to_remove]

    @property
    def changes(self) -> bool:
        return bool(self.to_add or self.to_remove or self.create)


@dataclass
class KeyResult:
    """How a key ended. `after` is its list as the exchange showed it at the end (read back
    after the change, or while planning when nothing was changed); None when it could not be
    read then: what the key holds is then known only as far as the plan read it."""

    plan: KeyPlan
    status: Status
    after: list[str] | None = None
    error: IpbindError | None = None
    note: str | None = None  # why a key was not started, or how it was stopped
    bound: Binding | None = None  # a key bound to an app: its binding, read back
    created: NewKey | None = None  # the key this run created: shown to the user once

    @property
    def known(self) -> list[str] | None:
        """The key's list as last read: after the change, else as planned, else unknown."""
        if self.after is not None:
            return self.after
        if self.plan.error:  # never read
            return None
        if self.status in ("failed", "interrupted") and self.plan.changes:
            return None  # stopped during a change and not read back: the plan's read is stale
        return self.plan.current

    @property
    def added(self) -> list[str]:
        """Allocated addresses the exchange showed at the end that it did not show before:
        what this run is known to have added, whatever its status."""
        if self.after is None:
            return []
        before = self.plan.current
        return [ip for ip in self.plan.target.ips if ip in self.after and ip not in before]

    @property
    def missing(self) -> list[str]:
        """Allocated addresses the exchange is known not to hold."""
        known = self.known
        return [] if known is None else [ip for ip in self.plan.target.ips if ip not in known]

    @property
    def unknown(self) -> list[str]:
        """Allocated addresses of which nobody knows whether the exchange holds them: never
        read, or being added when the run stopped and not read back."""
        if self.known is not None:
            return []
        if self.plan.error:
            return list(self.plan.target.ips)
        return [ip for ip in self.plan.target.ips if ip not in self.plan.current]


class Reporter(Protocol):
    """What the engine tells the user as it goes (see assistant.output). Workers call it from
    their own threads: an implementation is thread-safe. `progress` and `status` are about
    one exchange each: one line per exchange while they run."""

    def plans(self, plans: list[KeyPlan], mode: Mode) -> None: ...
    def progress(
        self,
        exchange: str,
        text: str,  # e.g. "Adding 20 addresses to 'Altrady main' on Kraken (7/20)"
        done: int,
        total: int,
        next_code_in: Callable[[], float],
    ) -> None: ...
    def result(self, result: KeyResult) -> None: ...
    def end_progress(self) -> None: ...
    def notice(self, text: str) -> None: ...
    def status(self, exchange: str, text: str) -> None: ...


@dataclass(frozen=True)
class Picture:
    """A key's picture for the report, taken right after its list was read back, and the
    addresses the pictured view shows (what the picture proves)."""

    path: Path
    shows: list[str]


@dataclass
class Outcome:
    """What the runner gets back from the engine, whether the run ended or stopped: each
    key's result (of the apply so far, after a Ctrl-C), the pictures and traces taken, the
    last unfinished run of the same allocation (as told), and whether changes had begun."""

    results: list[KeyResult] = field(default_factory=list)
    pictures: dict[tuple[str, str], Picture] = field(default_factory=dict)  # key → its list
    traces: list[Path] = field(default_factory=list)
    resumes: str | None = None
    changing: bool = False  # set once the first change may be under way (for Ctrl-C)
    pictures_off: bool = False  # the settings say no pictures (IPBIND_PICTURES=false)


def stopped(plan: KeyPlan, after: list[str] | None) -> KeyResult:
    """A key stopped with Ctrl-C while being changed: `after`, its list as read back after
    the stop; None when it could not be read back, and the note says so."""
    return KeyResult(
        plan, "interrupted", after, note=INTERRUPTED if after is not None else NOT_READ_BACK
    )


def not_started(plan: KeyPlan, failed: list[KeyPlan]) -> KeyResult:
    """A key that could be done, in a run stopped by another key's failure to plan."""
    names = ", ".join(dict.fromkeys(f"{p.target.exchange} {p.target.key!r}" for p in failed))
    note = (
        f"not started: {names} could not be planned, and nothing is changed anywhere "
        "while a key cannot be"
    )
    return KeyResult(plan, "not started", note=note)


def planned(plan: KeyPlan, mode: Mode) -> KeyResult:
    """A key as planned, in a run that changes nothing (plan, verify, or a run stopped at
    planning): verify's verdict is the plan's read."""
    if plan.error:
        return KeyResult(plan, "failed", error=plan.error)
    if mode == "verify" and plan.pending and plan.changes:
        note = (
            f"saved, but not in effect until you open the confirmation link the exchange "
            f"e-mailed you (the page says {plan.pending!r}); then run `ipbind verify` again"
        )
        return KeyResult(plan, "not verified", list(plan.current), note=note)
    if mode == "verify":
        complete = not plan.changes
        status: Status = "verified" if complete else "not verified"
        bound = plan.target.binding if complete else None
        return KeyResult(plan, status, list(plan.current), bound=bound)
    return KeyResult(plan, "unchanged" if not plan.changes else "planned")
