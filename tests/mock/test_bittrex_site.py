"""The mock Bittrex Global: its server rules over HTTP, and its pages through a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sitekit
from playwright.sync_api import Locator, Page, expect
from sitekit import Codes, SignIn, SiteClient, account, open_signed_in

from fixtures.mockex import MockExchanges

SITE = "bittrex"
API_PATH = "/Manage?view=ipAllowList"
USER = "demo@ipbind.test"
PASSWORD = "demo-password-1"
SEEDED = "198.51.100.90"
SIGN_IN = SignIn("Email", "Sign In", "Two-Factor Authentication", "Authenticator Code", "Submit")


def fast_seed(allow_list: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """The default seed with short page delays and no cookie banner, unless overridden."""
    changed = None if allow_list is None else {"allow_list": allow_list}
    return sitekit.fast_seed(SITE, changed, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, PASSWORD

    def add(self, ip: str, code: str) -> tuple[int, dict[str, Any]]:
        return self.call("POST", "/api/allow-list", {"ip": ip, "code": code})

    def remove(self, ip: str, code: str) -> tuple[int, dict[str, Any]]:
        return self.call("DELETE", "/api/allow-list", {"ip": ip, "code": code})


def allow_list(mock: MockExchanges) -> list[str]:
    return account(mock, SITE, USER)["allow_list"]


# -- server rules over HTTP --------------------------------------------------------------


def test_state_is_the_seed(mock: MockExchanges) -> None:
    assert mock.state(SITE)["accounts"] == {USER: {"allow_list": [SEEDED]}}


@pytest.mark.usefixtures("seeded")
def test_api_needs_a_logged_in_session(mock: MockExchanges) -> None:
    anonymous = Client(mock)
    assert anonymous.call("GET", "/api/allow-list")[0] == 401
    assert anonymous.add("203.0.113.10", "000000")[0] == 401


@pytest.mark.usefixtures("seeded")
def test_each_change_needs_a_fresh_code(mock: MockExchanges, client: Client, codes: Codes) -> None:
    code = codes.next()
    # The address is checked before the code, so a refused address does not use the code up.
    assert client.add(SEEDED, code)[1]["error"] == "IP address already exists"
    assert client.add("203.0.113.10", code) == (200, {"allow_list": [SEEDED, "203.0.113.10"]})
    status, body = client.add("2001:db8::1", code)
    assert (status, body) == (
        400,
        {"error": "Code already used. Wait for a new code.", "field": "totp"},
    )
    assert client.add("2001:DB8::1", codes.next())[0] == 200
    assert client.remove(SEEDED, codes.next())[0] == 200
    assert allow_list(mock) == ["203.0.113.10", "2001:db8::1"]
    assert [(e["action"], e["ip"]) for e in mock.state(SITE)["log"]] == [
        ("add", "203.0.113.10"),
        ("add", "2001:db8::1"),
        ("remove", SEEDED),
    ]


@pytest.mark.parametrize(
    ("seeded", "ip", "error"),
    [
        (None, "203.0.113.0/24", 'Invalid IP address: "203.0.113.0/24" is a range.'),
        (None, "203.0.113.10/32", 'Invalid IP address: "203.0.113.10/32" is a range.'),
        (None, "203.0.113.256", 'Invalid IP address: "203.0.113.256"'),
        (None, "203.0.113.1, 203.0.113.2", 'Invalid IP address: "203.0.113.1, 203.0.113.2"'),
        (None, "", 'Invalid IP address: ""'),
        (None, SEEDED, "IP address already exists"),
        (["2001:db8::1"], "2001:DB8:0::1", "IP address already exists"),
        ([f"203.0.113.{n}" for n in range(30)], "198.51.100.1", "at most 30 addresses"),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_refused_add_stores_nothing(
    mock: MockExchanges, codes: Codes, seeded: list[str] | None, ip: str, error: str
) -> None:
    mock.reset(SITE, fast_seed(seeded))
    client = Client(mock).log_in(codes)
    before = mock.state(SITE)["accounts"]
    status, body = client.add(ip, "000000")  # the address is checked before the code
    assert status == 400
    assert error in body["error"]
    assert mock.state(SITE)["accounts"] == before
    assert mock.state(SITE)["log"] == []


@pytest.mark.usefixtures("seeded")
def test_remove_needs_a_listed_address_and_a_code(mock: MockExchanges, client: Client) -> None:
    assert client.remove("203.0.113.10", "000000") == (
        404,
        {"error": "IP address not found", "field": "ip"},
    )
    status, body = client.remove(SEEDED, "")
    assert (status, body["field"]) == (400, "totp")
    assert allow_list(mock) == [SEEDED]


@pytest.mark.usefixtures("seeded")
def test_fault_routes(mock: MockExchanges, client: Client) -> None:
    # A fault answers before the handler runs, so no code is needed to reach it.
    mock.fault(SITE, "list", "http500")
    assert client.call("GET", "/api/allow-list")[0] == 500
    mock.fault(SITE, "add", "rate_limited")
    assert client.add("203.0.113.10", "")[0] == 429
    mock.fault(SITE, "remove", "session_expired")
    assert client.remove(SEEDED, "")[0] == 401
    assert allow_list(mock) == [SEEDED]


# -- the pages, through a browser --------------------------------------------------------


def log_in(page: Page, codes: Codes) -> None:
    """From the login page back to where it was sent from, through the 2FA dialog."""
    SIGN_IN.enter_password(page, USER, PASSWORD)
    expect(SIGN_IN.enter_code(page, codes.next())).to_be_hidden()


def listed(page: Page) -> Locator:
    """The addresses in the IP Allow List, as the page shows them."""
    return page.get_by_role("table", name="IP Allow List").get_by_role("rowheader")


@pytest.fixture
def allow_page(mock: MockExchanges, seeded: None, codes: Codes, page: Page) -> Page:
    open_signed_in(page, mock.base_url(SITE) + API_PATH, log_in, codes)
    expect(listed(page)).to_have_text([SEEDED])
    return page


@pytest.mark.usefixtures("seeded")
def test_login_redirect_keeps_the_query(mock: MockExchanges, codes: Codes, page: Page) -> None:
    mock.reset(SITE, fast_seed(cookie_banner=True))
    page.goto(mock.base_url(SITE) + API_PATH)
    expect(page).to_have_url(re.compile(r"/login\?next=/Manage%3Fview%3DipAllowList$"))
    page.get_by_role("button", name=re.compile("Accept")).click()
    log_in(page, codes)
    expect(page).to_have_url(re.compile(re.escape(API_PATH) + "$"))
    expect(page.get_by_role("complementary", name="Notice")).to_contain_text(
        "stopped all trading on December 4, 2023"
    )
    expect(listed(page)).to_have_text([SEEDED])


@pytest.mark.usefixtures("seeded")
def test_add_form_stays_open_until_an_add_succeeds(
    mock: MockExchanges, codes: Codes, allow_page: Page
) -> None:
    allow_page.get_by_role("button", name="Add New IP Address").click()
    form = allow_page.get_by_role("dialog", name="Add New IP Address")
    ip_field, code_field = form.get_by_label("IP Address"), form.get_by_label("2FA Code")
    add = form.get_by_role("button", name="Add")

    ip_field.fill("203.0.113.0/24")
    code_field.fill(codes.next())
    add.click()
    expect(form.get_by_role("alert")).to_contain_text("Invalid IP address")
    expect(code_field).to_have_value("")

    ip_field.fill("203.0.113.10")
    mock.fault(SITE, "add", "totp_refused_once")
    code_field.fill(codes.next())
    add.click()
    expect(form.get_by_role("alert")).to_have_text("Invalid verification code")
    expect(code_field).to_have_value("")
    expect(ip_field).to_have_value("203.0.113.10")

    code_field.fill(codes.next())
    add.click()
    expect(form).to_be_hidden()
    expect(listed(allow_page)).to_have_text([SEEDED, "203.0.113.10"])
    assert allow_list(mock) == [SEEDED, "203.0.113.10"]


@pytest.mark.usefixtures("seeded")
def test_remove_asks_for_a_code(mock: MockExchanges, codes: Codes, allow_page: Page) -> None:
    allow_page.get_by_role("button", name=f"Remove {SEEDED}").click()
    confirm = allow_page.get_by_role("dialog", name="Remove IP Address")
    confirm.get_by_label("2FA Code").fill(codes.next())
    confirm.get_by_role("button", name="Confirm").click()
    expect(confirm).to_be_hidden()
    expect(allow_page.get_by_text("No IP addresses yet")).to_be_visible()
    expect(listed(allow_page)).to_have_count(0)
    assert allow_list(mock) == []
