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

Each exchange has a worker of its own (`assistant.worker`: its browser context, flow and
codes) that does its keys one after another (the exchange's rate limits, one TOTP step per
code). The engine runs the workers on lanes (`assistant.parallel.Lanes`, `settings.parallel`):
one lane is the calling thread; more are threads, each with a Playwright driver and a
browser of its own. Either way every worker plans before the run is decided, in the calling
thread, once; a Ctrl-C (`assistant.stops`) stops every worker between two steps, and each
reads back the key it was on.

The rooms around it: `targets` (what the allocation asks, checked before any browser),
`opening` (an exchange's origin, credentials, codes and flow), `worker` (plan and apply per
key), `outcome` (the plans and results the runner, output, report and journal read).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Playwright

from assistant import browser as browsers
from assistant.allocation import Allocation
from assistant.errors import CannotRestrict, UserActionNeeded
from assistant.journal import Journal, allocation_id
from assistant.logs import redactor
from assistant.opening import origin_of
from assistant.outcome import (
    DECLINED,
    KeyPlan,
    KeyResult,
    Mode,
    Outcome,
    Reporter,
    not_started,
    planned,
)
from assistant.parallel import Desk, Lanes, OneAtATime, lanes_for
from assistant.settings import BaseIpbindSettings, is_loopback_url
from assistant.stops import Stops
from assistant.targets import preflight, targets_of
from assistant.twofa import Ask
from assistant.worker import Run, Worker
from flows import FLOWS
from flows.base import Flow, Human


class Engine:
    """One run over an allocation. Built with everything the run needs; `run` returns its
    `Outcome`, which is also `outcome` when the run ends in an error or a Ctrl-C (what each
    key holds, as read back, once changes had begun)."""

    def __init__(
        self,
        settings: BaseIpbindSettings,
        allocation: Allocation,
        reporter: Reporter,
        human: Human,
        *,
        ask_code: Ask | None = None,
        replace: bool = False,
        run_dir: Path | None = None,
        trace: bool = False,
        stops: Stops | None = None,
        walkthrough: Callable[[Flow], None] | None = None,
        fresh_key: Callable[[KeyPlan], bool] | None = None,
        reads_mail: bool = True,
    ):
        """`ask_code`: a terminal to ask for codes at (None: TOTP secrets only). `trace`: a
        Playwright trace per exchange (-v): it holds what was typed, so only when asked, and
        scrubbed of every secret before it is written. `walkthrough` narrates a headed run.
        `fresh_key` is asked, before the confirmation, about each key bound as asked
        (`KeyPlan.fresh`): True creates a fresh key under the free name; unset: never.
        `reads_mail`: whether the person can be asked for what an exchange e-mails (a
        terminal, or the demo's stand-in); if not, an apply that would need it refuses."""
        self.settings = settings
        self.reporter = reporter
        self.human = human
        self.ask_code = ask_code
        self.replace = replace
        self.run_dir = run_dir
        self.trace = trace and run_dir is not None
        self.stops = stops or Stops()
        self.walkthrough = walkthrough
        self.fresh_key = fresh_key
        self.reads_mail = reads_mail
        self.outcome = Outcome(pictures_off=not settings.pictures)
        for exchange in FLOWS:  # every secret known to the run is masked in every log line
            redactor.add(*settings.exchange(exchange).secret_values())
        self.targets = targets_of(allocation)
        self.origins = {ex: origin_of(settings, ex) for ex in self.targets}
        preflight(settings, allocation, self.origins, can_ask=ask_code is not None)
        # What this apply plans and what each key's change comes to; and whether the last
        # apply of the same allocation stopped half way (told, never trusted over a read).
        self.journal = Journal(settings.state_home, allocation_id(self.targets))

    def run(
        self,
        mode: Mode,
        confirm: Callable[[list[KeyPlan]], bool],
        chromium: Browser | None = None,
    ) -> Outcome:
        """On one lane, in `chromium` when given (the tests share one), else in a browser it
        launches; on more (`settings.parallel`, else what the machine takes unless `chromium`
        is given), each lane in a thread with a browser of its own."""
        outcome = self.outcome
        for exchange in self.targets:
            if FLOWS[exchange].notice and not is_loopback_url(self.origins[exchange]):
                self.reporter.notice(f"{FLOWS[exchange].name}: {FLOWS[exchange].notice}")
        unfinished = self.journal.last_unfinished()
        if unfinished is not None:
            outcome.resumes = unfinished.text(mode)
            self.reporter.notice(outcome.resumes)
        desk = Desk(on_stop=self.stops.stop)  # the person, one question at a time
        ask_code = self.ask_code

        def ask(prompt: str, wait: float, sent: Callable[[], bool] | None = None) -> str | None:
            assert ask_code is not None
            return desk.ask_watching(lambda gone: ask_code(prompt, wait, gone), sent)

        shared = Run(
            self.settings,
            mode,
            self.origins,
            self.reporter,
            OneAtATime(self.human, desk),
            None if ask_code is None else ask,
            self.stops,
            self.journal,
            outcome,
            replace=self.replace,
            run_dir=self.run_dir,
            trace=self.trace,
            walkthrough=self.walkthrough,
        )
        workers = [Worker(shared, exchange, targets) for exchange, targets in self.targets.items()]
        parallel = self.settings.parallel or (1 if chromium is not None else None)
        # The walkthrough (one lane) shows one exchange's window at a time.
        one_window = self.walkthrough is not None and len(workers) > 1
        lanes = Lanes(list(workers), self._launch, self.stops, desk, one_window=one_window)
        try:
            lanes.run(
                lanes_for(parallel, len(workers)),
                lambda: self._decide(workers, mode, confirm),
                chromium,
            )
        finally:
            if outcome.changing:  # what each key holds, as read back: what Ctrl-C reports too
                outcome.results = [result for worker in workers for result in worker.outcome()]
        if self.stops.stopping:  # Ctrl-C: every key under way was read back; none started after
            raise KeyboardInterrupt
        return outcome

    def _launch(self, pw: Playwright) -> Browser:
        return browsers.launch_for(pw, self.settings)

    def _decide(
        self, workers: list[Worker], mode: Mode, confirm: Callable[[list[KeyPlan]], bool]
    ) -> bool:
        """Once every worker has planned: show the plan and decide, once for the whole run.
        True: apply. Otherwise the outcome's results say why not."""
        if self.stops.stopping:
            raise KeyboardInterrupt  # stopped while planning: nothing was changed
        outcome = self.outcome
        plans = [plan for worker in workers for plan in worker.plans]
        self.reporter.end_progress()
        if mode == "apply" and not self.reads_mail:
            self._refuse_unreadable_mail(plans)
        self.reporter.plans(plans, mode)
        for plan in plans:  # a key bound as asked: a fresh one, if the person says so
            wanted = plan.fresh and not plan.error and self.fresh_key and self.fresh_key(plan)
            if wanted and mode == "apply":
                plan.target.key, plan.key, plan.create = plan.fresh or "", None, True
        if mode != "apply":
            self._warn_unrestricted(plans)
        # A key that cannot be restricted at all is said so, and stops no other; any other
        # key that cannot be planned stops the run before anything changes.
        failed = [p for p in plans if p.error and not isinstance(p.error, CannotRestrict)]
        if failed and mode == "apply":
            outcome.results = [
                planned(p, mode) if p.error else not_started(p, failed) for p in plans
            ]
        elif mode != "apply":
            outcome.results = [planned(p, mode) for p in plans]
        elif any(p.changes for p in plans) and not confirm(plans):
            outcome.results = [KeyResult(p, "declined", note=DECLINED) for p in plans]
        else:
            outcome.changing = True
            self.journal.planned(plans)
        return outcome.changing

    @staticmethod
    def _refuse_unreadable_mail(plans: list[KeyPlan]) -> None:
        """With no one to ask for an e-mailed code or link, a key whose change needs one
        cannot be planned: the run stops before anything changes, naming the exchanges."""
        for plan in plans:
            flow = FLOWS[plan.target.exchange]
            if flow.mail and plan.changes and not plan.error:
                plan.error = UserActionNeeded(
                    f"{flow.name}: changing {plan.target.key!r} needs {flow.mail}, and there is "
                    "no terminal to ask for it; nothing was changed",
                    hint="Run ipbind in a terminal, to type the code (or open the link) when "
                    f"{flow.name} e-mails it; or let ipbind read it from your mailbox "
                    "(IPBIND_MAIL__HOST, __USERNAME, __PASSWORD: see the README).",
                )

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
