"""Builders shared by the end-to-end tests: seeds for the mock sites, allocation files,
settings pointed at the mock, and an in-process run of the real CLI code path."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest.mock
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pyotp
import pytest
from loguru import logger
from playwright.sync_api import Browser

from assistant import cli
from assistant.browser import session_file
from assistant.engine import Engine
from assistant.errors import ExitCode
from assistant.logs import redactor
from assistant.outcome import KeyResult
from assistant.output import ConsoleReporter
from assistant.paths import write_private
from assistant.runner import Options, load_allocation, run
from assistant.settings import BaseIpbindSettings, load_settings
from assistant.twofa import CLOCK
from fixtures.mockex import MockExchanges
from fixtures.mockex.mailbox import Mailbox
from flows import SIGN_INS

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "s3cret-Passw0rd!"


def ended(child: pexpect.spawn, timeout: float = 60) -> str:
    """What `child` wrote until it ended. One that hangs instead is stopped with SIGABRT, and
    the test fails with every thread's stack (spawn it with PYTHONFAULTHANDLER=1)."""
    try:
        child.expect(pexpect.EOF, timeout=timeout)
    except pexpect.TIMEOUT:
        child.kill(signal.SIGABRT)
        child.expect(pexpect.EOF, timeout=10)
        raise AssertionError(f"{child.args} did not end:\n{child.before[-8000:]}") from None
    child.close()
    return str(child.before)


def altrady_ips(count: int = 20, base: str = "203.0.113", start: int = 10) -> list[str]:
    return [f"{base}.{start + i}" for i in range(count)]


def api_key(n: int) -> str:
    return (f"K{n}" + "x9Qw" * 20)[:64]


def tiered(values: list[Any], fast: set[Any], ids: list[str] | None = None) -> list[Any]:
    """`values` as parameters, those not in `fast` in the full tier only (`make test-all`):
    a matrix whose every row proves the same behaviour on another exchange or shape."""
    names = ids or [str(v) for v in values]
    return [
        pytest.param(v, id=n, marks=() if v in fast or n in fast else pytest.mark.full)
        for v, n in zip(values, names, strict=True)
    ]


def seeded_account(username: str, **fields: Any) -> dict[str, Any]:
    """A seeded account that signs in with PASSWORD and SECRET."""
    return {"username": username, "password": PASSWORD, "totp_secret": SECRET, **fields}


def binance_seed(*keys: dict[str, Any], **site: Any) -> dict[str, Any]:
    """One account; `keys` as {"label", "ips", …}; API keys are made up from the index."""
    return {
        "latency_ms": [0, 60],
        "cookie_banner": True,
        **site,
        "accounts": [
            seeded_account(
                "trader@ipbind.test",
                keys=[
                    {
                        "api_key": api_key(i),
                        "restricted": bool(k.get("ips")),
                        "ips": [],
                        "spot_trading": False,
                        **k,
                    }
                    for i, k in enumerate(keys)
                ],
            )
        ],
    }


def write_allocation(path: Path, accounts: list[dict[str, Any]]) -> Path:
    """TOML, the format users write: `ips` as the block pasted from Altrady."""
    lines = []
    for account in accounts:
        lines.append("[[accounts]]")
        for field, value in account.items():
            if field == "ips" and isinstance(value, list):
                lines.append('ips = """\n' + "\n".join(value) + '\n"""')
            else:
                lines.append(f"{field} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# Whether runs start signed in, from the session `ipbind login` keeps (minted on the mock):
# the fast tier's conftest turns it on, for the tests whose point is not the sign-in; every
# flow's sign-in is still proven there (each flow's end-to-end test, the sign-in and secret
# tests say `signed_in=False`), and the full tier signs in on every run.
SIGNED_IN = False

# Whether runs take each key's picture for the report, unless a test says: the fast tier's
# conftest turns them off (a picture is about an eighth of a run's work, and only the tests
# of pictures and reports look at them); the full tier takes them on every run.
PICTURES = True


def settings_for(
    mock: MockExchanges,
    site: str,
    tmp_path: Path,
    secret: str = SECRET,
    *,
    pictures: bool | None = None,
    signed_in: bool | None = None,
    **extra: Any,
) -> BaseIpbindSettings:
    """Settings that sign in to `site` on the mock as its first seeded account; with
    `signed_in` (SIGNED_IN unless said), a run starts from a kept session instead (a reset
    of the site after this drops it: the run then signs in)."""
    settings = load_settings(
        **{site: {**login_of(mock, site, secret), **extra}},
        artifacts_dir=tmp_path / "runs",
        timeout=10,
        pictures=PICTURES if pictures is None else pictures,
        _env_file=None,  # a developer's .env must not leak in
    )
    keep_sessions(mock, settings, site, signed_in=signed_in)
    return settings


def keep_sessions(
    mock: MockExchanges, settings: BaseIpbindSettings, *sites: str, signed_in: bool | None = None
) -> None:
    """With `signed_in` (SIGNED_IN unless said), a session on each of `sites`, kept where
    `ipbind login` keeps it for these settings: their runs start signed in."""
    if not (SIGNED_IN if signed_in is None else signed_in):
        return
    for site in sites:
        path = session_file(settings.state_home, site)
        write_private(path, json.dumps(mock.signed_in(site)))


def settings_for_sites(
    mock: MockExchanges,
    tmp_path: Path,
    *sites: str,
    secret: str = SECRET,
    signed_in: bool | None = None,
    **extra: Any,
) -> BaseIpbindSettings:
    """Settings that sign in to each of `sites` (its first seeded account), in one run;
    `signed_in` as for `settings_for`."""
    logins = {site: login_of(mock, site, secret) for site in sites}
    settings = load_settings(
        **logins, artifacts_dir=tmp_path / "runs", timeout=10, _env_file=None, **extra
    )
    keep_sessions(mock, settings, *sites, signed_in=signed_in)
    return settings


def login_of(mock: MockExchanges, site: str, secret: str) -> dict[str, Any]:
    """The settings that sign in to `site` as its first seeded account, on the mock."""
    account = next(iter(mock.site(site).accounts.values()))
    return {
        "username": account.username,
        "password": account.password,
        "totp_secret": secret,
        "totp_period": mock.site(site).totp_period,
        "base_url": mock.base_url(site),
    }


@dataclass
class Outcome:
    code: ExitCode
    out: str


def run_cli(
    mode: str,
    allocation: Path,
    settings: BaseIpbindSettings,
    browser: Browser,
    capsys: Any,
    person: Any = None,
    **options: Any,
) -> Outcome:
    """The CLI's own code path (runner.run), in this process, in the session's browser;
    `person` (a MailboxHuman) plays the person for e-mailed codes and links. Every run is a
    secret scan too: no password, TOTP secret or code of the run in what it printed or
    wrote."""
    known = secrets_of(settings)
    before = set(redactor.values())
    code = run(
        mode,  # type: ignore[arg-type]
        allocation,
        Options(yes=True, **options),
        settings=settings,
        chromium=browser,
        person=person,
    )
    captured = capsys.readouterr()
    out = captured.out + captured.err
    codes = [value for value in set(redactor.values()) - before if value.isdigit()]
    known |= {f"a code ({n})": c for n, c in enumerate(codes)}
    assert_nothing_leaks(out, settings.artifacts_dir, known)
    return Outcome(code, out)


def assert_nothing_leaks(out: str, folder: Path, known: dict[str, str]) -> None:
    """None of the `known` secrets in what a run printed (`out`) or wrote (under `folder`)."""
    assert leaks(out, known) == [], "a secret in the output"
    for path, text in written(folder):
        assert leaks(text, known) == [], f"a secret in {path}"


def secrets_of(settings: BaseIpbindSettings) -> dict[str, str]:
    """Every secret the settings hold (passwords, TOTP secrets, a flow's own; Altrady's pass
    key), by name."""
    return {
        f"{exchange} secret {n}": value
        for exchange in SIGN_INS
        for n, value in enumerate(settings.exchange(exchange).secret_values())
        if len(value) >= 4  # as the redactor: shorter ones would match anything
    }


def secret_forms(secret: str) -> set[str]:
    """A secret as it may be written: as is, URL-encoded (a query, a form, a fetch), and
    JSON- or HTML-escaped."""
    quote, quote_plus = urllib.parse.quote, urllib.parse.quote_plus
    return {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="-_.!~*'()"),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
    }


def leaks(data: str | bytes, known: dict[str, str]) -> list[str]:
    """The names of the `known` secrets found in `data`, in any of their forms; a code (all
    digits) only where it stands alone: not inside a longer number, nor inside a hex digest
    (a trace's etags and file names hold six-digit runs, one in a few hundred thousand of
    which is a code of the run's time window by chance)."""
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")

    def found(form: str) -> bool:
        if form.isdigit():
            return re.search(rf"(?<![0-9A-Za-z]){form}(?![0-9A-Za-z])", text) is not None
        return form in text

    return [name for name, secret in known.items() if any(map(found, secret_forms(secret)))]


def written(folder: Path) -> Iterator[tuple[str, str]]:
    """Every file under `folder` as text, and every entry of each zip in it (a trace)."""
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if not path.is_file():
            continue
        if path.suffix != ".zip":
            yield str(path), path.read_bytes().decode("utf-8", errors="replace")
            continue
        for name, text in zip_text(path).items():
            yield f"{path}: {name}", text


def zip_text(path: Path) -> dict[str, str]:
    """Every entry of a zip (a trace) as text: the JSON-lines logs as the strings they hold
    (not their numbers: a code may equal a time by chance), the rest as is."""
    entries = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name).decode("utf-8", errors="replace")
            if name.endswith((".trace", ".network", ".stacks")):
                data = "\n".join(
                    s for line in data.splitlines() if line for s in strings_in(json.loads(line))
                )
            entries[name] = data
    return entries


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)


def run_engine(
    settings: BaseIpbindSettings,
    allocation: Path,
    browser: Browser,
    human: Any = None,
    *,
    ask_code: Any = None,
    allow_count: bool = False,
) -> list[KeyResult]:
    """The engine on its own, for a scripted person (`human`, `ask_code`) in place of the
    terminal; the plan is confirmed."""
    engine = Engine(
        settings,
        load_allocation(allocation, allow_count=allow_count),
        ConsoleReporter(),
        human,
        ask_code=ask_code,
    )
    return engine.run("apply", lambda plans: True, browser).results


def ipbind(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The installed command in a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        env=command_env(env),
        timeout=timeout,
        cwd=tempfile.gettempdir(),  # away from any .env in the checkout
    )


def site_env(
    mock: MockExchanges, site: str, tmp_path: Path, *, sign_in: bool = True
) -> dict[str, str]:
    """The settings a command run by a test needs for `site` on the mock (its first seeded
    account; `sign_in`: with its username and password), and its own run folder."""
    account = next(iter(mock.site(site).accounts.values()))
    prefix = f"IPBIND_{site.upper()}__"
    env = {
        f"{prefix}TOTP_SECRET": account.totp_secret,
        f"{prefix}TOTP_PERIOD": str(mock.site(site).totp_period),
        f"{prefix}BASE_URL": mock.base_url(site),
        "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
        "IPBIND_CONFIG": str(tmp_path / "no-config.toml"),
        "IPBIND_TIMEOUT": "15",
    }
    if sign_in:
        env[f"{prefix}USERNAME"] = account.username
        env[f"{prefix}PASSWORD"] = account.password
    return env


def command_env(env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without ipbind's settings, plus `env`: what a command run
    by a test sees."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")},
        **(env or {}),
    }


def ipbind_here(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as `ipbind()` runs it (its environment, its folder, no terminal), in this
    process: for commands that stop before a browser starts (bad input, listings), where a
    child process would cost more than the test."""
    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    wanted = command_env(env)
    os.environ.clear()
    os.environ.update(wanted)
    sys.argv = ["ipbind", *args]
    os.chdir(tempfile.gettempdir())  # away from any .env in the checkout
    code = 0
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            unittest.mock.patch("sys.stdin", io.StringIO()),
        ):
            try:
                cli.main()
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        logger.remove()  # no sink left writing to this call's streams or run folder
    return subprocess.CompletedProcess(["ipbind", *args], code, out.getvalue(), err.getvalue())


def current_code(secret: str, period: int) -> str:
    """The code an authenticator app shows now (on the clock the mock sites check by)."""
    return pyotp.TOTP(secret, interval=period).at(CLOCK.time())


def code_after(secret: str, period: int, used: str) -> str:
    """The current code once it is not `used`: a person who has just typed a code waits for
    the next one, as a site that takes each code once asks (a clock's wait, not a page's)."""
    while (code := current_code(secret, period)) == used:
        CLOCK.sleep(period - CLOCK.time() % period + 0.01)  # until the next step begins
    return code


def keys_of(mock: MockExchanges, site: str) -> list[dict[str, Any]]:
    return next(iter(mock.state(site)["accounts"].values()))["keys"]


def kraken_seed(
    *keys: dict[str, Any], api_2fa: bool = True, layout: str = "older"
) -> dict[str, Any]:
    """One account; `keys` as {"name", "ips"}; whitelisting on where there are ips; the key
    form `layout`: "older" (one input per entry) or "newer" (one field for the list)."""
    return {
        "latency_ms": [0, 60],
        "options": {"layout": layout},
        "accounts": [
            seeded_account(
                "kraken-trader",
                api_2fa=api_2fa,
                keys=[{"ip_whitelisting": bool(k.get("ips")), "ips": [], **k} for k in keys],
            )
        ],
    }


def bittrex_seed(allow_list: list[str] | None = None) -> dict[str, Any]:
    return {
        "latency_ms": [0, 60],
        "accounts": [seeded_account("trader@ipbind.test", allow_list=list(allow_list or []))],
    }


def account_state(mock: MockExchanges, site: str) -> dict[str, Any]:
    return next(iter(mock.state(site)["accounts"].values()))


def actions(mock: MockExchanges, site: str, action: str) -> list[dict[str, Any]]:
    return [entry for entry in mock.state(site)["log"] if entry["action"] == action]


def codes(mock: MockExchanges, site: str, route: str | None = None) -> list[dict[str, Any]]:
    """The 2FA codes the site checked, accepted or not (`accepted`), in order: those sent
    to `route` (say "add", or "login-2fa" for the sign-in), or all."""
    return [c for c in mock.state(site)["codes"] if route is None or c["route"] == route]


def changes(mock: MockExchanges, site: str) -> list[dict[str, Any]]:
    """The site's log of state changes, without the server's timestamps."""
    return [{k: v for k, v in e.items() if k != "at"} for e in mock.state(site)["log"]]


class MailboxHuman:
    """Plays the person for the steps only they can do, through the same `Human` interface
    the CLI uses: reads what the mock `site` "e-mailed" (its inbox, as the person reads their
    mail), gives back the newest code not yet given, and opens the newest confirmation link
    (a plain GET, as a mail client would: no browser session). `open_links=False` plays a
    person who never opens the link."""

    def __init__(self, mock: MockExchanges, site: str, *, open_links: bool = True):
        self.mailbox = Mailbox(mock, site)
        self.open_links = open_links
        self.given = self.mailbox.given  # the codes given, in order
        self.opened = self.mailbox.opened  # the links opened, in order

    def emailed_code(self, exchange: str, purpose: str) -> str:
        code = self.mailbox.code()
        assert code, f"{exchange} asked for an e-mailed code ({purpose}), but none was sent"
        return code

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        if not self.open_links:
            return False
        opened = self.mailbox.open_link()
        assert opened, f"{exchange} asked to open an e-mailed link ({purpose}), but none was sent"
        return True

    def hand_off(self, page: Any, message: str, done: Any) -> None:
        raise AssertionError(f"unexpected hand-off to the person: {message}")

    def sign_in_again(self, exchange: str, refused: Any, why: str, tries_left: int) -> None:
        return None  # a refused sign-in stops the run, as with no terminal

    def signed_in(self, ask: Any) -> None:
        ask()
