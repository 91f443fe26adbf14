"""Fixtures of the mock-site tests. Each test module here is about one site and says which
with its globals: `SITE` (the site's id), `USER` (the seeded account), `fast_seed()` (the
seed its tests start from) and `Client` (its `sitekit.SiteClient`)."""

from __future__ import annotations

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
