"""`ipbind sync`: the whole job in one command, from Altrady back to Altrady.

    1. import   Altrady's trading accounts, as `ipbind import altrady` reads them, into the
                allocation file (`-o FILE`, else `<state dir>/altrady.toml`), 0600
    2. apply    that file, as `ipbind apply` does it: every exchange planned, one
                confirmation (none with --yes), each key changed and read back; the
                addresses an earlier run added that Altrady no longer allocates are removed
                (see assistant/journal.py), the person's own kept
    3. Update   in Altrady, for each trading account whose keys all read back whole, and for
                no other; in the browser session step 1 signed in with
    4. a summary per trading account

Its exit code is apply's; a trading account whose Update could not be clicked makes it
that failure's (3, or 4 for a changed page).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from assistant import browser as browsers
from assistant import logs
from assistant.errors import ExitCode, IpbindError
from assistant.human import TerminalHuman, interactive
from assistant.importer import Read, altrady_settings, import_into, opened_altrady
from assistant.outcome import KeyResult
from assistant.output import ConsoleReporter
from assistant.runner import Ended, Options, run
from assistant.settings import BaseIpbindSettings, load_settings
from flows.base import Human

SYNC_FILE = "altrady.toml"  # in the state folder, unless -o says where


def whole(name: str, results: list[KeyResult]) -> tuple[bool, str]:
    """Whether every key of the trading account `name` read back whole (or bound as asked),
    and if not, why, in a few words."""
    mine = [r for r in results if name in r.plan.target.accounts]
    if not mine:
        return False, "not reached"
    for result in mine:
        if result.error is not None:
            return False, result.error.message
        if result.status == "not started":
            return False, "not started: another key could not be planned"
        if result.status == "declined":
            return False, "you answered no at the confirmation"
        if result.status not in ("verified", "unchanged") or result.missing:
            return False, f"{result.status}, {len(result.missing)} missing"
    return True, ""


def sync(
    options: Options,
    output: Path | None = None,
    *,
    settings: BaseIpbindSettings | None = None,
    chromium: Browser | None = None,
    person: Human | None = None,
) -> ExitCode:
    """`person` plays the person for e-mailed codes and links (tests), as in `runner.run`."""
    reporter = ConsoleReporter()
    logs.setup(options.verbose)
    ask = interactive() and not options.yes
    try:
        settings = altrady_settings(
            settings or load_settings(**options.overrides), reporter, ask=ask
        )
        human = TerminalHuman(reporter, headless=settings.headless)
        path = output or settings.state_home / SYNC_FILE
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        reporter.say("1. Reading the allocation from Altrady", "bold")
        read = import_into(path, settings, human, chromium, ask=ask)
    except IpbindError as err:
        reporter.error(err)
        return err.exit_code
    except KeyboardInterrupt:
        reporter.say("Interrupted; nothing was changed anywhere.", "yellow", error=True)
        return ExitCode.INTERRUPTED

    reporter.say("2. Whitelisting on the exchanges", "bold")
    ended = Ended()
    code = run("apply", path, options, settings=settings, chromium=chromium, person=person,
               ended=ended)  # fmt: skip
    if code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED, ExitCode.HANGUP):
        reporter.say("Stopped: no trading account was updated in Altrady.", "yellow")
        return code
    return update_verified(read, ended.results, code, settings, human, chromium, ask=ask)


def update_verified(
    read: Read,
    results: list[KeyResult],
    code: ExitCode,
    settings: BaseIpbindSettings,
    human: TerminalHuman,
    chromium: Browser | None,
    *,
    ask: bool,
) -> ExitCode:
    """Step 3 and 4: Update for each trading account whose keys all read back whole."""
    reporter = human.reporter
    verdicts = {account.name: whole(account.name, results) for account, _ in read.accounts}
    ready = [name for name, (ok, _) in verdicts.items() if ok]
    updated: list[str] = []
    failure: IpbindError | None = None
    if ready:
        reporter.say("3. Clicking Update in Altrady", "bold")
        try:
            with browsers.opened(settings, given=chromium) as browser:
                flow = opened_altrady(browser, settings, human, ask=ask, state=read.session)
                try:
                    for name in ready:
                        flow.update(name)
                        updated.append(name)
                finally:
                    flow.page.context.close()
        except IpbindError as err:
            failure = err
        except KeyboardInterrupt:
            failure = None
            code = ExitCode.INTERRUPTED
    reporter.say("Altrady trading accounts:", "bold")
    for account, exchange in read.accounts:
        ok, why = verdicts[account.name]
        if account.name in updated:
            reporter.say(f"  {account.name!r} ({exchange}): verified · Updated in Altrady", "green")
        elif ok:
            reporter.say(
                f"  {account.name!r} ({exchange}): verified · Update not clicked "
                "(see below): click it in Altrady",
                "yellow",
            )
        else:
            reporter.say(
                f"  {account.name!r} ({exchange}): not whitelisted ({why}) · not Updated",
                "yellow",
            )
    if failure is not None:
        reporter.error(failure)
        return code if code != ExitCode.OK else failure.exit_code
    return code
