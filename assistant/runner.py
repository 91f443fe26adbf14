"""plan / apply / verify: settings → allocation → engine → summary → exit code."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Browser

from assistant import browser as browsers
from assistant import logs, report, signin, walkthrough
from assistant.allocation import Allocation, load
from assistant.engine import Engine
from assistant.errors import BadInput, BrowserMissing, ExitCode, Interrupted, IpbindError
from assistant.exchanges import note_verified
from assistant.human import TerminalHuman, interactive
from assistant.opening import origin_of
from assistant.outcome import KeyPlan, KeyResult, Mode, Outcome
from assistant.output import ConsoleReporter, new_keys_text, print_json, result_json
from assistant.settings import BaseIpbindSettings, load_settings
from assistant.stops import AS_CTRL_C, Stops, as_ctrl_c
from assistant.targets import site_problems
from assistant.words import count
from flows import ALIASES, FLOWS
from flows.base import Human

ALTRADY_LAST_STEP = (
    "Last step, in Altrady: Settings > Exchange API Keys, edit the trading account and click "
    "Update."
)
DEMO_END = (
    "That was a demo, on mock exchange sites on this computer: no real exchange was touched. "
    "To do it for real, write your allocation file and set your exchange's login (see the "
    "README: Use it on your exchange), then `ipbind plan FILE` and `ipbind apply FILE`."
)


@dataclass
class Options:
    verbose: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    json_out: bool = False
    allow_count: bool = False
    yes: bool = False
    replace: bool = False
    demo: bool = False  # against the bundled mock sites: ends by pointing to real use
    walkthrough: bool = False  # headed and slowed, a banner on the page before each step
    secret_file: Path | None = None  # where new API keys and secrets go, when asked (0600)
    # The wizard's run: the person is at the terminal answering, so a missing sign-in is
    # asked even under --yes (which only skips the plan's confirmation) or --json.
    asks_sign_in: bool = False
    # `check` and `watch`: nobody is there to ask anything (a timer, cron), terminal or not.
    unattended: bool = False


@dataclass
class Ended:
    """How a run ended, for a caller that acts on it (`check`): each key's result, and the
    error that stopped the run as a whole, if one did."""

    results: list[KeyResult] = field(default_factory=list)
    error: IpbindError | None = None


def load_allocation(path: Path, allow_count: bool) -> Allocation:
    return load(
        path,
        exchanges=FLOWS,
        cidr={fid: flow.cidr for fid, flow in FLOWS.items()},
        max_ips={fid: flow.max_ips for fid, flow in FLOWS.items() if flow.max_ips},
        allow_count=allow_count,
        aliases=ALIASES,
        bindings={f.id: f.permissions for f in FLOWS.values() if f.mode == "third-party app"},
    )


def with_site_problems(
    missing: BadInput, settings: BaseIpbindSettings, allocation: Allocation
) -> BadInput:
    """`missing` (no sign-in, nobody to ask), with the file's other problems a sign-in
    would not get past (documentation addresses against a real site, …), said at once."""
    try:
        origins = {a.exchange: origin_of(settings, a.exchange) for a in allocation.accounts}
    except BadInput as err:  # a BASE_URL ipbind refuses: said with it
        return BadInput(f"{missing.message}\n{err.message}", hint=missing.hint)
    others = site_problems(allocation, origins)
    if not others:
        return missing
    return BadInput("\n".join([missing.message, *others]), hint=missing.hint)


def verified_live(settings: BaseIpbindSettings, results: list[KeyResult]) -> list[str]:
    """The exchanges whose every key read back whole from the exchange's own site (not a
    mock on this machine): `ipbind exchanges` says "verified here"."""
    done: dict[str, bool] = {}
    for result in results:
        exchange = result.plan.target.exchange
        whole = result.status in ("verified", "unchanged") and not result.missing
        done[exchange] = done.get(exchange, True) and whole and result.error is None
    return [
        exchange
        for exchange, whole in done.items()
        if whole and origin_of(settings, exchange) in FLOWS[exchange].origins
    ]


def exit_code_of(results: list[KeyResult], mode: Mode) -> ExitCode:
    errors = [r.error for r in results if r.error and r.status == "failed"]
    if errors:
        return errors[0].exit_code
    if mode == "plan":
        return ExitCode.OK
    if any(r.status in ("not verified", "not started", "declined") or r.missing for r in results):
        return ExitCode.NOT_VERIFIED
    return ExitCode.OK


def run(
    mode: Mode,
    file: Path,
    options: Options,
    *,
    settings: BaseIpbindSettings | None = None,
    chromium: Browser | None = None,
    human: TerminalHuman | None = None,
    person: Human | None = None,
    ended: Ended | None = None,
) -> ExitCode:
    """`human` is the person at the terminal (the wizard brings its own); `person` plays the
    person for e-mailed codes and links in place of the terminal (the demo's stand-in,
    tests' MailboxHuman); `ended` is filled in with how it ended. SIGTERM and SIGHUP stop it
    as Ctrl-C does."""
    with as_ctrl_c() as signals:
        ended = ended or Ended()
        return _run(mode, file, options, settings, chromium, human, person, signals, ended)


def _run(
    mode: Mode,
    file: Path,
    options: Options,
    settings: BaseIpbindSettings | None,
    chromium: Browser | None,
    human: TerminalHuman | None,
    person: Human | None,
    signals: list[int],
    ended: Ended,
) -> ExitCode:
    there = interactive() and not options.unattended  # someone to ask, at a terminal
    reporter = human.reporter if human else ConsoleReporter(json_mode=options.json_out)
    log_path: Path | None = None
    run_dir: Path | None = None
    results: list[KeyResult] = []
    engine: Engine | None = None
    logs.setup(options.verbose)  # until the run's own folder exists: stderr only
    try:
        # Everything that can be checked is checked before the run's folder is made.
        settings = settings or load_settings(**options.overrides)
        if options.walkthrough:  # it shows the browser, whatever --headed says
            browsers.require_display("--walkthrough")
            settings = walkthrough.settings_for(settings)
        allocation = load_allocation(file, options.allow_count)
        if options.secret_file is not None and options.secret_file.exists():
            raise BadInput(
                f"--secret-file {options.secret_file}: the file exists; ipbind never "
                "overwrites one: name a new file"
            )
        if mode == "apply" and not options.yes and not there:
            raise BadInput(
                "apply asks before changing anything, and there is no terminal to ask: pass --yes"
            )
        # Each exchange's sign-in: settings, the keyring, a kept session, else asked here.
        try:
            settings = signin.complete(
                settings,
                [account.exchange for account in allocation.accounts],
                reporter.console,
                ask=there and (options.asks_sign_in or not (options.yes or options.json_out)),
                terminal=there,
                by_hand=not settings.headless,
            )
        except BadInput as missing:  # with what no sign-in would get past: all at once
            raise with_site_problems(missing, settings, allocation) from None
        run_dir = logs.new_run_dir(settings.artifacts_dir)  # a name; made by logs.setup
        human = human or TerminalHuman(reporter, headless=settings.headless)
        human.headless = settings.headless
        human.present = not options.unattended
        stops = Stops()
        human.stopped = stops.stopped  # a wait on the person gives up at a Ctrl-C
        engine = Engine(
            settings,
            allocation,
            reporter,
            person or human,
            ask_code=human.ask_code if there else None,
            replace=options.replace,
            run_dir=run_dir,
            trace=options.verbose > 0,
            stops=stops,
            walkthrough=partial(walkthrough.narrate, pace_ms=walkthrough.outline_ms(settings))
            if options.walkthrough
            else None,
            fresh_key=partial(offer_fresh_key, reporter, human, file, mode, options),
            reads_mail=person is not None or there or settings.mail is not None,
        )
        log_path = logs.setup(options.verbose, run_dir)
        logger.info("ipbind {} {}", mode, file)

        def confirm(plans: list[KeyPlan]) -> bool:
            if options.yes:
                return True
            adds = sum(len(p.to_add) for p in plans)
            removes = sum(len(p.to_remove) for p in plans)
            creates = sum(p.create for p in plans)
            keys = sum(p.changes and not p.create for p in plans)
            asks = [f"add {count(adds, 'address')}"] if adds else []
            asks += [f"remove {removes}"] if removes else []
            question = " and ".join(asks) + (f" on {count(keys, 'key')}" if keys else "")
            if creates:  # keys bound to Altrady (Bybit)
                question += (" and c" if question else "C") + f"reate {count(creates, 'key')}"
            return human.confirm(question[:1].upper() + question[1:] + "?")

        results = engine.run(mode, confirm, chromium).results
    except IpbindError as err:
        outcome = engine.outcome if engine is not None else None
        if isinstance(err, Interrupted) and outcome is not None and outcome.changing:
            err = interruption(mode, outcome, signals)
        where = write_report(
            reporter, options, mode, outcome, run_dir, err.exit_code, err, say=False
        )
        say_traces(reporter, outcome)
        ended.results, ended.error = results, err
        return fail(reporter, options, mode, results, err, log_path, where, outcome)
    except KeyboardInterrupt:
        outcome = engine.outcome if engine is not None else None
        stop = interruption(mode, outcome, signals)
        results = outcome.results if outcome is not None else []  # each key, as read back
        where = write_report(
            reporter, options, mode, outcome, run_dir, stop.exit_code, stop, say=False
        )
        say_traces(reporter, outcome)
        ended.results, ended.error = results, stop
        return fail(reporter, options, mode, results, stop, log_path, where, outcome)
    reporter.end_progress()
    ended.results = results
    code = exit_code_of(results, mode)
    if mode != "plan":
        note_verified(settings.state_home, verified_live(settings, results), str(date.today()))
    outcome = engine.outcome
    report_path = write_report(reporter, options, mode, outcome, run_dir, code, None, say=False)
    new_keys = hand_over_new_keys(reporter, options, results)
    if options.json_out:
        secrets_out = options.secret_file is None
        print_json(
            result_json(
                mode,
                results,
                code,
                log_path=log_path,
                report_path=report_path,
                secrets_out=secrets_out,
            )
        )
        if report_path is not None:  # on stderr, beside the JSON
            reporter.say(f"{report_label(outcome)}: {report_path}", "bold")
        say_traces(reporter, outcome)
    else:
        if mode != "plan":
            reporter.summary(results, mode)
        if new_keys:
            reporter.console.print(
                new_keys, markup=False, highlight=False, soft_wrap=not reporter.rich
            )
        verified = any(r.status == "verified" for r in results)
        if options.demo:
            reporter.say(DEMO_END, "bold")
        elif mode == "apply" and code == ExitCode.OK and verified:
            reporter.say(ALTRADY_LAST_STEP, "bold")
        if report_path is not None:
            reporter.say(f"{report_label(outcome)}: {report_path}", "bold")
        say_traces(reporter, outcome)
        if code != ExitCode.OK and log_path:
            reporter.say(f"Debug log (no secrets): {log_path}", "dim")
        if code == ExitCode.SITE_CHANGED and not options.demo:
            offer_assist(reporter, file, results, settings, options)
    logger.info("exit {}", int(code))
    return code


def report_label(outcome: Outcome | None) -> str:
    return "Report" if outcome is None or outcome.pictures_off else "Report (with pictures)"


def write_report(
    reporter: ConsoleReporter,
    options: Options,
    mode: Mode,
    outcome: Outcome | None,
    run_dir: Path | None,
    code: ExitCode,
    err: IpbindError | None,
    *,
    say: bool = True,
) -> Path | None:
    """The run's report (HTML with pictures, and the JSON), for apply and verify."""
    if mode == "plan" or outcome is None or run_dir is None or not run_dir.is_dir():
        return None
    if isinstance(err, BrowserMissing):  # no browser, no page read: nothing to report
        return None
    # A key's new secret (Bybit) is handed over once, never kept in a report.
    data = result_json(mode, outcome.results, code, error=err, secrets_out=False)
    try:
        path = report.write(
            run_dir,
            mode,
            outcome.results,
            outcome.pictures,
            data,
            outcome.resumes,
            pictures_off=outcome.pictures_off,
        )
    except OSError as problem:
        logger.warning("could not write the report: {}", problem)
        return None
    if say:  # with --json, on stderr (the reporter's console then)
        reporter.say(f"{report_label(outcome)}: {path}", "dim")
    return path


def say_traces(reporter: ConsoleReporter, outcome: Outcome | None) -> None:
    """Where each trace of a verbose run is (scrubbed of secrets), and how to open it."""
    for path in outcome.traces if outcome is not None else []:
        reporter.say(f"Trace: {path} (secrets scrubbed; open with `playwright show-trace {path}`)")


def hand_over_new_keys(
    reporter: ConsoleReporter, options: Options, results: list[KeyResult]
) -> str | None:
    """Keys the run created (Bybit): their secrets go to --secret-file when asked (created
    0600, never overwritten); else the text to show once on the terminal (None with --json:
    they are in the JSON)."""
    text = new_keys_text(results)
    if text is None:
        return None
    several = sum(r.created is not None for r in results) > 1
    new = "New API keys and secrets" if several else "New API key and secret"
    if options.secret_file is not None:
        try:
            fd = os.open(options.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        except OSError as err:  # the key exists now: show it rather than lose it
            reporter.say(f"Could not write --secret-file ({err.strerror}); here it is:", "red")
            return text
        reporter.say(
            f"{new} written to {options.secret_file} (readable by you only). Add each in "
            "Altrady: Settings > Exchange API Keys; then delete the file.",
            "bold",
        )
        return None
    return None if options.json_out else text


def offer_fresh_key(
    reporter: ConsoleReporter,
    human: TerminalHuman,
    file: Path,
    mode: Mode,
    options: Options,
    plan: KeyPlan,
) -> bool:
    """A key of the allocation's name exists, bound as asked, and its secret was shown once,
    on an earlier run: if that secret never reached Altrady, the key is no use. Say so; at a
    terminal, on apply, offer to create a fresh key under the free name (default no). Never
    created silently: under --yes, --json or with no terminal, say how instead."""
    target = plan.target
    flow = FLOWS[target.exchange]
    accounts = ", ".join(repr(a) for a in target.accounts)
    reporter.say(
        f"{flow.name}: {target.key!r} exists, bound to {flow.app}. Its secret was shown once, "
        f"on the run that created it; if it is not in Altrady, a fresh key is needed. To "
        f"create one, set key = {json.dumps(plan.fresh)} for {accounts} in {file} and run "
        f"`ipbind apply {file}` (and delete {target.key!r} on {flow.name} once Altrady has "
        "the new one).",
        "yellow",
    )
    if mode != "apply" or options.yes or options.json_out or not interactive():
        return False
    return human.confirm(
        f"Create a fresh {flow.name} key {plan.fresh!r} now instead (its secret shown once)?"
    )


def offer_assist(
    reporter: ConsoleReporter,
    file: Path,
    results: list[KeyResult],
    settings: BaseIpbindSettings,
    options: Options,
) -> None:
    """A page that changed stops the flow, not the person: where the assisted mode can do
    the job (it enters IP lists: not for a key bound to an app), say so, and at a terminal
    offer to open it. Under --yes or --json, or with no terminal, one line: never a prompt."""
    changed = [
        r.plan.target.exchange
        for r in results
        if r.error
        and r.error.exit_code == ExitCode.SITE_CHANGED
        and FLOWS[r.plan.target.exchange].mode != "third-party app"
    ]
    if not changed:
        return
    reporter.say(
        f"You can enter the list yourself: `ipbind assist {file}` opens the page with your "
        "addresses beside it and checks what it sees when you are done.",
        "yellow",
    )
    if options.yes or options.json_out or not interactive():
        return
    if not TerminalHuman(reporter, headless=False).confirm("Open it now?"):
        return
    from assistant.assist import assist

    assist(
        file,
        exchanges=list(dict.fromkeys(changed)),
        settings=settings,
        allow_count=options.allow_count,
        reporter=reporter,
    )


def interruption(mode: Mode, outcome: Outcome | None, signals: Sequence[int] = ()) -> Interrupted:
    """Ctrl-C (or SIGTERM, SIGHUP: `signals`), told the same way wherever it comes: whether
    anything may have changed, and once changes had begun, per key what was saved and what
    was not. A signal's own exit code (143, 129) ends the run."""
    what = "interrupted" if not signals else f"stopped by {signal.Signals(signals[0]).name}"
    if outcome is not None and outcome.changing:
        stop = Interrupted(
            f"{what} while changing whitelists; the summary says what each key holds as read back",
            hint="What was saved is on the exchange; a rerun adds only what is still missing.",
        )
    elif mode == "apply":
        stop = Interrupted(f"{what} before any change; nothing was changed")
    else:
        stop = Interrupted(f"{what}; nothing was changed ({mode} only reads)")
    if signals:
        stop.exit_code = AS_CTRL_C[signal.Signals(signals[0])]
    return stop


def fail(
    reporter: ConsoleReporter,
    options: Options,
    mode: Mode,
    results: list[KeyResult],
    err: IpbindError,
    log_path: Path | None,
    report_path: Path | None = None,
    outcome: Outcome | None = None,
) -> ExitCode:
    """The run's end when it stopped: the summary of what each key holds, then where the
    report is, then the error."""
    reporter.end_progress()
    logs.file_only().info("failed: {}", err.message)  # the reporter tells the user
    new_keys = hand_over_new_keys(reporter, options, results)  # created before the stop
    if options.json_out:
        secrets_out = options.secret_file is None
        print_json(
            result_json(
                mode,
                results,
                err.exit_code,
                error=err,
                log_path=log_path,
                report_path=report_path,
                secrets_out=secrets_out,
            )
        )
        if report_path is not None:  # on stderr, beside the JSON
            reporter.say(f"{report_label(outcome)}: {report_path}", "dim")
    else:
        if results:  # stopped during the changes: what each key holds, as read back
            reporter.summary(results, mode)
        if new_keys:
            reporter.console.print(new_keys, markup=False, highlight=False, soft_wrap=True)
        if report_path is not None:
            reporter.say(f"{report_label(outcome)}: {report_path}", "dim")
        reporter.error(err, log_path)
    return err.exit_code
