"""Every flow on every shape of key list SITES.md leaves open: a table, an ARIA grid, cards,
named regions and definition lists (`keyList` in fixtures/mockex/static/common.js; the
chaos seeds draw one per page load, these tests pin each in turn). Whatever the shape, the
key is found by its name, its list read, and the server ends with what was there and every
address once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser
from support import MailboxHuman, account_state, run_cli, settings_for, write_allocation
from test_faults import IPS, OLD, SUBJECTS

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges
from flows import FLOWS

SHAPES = ["table", "grid", "cards", "regions", "dl"]
# In the full tier only: every listed flow on every shape. The fast tier proves the shapes on
# Binance, Huobi, Poloniex and Gate in their own files, and chaos varies them everywhere.
pytestmark = pytest.mark.full

# Every flow that lists keys (not an account-wide list).
LISTED = [exchange for exchange in SUBJECTS if FLOWS[exchange].scope == "key"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("exchange", LISTED)
def test_each_flow_finds_its_key_in_each_shape_of_list(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, exchange: str, shape: str
) -> None:
    subject = SUBJECTS[exchange]
    seed = subject.seed()
    seed["options"] = {**seed.get("options", {}), "listShape": shape}
    mock.reset(exchange, seed)
    account = subject.account(IPS[:2])
    result = run_cli(
        "apply",
        write_allocation(tmp_path / "a.toml", [account]),
        settings_for(mock, exchange, tmp_path, **subject.settings),
        browser,
        capsys,
        person=MailboxHuman(mock, exchange),
        allow_count=True,
    )

    assert result.code == ExitCode.OK, result.out
    state = account_state(mock, exchange)
    expected = [FLOWS[exchange].app] if subject.binds else [OLD, *IPS[:2]]
    assert subject.saved(state) == expected
