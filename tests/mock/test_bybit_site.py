"""The mock Bybit: creating a key bound to a third-party application, and the rule that an
existing key's binding never changes (the pages are exercised by the flow's tests)."""

from __future__ import annotations

from typing import Any

import pytest
import sitekit
from sitekit import Codes, SiteClient, keys_by

from fixtures.mockex import MockExchanges

SITE = "bybit"
USER = "demo-trader@bybit.test"
FORM = {
    "name": "Altrady",
    "app": "Altrady",
    "permissions": {"access": "Read-Write", "scopes": ["Trade", "Orders"]},
}


def fast_seed(**overrides: Any) -> dict[str, Any]:
    return sitekit.fast_seed(SITE, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, "demo-password-1"


@pytest.mark.usefixtures("seeded")
def test_a_key_is_created_bound_with_both_codes_and_its_secret_shown_once(
    mock: MockExchanges, client: Client, codes: Codes
) -> None:
    assert client.call("POST", "/api/keys/email-code", FORM)[0] == 200
    emailed = mock.control(SITE, "inbox")[-1]["code"]
    assert (
        client.call("POST", "/api/keys/create", {**FORM, "email_code": "1", "code": codes.next()})[
            1
        ]["field"]
        == "email_code"
    )
    status, body = client.call(
        "POST", "/api/keys/create", {**FORM, "email_code": emailed, "code": codes.next()}
    )
    assert status == 200
    key = keys_by(mock, SITE, USER, "name")["Altrady"]
    assert key["app"] == "Altrady" and key["api_key"] == body["api_key"]
    assert key["permissions"] == {"access": "Read-Write", "scopes": ["Orders", "Trade"]}
    listed = client.call("GET", "/api/keys")[1]
    assert body["secret"] not in str(listed)  # the list never shows a secret


@pytest.mark.usefixtures("seeded")
def test_the_form_is_checked_before_a_code_is_sent(mock: MockExchanges, client: Client) -> None:
    for form, field in [
        ({**FORM, "name": " "}, "name"),
        ({**FORM, "name": "Personal bot"}, "name"),  # names are unique
        ({**FORM, "app": "Nobody"}, "app"),
        ({**FORM, "permissions": {"access": "Admin"}}, "permissions"),
    ]:
        assert client.call("POST", "/api/keys/email-code", form)[1]["field"] == field
    assert mock.control(SITE, "inbox") == []


def test_an_existing_key_cannot_be_re_bound(client: Client) -> None:
    status, body = client.call("POST", "/api/keys/edit", {"api_key": "Xq7Lm2Np9Rs4Tv6Wy8"})
    assert status == 400 and "cannot be changed" in body["error"]
