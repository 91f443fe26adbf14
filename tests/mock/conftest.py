"""Fixtures of the mock-site tests. Each test module here is about one site and says which
with its globals: `SITE` (the site's id), `USER` (the seeded account), `fast_seed()` (the
seed its tests start from) and `Client` (its `sitekit.SiteClient`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sitekit import Codes, SiteClient

from fixtures.mockex import MockExchanges


@pytest.fixture
def seeded(mock: MockExchanges, request: pytest.FixtureRequest) -> None:
    """The mock, with the module's site reset to the module's `fast_seed()`, its pages calm:
    these tests drive a site's pages by the words its own script gives them, to prove its
    server's rules; what chaos varies is proven by test_chaos.py and by every flow's tests,
    which run under the chaos seeds."""
    mock.chaos(None)
    mock.reset(request.module.SITE, request.module.fast_seed())


@pytest.fixture
def codes(mock: MockExchanges, seeded: None, request: pytest.FixtureRequest) -> Codes:
    """Fresh codes of the module's `USER`."""
    return Codes.of(mock, request.module.SITE, request.module.USER)


@pytest.fixture
def client(
    mock: MockExchanges, seeded: None, codes: Codes, request: pytest.FixtureRequest
) -> SiteClient:
    """The module's `Client`, logged in."""
    return request.module.Client(mock).log_in(codes)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The mock pages' own tests (those that drive a browser) are in the full tier: the fast
    tier's flow tests run on every one of these pages; the sites' server rules, over HTTP,
    are in both."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.full)
