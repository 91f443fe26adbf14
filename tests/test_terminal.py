"""The terminal as a new user meets it: help, messages, how a stop is told, plain output in
a pipe. End-to-end runs assert the mock server's state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import SiteChanged
from flows.base import Flow, expected_of
from flows.base import words as words_of


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


# --- exit 4 names the control in words -----------------------------------------------------

# Playwright's own error texts (1.5x), as a flow's step meets them.
CLICK_TIMEOUT = (
    "Locator.click: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_role("button", name=re.compile(r"^\\s*Edit\\s*restrictions\\s*$", re.IGNORECASE))\n'
)
FILL_TIMEOUT = (
    "Locator.fill: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_label(re.compile(r"^\\s*IP\\s*address\\s*$", re.IGNORECASE))\n'
)
EXPECT_OR = (
    "Locator expected to be visible\nActual value: None\nError: element(s) not found \n"
    'Call log:\n  - Expect "to_be_visible" get_by_label(re.compile(r"^\\s*Email/Phone\\s*'
    'number\\s*$", re.IGNORECASE)).first.or_(get_by_role("button", name="Log In").first) '
    'with timeout 300ms\n  - waiting for get_by_label(re.compile(r"^\\s*Email/Phone\\s*number'
    '\\s*$", re.IGNORECASE)).first.or_(get_by_role("button", name="Log In").first)\n\n'
    "Aria snapshot:\n- paragraph: hi"
)
CHAINED = (
    "Locator.click: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_role("row").filter(has_text="Altrady").get_by_role("button", name="Edit")\n'
)
CHECKBOX = (
    "Locator.check: Timeout 300ms exceeded.\nCall log:\n  - waiting for "
    'get_by_role("checkbox", name=re.compile(r"^\\s*Enable\\s*Spot\\s*\\&\\s*Margin\\s*'
    'Trading\\s*$", re.IGNORECASE))\n'
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (CLICK_TIMEOUT, "the 'Edit restrictions' button"),
        (FILL_TIMEOUT, "the field labelled 'IP address'"),
        (EXPECT_OR, "the field labelled 'Email/Phone number' or the 'Log In' button"),
        (CHAINED, "the 'Edit' button"),
        (CHECKBOX, "the 'Enable Spot & Margin Trading' checkbox"),
    ],
)
def test_expected_of_names_the_control_in_words(text: str, words: str) -> None:
    assert expected_of(PlaywrightTimeout(text)) == words


def test_a_site_changed_error_names_the_missing_control_not_the_locator(page: Page) -> None:
    """Against a live page, through a flow's own step: what exit 4 prints."""
    page.set_content("<p>An exchange's page without the button</p>")
    flow = Flow.__new__(Flow)  # only its step(): no sign-in, no site
    flow.name = "Binance"  # type: ignore[misc]
    with pytest.raises(SiteChanged) as info, flow.step("opening the key's editor"):
        page.get_by_role("button", name=words_of("Edit restrictions")).click(timeout=300)
    message = info.value.message
    assert message.endswith("(the 'Edit restrictions' button)"), message
    assert "get_by_role" not in message and "re.compile" not in message
