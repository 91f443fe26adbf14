"""The mock HTX (Huobi): its server rules over HTTP (the pages are exercised by the flow's
end-to-end tests under every chaos seed)."""

from __future__ import annotations

from typing import Any

import pytest
import sitekit
from sitekit import Codes, SiteClient, keys_by

from fixtures.mockex import MockExchanges

SITE = "huobi"
USER = "demo-trader@htx.test"


def fast_seed(**overrides: Any) -> dict[str, Any]:
    return sitekit.fast_seed(SITE, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, "demo-password-1"

    def __init__(self, mock: MockExchanges):
        super().__init__(mock)
        self.mock = mock

    def send_code(self) -> str:
        """ "Send code", and the code as the person reads it in their mail."""
        assert self.call("POST", "/api/apikeys/email-code", {})[0] == 200
        return self.mock.control(SITE, "inbox")[-1]["code"]

    def save(self, ips: str, email_code: str, code: str) -> tuple[int, dict]:
        # Under chaos the server writes access keys in a format of its own: the key as it has it.
        key = notes(self.mock)["Altrady main"]["access_key"]
        body = {"access_key": key, "ips": ips, "email_code": email_code, "code": code}
        return self.call("POST", "/api/apikeys/update", body)


def notes(mock: MockExchanges) -> dict[str, dict[str, Any]]:
    return keys_by(mock, SITE, USER, "note")


@pytest.mark.usefixtures("seeded")
def test_the_field_is_saved_whole_with_both_codes(
    mock: MockExchanges, client: Client, codes: Codes
) -> None:
    emailed = client.send_code()
    status, _ = client.save(
        "192.0.2.10, 192.0.2.11 203.0.113.0/24,2001:db8::1", emailed, codes.next()
    )
    assert status == 200
    assert notes(mock)["Altrady main"]["ips"] == [
        "192.0.2.10",
        "192.0.2.11",
        "203.0.113.0/24",
        "2001:db8::1",
    ]
    # The e-mailed code is used once.
    assert client.save("192.0.2.10", emailed, codes.next())[1]["field"] == "email_code"


@pytest.mark.parametrize(
    ("ips", "error"),
    [
        ("192.0.2.10, 192.0.2.10", "Duplicate IP address"),
        ("192.0.2.300", "Invalid IP address or IP segment"),
        ("2001:db8::/64", "Invalid IP address or IP segment"),  # segments: IPv4 only
        (", ".join(f"203.0.113.{n}" for n in range(21)), "At most 20"),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_a_refused_list_stores_nothing_and_uses_no_code(
    mock: MockExchanges, client: Client, codes: Codes, ips: str, error: str
) -> None:
    before = mock.state(SITE)["accounts"]
    emailed = client.send_code()
    code = codes.next()
    status, body = client.save(ips, emailed, code)
    assert status == 400 and error in body["error"]
    assert mock.state(SITE)["accounts"] == before
    assert client.save("192.0.2.10", emailed, code)[0] == 200  # both codes still good


def test_a_wrong_e_mailed_code_or_a_replayed_code_is_refused(client: Client, codes: Codes) -> None:
    emailed = client.send_code()
    assert client.save("192.0.2.10", "000000", codes.next())[1]["field"] == "email_code"
    code = codes.next()
    assert client.save("192.0.2.10", emailed, code)[0] == 200
    emailed = client.send_code()
    assert client.save("192.0.2.11", emailed, code)[1]["field"] == "totp"
