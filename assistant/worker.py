"""One exchange's part of a run (`Worker`): its browser context and flow, and its keys one
after another (the exchange's rate limits; one TOTP step per code).

    plan     sign in, find each key, read its whitelist, work out what to add
    apply    change each key through the flow (a second try after a server's trouble),
             then read it back from a fresh load: a key is verified only by its read-back

The engine decides what is done; a worker does it on one lane from start to end (its pages
belong to that lane's thread). What every worker of a run shares is its `Run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from playwright.sync_api import Browser, Page, StorageState
from playwright.sync_api import Error as PlaywrightError

from assistant import logs, report
from assistant import trace as traces
from assistant.errors import (
    BrowserGone,
    Interrupted,
    IpbindError,
    SiteChanged,
    SiteTrouble,
    UserActionNeeded,
    first_line,
)
from assistant.journal import Journal
from assistant.opening import codes_for, open_exchange
from assistant.outcome import (
    ACCOUNT_LIST,
    EXISTING,
    NOT_CREATED,
    NOT_REACHED,
    KeyPlan,
    KeyResult,
    Mode,
    Outcome,
    Reporter,
    Target,
    names_of,
    planned,
    stopped,
)
from assistant.settings import BaseIpbindSettings
from assistant.stops import Stops
from assistant.targets import KeyNames, free_name, match_key
from assistant.twofa import Ask
from assistant.words import count
from flows import FLOWS
from flows.base import Flow, Human, KeyInfo, NewKey, Progress, Step
from flows.cards import key_strings

RETRY_WAIT = 2.0  # seconds before the second try after a server error with no Retry-After
MAX_RETRY_WAIT = 60.0  # at most this long, whatever a Retry-After asks


@dataclass
class Run:
    """What every worker of a run shares: set up once by the engine."""

    settings: BaseIpbindSettings
    mode: Mode
    origins: dict[str, str]
    reporter: Reporter
    human: Human  # the person, as every worker meets them: one question at a time
    ask_code: Ask | None  # at the terminal, through the same desk
    stops: Stops
    journal: Journal
    outcome: Outcome  # the pictures and traces go here as they are taken
    replace: bool = False
    run_dir: Path | None = None
    trace: bool = False  # a Playwright trace per exchange (-v), scrubbed when saved
    walkthrough: Callable[[Flow], None] | None = None  # narrates a headed run


def doing(step: Step, key: str, exchange: str, done: int, total: int) -> str:
    """A change under way, in the one form every progress line takes."""
    if step == "create":
        return f"Creating {key!r} on {exchange} ({done}/{total})"
    verb = "Adding {} to" if step == "add" else "Removing {} from"
    return f"{verb.format(count(total, 'address'))} {key!r} on {exchange} ({done}/{total})"


def not_in_effect(flow: Flow, plan: KeyPlan, pending: str) -> UserActionNeeded:
    return UserActionNeeded(
        f"{flow.name}: {plan.target.key!r}: saved, but not in effect yet: the page says "
        f"{pending!r}, and the list read back is still the old one",
        hint=f"Open the confirmation link {flow.name} e-mailed you, then run `ipbind verify`.",
    )


def secret_lost(flow: Flow, key: str) -> UserActionNeeded:
    return UserActionNeeded(
        f"{flow.name}: {key!r} was created, but the server failed before showing its secret "
        f"({flow.name} shows it once only)",
        hint=f"Delete {key!r} on {flow.name}, then run again: ipbind creates it afresh.",
    )


class Worker:
    def __init__(self, run: Run, exchange: str, targets: list[Target]):
        self.run = run
        self.exchange = exchange
        self.targets = targets
        self.flow: Flow | None = None
        self.plans: list[KeyPlan] = []
        self.results: list[KeyResult] = []
        self._chromium: Browser | None = None
        self._parked: StorageState | None = None  # the session of a window closed after planning
        # Starts a new browser for this worker's lane, when the run launched its own: one
        # whose process ended mid-change is replaced once (`_in_a_new_browser`).
        self.relaunch: Callable[[], Browser] | None = None
        self._relaunched = False

    # -- the worker's part, as a lane runs it ------------------------------------------------

    def plan(self, chromium: Browser) -> None:
        run = self.run
        run.reporter.status(
            self.exchange,
            f"Signing in to {FLOWS[self.exchange].name} at {run.origins[self.exchange]}"
            f" to read {count(len(self.targets), 'key')} …",
        )
        self._chromium = chromium
        try:
            self.flow = self._open(chromium)
            self.plans = self._plan(self.flow)
        except (KeyboardInterrupt, Interrupted):  # the run stops before any change
            run.stops.interrupted(self.exchange)

    def park(self) -> None:
        """One window at a time (the walkthrough): the exchange's window closes once its
        keys are planned, its session kept in memory; `apply` opens it again, signed in."""
        if self.flow is None:
            return
        with suppress(PlaywrightError):
            self._parked = self.flow.page.context.storage_state()
        self.close()

    def apply(self) -> None:
        """Each key in turn. After a Ctrl-C (here or in another worker) the key under way has
        been read back, and no key is started after it."""
        if self.flow is None and self._chromium is not None and self.plans:
            try:  # parked after planning: the window again, on the API page
                self.flow = self._open(self._chromium, self._parked)
                self.flow.open()
            except (KeyboardInterrupt, Interrupted):
                self.run.stops.interrupted(self.exchange)
                return
            except IpbindError as err:
                for plan in self.plans:
                    self.results.append(KeyResult(plan, "failed", error=err))
                    self.run.reporter.result(self.results[-1])
                return
        assert self.flow is not None
        for plan in self.plans:
            if self.run.stops.stopping:
                break
            try:
                # a key that cannot be restricted: as planned (failed, saying why), untouched
                result = planned(plan, "apply") if plan.error else self._apply(self.flow, plan)
            except (KeyboardInterrupt, Interrupted):  # between two steps
                self.run.stops.interrupted(self.exchange)
                result = stopped(plan, None)
            self.results.append(result)
            self.run.reporter.result(result)

    def outcome(self) -> list[KeyResult]:
        """Its keys' results, in plan order; a key it never came to is "not started"."""
        rest = self.plans[len(self.results) :]
        return self.results + [KeyResult(p, "not started", note=NOT_REACHED) for p in rest]

    def close(self) -> None:
        if self.flow is not None:
            if self.flow.mailbox is not None:
                self.flow.mailbox.close()
            self._save_trace()
            with suppress(PlaywrightError):  # after a Ctrl-C the browser may be gone already
                self.flow.page.context.close()
            self.flow = None

    # -- opening ---------------------------------------------------------------------------

    def _open(self, chromium: Browser, state: StorageState | None = None) -> Flow:
        run, exchange = self.run, self.exchange
        origin = run.origins[exchange]

        def nap(seconds: float) -> None:
            run.stops.nap(exchange, seconds)

        def tell(text: str) -> None:
            run.reporter.notice(f"{FLOWS[exchange].name}: {text}")

        codes = codes_for(run.settings, exchange, origin, ask=run.ask_code, nap=nap, tell=tell)
        flow = open_exchange(
            chromium,
            run.settings,
            exchange,
            run.human,
            origin=origin,
            codes=codes,
            trace=run.trace,
            state=state,
        )
        flow.checkpoint = lambda: run.stops.checkpoint(exchange)
        if run.walkthrough is not None:
            run.walkthrough(flow)
        return flow

    def _save_trace(self) -> None:
        """The exchange's trace, scrubbed, into the run folder (before its context closes)."""
        run = self.run
        if not run.trace or run.run_dir is None or self.flow is None:
            return
        path = run.run_dir / f"trace-{self.exchange}.zip"
        if path.exists():  # its window closed after planning (the walkthrough): the apply's
            path = path.with_name(f"trace-{self.exchange}-apply.zip")
        if traces.save_if_possible(self.flow.page.context, path) is None:
            return  # the browser gone (Ctrl-C), a full disk: said in the debug log
        run.outcome.traces.append(path)
        logger.info(
            "trace of {}: {} (open with `playwright show-trace {}`)", self.exchange, path, path
        )

    # -- plan ------------------------------------------------------------------------------

    def _plan(self, flow: Flow) -> list[KeyPlan]:
        plans = [KeyPlan(t) for t in self.targets]
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
        # Read last to first: a flow whose read leaves the key's own view open (Kraken,
        # Huobi) then starts the first change from the view just read, not opening it again.
        for plan in reversed(plans):
            try:
                with self._failure_capture(flow, f"plan-{plan.target.key}"):
                    self._read_plan(flow, plan, keys)
                    if self.run.mode == "verify" and plan.to_add and plan.key is not None:
                        plan.pending = flow.pending(plan.key)  # short, as it was saved?
                if self.run.mode == "verify" or (self.run.mode == "apply" and not plan.changes):
                    self._picture(flow, plan, plan.current)  # else: after the read-back
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
            KeyInfo(ACCOUNT_LIST) if flow.scope == "account" else self._key(flow, target, keys)
        )
        plan.current = flow.read(plan.key)
        plan.to_add = [ip for ip in target.ips if ip not in plan.current]
        if self.run.replace:
            plan.to_remove = [ip for ip in plan.current if ip not in target.ips]
        elif self.run.mode != "verify":  # ipbind's own, which Altrady no longer allocates
            former = self.run.journal.added_before(self._whose(), names_of(target, plan.key))
            plan.to_remove = [ip for ip in plan.current if ip in former and ip not in target.ips]
            plan.retiring = bool(plan.to_remove)
        total = len(plan.current) - len(plan.to_remove) + len(plan.to_add)
        if total > flow.max_ips and self.run.mode != "verify":  # verify changes nothing
            raise UserActionNeeded(
                f"{flow.name}: {target.key!r} has {count(len(plan.current), 'address')}; adding "
                f"{len(plan.to_add)} makes {total}, over the limit of {flow.max_ips}",
                hint="Remove addresses you no longer use on the exchange, or rerun with "
                "--replace to swap the old ones for Altrady's.",
            )

    def _whose(self) -> str:
        """The account this worker's keys are on, for what ipbind added to them: the
        exchange, where it is reached, and the username signed in with (if set)."""
        conf = self.run.settings.exchange(self.exchange)
        return " ".join(
            filter(None, [self.exchange, self.run.origins[self.exchange], conf.username])
        )

    def _key(self, flow: Flow, target: Target, keys: list[KeyInfo]) -> KeyInfo:
        """The target's key among `keys`. One named by its API key (as `ipbind import`
        writes it) on a page that lists keys by name only: the person is asked once which
        key it is, and the answer remembered (`KeyNames`)."""
        names = KeyNames(self.run.settings.state_home)
        wanted = names.get(target.exchange, target.key)
        try:
            return match_key(type(flow), wanted, keys)
        except UserActionNeeded as err:
            if wanted != target.key or not keys or key_strings(target.key) != [target.key]:
                raise
            listed = [k.name for k in keys]
            chosen = self.run.human.which_key(flow.name, target.key, target.accounts, listed)
            if chosen is None:
                raise UserActionNeeded(
                    err.message,
                    hint=f"{flow.name} lists keys by name, and Altrady shows the API key: run "
                    "`ipbind plan FILE` once at a terminal (ipbind asks which key it is, and "
                    "remembers), or put the key's name in the file.",
                ) from None
            names.remember(target.exchange, target.key, chosen)
            return match_key(type(flow), chosen, keys)

    def _read_binding(self, flow: Flow, plan: KeyPlan, keys: list[KeyInfo]) -> None:
        """A key bound to Altrady: none of its name yet → create one; one bound as asked →
        nothing to do; one bound otherwise → stop: a binding cannot be changed."""
        target, wanted = plan.target, plan.target.binding
        assert wanted is not None
        named = [k for k in keys if k.name == target.key]
        if not named:
            # Named by its API key (`ipbind import`), which its card shows whole: that key,
            # never a new one.
            by_key = [k for k in keys if target.key in (k.api_key, *k.shown)]
            if len(by_key) == 1:
                self._bound_already(flow, plan, by_key[0])
                return
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

    def _bound_already(self, flow: Flow, plan: KeyPlan, key: KeyInfo) -> None:
        """A key named by its API key, as Altrady shows it: Altrady has it, so it must be
        bound to Altrady already (with whatever permissions its owner gave it); a key that
        is not cannot be bound now, and no other key is made in its place."""
        plan.key = key
        bound = flow.binding(key)
        if bound.app != flow.app:
            raise UserActionNeeded(
                f"{flow.name}: key {plan.target.key!r} is not bound to {flow.app}, and "
                f"{flow.name} cannot bind an existing key; nothing was changed",
                hint=f"Create a key on {flow.name} with {flow.app} as its third-party "
                f"application, and put it in {flow.app} in place of this one.",
            )
        plan.target.binding = bound  # as it is: its permissions are its owner's choice

    # -- apply -----------------------------------------------------------------------------

    def _apply(self, flow: Flow, plan: KeyPlan) -> KeyResult:
        """Changes the key as planned and reads it back; journalled."""
        if plan.changes:
            self.run.journal.changing(plan)
        result = self._apply_key(flow, plan)
        self.run.journal.result(result, self._whose())
        return result

    def _apply_key(self, flow: Flow, plan: KeyPlan) -> KeyResult:
        target = plan.target

        def progress(done: int, total: int, step: Step) -> None:
            self.run.reporter.progress(
                target.exchange,
                doing(step, target.key, flow.name, done, total),
                done,
                total,
                flow.codes.seconds_until_next,
            )

        if not plan.changes:  # read on a settled page while planning: nothing to redo
            note = EXISTING if plan.fresh else None
            return KeyResult(plan, "unchanged", list(plan.current), bound=target.binding, note=note)
        if target.binding is not None:
            result = self._create(flow, plan, progress)
        else:
            assert plan.key is not None
            result = self._change(flow, plan, plan.to_add, plan.to_remove, progress)
        if isinstance(result.error, BrowserGone) and result.created is None:
            return self._in_a_new_browser(plan, result, progress)
        if not isinstance(result.error, SiteTrouble) or result.created is not None:
            return result
        # The server failed, limited or ended the session: not the user's doing. Once more,
        # from what the key holds now (signing in again if need be): nothing is sent twice.
        trouble = result.error
        wait = min(trouble.retry_after or RETRY_WAIT, MAX_RETRY_WAIT)
        self.run.reporter.notice(f"{trouble.message}; trying once more in {wait:.0f} s")
        try:
            self.run.stops.nap(flow.id, wait)  # the pause the server asked for, or a short one
            flow.open()
            now = self._read_now(flow, plan)
        except (KeyboardInterrupt, Interrupted):
            self.run.stops.interrupted(flow.id)
            return stopped(plan, result.after)
        except IpbindError as err:
            logger.info("{}: {!r}: no second try: {}", flow.name, target.key, err.message)
            return result
        return self._redo(flow, plan, now, progress)

    def _in_a_new_browser(self, plan: KeyPlan, result: KeyResult, progress: Progress) -> KeyResult:
        """The browser's process ended under the change (out of memory, a crash): once, a new
        one, signed in again, and the rest of the job from what the key holds now (what the
        dead one got saved is not sent again). Not where the browser is not the run's own
        (an embedding program's, the tests' shared one)."""
        if self.relaunch is None or self._relaunched:
            return result
        self._relaunched = True
        assert result.error is not None
        name = FLOWS[self.exchange].name
        self.run.reporter.notice(
            f"{result.error.message}; starting it again, and going on from what "
            f"{plan.target.key!r} holds now"
        )
        self.close()  # what is left of the old one (its trace, if it can still be had)
        try:
            self._chromium = self.relaunch()
            self.flow = flow = self._open(self._chromium)
            with self._failure_capture(flow, f"reopen-{plan.target.key}"):
                flow.open()
                now = self._read_now(flow, plan)
        except (KeyboardInterrupt, Interrupted):
            self.run.stops.interrupted(self.exchange)
            return stopped(plan, result.after)
        except IpbindError as err:
            logger.info("{}: {!r}: not carried on: {}", name, plan.target.key, err.message)
            return result
        return self._redo(flow, plan, now, progress)

    def _read_now(self, flow: Flow, plan: KeyPlan) -> list[str]:
        """Before a second try: the key's list as the page shows it now; for a key bound to
        Altrady, its name if a key of that name exists now."""
        if plan.target.binding is not None:
            return [k.name for k in flow.list_keys() if k.name == plan.target.key]
        assert plan.key is not None
        return flow.read(plan.key)

    def _redo(self, flow: Flow, plan: KeyPlan, now: list[str], progress: Progress) -> KeyResult:
        """The second try, from `now` (see `_read_now`): only what is still to do."""
        target = plan.target
        if target.binding is not None:
            if now:  # created after all, but its answer (the secret, shown once) was lost
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
            self.run.stops.interrupted(flow.id)
            after = self._read_back_if_possible(flow, plan)
            return stopped(plan, after)
        except IpbindError as err:
            return KeyResult(plan, "failed", self._read_back_if_possible(flow, plan), error=err)
        try:
            with self._failure_capture(flow, f"read-back-{target.key}"):
                after = self._read_back(flow, plan)
                self._picture(flow, plan, after)
                short = any(ip not in after for ip in target.ips)
                pending = flow.pending(plan.key) if short else None
        except (KeyboardInterrupt, Interrupted):  # stopped while reading back: once more
            self.run.stops.interrupted(flow.id)
            after = self._read_back_if_possible(flow, plan)
            return stopped(plan, after)
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
            after = self._read_back(flow, plan, once=True)
        except (IpbindError, PlaywrightError, KeyboardInterrupt) as err:
            logger.info(
                "{}: {!r}: not read back after the stop ({})",
                flow.name,
                plan.target.key,
                type(err).__name__,
            )
            return None
        with suppress(Interrupted, KeyboardInterrupt):  # a second Ctrl-C: no picture
            self._picture(flow, plan, after)
        if plan.key is not None and any(ip not in after for ip in plan.target.ips):
            try:  # saved before the stop, waiting for an e-mailed link: "pending", not missing
                plan.pending = flow.pending(plan.key)
            except (IpbindError, PlaywrightError, KeyboardInterrupt):
                plan.pending = None
        return after

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
            self.run.stops.interrupted(flow.id)
            created = created or flow.created
            return KeyResult(plan, "interrupted", note=NOT_CREATED, created=created)
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
        was typed. Where the whole list is known (nothing was to be removed: what was there
        and what was saved), a key's own view (Kraken's and Huobi's edit view) is read as
        soon as it shows all of it (see `Settler.expecting`). A list that lacks any of it is
        read once more after the page has settled fully, before the key is called "not
        verified" (or one of the person's own addresses "gone")."""
        assert plan.key is not None
        self.run.reporter.status(self.exchange, f"Reading back {plan.target.key!r} on {flow.name}")
        kept = [ip for ip in plan.current if ip not in plan.to_remove]
        whole = [*kept, *(ip for ip in plan.target.ips if ip not in kept)]
        flow.checking = True
        try:
            with flow.settler.expecting(None if plan.to_remove else whole):
                flow.open()
                after = flow.read(plan.key)
            if all(ip in after for ip in whole):
                flow.settler.vouch()  # the picture that follows needs no second wait
            elif not once:
                logger.info(
                    "{}: {!r}: the list read back is short; reading it once more",
                    flow.name,
                    plan.target.key,
                )
                flow.settle()
                after = flow.read(plan.key)
            return after
        finally:
            flow.checking = False

    # -- pictures ---------------------------------------------------------------------------

    @contextmanager
    def _failure_capture(self, flow: Flow, what: str) -> Iterator[None]:
        """On failure, keep a screenshot (every input masked) for the debug report."""
        try:
            yield
        except Interrupted:
            raise  # the person stopped it: nothing to picture
        except IpbindError as err:
            logs.file_only().info("failed: {}", err.message)  # the reporter tells the user
            self._screenshot(flow.page, f"{flow.id}-{what}")
            raise

    def _picture(self, flow: Flow, plan: KeyPlan, read: Sequence[str] = ()) -> None:
        """The key's whole list (or binding) as just read back (`read`), for the run's
        report: a picture of the view the flow says shows it (`Flow.showing`), taken before
        the next key changes anything. A picture is a courtesy: only a Ctrl-C stops the run
        here."""
        if self.run.run_dir is None or plan.key is None or not self.run.settings.pictures:
            return
        target = plan.target
        run_dir = self.run.run_dir
        try:
            with flow.showing(plan.key) as view:
                flow.settle()  # the list, not its skeleton
                taken = report.picture(flow.page, view, run_dir, target.exchange, target.key)
                if taken is None or any(ip not in taken.shows for ip in read):
                    # The view was drawn again under the shot (a page vouched for as soon as
                    # it showed the whole list can still be re-rendering): once more, on a
                    # page watched until it has settled.
                    logger.debug("{}: {!r}: picturing it again", flow.name, target.key)
                    flow.settler.doubt()
                    flow.settle()
                    taken = report.picture(flow.page, view, run_dir, target.exchange, target.key)
        except Interrupted:
            raise
        except (IpbindError, PlaywrightError) as err:
            logger.info("no picture of {} {!r}: {}", flow.name, target.key, first_line(err))
            return
        if taken is not None:
            self.run.outcome.pictures[(target.exchange, target.key)] = taken

    def _screenshot(self, page: Page, name: str) -> None:
        if self.run.run_dir is None:
            return
        path = self.run.run_dir / f"{report.safe_name(name)}.png"
        try:
            page.screenshot(path=path, mask=[page.locator("input, textarea")], timeout=5000)
            logger.info("screenshot of the failure: {}", path)
        except Exception as err:  # a screenshot is a courtesy; never mask the real failure
            logger.debug("no screenshot: {}", err)
