"""`ipbind repair EXCHANGE`: the local fixes of an exchange (flows/fixes.py), listed, or
forgotten with --forget. A fix is made in a headed run (`ipbind --headed plan FILE`): where
a control ipbind looks for is missing, it asks you to click it, and keeps what it saw."""

from __future__ import annotations

from rich.console import Console

from assistant.errors import BadInput, ExitCode
from assistant.paths import overrides_dir
from assistant.session import flow_id
from assistant.targets import fixes_of
from flows import FLOWS


def repair(exchange: str, *, forget: bool = False) -> ExitCode:
    # Whole lines (the terminal wraps them itself): a path or a refusal is never cut.
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        exchange = flow_id(exchange)
    except BadInput as err:
        errors.print(f"Error: {err.message}", style="bold red", markup=False)
        return err.exit_code
    name = FLOWS[exchange].name
    file = overrides_dir() / f"{exchange}.toml"
    if forget:
        if not file.is_file():
            console.print(f"No local fix for {name} to forget.", markup=False)
            return ExitCode.OK
        file.unlink()
        console.print(f"Forgot the local fixes for {name} ({file}).", markup=False)
        return ExitCode.OK
    try:
        lines = fixes_of(exchange).lines()
    except BadInput as err:
        errors.print(f"Error: {err.message}", style="bold red", markup=False)
        errors.print(f"`ipbind repair {exchange} --forget` removes that file.", style="yellow")
        return err.exit_code
    if not lines:
        console.print(
            f"No local fix for {name}. When a page of {name} lacks a control ipbind looks "
            "for, run headed (`ipbind --headed plan FILE`): ipbind asks you to click it, "
            f"and keeps the fix in {file}.",
            markup=False,
        )
        return ExitCode.OK
    console.print(f"Local fixes for {name} ({file}):", markup=False)
    for line in lines:
        console.print(f"  {line}", markup=False)
    console.print(f"`ipbind repair {exchange} --forget` removes them.", markup=False)
    return ExitCode.OK
