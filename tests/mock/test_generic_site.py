"""The generic mock site: each exchange's server rules over HTTP, from the mock's own table
written from SITES.md (limits, CIDR/IPv6, the verification steps, third-party keys, e-mailed
links)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from sitekit import Codes, SiteClient, keys_by
from support import PASSWORD, SECRET, seeded_account

from fixtures.mockex import MockExchanges

USER = "trader@ipbind.test"
FUND = "fund-Passw0rd!"
KEYS = [
    {"name": "Altrady main"},
    {"name": "Fast Connect", "third_party": True, "ips": ["198.51.100.7"]},
]


def client(mock: MockExchanges, site: str) -> Client:
    mock.reset(
        site,
        {
            "latency_ms": [0, 10],
            "cookie_banner": False,
            "accounts": [seeded_account(USER, fund_password=FUND, keys=KEYS)],
        },
    )
    codes = Codes(SECRET, mock.site(site).totp_period)
    return Client(mock, site, codes).log_in(codes)


class Client(SiteClient):
    user, password = USER, PASSWORD

    def __init__(self, mock: MockExchanges, site: str, codes: Codes):
        super().__init__(mock)
        self.site = site  # type: ignore[misc]
        self.codes = codes

    def save(self, ips: str, name: str = "Altrady main", **extra: Any) -> tuple[int, dict]:
        body = {"name": name, "restricted": True, "ips": ips, "code": self.codes.next(), **extra}
        return self.call("POST", "/api/keys/save", body)


def saved(mock: MockExchanges, site: str) -> dict[str, dict[str, Any]]:
    return keys_by(mock, site, USER, "name")


def test_over_the_profiles_limit_is_refused_and_nothing_stored(mock: MockExchanges) -> None:
    site = client(mock, "cryptocom")
    status, body = site.save(",".join(f"203.0.113.{i}" for i in range(1, 8)))
    assert status == 400 and body["error"] == "A key can have at most 6 IP addresses."
    assert saved(mock, "cryptocom")["Altrady main"]["ips"] == []


@pytest.mark.parametrize(
    ("exchange", "entry", "ok"),
    [("coinbase", "2001:db8::/48", True), ("okx", "203.0.113.0/28", False)],
)
def test_cidr_and_ipv6_as_the_profile_says(
    mock: MockExchanges, exchange: str, entry: str, ok: bool
) -> None:
    site = client(mock, exchange)
    site.call("POST", "/api/keys/send-code", {})  # okx e-mails a code; coinbase has none
    mails = mock.state(exchange)["inbox"]
    status, body = site.save(
        f"203.0.113.1, {entry}", email_code=mails[-1]["code"] if mails else None
    )
    assert (status == 200) is ok, body
    expected = ["203.0.113.1", entry] if ok else []
    assert saved(mock, exchange)["Altrady main"]["ips"] == expected


def test_a_third_party_key_cannot_be_changed(mock: MockExchanges) -> None:
    site = client(mock, "okx")
    status, body = site.save("203.0.113.1", name="Fast Connect")
    assert status == 400 and "third-party app" in body["error"]
    assert saved(mock, "okx")["Fast Connect"]["ips"] == ["198.51.100.7"]


def test_the_fund_password_and_the_emailed_code_are_checked(mock: MockExchanges) -> None:
    gate = client(mock, "gate")
    assert gate.save("203.0.113.1", secret="wrong")[0] == 400
    assert gate.save("203.0.113.1", secret=FUND)[0] == 200
    assert saved(mock, "gate")["Altrady main"]["ips"] == ["203.0.113.1"]

    kucoin = client(mock, "kucoin")
    assert kucoin.save("203.0.113.1", secret=FUND, email_code="000000")[0] == 400
    assert kucoin.call("POST", "/api/keys/send-code", {})[0] == 200
    [mail] = mock.state("kucoin")["inbox"]
    assert kucoin.save("203.0.113.1", secret=FUND, email_code=mail["code"])[0] == 200
    assert saved(mock, "kucoin")["Altrady main"]["ips"] == ["203.0.113.1"]


def test_a_change_waits_for_its_emailed_link(mock: MockExchanges) -> None:
    bitvavo = client(mock, "bitvavo")
    status, body = bitvavo.save("203.0.113.1", secret=PASSWORD)
    assert status == 200 and body["pending"] is True
    assert saved(mock, "bitvavo")["Altrady main"]["ips"] == []  # not before the link
    [mail] = mock.state("bitvavo")["inbox"]
    link = urllib.parse.urlsplit(mail["link"])
    assert bitvavo.call("GET", f"{link.path}?{link.query}")[0] == 200
    key = saved(mock, "bitvavo")["Altrady main"]
    assert key["ips"] == ["203.0.113.1"] and key["pending"] is None
