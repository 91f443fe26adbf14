"""The mock Poloniex: its server rules over HTTP, and the e-mailed confirmation link that
needs no session (the pages are exercised by the flow's end-to-end tests)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
import sitekit
from sitekit import Codes, SiteClient, keys_by

from fixtures.mockex import MockExchanges

SITE = "poloniex"
USER = "demo-trader@poloniex.test"
MAIN_KEY = "PLNX-7QK2-9ZDA-M3TB"


def fast_seed(**overrides: Any) -> dict[str, Any]:
    return sitekit.fast_seed(SITE, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, "demo-password-1"

    def save(self, ips: str, code: str, restricted: bool = True) -> tuple[int, dict]:
        body = {"api_key": MAIN_KEY, "restricted": restricted, "ips": ips, "code": code}
        return self.call("POST", "/api/apikeys/restriction", body)


def open_link(link: str) -> int:
    """As a mail client opens it: a plain GET, no cookie."""
    url = urllib.parse.urlsplit(link)
    request = urllib.request.Request(
        f"http://127.0.0.1:{url.port}{url.path}", headers={"Host": url.netloc}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def main_key(mock: MockExchanges) -> dict[str, Any]:
    return keys_by(mock, SITE, USER, "label")["Altrady main"]


@pytest.mark.usefixtures("seeded")
def test_a_save_is_pending_until_the_e_mailed_link_is_opened(
    mock: MockExchanges, client: Client, codes: Codes
) -> None:
    assert client.save("192.0.2.10, 192.0.2.11", codes.next()) == (200, {"pending": True})
    key = main_key(mock)
    assert key["ips"] == ["192.0.2.10"]  # the old list, until the link is opened
    assert key["pending"] == {"restricted": True, "ips": ["192.0.2.10", "192.0.2.11"]}
    link = mock.control(SITE, "inbox")[-1]["link"]

    assert open_link(link) == 200
    key = main_key(mock)
    assert key["ips"] == ["192.0.2.10", "192.0.2.11"] and key["pending"] is None
    assert open_link(link) == 404  # once


@pytest.mark.parametrize(
    ("ips", "error"),
    [
        ("192.0.2.10, 192.0.2.10", "listed twice"),
        ("192.0.2.0/24", "is a range"),
        ("192.0.2.300", "Invalid IP address"),
        ("", "Add at least one trusted IP"),
        (", ".join(f"203.0.113.{n}" for n in range(21)), "At most 20"),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_a_refused_list_stores_nothing_and_sends_no_link(
    mock: MockExchanges, client: Client, codes: Codes, ips: str, error: str
) -> None:
    before = mock.state(SITE)["accounts"]
    status, body = client.save(ips, codes.next())
    assert status == 400 and error in body["error"]
    assert mock.state(SITE)["accounts"] == before
    assert mock.control(SITE, "inbox") == []


def test_a_replayed_code_is_refused(client: Client, codes: Codes) -> None:
    code = codes.next()
    assert client.save("192.0.2.10", code)[0] == 200
    assert client.save("192.0.2.11", code)[1]["field"] == "totp"
