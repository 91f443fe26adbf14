"""`ipbind check FILE` and `ipbind watch FILE --every 6h`: unattended verifies that say so
when a whitelist is no longer whole.

A whitelist can stop being whole with nobody noticing until trading fails: the exchange
drops addresses or someone edits the key; an unrestricted key expires (HTX and Bybit after
90 days; Binance stops trading on one); a page changes. `check` is `verify` for a timer: it
asks nothing (sign-in from the settings, the system keyring or `ipbind login`'s session; a
code from the TOTP secret; mail from IPBIND_MAIL__*), changes nothing, and tells what it
found to the channels `assistant.notify` sets up. Its exit code is for the timer: 0 all
good, 1 an address missing (or a key unrestricted, or a save not in effect yet), 4 a page
changed; 2, 3 and 5 as for every command. `watch` runs the same check again and again, each
interval give or take a tenth (so that many people's checks do not reach an exchange at the
same moment), and stops within a moment at Ctrl-C, SIGTERM or SIGHUP.
"""

from __future__ import annotations

import random
import re
import shlex
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger
from playwright.sync_api import Browser
from rich.console import Console

from assistant import notify
from assistant.errors import BadInput, ExitCode
from assistant.output import ConsoleReporter
from assistant.runner import Ended, Options, load_allocation, run
from assistant.settings import BaseIpbindSettings, config_file, load_settings

JITTER = 0.1  # each wait of `watch` is its interval give or take this share
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EVERY = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# A watch stops checking (after telling) on what no later check would get past alone.
FINAL = {ExitCode.BAD_INPUT, ExitCode.USER_ACTION, ExitCode.BROWSER}


def check(
    file: Path,
    options: Options,
    *,
    settings: BaseIpbindSettings | None = None,
    chromium: Browser | None = None,
) -> ExitCode:
    """One unattended verify of `file`; what it finds wrong is notified."""
    settings = settings or load_settings(**options.overrides)
    options = replace(options, yes=True, unattended=True)  # verify asks nothing anyway
    ended = Ended()
    code = run("verify", file, options, settings=settings, chromium=chromium, ended=ended)
    if code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED, ExitCode.HANGUP):
        return code  # stopped: not a finding
    found = notify.findings(ended.results)
    if ended.error is not None and not found:  # the run as a whole could not check
        found = [
            notify.Finding(
                "not checked", "", "", "", f"The check of {file} could not run: "
                f"{ended.error.message}" + (f" {ended.error.hint}" if ended.error.hint else "")
            )
        ]  # fmt: skip
    if found:
        failed = notify.send(found, settings.notify)
        reporter = ConsoleReporter(json_mode=options.json_out)
        told = " and ".join(notify.reaches(settings.notify))
        if told:
            reporter.say(f"Told {told}: {notify.headline(found)[len('ipbind: ') :]}.", "bold")
        for problem in failed:
            reporter.say(f"Could not notify {problem}", "yellow", error=True)
    return code


def watch(
    file: Path,
    every: float,
    options: Options,
    *,
    settings: BaseIpbindSettings | None = None,
) -> ExitCode:
    """`check` every `every` seconds (give or take JITTER), until stopped."""
    settings = settings or load_settings(**options.overrides)
    load_allocation(file, options.allow_count)  # a file that cannot be read stops it now
    console = Console(stderr=options.json_out)
    while True:
        code = check(file, options, settings=settings)
        if code in (ExitCode.INTERRUPTED, ExitCode.TERMINATED, ExitCode.HANGUP):
            return code
        if code in FINAL:
            console.print(f"Stopped watching: this needs you first (exit {int(code)}).")
            return code
        wait = every * random.uniform(1 - JITTER, 1 + JITTER)
        at = datetime.now() + timedelta(seconds=wait)
        day = f" on {at:%d %b}" if at.date() != datetime.now().date() else ""
        console.print(
            f"Next check in {duration(wait)}, at {at:%H:%M}{day} (Ctrl-C stops watching).",
            highlight=False,
        )
        logger.info("watch: next check in {:.0f} s", wait)
        time.sleep(wait)  # a signal ends it at once (SIGTERM and SIGHUP as Ctrl-C)


def parse_every(text: str) -> float:
    """ "6h", "30m", "1h30m", "90s", "1d": seconds. BadInput naming the value otherwise."""
    value = text.strip().lower()
    if not EVERY.fullmatch(value):
        raise BadInput(
            f"--every {text!r}: give a number and a unit, s, m, h or d (say 6h, 30m, 1h30m)"
        )
    seconds = sum(float(n) * UNITS[u] for n, u in PART.findall(value))
    if seconds < 1:
        raise BadInput(f"--every {text!r}: at least 1s")
    return seconds


def duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def install_hint(file: Path, *, allow_count: bool = False) -> str:
    """The lines that run `check` on `file` every six hours: a systemd user timer, or cron."""
    path = file.expanduser().resolve()
    flags = " --allow-count" if allow_count else ""
    command = f"{ipbind_command()} check{flags} {shlex.quote(str(path))}"
    return f"""\
# A check of {path} every six hours, as a systemd user timer:

# ~/.config/systemd/user/ipbind-check.service
[Unit]
Description=ipbind: check the Altrady whitelists of {path.name}

[Service]
Type=oneshot
ExecStart={command}

# ~/.config/systemd/user/ipbind-check.timer
[Unit]
Description=ipbind: check the Altrady whitelists every six hours

[Timer]
OnCalendar=*-*-* 00/6:00:00
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target

# then: systemctl --user daemon-reload && systemctl --user enable --now ipbind-check.timer
# (and `loginctl enable-linger` to run it while you are logged out)

# Or with cron (crontab -e):
# {random.randrange(60)} */6 * * * {command}

# A timer has no terminal to ask anything: the sign-in comes from {config_file()},
# the system keyring, or the session `ipbind login EXCHANGE` keeps; e-mailed codes from
# IPBIND_MAIL__*. What it finds wrong goes to IPBIND_NOTIFY__WEBHOOK, __EMAIL (with
# __SMTP_HOST) and the desktop. Exit codes: 0 all good, 1 an address missing, 4 a page
# changed.
"""


def ipbind_command() -> str:
    """How this ipbind is started again: the installed command, else this Python's `-m`."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "ipbind" and argv0.exists():
        return shlex.quote(str(argv0.resolve()))
    return f"{shlex.quote(sys.executable)} -m assistant"
