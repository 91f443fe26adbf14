"""`ipbind login EXCHANGE` / `ipbind logout EXCHANGE`: a browser session kept between runs.

`login` opens the exchange's API page and signs in: the person does it in a visible window
(the hand-off waits until the API page shows), or ipbind does it with the configured
password and code. The session (Playwright's storage state: the site's cookies and local
storage) is then written to `<state dir>/sessions/<exchange>.json`, mode 0600 in a 0700
folder. Every later run starts its browser with it, so the API page opens without a
sign-in until the exchange ends the session; then the run signs in as it would without
one. `logout` deletes the file, and the sign-in kept in the system keyring.

The sign-in comes from the settings, the keyring, else it is asked at the terminal
(`assistant.signin`); Enter at the username, or no terminal, and the person signs in
in the window.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant import browser as browsers
from assistant import logs, signin
from assistant import trace as traces
from assistant.errors import BadInput, ExitCode, IpbindError
from assistant.human import TerminalHuman, interactive
from assistant.opening import codes_for, credentials_of, open_exchange, origin_of
from assistant.output import ConsoleReporter
from assistant.settings import BaseIpbindSettings, load_settings
from flows import FLOWS


def flow_id(exchange: str) -> str:
    wanted = exchange.strip().lower()
    if wanted not in FLOWS:
        raise BadInput(
            f"unknown exchange {exchange!r}; one of: {', '.join(FLOWS)} (see `ipbind exchanges`)"
        )
    return wanted


def login(
    exchange: str,
    overrides: dict[str, object],
    settings: BaseIpbindSettings | None = None,
    verbose: int = 0,
) -> ExitCode:
    """With `verbose` (-v), a debug log and a scrubbed trace in a run folder, as apply's."""
    reporter = ConsoleReporter()
    logs.setup()
    run_dir: Path | None = None
    try:
        exchange = flow_id(exchange)
        settings = settings or load_settings(**overrides)
        if verbose:
            run_dir = logs.new_run_dir(settings.artifacts_dir)
            if log_path := logs.setup(verbose, run_dir):
                reporter.say(f"Debug log (no secrets): {log_path}", "dim", error=True)
        # The settings, the keyring, else asked here; Enter (or no terminal): by hand.
        settings = signin.complete(
            settings,
            [exchange],
            reporter.console,
            ask=interactive(),
            terminal=interactive(),
            # Signing in by hand needs a window: at a terminal with no display, Enter is not
            # offered for it (with no terminal either, the window's own error says how).
            by_hand=browsers.has_display() or not interactive(),
            sessions=False,
        )
        flow_cls = FLOWS[exchange]
        origin = origin_of(settings, exchange)
        credentials = credentials_of(settings, exchange)
        if credentials is None:  # the person signs in: that needs a window
            settings = settings.model_copy(update={"headless": False})
        human = TerminalHuman(reporter, headless=settings.headless)
        # The person who signs in is at the terminal; else codes come from the TOTP secret.
        ask = human.ask_code if credentials is None or interactive() else None
        codes = codes_for(settings, exchange, origin, ask=ask)
        path = browsers.session_file(settings.state_home, exchange)
        reporter.say(f"Signing in to {flow_cls.name} at {origin} …")
        window = (
            "`ipbind login` with no password configured (you sign in yourself)"
            if credentials is None
            else browsers.HEADED
        )
        with browsers.opened(settings, window=window) as chromium:
            flow = open_exchange(
                chromium,
                settings,
                exchange,
                human,
                origin=origin,
                codes=codes,
                saved_session=False,
                trace=run_dir is not None,
            )
            try:
                flow.open()
                keep(path, json.dumps(flow.page.context.storage_state()))
            finally:
                trace = run_dir / f"trace-{exchange}.zip" if run_dir else None
                if trace and traces.save_if_possible(flow.page.context, trace):
                    reporter.say(f"Trace (secrets scrubbed): {trace}", "dim", error=True)
    except IpbindError as err:
        reporter.error(err)
        return err.exit_code
    except KeyboardInterrupt:
        reporter.say("Interrupted; no session was kept.", "yellow")
        return ExitCode.INTERRUPTED
    reporter.say(
        f"Signed in to {flow_cls.name}. The browser session is kept in {path} (readable by "
        "you alone): later runs skip the sign-in until the exchange ends the session. "
        f"`ipbind logout {exchange}` deletes it.",
        "green",
    )
    return ExitCode.OK


def keep(path: Path, text: str) -> None:
    """Writes the session file, 0600 from its first byte, in a 0700 folder, in the state
    folder, 0700 too when this makes it (`mkdir -p` would make it with the usual mode)."""
    path.parent.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.mkdir(exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def logout(
    exchange: str, overrides: dict[str, object], settings: BaseIpbindSettings | None = None
) -> ExitCode:
    reporter = ConsoleReporter()
    try:
        exchange = flow_id(exchange)
        settings = settings or load_settings(**overrides)
    except IpbindError as err:
        reporter.error(err)
        return err.exit_code
    name = FLOWS[exchange].name
    path = browsers.session_file(settings.state_home, exchange)
    if signin.forget(exchange):
        reporter.say(f"Forgot the {name} sign-in kept in the system keyring.")
    if not path.exists():
        reporter.say(f"No saved session for {name}: nothing to delete.")
        return ExitCode.OK
    path.unlink()
    reporter.say(f"Deleted the saved {name} session ({path}); the next run signs in.")
    return ExitCode.OK
