"""After a failure the terminal is the person's again: the assisted mode is offered only where
it can do the job (it enters IP lists), and under --yes, --json or with no terminal it is one
printed line, never a question. Each run here is `ipbind` in a child process, as a person
runs it: at a terminal of its own (pexpect), or with stdin closed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pexpect
import pytest
from support import SECRET, api_key, binance_seed, write_allocation

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges

IPS = ["203.0.113.10", "203.0.113.11"]


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    """Binance whose "Edit restrictions" reads otherwise: a page that changed (exit 4)."""
    mock.reset("binance", binance_seed({"label": "Main"}))
    mock.fault("binance", "page", "label_changed", times=5, label="Edit restrictions", to="Manage")


def command(mock: MockExchanges, tmp_path: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """`ipbind apply` of the key "Main" on the mock Binance, and its environment."""
    path = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "binance", "name": "B", "key": api_key(0), "ips": IPS}],
    )
    user = next(iter(mock.site("binance").accounts.values()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        {
            "IPBIND_BINANCE__USERNAME": user.username,
            "IPBIND_BINANCE__PASSWORD": user.password,
            "IPBIND_BINANCE__TOTP_SECRET": SECRET,
            "IPBIND_BINANCE__TOTP_PERIOD": str(mock.site("binance").totp_period),
            "IPBIND_BINANCE__BASE_URL": mock.base_url("binance"),
            "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
            "IPBIND_CONFIG": str(tmp_path / "none.toml"),
            "IPBIND_TIMEOUT": "5",
            "TERM": "dumb",
            "COLUMNS": "200",
        }
    )
    return [sys.executable, "-m", "assistant", "apply", *args, str(path)], env


@pytest.mark.full  # a pty; fast: every in-process run's changed page (--yes, no question)
@pytest.mark.usefixtures("seeded")
@pytest.mark.long
def test_under_yes_at_a_terminal_a_changed_page_ends_the_run_without_a_question(
    mock: MockExchanges, tmp_path: Path
) -> None:
    argv, env = command(mock, tmp_path, "--yes", "--allow-count")
    child = pexpect.spawn(
        argv[0], argv[1:], env=env, cwd=tempfile.gettempdir(), encoding="utf-8", timeout=90
    )
    child.expect(pexpect.EOF)  # no input is ever sent: a question would time this out
    child.close()
    text = " ".join(child.before.split())

    assert child.exitstatus == ExitCode.SITE_CHANGED, text
    assert "ipbind assist" in text
    assert "Open it now?" not in text


# Full tier, as the run at a terminal above: the installed command with no terminal. Fast:
# every in-process run (no terminal) that meets a changed page asks nothing either.
@pytest.mark.full
@pytest.mark.parametrize("extra", [(), ("--json",)], ids=["plain", "json"])
@pytest.mark.usefixtures("seeded")
def test_with_no_terminal_a_changed_page_ends_the_run_without_a_question(
    mock: MockExchanges, tmp_path: Path, extra: Any
) -> None:
    argv, env = command(mock, tmp_path, "--yes", "--allow-count", *extra)
    done = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
        timeout=90,
    )

    assert done.returncode == ExitCode.SITE_CHANGED, done.stdout + done.stderr
    assert "Open it now?" not in done.stdout + done.stderr
