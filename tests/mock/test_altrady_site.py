"""The mock Altrady: its server rules over HTTP. Its pages are driven by `ipbind import` in
tests/test_import.py, under the chaos seeds."""

from __future__ import annotations

from typing import Any

import sitekit
from sitekit import SiteClient

from fixtures.mockex import MockExchanges

SITE = "altrady"
USER = "demo@altrady.test"
PASSWORD = "demo-password-altrady"
PASS_KEY = "amber river candle stone mirror"


def fast_seed(**overrides: Any) -> dict[str, Any]:
    return sitekit.fast_seed(SITE, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, PASSWORD

    def reveal(self, id_: str, pass_key: str | None = None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"id": id_}
        if pass_key is not None:
            body["pass_key"] = pass_key
        return self.call("POST", "/api/trading-accounts/reveal", body)


def rows(mock: MockExchanges) -> list[dict[str, Any]]:
    return list(sitekit.account(mock, SITE, USER)["trading_accounts"])


def test_the_list_shows_no_addresses_and_needs_a_session(mock: MockExchanges, seeded: None) -> None:
    status, _ = Client(mock).call("GET", "/api/trading-accounts")
    assert status == 401


def test_rows_name_key_and_exchange_and_say_which_need_resolving(client: SiteClient) -> None:
    status, data = client.call("GET", "/api/trading-accounts")
    assert status == 200
    listed = {row["name"]: row for row in data["trading_accounts"]}
    assert listed["My Poloniex"]["resolve"] is True and listed["My Binance"]["resolve"] is False
    assert all("ips" not in row and row["api_key"] and row["exchange"] for row in listed.values())


def test_addresses_are_revealed_only_after_the_pass_key(
    mock: MockExchanges, client: Client
) -> None:
    assert client.reveal("1") == (
        403,
        {"error": "Enter your 5 word pass key.", "field": "pass_key"},
    )
    status, data = client.reveal("1", "amber river candle stone")  # a word short
    assert status == 403 and data["field"] == "pass_key"
    status, data = client.reveal("1", PASS_KEY)
    assert status == 200 and len(data["ips"]) == 20
    assert data["api_key"] == rows(mock)[0]["api_key"]
    assert client.reveal("2")[0] == 200  # once per session
    assert all(row["updates"] == 0 for row in rows(mock))


def test_update_is_recorded_and_resolves_the_account(mock: MockExchanges, client: Client) -> None:
    poloniex = next(row for row in rows(mock) if row["name"] == "My Poloniex")
    assert client.call("POST", "/api/trading-accounts/update", {"id": poloniex["id"]})[0] == 200
    after = next(row for row in rows(mock) if row["name"] == "My Poloniex")
    assert after["updates"] == 1 and after["resolve"] is False
    assert [e["name"] for e in mock.state(SITE)["log"] if e["action"] == "update"] == [
        "My Poloniex"
    ]
    assert client.call("POST", "/api/trading-accounts/update", {"id": "99"})[0] == 404
