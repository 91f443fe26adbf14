"""The terminal as a new user meets it: help, messages, how a stop is told, plain output in
a pipe. End-to-end runs assert the mock server's state."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from assistant.cli import app


def help_of(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="ipbind", terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_help_shows_no_type_after_flags_and_a_plain_usage_line() -> None:
    for command in ((), ("plan",), ("apply",), ("verify",), ("demo",)):
        text = help_of(*command)
        assert "<bool>" not in text, text
        assert "{" not in text and "}" not in text, text
    assert "Usage: ipbind apply [OPTIONS] FILE" in help_of("apply")


def test_help_shows_verbose_as_a_repeatable_flag() -> None:
    [line] = [line for line in help_of().splitlines() if "--verbose" in line]
    assert "<int>" not in line and "default" not in line, line
    assert re.search(r"-v, --verbose\s+More detail", line), line
