"""The engine: one run of plan, apply or verify over an allocation.

    plan    sign in, find each key, read its whitelist, work out what to add
    apply   plan, confirm, change each key through its flow, then read it back to verify
    verify  plan, and report every allocated address that is missing

Every exchange is planned before anything is changed anywhere: a key that cannot be
found, or a list that would go over the exchange's limit, stops the run with nothing done.
Existing whitelisted addresses are kept unless `replace` is asked for. A key counts as
done only when its list, read back from the exchange after saving, holds every address.

An exchange that binds a key to Altrady instead of taking a list (Bybit) goes the same way:
its target carries a `Binding` instead of addresses; plan finds a key of that name bound as
asked (nothing to do), bound otherwise (stop: a binding cannot change) or none (create
one); apply creates it through the flow, and it counts as done only when a fresh load shows
it bound as asked.

Each exchange has a worker of its own (`Worker`: its browser context, flow and codes) that
does its keys one after another (the exchange's rate limits, one TOTP step per code). The
engine runs the workers on lanes (`settings.parallel`): one lane is the calling thread; more
are threads, each with a Playwright driver and a browser of its own (a browser belongs to
the thread that launched it). Either way every worker plans before the run is decided, in
the calling thread, once; a Ctrl-C stops every worker between two steps, and each reads back
the key it was on.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Literal

from loguru import logger
from playwright.sync_api import Browser, BrowserContext, Page, Playwright
from playwright.sync_api import Error as PlaywrightError

from assistant import browser as browsers
from assistant import report
from assistant import trace as traces
from assistant.allocation import Account, Allocation, documentation_ips
from assistant.errors import (
    BadInput,
    Interrupted,
    IpbindError,
    SiteChanged,
    SiteTrouble,
    UserActionNeeded,
)
from assistant.journal import Journal, allocation_id
from assistant.logs import redactor
from assistant.parallel import Desk, OneAtATime, lanes_for
from assistant.settings import BaseIpbindSettings, is_loopback_url, site_origin
from assistant.twofa import Codes, PromptedCodes, StepMemory, TotpCodes
from flows import FLOWS
from flows.base import Binding, Credentials, Flow, Human, KeyInfo, NewKey, Progress

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
RETRY_WAIT = 2.0  # seconds before the second try after a server error with no Retry-After
MAX_RETRY_WAIT = 60.0  # at most this long, whatever a Retry-After asks
INTERRUPTED = "stopped with Ctrl-C while being changed; its list as read back after the stop"
NOT_REACHED = "not started: the run was stopped with Ctrl-C before this key"
TOTP_STEPS_FILE = "totp-steps.json"
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


@dataclass
class KeyPlan:
    target: Target
    key: KeyInfo | None = None
    current: list[str] = field(default_factory=list)
    to_add: list[str] = field(default_factory=list)
    to_remove: list[str] = field(default_factory=list)
    create: bool = False  # a key bound to Altrady is created (no key of its name yet)
    # A key of the target's name exists, bound as asked: its secret was shown once, on the
    # run that made it. The first name free for a fresh key, should the person need one.
    fresh: str | None = None
    error: IpbindError | None = None

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


class Reporter:
    """What the engine tells the user as it goes (see assistant.output). Workers call it from
    their own threads: an implementation is thread-safe. `progress` and `status` are about
    one exchange each: one line per exchange while they run."""

    def plans(self, plans: list[KeyPlan], mode: Mode) -> None: ...
    def progress(
        self,
        exchange: str,
        key: str,
        done: int,
        total: int,
        note: str,
        next_code_in: Callable[[], float],
    ) -> None: ...
    def result(self, result: KeyResult) -> None: ...
    def end_progress(self) -> None: ...
    def notice(self, text: str) -> None: ...
    def status(self, exchange: str, text: str) -> None: ...


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


def not_started(plan: KeyPlan, failed: list[KeyPlan]) -> KeyResult:
    """A key that could be done, in a run stopped by another key's failure to plan."""
    names = ", ".join(dict.fromkeys(f"{p.target.exchange} {p.target.key!r}" for p in failed))
    note = (
        f"not started: {names} could not be planned, and nothing is changed anywhere "
        "while a key cannot be"
    )
    return KeyResult(plan, "not started", note=note)


def not_in_effect(flow: Flow, plan: KeyPlan, pending: str) -> UserActionNeeded:
    return UserActionNeeded(
        f"{flow.name}: {plan.target.key!r}: saved, but not in effect yet: the page says "
        f"{pending!r}, and the list read back is still the old one",
        hint=f"Open the confirmation link {flow.name} e-mailed you, then run `ipbind verify`.",
    )


def free_name(key: str, keys: list[KeyInfo]) -> str:
    """The first of "`key` 2", "`key` 3", … that no key on the page is named."""
    taken = {k.name for k in keys}
    return next(f"{key} {n}" for n in range(2, len(taken) + 3) if f"{key} {n}" not in taken)


def secret_lost(flow: Flow, key: str) -> UserActionNeeded:
    return UserActionNeeded(
        f"{flow.name}: {key!r} was created, but the server failed before showing its secret "
        f"({flow.name} shows it once only)",
        hint=f"Delete {key!r} on {flow.name}, then run again: ipbind creates it afresh.",
    )


class Engine:
    def __init__(
        self,
        settings: BaseIpbindSettings,
        allocation: Allocation,
        reporter: Reporter,
        human: Human,
        *,
        ask_code: Callable[[str, float], str] | None = None,
        replace: bool = False,
        run_dir: Path | None = None,
        trace: bool = False,
    ):
        self.settings = settings
        self.allocation = allocation
        self.reporter = reporter
        self.human = human
        self.ask_code = ask_code
        self.replace = replace
        self.run_dir = run_dir
        # A Playwright trace per exchange (-v): it holds what was typed, so only when asked,
        # and scrubbed of every secret before it is written (see assistant.trace).
        self.trace = trace and run_dir is not None
        self.traces: list[Path] = []
        self.mode: Mode | None = None  # of the run under way
        self.changing = False  # set once the first change may be under way (for Ctrl-C)
        self.stops = 0  # Ctrl-C's so far: the first stops every worker, a second a read-back
        self.stopped = threading.Event()  # set at the first: a wait on the person gives up
        self._heard: dict[str, int] = {}  # per exchange: the stops its worker stopped for
        self._stops_changed = threading.Condition()
        self.desk = Desk(on_stop=self._stop)  # the person, one question at a time
        self.results: list[KeyResult] = []  # of the apply so far: what Ctrl-C reports
        self.pictures: dict[tuple[str, str], Path] = {}  # key → its whitelist as read back
        self.walkthrough: Callable[[Flow], None] | None = None  # narrates a headed run
        # Asked, before the confirmation, about each key bound as asked (`KeyPlan.fresh`):
        # True creates a fresh key under the free name. Unset: never.
        self.fresh_key: Callable[[KeyPlan], bool] | None = None
        for exchange in FLOWS:  # every secret known to the run is masked in every log line
            redactor.add(*settings.exchange(exchange).secret_values())
        self.targets = targets_of(allocation)
        self.origins = {ex: self._origin(ex) for ex in self.targets}
        self._check_targets()
        # What this apply plans and what each key's change comes to; and whether the last
        # apply of the same allocation stopped half way (told, never trusted over a read).
        self.journal = Journal(settings.state_home, allocation_id(self.targets))
        self.resumes: str | None = None

    # -- before any browser: settings that make the run impossible -------------------------

    def _origin(self, exchange: str) -> str:
        flow = FLOWS[exchange]
        conf = self.settings.exchange(exchange)
        return site_origin(conf.base_url, flow.origins, f"IPBIND_{exchange.upper()}__BASE_URL")

    def _check_targets(self) -> None:
        problems = []
        for account in self.allocation.accounts:
            if FLOWS[account.exchange].mode == "assisted":
                problems.append(
                    f"{account.exchange}: ipbind has no flow for {FLOWS[account.exchange].name}; "
                    "`ipbind assist FILE` opens its API page with your addresses beside it"
                )
                continue
            origin = self.origins[account.exchange]
            docs = documentation_ips(account)
            if docs and not is_loopback_url(origin):
                problems.append(
                    f"{account.name!r} ({account.exchange}): {', '.join(docs[:3])} "
                    "are documentation addresses (TEST-NET), accepted only against a local "
                    f"mock site, not {origin}"
                )
            problems.extend(self._credential_problems(account))
            conf = self.settings.exchange(account.exchange)
            if conf.totp() is None and self.ask_code is None:
                problems.append(
                    f"{account.exchange} needs authenticator codes and there is no terminal to "
                    f"ask: set IPBIND_{account.exchange.upper()}__TOTP_SECRET"
                )
        if problems:
            raise BadInput("\n".join(dict.fromkeys(problems)))

    def _credential_problems(self, account: Account) -> list[str]:
        conf = self.settings.exchange(account.exchange)
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
        if self.settings.headless:
            return [
                f"no {prefix}USERNAME / {prefix}PASSWORD set for {account.exchange}; set "
                "them, or run with --headed and sign in yourself"
            ]
        return []

    # -- the run ---------------------------------------------------------------------------

    def run(
        self,
        mode: Mode,
        confirm: Callable[[list[KeyPlan]], bool],
        chromium: Browser | None = None,
    ) -> list[KeyResult]:
        """On one lane, in `chromium` when given (the tests share one), else in a browser it
        launches; on more (`settings.parallel`, else what the machine takes unless `chromium`
        is given), each lane in a thread with a browser of its own."""
        self.mode = mode
        for exchange in self.targets:
            if FLOWS[exchange].notice and not is_loopback_url(self.origins[exchange]):
                self.reporter.notice(f"{FLOWS[exchange].name}: {FLOWS[exchange].notice}")
        unfinished = self.journal.last_unfinished()
        if unfinished is not None:
            self.resumes = unfinished.text(mode)
            self.reporter.notice(self.resumes)
        workers = [Worker(self, exchange, targets) for exchange, targets in self.targets.items()]
        todo: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        for worker in workers:
            todo.put(worker)
        parallel = self.settings.parallel or (1 if chromium is not None else None)
        lanes = lanes_for(parallel, len(workers))
        self.desk = Desk(on_stop=self._stop)

        def decide() -> bool:
            return self._decide(workers, mode, confirm)

        try:
            if lanes > 1:
                self._run_lanes(lanes, todo, decide)
            elif chromium is not None:
                self._lane(lambda: chromium, todo, decide)
            else:
                self._own_lane(todo, decide)
        finally:
            if self.changing:  # what each key holds, as read back: what Ctrl-C reports too
                self.results = [result for worker in workers for result in worker.outcome()]
        if self.stopping:  # Ctrl-C: every key under way was read back; none started after
            raise KeyboardInterrupt
        return self.results

    def _decide(
        self, workers: list[Worker], mode: Mode, confirm: Callable[[list[KeyPlan]], bool]
    ) -> bool:
        """Once every worker has planned: show the plan and decide, once for the whole run.
        True: apply. Otherwise `results` says why not."""
        if self.stopping:
            raise KeyboardInterrupt  # stopped while planning: nothing was changed
        plans = [plan for worker in workers for plan in worker.plans]
        self.reporter.end_progress()
        self.reporter.plans(plans, mode)
        for plan in plans:  # a key bound as asked: a fresh one, if the person says so
            wanted = plan.fresh and not plan.error and self.fresh_key and self.fresh_key(plan)
            if wanted and mode == "apply":
                plan.target.key, plan.key, plan.create = plan.fresh or "", None, True
        if mode != "apply":
            self._warn_unrestricted(plans)
        failed = [p for p in plans if p.error]
        if failed and mode == "apply":
            self.results = [
                self._planned(p, mode) if p.error else not_started(p, failed) for p in plans
            ]
        elif mode != "apply":
            self.results = [self._planned(p, mode) for p in plans]
        elif any(p.changes for p in plans) and not confirm(plans):
            self.results = [KeyResult(p, "declined", note=DECLINED) for p in plans]
        else:
            self.changing = True
            self.journal.planned(plans)
        return self.changing

    def _lane(
        self,
        chromium: Callable[[], Browser],
        todo: queue.SimpleQueue[Worker],
        decide: Callable[[], bool],
    ) -> None:
        """One lane: takes workers one after another and plans their keys in its browser;
        once the run is decided, applies each one's keys. A worker stays on its lane: its
        pages belong to this thread."""
        mine: list[Worker] = []
        try:
            while not self.stopping:
                try:
                    worker = todo.get_nowait()
                except queue.Empty:
                    break
                mine.append(worker)
                worker.plan(chromium())
            if decide():
                for worker in mine:
                    worker.apply()
        finally:
            for worker in mine:
                worker.close()

    def _own_lane(self, todo: queue.SimpleQueue[Worker], decide: Callable[[], bool]) -> None:
        """A lane with a Playwright driver and a browser of its own, launched when its first
        worker needs it."""
        with browsers.driver() as pw:
            launched: list[Browser] = []

            def chromium() -> Browser:
                if not launched:
                    launched.append(self._launch(pw))
                return launched[0]

            try:
                self._lane(chromium, todo, decide)
            finally:
                for browser in launched:
                    with suppress(PlaywrightError):  # after a Ctrl-C it may be gone already
                        browser.close()

    def _launch(self, pw: Playwright) -> Browser:
        return browsers.launch(
            pw,
            headless=self.settings.headless,
            slow_mo=self.settings.slow_mo,
            executable=self.settings.browser_executable,
            channel=self.settings.browser_channel,
        )

    def _run_lanes(
        self, count: int, todo: queue.SimpleQueue[Worker], decide: Callable[[], bool]
    ) -> None:
        """`count` lanes, each in a thread of its own. This thread decides the run once every
        lane has planned, asks the person the workers' questions one at a time, and hears
        Ctrl-C."""
        planned = threading.Semaphore(0)
        decided = threading.Event()
        verdict: list[bool] = []
        errors: list[BaseException] = []

        def wait_for_verdict() -> bool:
            planned.release()
            decided.wait()
            return verdict == [True]

        def lane() -> None:
            try:
                self._own_lane(todo, wait_for_verdict)
            except BaseException as err:  # raised in this thread, once the lanes have ended
                errors.append(err)
                planned.release()  # if it never came to the verdict; once more is harmless

        threads = [
            threading.Thread(target=lane, name=f"ipbind lane {n + 1}", daemon=True)
            for n in range(count)
        ]
        for thread in threads:
            thread.start()
        waiting = count

        def all_planned() -> bool:
            nonlocal waiting
            while waiting and planned.acquire(blocking=False):
                waiting -= 1
            return not waiting

        with self._ctrl_c_counted():
            try:
                self._serve_until(all_planned)
                if errors:
                    raise errors[0]
                verdict.append(self.desk.ask(decide))  # the confirmation: Ctrl-C cancels it
            finally:
                decided.set()
                self._serve_until(lambda: not any(thread.is_alive() for thread in threads))
        if errors:
            raise errors[0]

    @contextmanager
    def _ctrl_c_counted(self) -> Iterator[None]:
        """While lanes run, a Ctrl-C (which only the main thread hears) is counted rather
        than raised wherever this thread happens to be: every worker stops at its next step
        and reads back the key it was on, and the run ends once every lane has. At a
        question (a code, the confirmation) it is raised as ever: it cancels the question."""
        if threading.current_thread() is not threading.main_thread():
            yield  # no Ctrl-C reaches this thread (an embedding program's own thread)
            return

        def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
            if self.desk.asking:
                raise KeyboardInterrupt
            self._stop()

        previous = signal.signal(signal.SIGINT, on_ctrl_c)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _serve_until(self, done: Callable[[], bool]) -> None:
        """Asks the workers' questions, one at a time, until `done`."""
        while True:
            try:
                while not done():
                    self.desk.serve(wait=0.05)
                return
            except KeyboardInterrupt:  # raised at a question (cancelled) or between two
                self._stop()

    # -- Ctrl-C, for every worker ------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stops > 0

    def _stop(self) -> None:
        """A Ctrl-C (or a question the person cancelled): every worker stops at its next step."""
        with self._stops_changed:
            self.stops += 1
            self.stopped.set()
            self._stops_changed.notify_all()

    def _interrupted(self, exchange: str) -> None:
        """`exchange`'s worker has stopped for a Ctrl-C: one it heard at a step (counted where
        it was pressed), or one pressed in its own thread (counted here). Its read-back of
        the key under way goes on, unless a Ctrl-C comes after this one."""
        with self._stops_changed:
            if self._heard.get(exchange, 0) == self.stops:
                self.stops += 1
                self.stopped.set()
                self._stops_changed.notify_all()
            self._heard[exchange] = self.stops

    def _checkpoint(self, exchange: str) -> None:
        """Before each step of `exchange`'s flow: a Ctrl-C it has not stopped for stops it."""
        if self.stops > self._heard.get(exchange, 0):
            raise Interrupted(f"{FLOWS[exchange].name}: stopped with Ctrl-C")

    def _nap(self, exchange: str, seconds: float) -> None:
        """A wait with no page to watch (for a TOTP step, a server's Retry-After), cut short
        by a Ctrl-C."""
        with self._stops_changed:
            self._stops_changed.wait_for(
                lambda: self.stops > self._heard.get(exchange, 0), timeout=seconds
            )
        self._checkpoint(exchange)

    def _warn_unrestricted(self, plans: list[KeyPlan]) -> None:
        """Keys with no IP restriction, on exchanges that expire or strip such keys."""
        for plan in plans:
            flow = FLOWS[plan.target.exchange]
            if flow.unrestricted and plan.key is not None and not plan.current:
                self.reporter.notice(
                    f"{flow.name}: {plan.target.key!r} has no IP restriction; {flow.name} "
                    f"expires or strips such keys after {flow.unrestricted}. `ipbind apply` "
                    "restricts it to Altrady's addresses."
                )

    def _flow(self, chromium: Browser, exchange: str) -> Flow:
        conf = self.settings.exchange(exchange)
        flow_cls = FLOWS[exchange]
        saved = browsers.session_file(self.settings.state_home, exchange)
        context: BrowserContext = chromium.new_context(
            locale="en-US", storage_state=saved if saved.is_file() else None
        )
        if self.trace:
            traces.start(context, f"ipbind {exchange}")
        page = context.new_page()
        credentials = None
        if conf.username and conf.password:
            secrets = {name: getattr(conf, name) for name in flow_cls.secrets}
            credentials = Credentials(
                conf.username, conf.password, {k: v for k, v in secrets.items() if v}
            )
        flow = flow_cls(
            page,
            self.origins[exchange],
            credentials,
            self._codes(exchange),
            OneAtATime(self.human, self.desk),
            timeout=self.settings.timeout,
        )
        flow.checkpoint = partial(self._checkpoint, exchange)
        if self.walkthrough is not None:
            self.walkthrough(flow)
        return flow

    def _save_trace(self, exchange: str, context: BrowserContext) -> None:
        """The exchange's trace, scrubbed, into the run folder (before its context closes)."""
        if not self.trace or self.run_dir is None:
            return
        path = self.run_dir / f"trace-{exchange}.zip"
        try:
            traces.save(context, path)
        except (PlaywrightError, OSError) as err:  # the browser gone (Ctrl-C), a full disk
            logger.info("no trace of {}: {}", exchange, browsers.first_line(err))
            return
        self.traces.append(path)
        logger.info("trace of {}: {} (open with `playwright show-trace {}`)", exchange, path, path)

    def _codes(self, exchange: str) -> Codes:
        conf = self.settings.exchange(exchange)
        totp = conf.totp()
        # The step a run just before this one spent is spent for this run too.
        memory = StepMemory(self.settings.state_home / TOTP_STEPS_FILE, self.origins[exchange])
        if totp is not None:
            secret = totp.secret.get_secret_value()
            nap = partial(self._nap, exchange)
            return TotpCodes(secret, totp.period, totp.digits, sleep=nap, memory=memory)
        ask_code = self.ask_code
        assert ask_code is not None  # _check_targets said so before the browser started
        name = FLOWS[exchange].name

        def ask(prompt: str, wait: float) -> str:
            return self.desk.ask(lambda: ask_code(prompt, wait))

        return PromptedCodes(name, conf.totp_period, ask, memory=memory)

    def _plan(self, flow: Flow, targets: list[Target]) -> list[KeyPlan]:
        plans = [KeyPlan(t) for t in targets]
        try:
            with self._failure_capture(flow, "plan"):
                flow.open()
                keys = flow.list_keys() if flow.scope == "key" else []
        except Interrupted:
            raise  # the run stops: not this key's failure
        except IpbindError as err:
            for plan in plans:
                plan.error = err
            return plans
        for plan in plans:
            try:
                with self._failure_capture(flow, f"plan-{plan.target.key}"):
                    self._read_plan(flow, plan, keys)
                if self.mode == "verify" or (self.mode == "apply" and not plan.changes):
                    self._picture(flow, plan)  # else: no report, or one after the read-back
            except Interrupted:
                raise
            except IpbindError as err:
                plan.error = err
        return plans

    def _read_plan(self, flow: Flow, plan: KeyPlan, keys: list[KeyInfo]) -> None:
        target = plan.target
        if target.binding is not None:
            self._read_binding(flow, plan, keys)
            return
        if flow.scope == "key" and not keys and flow.shows(target.key):
            raise SiteChanged(  # keys are shown, but not with the controls the flow knows
                f"{flow.name}: the API page shows {target.key!r}, but no key on it has the "
                "controls ipbind looks for"
            )
        plan.key = (
            KeyInfo(ACCOUNT_LIST)
            if flow.scope == "account"
            else match_key(type(flow), target.key, keys)
        )
        plan.current = flow.read(plan.key)
        plan.to_add = [ip for ip in target.ips if ip not in plan.current]
        if self.replace:
            plan.to_remove = [ip for ip in plan.current if ip not in target.ips]
        total = len(plan.current) - len(plan.to_remove) + len(plan.to_add)
        if total > flow.max_ips:
            raise UserActionNeeded(
                f"{flow.name}: {target.key!r} has {len(plan.current)} addresses; adding "
                f"{len(plan.to_add)} makes {total}, over the limit of {flow.max_ips}",
                hint="Remove addresses you no longer use on the exchange, or rerun with "
                "--replace to swap the old ones for Altrady's.",
            )

    def _read_binding(self, flow: Flow, plan: KeyPlan, keys: list[KeyInfo]) -> None:
        """A key bound to Altrady: none of its name yet → create one; one bound as asked →
        nothing to do; one bound otherwise → stop: a binding cannot be changed."""
        target, wanted = plan.target, plan.target.binding
        named = [k for k in keys if k.name == target.key]
        if not named:
            plan.create = True
            return
        free = free_name(target.key, keys)
        if len(named) > 1:
            raise UserActionNeeded(
                f"{flow.name}: {len(named)} keys are named {target.key!r}",
                hint=f"Give `key` a name no {flow.name} key has (say {free!r}): ipbind creates "
                f"that key, {wanted}.",
            )
        plan.key = named[0]
        bound = flow.binding(plan.key)
        if bound != wanted:
            assert wanted is not None
            shows = (  # a page may not say which other application, only that it is not ours
                f"bound to {flow.app} ({', '.join(bound.permissions)})"
                if bound.app == wanted.app
                else f"not bound to {flow.app}"
            )
            raise UserActionNeeded(
                f"{flow.name}: a key named {target.key!r} exists, {shows}; {flow.name} cannot "
                f"bind an existing key to {flow.app} (or change its binding), so nothing was "
                "changed",
                hint=f"Give `key` a name no {flow.name} key has (say {free!r}): ipbind creates "
                f"that key, {wanted}.",
            )
        plan.fresh = free  # bound as asked: nothing to do, unless its secret is not in Altrady

    def _planned(self, plan: KeyPlan, mode: Mode) -> KeyResult:
        if plan.error:
            return KeyResult(plan, "failed", error=plan.error)
        if mode == "verify":
            complete = not plan.changes
            status: Status = "verified" if complete else "not verified"
            bound = plan.target.binding if complete else None
            return KeyResult(plan, status, list(plan.current), bound=bound)
        return KeyResult(plan, "unchanged" if not plan.changes else "planned")

    def _apply(self, flow: Flow, plan: KeyPlan) -> KeyResult:
        """Changes the key as planned and reads it back; journalled."""
        if plan.changes:
            self.journal.changing(plan)
        result = self._apply_key(flow, plan)
        self.journal.result(result)
        return result

    def _apply_key(self, flow: Flow, plan: KeyPlan) -> KeyResult:
        target = plan.target

        def progress(done: int, total: int, note: str) -> None:
            self.reporter.progress(
                target.exchange, target.key, done, total, note, flow.codes.seconds_until_next
            )

        if not plan.changes:  # read on a settled page while planning: nothing to redo
            note = EXISTING if plan.fresh else None
            return KeyResult(plan, "unchanged", list(plan.current), bound=target.binding, note=note)
        if target.binding is not None:
            result = self._create(flow, plan, progress)
        else:
            assert plan.key is not None
            result = self._change(flow, plan, plan.to_add, plan.to_remove, progress)
        if not isinstance(result.error, SiteTrouble) or result.created is not None:
            return result
        # The server failed, limited or ended the session: not the user's doing. Once more,
        # from what the key holds now (signing in again if need be): nothing is sent twice.
        trouble = result.error
        wait = min(trouble.retry_after or RETRY_WAIT, MAX_RETRY_WAIT)
        self.reporter.notice(f"{trouble.message}; trying once more in {wait:.0f} s")
        try:
            self._nap(flow.id, wait)  # the pause the server asked for, or a short one
            flow.open()
            if target.binding is not None:
                named = [k for k in flow.list_keys() if k.name == target.key]
            else:
                assert plan.key is not None
                now = flow.read(plan.key)
        except (KeyboardInterrupt, Interrupted):
            self._interrupted(flow.id)
            return KeyResult(plan, "interrupted", result.after, note=INTERRUPTED)
        except IpbindError as err:
            logger.info("{}: {!r}: no second try: {}", flow.name, target.key, err.message)
            return result
        if target.binding is not None:
            if named:  # created after all, but its answer (the secret, shown once) was lost
                return KeyResult(plan, "failed", error=secret_lost(flow, target.key))
            return self._create(flow, plan, progress)
        add = [ip for ip in target.ips if ip not in now]
        remove = [ip for ip in plan.to_remove if ip in now]
        if not add and not remove:  # the first try had saved it all: read just now, afresh
            return KeyResult(plan, "verified", now)
        return self._change(flow, plan, add, remove, progress)

    def _change(
        self, flow: Flow, plan: KeyPlan, add: list[str], remove: list[str], progress: Progress
    ) -> KeyResult:
        """`add` and `remove` on the key through the flow, then read it back afresh."""
        assert plan.key is not None
        target = plan.target
        try:
            with self._failure_capture(flow, f"apply-{target.key}"):
                flow.change(plan.key, add, remove, progress)
        except (KeyboardInterrupt, Interrupted):  # Ctrl-C, or at a prompt for a code
            self._interrupted(flow.id)
            after = self._read_back_if_possible(flow, plan)
            return KeyResult(plan, "interrupted", after, note=INTERRUPTED)
        except IpbindError as err:
            return KeyResult(plan, "failed", self._read_back_if_possible(flow, plan), error=err)
        try:
            with self._failure_capture(flow, f"read-back-{target.key}"):
                after = self._read_back(flow, plan)
                short = any(ip not in after for ip in target.ips)
                pending = flow.pending(plan.key) if short else None
            self._picture(flow, plan)
        except (KeyboardInterrupt, Interrupted):  # stopped while reading back: once more
            self._interrupted(flow.id)
            after = self._read_back_if_possible(flow, plan)
            return KeyResult(plan, "interrupted", after, note=INTERRUPTED)
        except IpbindError as err:
            return KeyResult(plan, "failed", error=err)
        missing = [ip for ip in target.ips if ip not in after]
        extra = [ip for ip in after if ip in plan.to_remove]
        if pending:  # saved, but waiting for the person (an e-mailed link): not verified
            return KeyResult(plan, "not verified", after, error=not_in_effect(flow, plan, pending))
        if missing or extra:
            mismatch = SiteChanged(
                f"{flow.name}: {target.key!r}: after saving, the list read back lacks "
                f"{len(missing)} of the {len(target.ips)} addresses"
                + (f" and still holds {len(extra)} that were to be removed" if extra else "")
            )
            return KeyResult(plan, "not verified", after, error=mismatch)
        return KeyResult(plan, "verified", after)

    def _read_back_if_possible(self, flow: Flow, plan: KeyPlan) -> list[str] | None:
        """After a change stopped half way: what the key holds now, so that the summary tells
        what the exchange has rather than what was planned. None when it cannot be read (a
        second Ctrl-C, a closed browser, a site that keeps failing)."""
        try:
            return self._read_back(flow, plan, once=True)
        except (IpbindError, PlaywrightError, KeyboardInterrupt) as err:
            logger.info(
                "{}: {!r}: not read back after the stop ({})",
                flow.name,
                plan.target.key,
                type(err).__name__,
            )
            return None

    def _create(self, flow: Flow, plan: KeyPlan, progress: Progress) -> KeyResult:
        """Creates the key bound to Altrady, then reads its binding back from a fresh load."""
        target = plan.target
        assert target.binding is not None
        created: NewKey | None = None
        try:
            with self._failure_capture(flow, f"apply-{target.key}"):
                created = flow.create(target.key, target.binding, progress)
                flow.open()
                plan.key = match_key(type(flow), target.key, flow.list_keys())
                bound = flow.binding(plan.key)
                self._picture(flow, plan)  # the key as read back, for the report
        except (KeyboardInterrupt, Interrupted):  # a key created is still shown to the user
            self._interrupted(flow.id)
            created = created or flow.created
            return KeyResult(plan, "interrupted", note=INTERRUPTED, created=created)
        except IpbindError as err:  # a key created but not read back is still the user's
            return KeyResult(plan, "failed", error=err, created=created or flow.created)
        if bound != target.binding:
            mismatch = SiteChanged(
                f"{flow.name}: {target.key!r} was created, but reads back {bound}, "
                f"not {target.binding}"
            )
            return KeyResult(plan, "not verified", error=mismatch, bound=bound, created=created)
        return KeyResult(plan, "verified", bound=bound, created=created)

    def _read_back(self, flow: Flow, plan: KeyPlan, *, once: bool = False) -> list[str]:
        """The key's list from a fresh load of the API page: what the server saved, not what
        was typed. A list that lacks what was just saved is read once more after the page
        has settled again, before the key is called "not verified"."""
        assert plan.key is not None
        flow.open()
        after = flow.read(plan.key)
        if not once and any(ip not in after for ip in plan.target.ips):
            logger.info(
                "{}: {!r}: the list read back is short; reading it once more",
                flow.name,
                plan.target.key,
            )
            flow.settle()
            after = flow.read(plan.key)
        return after

    @contextmanager
    def _failure_capture(self, flow: Flow, what: str) -> Iterator[None]:
        """On failure, keep a screenshot (every input masked) for the debug report."""
        try:
            yield
        except Interrupted:
            raise  # the person stopped it: nothing to picture
        except IpbindError as err:
            logger.info("failed: {}", err.message)  # the reporter tells the user
            self._screenshot(flow.page, f"{flow.id}-{what}")
            raise

    def _picture(self, flow: Flow, plan: KeyPlan) -> None:
        """The key's whitelist as just read, for the run's report (password and code
        fields masked, addresses visible)."""
        if self.run_dir is None:
            return
        flow.settle()  # the list, not its skeleton
        path = report.picture(flow.page, self.run_dir, plan.target.exchange, plan.target.key)
        if path is not None:
            self.pictures[(plan.target.exchange, plan.target.key)] = path

    def _screenshot(self, page: Page, name: str) -> None:
        if self.run_dir is None:
            return
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        path = self.run_dir / f"{safe}.png"
        try:
            page.screenshot(path=path, mask=[page.locator("input, textarea")], timeout=5000)
            logger.info("screenshot of the failure: {}", path)
        except Exception as err:  # a screenshot is a courtesy; never mask the real failure
            logger.debug("no screenshot: {}", err)


class Worker:
    """One exchange's part of a run: its browser context, flow and codes, and its keys, one
    after another (the exchange's rate limits; one TOTP step per code). The engine decides
    what is done; a worker does it on one lane from start to end (its pages belong to that
    lane's thread)."""

    def __init__(self, engine: Engine, exchange: str, targets: list[Target]):
        self.engine = engine
        self.exchange = exchange
        self.targets = targets
        self.flow: Flow | None = None
        self.plans: list[KeyPlan] = []
        self.results: list[KeyResult] = []

    def plan(self, chromium: Browser) -> None:
        engine = self.engine
        engine.reporter.status(
            self.exchange,
            f"{FLOWS[self.exchange].name}: signing in and reading {len(self.targets)} key(s) "
            f"at {engine.origins[self.exchange]} …",
        )
        try:
            self.flow = engine._flow(chromium, self.exchange)
            self.plans = engine._plan(self.flow, self.targets)
        except (KeyboardInterrupt, Interrupted):  # the run stops before any change
            engine._interrupted(self.exchange)

    def apply(self) -> None:
        """Each key in turn. After a Ctrl-C (here or in another worker) the key under way has
        been read back, and no key is started after it."""
        assert self.flow is not None
        for plan in self.plans:
            if self.engine.stopping:
                break
            try:
                result = self.engine._apply(self.flow, plan)
            except (KeyboardInterrupt, Interrupted):  # between two of the engine's steps
                self.engine._interrupted(self.exchange)
                result = KeyResult(plan, "interrupted", note=INTERRUPTED)
            self.results.append(result)
            self.engine.reporter.result(result)

    def outcome(self) -> list[KeyResult]:
        """Its keys' results, in plan order; a key it never came to is "not started"."""
        rest = self.plans[len(self.results) :]
        return self.results + [KeyResult(p, "not started", note=NOT_REACHED) for p in rest]

    def close(self) -> None:
        if self.flow is not None:
            self.engine._save_trace(self.exchange, self.flow.page.context)
            with suppress(PlaywrightError):  # after a Ctrl-C the browser may be gone already
                self.flow.page.context.close()


__all__ = ["Engine", "KeyPlan", "KeyResult", "Reporter", "Target", "Worker"]
