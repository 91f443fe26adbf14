"""The `ipbind` command line: parses, then hands each command to its module."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from assistant import __version__, logs
from assistant.errors import ExitCode, IpbindError
from assistant.runner import Options, load_allocation, run
from assistant.settings import load_settings
from assistant.stops import AS_CTRL_C, as_ctrl_c


class Command(typer.core.TyperCommand):
    """Usage lines as click writes them (`FILE`), not typer's `{file}` for a required one."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece.strip("{}") for piece in super().collect_usage_pieces(ctx)]


# Plain help, as click writes it: typer's rich panels show a type such as `<bool>` after
# every flag, and cannot be told not to.
app = typer.Typer(
    help="Whitelist Altrady's IP addresses on your exchange API keys, and prove it by "
    "reading them back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
command = app.command(cls=Command)

FileArg = Annotated[
    Path,
    typer.Argument(
        metavar="FILE", help="Allocation file (TOML or JSON): which IPs go on which key."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON result object.")]
WalkOpt = Annotated[
    bool,
    typer.Option(
        "--walkthrough",
        help="Show the browser, slowed down, with a banner before each step saying what and why.",
    ),
]
CountOpt = Annotated[
    bool, typer.Option("--allow-count", help="Accept a list that is not exactly 20 addresses.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")]
ParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        metavar="N",
        min=1,
        max=64,
        show_default=False,
        help="Exchanges done side by side, each in a browser of its own (default: what this "
        "machine takes; 1: one after another).",
    ),
]


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ipbind {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="More detail: -v steps, -vv debug (repeatable).",
        ),
    ] = 0,
    headed: Annotated[
        bool | None, typer.Option("--headed/--headless", help="Show the browser window.")
    ] = None,
    slow_mo: Annotated[
        float | None, typer.Option(help="Milliseconds between browser actions.")
    ] = None,
    browser: Annotated[Path | None, typer.Option(help="Chrome/Chromium executable to use.")] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    overrides: dict[str, Any] = {}
    if headed is not None:
        overrides["headless"] = not headed
    if slow_mo is not None:
        overrides["slow_mo"] = slow_mo
    if browser is not None:
        overrides["browser_executable"] = browser
    ctx.obj = Options(verbose=verbose, overrides=overrides)


def options(ctx: typer.Context, parallel: int | None = None, **chosen: Any) -> Options:
    """The global options, with this command's own."""
    if parallel is not None:
        chosen["overrides"] = {**ctx.obj.overrides, "parallel": parallel}
    return replace(ctx.obj, **chosen)


def finish(code: ExitCode) -> None:
    raise typer.Exit(int(code))


@app.command(name="import", cls=Command)
def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="Where from: altrady.")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="FILE", help="The allocation file to write."),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Write the allocation file from Altrady. Signs in, reads each trading account's key,
    addresses and extra keys; changes nothing in Altrady."""
    from assistant.importer import import_allocation

    finish(import_allocation(source, output, ctx.obj.overrides, force=force))


@command
def sync(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to keep the allocation read from Altrady (default: in the state folder).",
        ),
    ] = None,
    yes: YesOpt = False,
    parallel: ParallelOpt = None,
) -> None:
    """The whole job, from Altrady back to Altrady. Reads the allocation there, whitelists it
    on every exchange (one confirmation), then clicks Update for each trading account that
    verified."""
    from assistant.sync import sync as run_sync

    finish(run_sync(options(ctx, parallel, yes=yes), output))


@command
def plan(
    ctx: typer.Context,
    file: FileArg,
    json_out: JsonOpt = False,
    allow_count: CountOpt = False,
    parallel: ParallelOpt = None,
) -> None:
    """Show what apply would add. Signs in and reads each key's whitelist; changes nothing."""
    chosen = options(ctx, parallel, json_out=json_out, allow_count=allow_count)
    finish(run("plan", file, chosen))


@command
def apply(
    ctx: typer.Context,
    file: FileArg,
    yes: YesOpt = False,
    replace_others: Annotated[
        bool,
        typer.Option(
            "--replace", help="Also remove whitelisted addresses that are not in the allocation."
        ),
    ] = False,
    json_out: JsonOpt = False,
    allow_count: CountOpt = False,
    walkthrough: WalkOpt = False,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Write the API key and secret of a key ipbind creates (Bybit) to this new "
            "file (0600) instead of showing them.",
        ),
    ] = None,
    parallel: ParallelOpt = None,
) -> None:
    """Add the missing addresses. Plans, asks, adds, then reads each list back to verify."""
    chosen = options(
        ctx,
        parallel,
        json_out=json_out,
        allow_count=allow_count,
        yes=yes,
        replace=replace_others,
        walkthrough=walkthrough,
        secret_file=secret_file,
    )
    finish(run("apply", file, chosen))


@app.command(name="run", cls=Command)
def guided(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(metavar="[FILE]", help="Allocation file; without one, ipbind asks."),
    ] = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    allow_count: CountOpt = False,
    walkthrough: WalkOpt = False,
    parallel: ParallelOpt = None,
) -> None:
    """Guided run. Asks for the exchange, key and addresses, then applies and verifies."""
    chosen = options(
        ctx,
        parallel,
        yes=yes,
        json_out=json_out,
        allow_count=allow_count,
        walkthrough=walkthrough,
    )
    if file is not None:
        finish(run("apply", file, chosen))
    from assistant.wizard import run_wizard

    finish(run_wizard(chosen))


@command
def login(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Argument(metavar="EXCHANGE", help="e.g. binance")],
) -> None:
    """Sign in once. Keeps the browser session: later runs skip the sign-in."""
    from assistant.session import login as sign_in

    finish(sign_in(exchange, ctx.obj.overrides, verbose=ctx.obj.verbose))


@command
def logout(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Argument(metavar="EXCHANGE", help="e.g. binance")],
) -> None:
    """Delete the browser session `ipbind login` kept for EXCHANGE."""
    from assistant.session import logout as sign_out

    finish(sign_out(exchange, ctx.obj.overrides))


@command
def repair(
    exchange: Annotated[str, typer.Argument(metavar="EXCHANGE", help="The exchange's id.")],
    list_fixes: Annotated[
        bool, typer.Option("--list", help="List the local fixes (the default).")
    ] = False,
    forget: Annotated[bool, typer.Option("--forget", help="Remove them.")] = False,
) -> None:
    """The local fixes of an exchange's pages. Made in a headed run: where a control ipbind
    looks for is missing, it asks you to click it, and remembers it."""
    from assistant.repair import repair as run_repair

    finish(run_repair(exchange, forget=forget and not list_fixes))


@command
def verify(
    ctx: typer.Context,
    file: FileArg,
    json_out: JsonOpt = False,
    allow_count: CountOpt = False,
    parallel: ParallelOpt = None,
) -> None:
    """Check every key's whitelist. Read-only; exit 1 if an allocated address is missing."""
    chosen = options(ctx, parallel, json_out=json_out, allow_count=allow_count)
    finish(run("verify", file, chosen))


@command
def check(
    ctx: typer.Context,
    file: FileArg,
    install_hint: Annotated[
        bool,
        typer.Option(
            "--install-hint",
            help="Print the systemd timer (or cron line) that runs this check every six hours.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    allow_count: CountOpt = False,
) -> None:
    """Verify unattended (a timer, cron): asks nothing, changes nothing, and notifies what is
    wrong. Exit 0 all good, 1 an address missing, 4 a page changed."""
    from assistant import check as checks

    if install_hint:
        load_allocation(file, allow_count)  # the lines name a file a check can read
        typer.echo(checks.install_hint(file, allow_count=allow_count), nl=False)
        return
    chosen = options(ctx, json_out=json_out, allow_count=allow_count)
    finish(checks.check(file, chosen))


@command
def watch(
    ctx: typer.Context,
    file: FileArg,
    every: Annotated[
        str,
        typer.Option(
            "--every",
            metavar="INTERVAL",
            help="How often to check: 6h, 30m, 1h30m, 1d (each give or take a tenth).",
        ),
    ] = "6h",
    allow_count: CountOpt = False,
) -> None:
    """`check` again and again until stopped (Ctrl-C, SIGTERM)."""
    from assistant import check as checks

    seconds = checks.parse_every(every)
    finish(checks.watch(file, seconds, options(ctx, allow_count=allow_count)))


@command
def assist(
    ctx: typer.Context,
    file: FileArg,
    url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="The exchange's page to open (for an exchange ipbind has no page of).",
        ),
    ] = None,
    allow_count: CountOpt = False,
) -> None:
    """Enter the list yourself, with help. Opens each exchange's API page in a browser with
    your addresses beside it; when you are done, reads the page and says which it sees."""
    from assistant.assist import assist as run_assist

    settings = load_settings(**ctx.obj.overrides)
    # -v: a debug log and a scrubbed trace per exchange in a run folder, as apply's.
    run_dir = logs.new_run_dir(settings.artifacts_dir) if ctx.obj.verbose else None
    log_path = logs.setup(ctx.obj.verbose, run_dir)
    code = run_assist(file, url=url, settings=settings, allow_count=allow_count, run_dir=run_dir)
    if log_path is not None:
        Console(stderr=True, highlight=False).print(
            f"Debug log (no secrets): {log_path}", style="dim", markup=False
        )
    finish(code)


@command
def demo(
    ctx: typer.Context,
    headed: Annotated[bool, typer.Option("--headed", help="Watch it in a browser window.")] = False,
    json_out: JsonOpt = False,
    walkthrough: WalkOpt = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Keep the mock exchanges up and print the settings for them: try plan, "
            "apply, verify, run and login yourself from another terminal.",
        ),
    ] = False,
) -> None:
    """Try it on mock exchanges. Runs apply against the bundled mock sites on this machine."""
    from assistant.demo import run_demo, serve_demo  # the mock server's imports: only here

    if serve:
        finish(serve_demo(options(ctx)))
        return
    overrides = dict(ctx.obj.overrides)
    if headed:
        overrides["headless"] = False
    chosen = options(ctx, overrides=overrides, json_out=json_out, yes=True, walkthrough=walkthrough)
    finish(run_demo(chosen))


@command
def doctor(ctx: typer.Context) -> None:
    """Check the setup. Versions, the browser a run would use and why, every setting and
    where it came from, each exchange's settings (secrets masked); exits non-zero naming
    whatever would stop a run."""
    from assistant.doctor import doctor as check

    finish(check(ctx.obj.overrides))


@command
def exchanges(
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print them as JSON: id, name, mode, max_ips, cidr, how, origins, keys_by, "
            "status, notice.",
        ),
    ] = False,
) -> None:
    """The supported exchanges and how each is done."""
    from assistant.exchanges import show

    show(json_out)


def main() -> None:
    """Every command stops at SIGTERM and SIGHUP as at a Ctrl-C (`plan`, `apply`, `verify`
    and `run` as their own runs say), ending with the signal's code (143, 129)."""
    with as_ctrl_c() as heard:
        try:
            app()
        except IpbindError as err:  # raised before the runner's own handling (e.g. settings)
            logs.setup()
            Console(stderr=True).print(f"[bold red]Error:[/] {escape(logs.redactor(err.message))}")
            raise SystemExit(stopped(heard, err.exit_code)) from None
        except KeyboardInterrupt:
            raise SystemExit(stopped(heard, ExitCode.INTERRUPTED)) from None
        except SystemExit as done:
            if done.code == ExitCode.INTERRUPTED:
                raise SystemExit(stopped(heard, ExitCode.INTERRUPTED)) from None
            raise


def stopped(heard: list[int], code: ExitCode) -> int:
    """`code`, or, for a stop, the exit code of the signal that stopped it (SIGTERM, SIGHUP)."""
    if heard and code == ExitCode.INTERRUPTED:
        return int(AS_CTRL_C[signal.Signals(heard[0])])
    return int(code)
