"""`ipbind doctor`: what a run would use, and what would stop one, without running one.

    versions    ipbind, Python, Playwright, and the browser's own
    browser     the one a run launches, and why (the order `assistant.browser` follows)
    settings    each setting's value and where it came from: the command line, the
                environment, `.env`, the config file, or the default
    exchanges   each configured exchange's settings, secrets masked; whether its TOTP secret
                decodes, and whether its sign-in and base URL would let a run through

It exits 0 when nothing it found would stop a run, else with the exit code of the first
problem (2 for settings, 5 for the browser), each problem named. Nothing secret is printed:
a password or TOTP secret shows as "set"; and nothing is sent anywhere.
"""

from __future__ import annotations

import os
import platform
import stat
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, SecretStr, ValidationError, create_model
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource, TomlConfigSettingsSource
from rich.console import Console

from assistant import __version__, notify, signin
from assistant import browser as browsers
from assistant.errors import BadInput, ExitCode, IpbindError, first_line
from assistant.logs import redactor
from assistant.settings import (
    BaseIpbindSettings,
    Settings,
    config_file,
    exchange_settings,
    load_settings,
    parse_totp,
    settings_problem,
    site_origin,
)
from flows import FLOWS, SIGN_INS

DEFAULT = "default"
NONE_CONFIGURED = (
    "No exchange is configured: at a terminal, plan, apply, verify and run ask for the "
    "exchange's sign-in (and offer to keep it in the system keyring); with no terminal they "
    "need IPBIND_<EXCHANGE>__USERNAME and IPBIND_<EXCHANGE>__PASSWORD (and __TOTP_SECRET for "
    "the codes), in the environment, .env or the config file; e.g. IPBIND_KRAKEN__USERNAME. "
    "`ipbind login EXCHANGE` keeps a signed-in session instead."
)


@dataclass
class Problem:
    text: str
    exit_code: ExitCode = ExitCode.BAD_INPUT


@dataclass
class Choice:
    """The browser a run would launch: what, why, its version; or why none would start."""

    what: str
    why: str
    version: str | None = None
    problem: str | None = None


@dataclass
class Sources:
    """The raw settings of each source, highest precedence first, as pydantic-settings reads
    them (the order `BaseIpbindSettings.settings_customise_sources` gives)."""

    layers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # a source that cannot be read

    @classmethod
    def read(cls, overrides: dict[str, Any]) -> Sources:
        dotenv, toml = Path(".env").resolve(), config_file()
        readers = [
            ("environment", lambda: EnvSettingsSource(Settings)()),
            (f".env: {dotenv}", lambda: DotEnvSettingsSource(Settings)()),
            (f"config file: {toml}", lambda: TomlConfigSettingsSource(Settings, toml_file=toml)()),
        ]
        sources = cls([("command line", dict(overrides))])
        for label, read in readers:
            try:
                sources.layers.append((label, read()))
            except Exception as err:  # a malformed TOML file, a JSON value that is not
                sources.problems.append(Problem(f"{label}: {first_line(err)}"))
        return sources

    def origin(self, name: str, exchange: str | None = None) -> str:
        """Where setting `name` (of `exchange`) came from."""
        for label, values in self.layers:
            section = values.get(exchange) if exchange else values
            if isinstance(section, dict) and name in section:
                if label == "environment":
                    var = f"{exchange}__{name}" if exchange else name
                    return f"environment: IPBIND_{var.upper()}"
                return label
        return DEFAULT

    def merged(self) -> dict[str, Any]:
        """Every source's values, the higher ones winning, one exchange field at a time."""
        out: dict[str, Any] = {}
        for _, values in reversed(self.layers):
            for key, value in values.items():
                if isinstance(value, dict) and isinstance(out.get(key), dict):
                    out[key] = {**out[key], **value}
                else:
                    out[key] = value
        return out


def versions() -> list[tuple[str, str]]:
    try:
        playwright = version("playwright")
    except PackageNotFoundError:  # a source checkout without its dependencies
        playwright = "not installed"
    return [
        ("ipbind", __version__),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("Playwright", playwright),
    ]


def which_browser(settings: BaseIpbindSettings, named: str) -> Choice:
    """The browser `assistant.browser.launch` would start for these settings (`named`: why,
    when the settings name one), started once, headless, to read its version: a browser
    that cannot start stops every run."""
    why = named
    with browsers.driver() as pw:
        try:
            options = browsers.launch_args(
                pw, settings.browser_executable, settings.browser_channel
            )
        except IpbindError as err:
            return Choice("none", why or "none of those ipbind looks for", problem=err.message)
        what = options.get("executable_path") or options.get("channel")
        headed = browsers.launch_args(
            pw, settings.browser_executable, settings.browser_channel, headless=False
        ).get("executable_path")
        if headed and headed != what:  # a system Chromium's headless shell
            what = f"{what} (headless runs); {headed} (--headed)"
        if not why:
            bundled = browsers.bundled_chromium(pw)
            if bundled:
                what, why = bundled, "Playwright's own Chromium (`playwright install chromium`)"
            else:
                why = (
                    "a system Chromium or Chrome: Playwright's own Chromium is not installed "
                    "(`python -m playwright install chromium` installs it)"
                )
        try:
            launched = browsers.launch_for(pw, settings, headless=True)
        except IpbindError as err:
            return Choice(str(what), why, problem=err.message)
        try:
            return Choice(
                str(what), why, version=f"{launched.browser_type.name} {launched.version}"
            )
        finally:
            launched.close()


@dataclass
class Loaded:
    """The shared settings as a run would have them, and those given a value that is not
    valid (by name: the value as given, and what is wrong with it)."""

    settings: BaseIpbindSettings
    invalid: dict[str, tuple[Any, str]] = field(default_factory=dict)
    across: list[Problem] = field(default_factory=list)  # a rule across fields

    @property
    def problems(self) -> list[Problem]:
        return [
            Problem(f"settings: IPBIND_{name.upper()}: {why}")
            for name, (_, why) in self.invalid.items()
        ] + self.across


def load(sources: Sources) -> Loaded:
    """The settings every exchange shares, validated on their own, so that one exchange's
    bad setting does not hide the rest; a bad value is kept as given, to be shown."""
    merged = sources.merged()
    fields = BaseIpbindSettings.model_fields
    # A plain model of the same fields: validating a settings class reads every source again.
    shared = create_model("Shared", **{n: (f.annotation, f) for n, f in fields.items()})  # type: ignore[call-overload]
    given = {k: v for k, v in merged.items() if k in fields}
    try:
        valid = shared.model_validate(given)
    except ValidationError as err:
        invalid: dict[str, tuple[Any, str]] = {}
        for problem in err.errors(include_input=False):
            name = str(problem["loc"][0]) if problem["loc"] else ""
            why = problem["msg"].removeprefix("Value error, ")
            invalid[name] = (given.get(name), why)
        try:
            rest = shared.model_validate({k: v for k, v in given.items() if k not in invalid})
        except ValidationError as again:  # a rule across fields: say it as it comes
            across = [Problem(f"settings: {settings_problem(again)}")]
            return Loaded(Settings.model_construct(), invalid, across)
        return Loaded(Settings.model_construct(**dict(rest)), invalid)
    return Loaded(Settings.model_construct(**dict(valid)))


def unknown_names() -> list[str]:
    """IPBIND_… names in the environment or `.env` that are no setting: the settings ignore
    them without a word, so a typo in one would go unseen."""
    known = {*BaseIpbindSettings.model_fields, *SIGN_INS, "config"}  # IPBIND_CONFIG: the file
    names = [*os.environ, *(dotenv_values(".env") if Path(".env").is_file() else {})]
    return sorted(
        {
            name
            for name in names
            if name.upper().startswith("IPBIND_")
            and name[len("IPBIND_") :].split("__")[0].lower() not in known
        }
    )


def shown(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, SecretStr):
        return "set (hidden)"
    if isinstance(value, BaseModel):  # a group of settings (mail, notify): what is set
        fields = [(name, getattr(value, name)) for name in type(value).model_fields]
        return ", ".join(f"{name} {shown(v)}" for name, v in fields if v is not None)
    return str(value) if isinstance(value, Path | int | float) else repr(value)


def check_exchange(
    exchange: str, section: dict[str, Any], settings: BaseIpbindSettings, sources: Sources
) -> tuple[list[str], list[Problem]]:
    """Lines describing one configured exchange (secrets masked), and what would stop a run
    on it."""
    flow = SIGN_INS[exchange]
    model = exchange_settings(flow.secrets)
    prefix = f"IPBIND_{exchange.upper()}__"
    lines: list[str] = []
    problems: list[Problem] = []
    for name, value in section.items():
        where = sources.origin(name, exchange)
        if name not in model.model_fields:
            known = ", ".join(model.model_fields)
            problems.append(
                Problem(
                    f"{prefix}{name.upper()} (from the {where.split(':')[0]}): not a setting of "
                    f"{flow.name} (those are: {known})"
                )
            )
            continue
        text = "set (hidden)" if secret_field(model, name) else shown(value)
        if name == "totp_secret":
            text += ", " + totp_words(str(value), section, exchange, problems)
        lines.append(f"{name} = {text}  ({where})")
    try:
        given = {k: v for k, v in section.items() if k in model.model_fields}
        conf = model.model_validate({k: v for k, v in given.items() if k != "totp_secret"})
    except ValidationError as err:
        for problem in err.errors(include_input=False):
            loc = "__".join(str(p) for p in problem["loc"]).upper()
            problems.append(Problem(f"{prefix}{loc}: {problem['msg']}"))
        return lines, problems
    redactor.add(*conf.secret_values())
    try:
        origin = site_origin(conf.base_url, flow.origins, f"{prefix}BASE_URL")
        lines.append(f"signs in at {origin}")
    except BadInput as err:
        problems.append(Problem(err.message))
    if conf.username and conf.password:
        problems += [
            Problem(
                f"saving on {flow.name} asks for the {name.replace('_', ' ')}: set {prefix}"
                f"{name.upper()}"
            )
            for name in flow.secrets
            if getattr(conf, name, None) is None
        ]
    elif conf.username or conf.password:
        problems.append(
            Problem(f"{prefix}USERNAME and {prefix}PASSWORD go together; only one is set")
        )
    elif signin.kept(exchange, "password") is not None:
        lines.append("username and password: kept in the system keyring")
    elif flow.mode != "assisted":  # not a problem at a terminal: the run asks (signin)
        lines.append(
            f"no {prefix}USERNAME / {prefix}PASSWORD: a run at a terminal asks for them (and "
            "offers to keep them in the system keyring); a run with no terminal stops"
        )
    if "totp_secret" not in section and flow.mode != "assisted":
        lines.append("no TOTP secret: each code is asked for at the terminal")
    return lines, problems


def secret_field(model: type[Any], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def totp_words(raw: str, section: dict[str, Any], exchange: str, problems: list[Problem]) -> str:
    """Whether a TOTP secret decodes, in words, never repeating the secret."""
    try:
        period = int(section.get("totp_period", 30))
    except (TypeError, ValueError):
        period = 30  # the period's own problem is named with the other settings
    try:
        totp = parse_totp(raw, period)
    except ValueError as err:
        problems.append(Problem(f"IPBIND_{exchange.upper()}__TOTP_SECRET: {err}"))
        return "does NOT decode"
    redactor.add(raw, totp.secret.get_secret_value())
    return f"decodes ({totp.digits} digits every {totp.period} s)"


def private_or_not(path: Path, mode: int) -> str:
    """ "" when only its owner can read `path`, else a warning."""
    try:
        actual = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return ""
    if actual & 0o077:
        return f" (mode {actual:o}: others can read it; `chmod {mode:o} {path}`)"
    return ""


def writable(path: Path) -> bool:
    """Whether `path` exists as a writable folder or could be made one."""
    for folder in [path, *path.parents]:
        if folder.exists():
            return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
    return False


def doctor(overrides: dict[str, Any], console: Console | None = None) -> ExitCode:
    console = console or Console(highlight=False)

    def say(text: str = "", style: str | None = None) -> None:
        console.print(redactor(text), style=style, soft_wrap=not console.is_terminal, markup=False)

    sources = Sources.read(overrides)
    loaded = load(sources)
    settings = loaded.settings
    problems = sources.problems + loaded.problems
    say("Versions", "bold")
    for name, value in versions():
        say(f"  {name}: {value}")

    say("Browser", "bold")
    if settings.browser_executable:
        named = f"named by browser_executable ({sources.origin('browser_executable')})"
    elif settings.browser_channel:
        named = f"the channel named by browser_channel ({sources.origin('browser_channel')})"
    else:
        named = ""
    choice = which_browser(settings, named)
    say(f"  {choice.what}")
    say(f"  why: {choice.why}")
    if choice.version:
        say(f"  starts: yes, started once, headless ({choice.version})", "green")
    if choice.problem:
        problems.append(Problem(f"browser: {choice.problem}", ExitCode.BROWSER))
    if not settings.headless and sys.platform.startswith("linux"):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            problems.append(
                Problem(
                    "--headed / IPBIND_HEADLESS=false needs a display, and there is none "
                    "(run under `xvfb-run -a`)",
                    ExitCode.BROWSER,
                )
            )

    say("Settings (highest first: command line, environment, .env, config file, default)", "bold")
    for name in BaseIpbindSettings.model_fields:
        if name in loaded.invalid:
            raw, why = loaded.invalid[name]
            say(f"  {name} = {raw!r}: NOT valid ({why})  ({sources.origin(name)})", "red")
        else:
            say(f"  {name} = {shown(getattr(settings, name))}  ({sources.origin(name)})")
    say(f"  state folder: {settings.state_home}{private_or_not(settings.state_home, 0o700)}")
    for session in sorted(browsers.session_file(settings.state_home, "x").parent.glob("*.json")):
        say(f"  kept session (`ipbind login`): {session}{private_or_not(session, 0o600)}")
    for name, path in (
        ("artifacts_dir", settings.artifacts_dir),
        ("state folder", settings.state_home),
    ):
        if not writable(path):
            problems.append(Problem(f"{name}: {path} cannot be written or made"))
    for name in unknown_names():
        say(f"  {name}: not a setting ipbind knows; ignored", "yellow")

    say("Notifications of `ipbind check` and `ipbind watch` (IPBIND_NOTIFY__*)", "bold")
    for line in notify.channels(settings.notify):
        say(f"  {line}")
    if not notify.reaches(settings.notify):
        say("  none reaches you from a timer: a check's findings are only in its output", "yellow")

    say("Exchanges (and Altrady, for `import` and `sync`)", "bold")
    merged = sources.merged()
    configured = [fid for fid in SIGN_INS if isinstance(merged.get(fid), dict) and merged[fid]]
    for exchange in configured:
        lines, found = check_exchange(exchange, merged[exchange], settings, sources)
        say(f"  {exchange} ({SIGN_INS[exchange].name})")
        for line in lines:
            say(f"    {line}")
        problems += found
    others = [fid for fid in FLOWS if fid not in configured]
    if others:
        say(f"  not configured: {', '.join(others)}", "dim")

    if not problems:
        try:  # whatever the checks above missed, loading the settings as a run does finds
            load_settings(**overrides)
        except BadInput as err:
            problems.append(Problem(err.message))
    if not configured:
        say(NONE_CONFIGURED, "yellow")
    if not problems and not configured:
        say("No other problem found.", "green")
        return ExitCode.OK
    if not problems:
        say("No problem found: a run has what it needs.", "green")
        return ExitCode.OK
    say("Problems that would stop a run:", "bold red")
    for problem in problems:
        say(f"  - {problem.text}", "red")
    return min(p.exit_code for p in problems)  # a run stops at its settings before its browser
