"""plan / apply / verify: settings → allocation → engine → summary → exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.sync_api import Browser

from assistant import logs
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
) -> ExitCode:
    reporter = ConsoleReporter(json_mode=options.json_out)
    log_path: Path | None = None
    results: list[KeyResult] = []
    engine: Engine | None = None
    logs.setup(options.verbose)  # until the run's own folder exists: stderr only
    try:
        # Everything that can be checked is checked before the run's folder is made.
        settings = settings or load_settings(**options.overrides)
        allocation = load_allocation(file, options.allow_count)
        if mode == "apply" and not options.yes and not interactive():
            raise BadInput(
                "apply asks before changing anything, and there is no terminal to ask: pass --yes"
            )
        run_dir = logs.new_run_dir(settings.artifacts_dir)  # a name; made by logs.setup
        human = TerminalHuman(reporter, headless=settings.headless)
        engine = Engine(
            settings,
            allocation,
            reporter,
            human,
            ask_code=human.ask_code if interactive() else None,
            replace=options.replace,
            run_dir=run_dir,
        )
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
        return fail(reporter, options, mode, results, err, log_path)
    except KeyboardInterrupt:
        stop = interruption(mode, changing=engine is not None and engine.changing)
        return fail(reporter, options, mode, results, stop, log_path)
    reporter.end_progress()
    code = exit_code_of(results, mode)
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
        if code != ExitCode.OK and log_path:
            reporter.say(f"Debug log (no secrets): {log_path}", "dim")
        if code == ExitCode.SITE_CHANGED and not options.demo:
            offer_assist(reporter, file, results, settings, options)
    logger.info("exit {}", int(code))
    return code


def offer_assist(
    reporter: ConsoleReporter,
    file: Path,
    results: list[KeyResult],
    settings: BaseIpbindSettings,
    options: Options,
) -> None:
    """A page that changed stops the flow, not the person: offer to open it for them."""
    changed = [
        r.plan.target.exchange
        for r in results
        if r.error and r.error.exit_code == ExitCode.SITE_CHANGED
    ]
    reporter.say(
        f"You can enter the list yourself: `ipbind assist {file}` opens the page with your "
        "addresses beside it and checks what it sees when you are done.",
        "yellow",
    )
    if not interactive() or not TerminalHuman(reporter, headless=False).confirm("Open it now?"):
        return
    from assistant.assist import assist

    assist(
        file,
        exchanges=list(dict.fromkeys(changed)),
        settings=settings,
        allow_count=options.allow_count,
        reporter=reporter,
    )


def interruption(mode: Mode, *, changing: bool) -> Interrupted:
    """Ctrl-C, told the same way wherever it comes: whether anything may have changed."""
    if changing:
        return Interrupted(
            "interrupted while changing whitelists; whatever was saved before this is on the "
            "exchange, and a rerun adds only what is still missing"
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
        reporter.error(err, log_path)
    return err.exit_code
