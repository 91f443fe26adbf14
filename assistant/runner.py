"""plan / apply / verify: settings → allocation → engine → summary → exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Browser

from assistant import logs, report, walkthrough
from assistant.allocation import Allocation, load
from assistant.engine import Engine, KeyPlan, KeyResult, Mode
from assistant.errors import BadInput, ExitCode, Interrupted, IpbindError
from assistant.human import TerminalHuman, interactive
from assistant.output import ConsoleReporter, print_json, result_json
from assistant.settings import BaseIpbindSettings, load_settings
from flows import FLOWS

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


def load_allocation(path: Path, allow_count: bool) -> Allocation:
    return load(
        path,
        exchanges=FLOWS,
        cidr={fid: flow.cidr for fid, flow in FLOWS.items()},
        max_ips={fid: flow.max_ips for fid, flow in FLOWS.items()},
        allow_count=allow_count,
    )


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
) -> ExitCode:
    reporter = human.reporter if human else ConsoleReporter(json_mode=options.json_out)
    log_path: Path | None = None
    run_dir: Path | None = None
    results: list[KeyResult] = []
    engine: Engine | None = None
    logs.setup(options.verbose)  # until the run's own folder exists: stderr only
    try:
        # Everything that can be checked is checked before the run's folder is made.
        settings = settings or load_settings(**options.overrides)
        if options.walkthrough:
            settings = walkthrough.settings_for(settings)
        allocation = load_allocation(file, options.allow_count)
        if mode == "apply" and not options.yes and not interactive():
            raise BadInput(
                "apply asks before changing anything, and there is no terminal to ask: pass --yes"
            )
        run_dir = logs.new_run_dir(settings.artifacts_dir)  # a name; made by logs.setup
        human = human or TerminalHuman(reporter, headless=settings.headless)
        human.headless = settings.headless
        engine = Engine(
            settings,
            allocation,
            reporter,
            human,
            ask_code=human.ask_code if interactive() else None,
            replace=options.replace,
            run_dir=run_dir,
        )
        if options.walkthrough:
            engine.walkthrough = walkthrough.narrate
            human.walkthrough = True
        log_path = logs.setup(options.verbose, run_dir)
        logger.info("ipbind {} {}", mode, file)

        def confirm(plans: list[KeyPlan]) -> bool:
            if options.yes:
                return True
            adds = sum(len(p.to_add) for p in plans)
            removes = sum(len(p.to_remove) for p in plans)
            question = f"Add {adds} address(es)"
            question += f" and remove {removes}" if removes else ""
            return human.confirm(question + f" on {sum(p.changes for p in plans)} key(s)?")

        results = engine.run(mode, confirm, chromium)
    except IpbindError as err:
        if isinstance(err, Interrupted) and engine is not None and engine.changing:
            err = interruption(mode, engine=engine)
        write_report(reporter, options, mode, engine, run_dir, err.exit_code, err)
        return fail(reporter, options, mode, results, err, log_path)
    except KeyboardInterrupt:
        stop = interruption(mode, engine=engine)
        results = engine.results if engine is not None else []  # each key, as read back
        write_report(reporter, options, mode, engine, run_dir, stop.exit_code, stop)
        return fail(reporter, options, mode, results, stop, log_path)
    reporter.end_progress()
    code = exit_code_of(results, mode)
    if engine is not None:
        engine.results = results
    report_path = write_report(reporter, options, mode, engine, run_dir, code, None, say=False)
    if options.json_out:
        print_json(result_json(mode, results, code, log_path=log_path))
    else:
        if mode != "plan":
            reporter.summary(results, mode)
        verified = any(r.status == "verified" for r in results)
        if options.demo:
            reporter.say(DEMO_END, "bold")
        elif mode == "apply" and code == ExitCode.OK and verified:
            reporter.say(ALTRADY_LAST_STEP, "bold")
        if report_path is not None:
            reporter.say(f"Report (with pictures): {report_path}", "bold")
        if code != ExitCode.OK and log_path:
            reporter.say(f"Debug log (no secrets): {log_path}", "dim")
    logger.info("exit {}", int(code))
    return code


def write_report(
    reporter: ConsoleReporter,
    options: Options,
    mode: Mode,
    engine: Engine | None,
    run_dir: Path | None,
    code: ExitCode,
    err: IpbindError | None,
    *,
    say: bool = True,
) -> Path | None:
    """The run's report (HTML with pictures, and the JSON), for apply and verify."""
    if mode == "plan" or engine is None or run_dir is None or not run_dir.is_dir():
        return None
    data = result_json(mode, engine.results, code, error=err)
    try:
        path = report.write(run_dir, mode, engine.results, engine.pictures, data)
    except OSError as problem:
        logger.warning("could not write the report: {}", problem)
        return None
    if say and not options.json_out:
        reporter.say(f"Report (with pictures): {path}", "dim")
    return path


def interruption(mode: Mode, *, engine: Engine | None) -> Interrupted:
    """Ctrl-C, told the same way wherever it comes: whether anything may have changed, and
    once changes had begun, per key what was saved and what was not."""
    if engine is not None and engine.changing:
        return Interrupted(
            "interrupted while changing whitelists; the summary says what each key holds as "
            "read back",
            hint="What was saved is on the exchange; a rerun adds only what is still missing.",
        )
    if mode == "apply":
        return Interrupted("interrupted before any change; nothing was changed")
    return Interrupted(f"interrupted; nothing was changed ({mode} only reads)")


def fail(
    reporter: ConsoleReporter,
    options: Options,
    mode: Mode,
    results: list[KeyResult],
    err: IpbindError,
    log_path: Path | None,
) -> ExitCode:
    reporter.end_progress()
    logger.info("failed: {}", err.message)  # for the debug log; the reporter tells the user
    if options.json_out:
        print_json(result_json(mode, results, err.exit_code, error=err, log_path=log_path))
    else:
        if results:  # stopped during the changes: what each key holds, as read back
            reporter.summary(results, mode)
        reporter.error(err, log_path)
    return err.exit_code
