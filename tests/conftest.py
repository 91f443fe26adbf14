"""Shared test fixtures: the mock exchanges (started once, reset after every test) and the
browser, launched through `assistant.browser` like the CLI does."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright

from assistant import browser
from fixtures.mockex import MockExchanges

TEST_PERIOD = 1  # seconds per TOTP step on the mock sites in tests


def pytest_configure(config: pytest.Config) -> None:
    # The developer's own ipbind settings (environment, config file) must not leak in.
    for name in [n for n in os.environ if n.startswith("IPBIND_")]:
        del os.environ[name]
    home = Path(tempfile.mkdtemp(prefix="ipbind-tests-"))
    os.environ["IPBIND_CONFIG"] = str(home / "none.toml")
    # Run folders and what runs remember go there too, unless a test says where.
    os.environ["IPBIND_ARTIFACTS_DIR"] = str(home / "runs")


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], playwright: Playwright
) -> dict[str, Any]:
    # Extend, never replace: pytest-playwright's own args carry --headed and --slowmo.
    return {**browser_type_launch_args, **browser.launch_args(playwright)}


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockExchanges]:
    with MockExchanges(totp_period=TEST_PERIOD) as server:
        yield server


@pytest.fixture
def mock(mock_server: MockExchanges) -> Iterator[MockExchanges]:
    """The mock exchanges, reset to their default seeds after the test."""
    yield mock_server
    mock_server.reset()
