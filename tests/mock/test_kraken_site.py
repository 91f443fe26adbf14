"""The mock Kraken Pro: its server rules over HTTP, and its pages through a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sitekit
from playwright.sync_api import Locator, Page, expect
from sitekit import Codes, SignIn, SiteClient, keys_by, list_items, open_signed_in
from support import changes

from fixtures.mockex import MockExchanges

SITE = "kraken"
API_PATH = "/app/settings/api"
USER = "demo-trader"
PASSWORD = "demo-password-1"
MAIN, OLD_MAIN, EXTRA_1, EXTRA_2, BOT = (
    "Altrady main",
    "Altrady main (old)",
    "Altrady extra 1",
    "Altrady extra 2",
    "Personal bot",
)
SIGN_IN = SignIn("Username", "Sign in", "Verify it's you", "Two-factor authentication", "Continue")


def fast_seed(api_2fa: bool = False, **overrides: Any) -> dict[str, Any]:
    """The default seed with short page delays, no cookie banner and (unless asked) no 2FA
    on API changes, so a test needs codes only where it is about them."""
    return sitekit.fast_seed(SITE, {"api_2fa": api_2fa}, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, PASSWORD

    def save(self, name: str, ips: Any, on: bool = True, **extra: Any) -> tuple[int, dict]:
        body = {"name": name, "ip_whitelisting": on, "ips": ips, **extra}
        return self.call("POST", "/api/keys/whitelist", body)


def keys(mock: MockExchanges) -> dict[str, dict[str, Any]]:
    return keys_by(mock, SITE, USER, "name")


# -- server rules over HTTP --------------------------------------------------------------


def test_state_is_the_seed(mock: MockExchanges) -> None:
    assert mock.state(SITE)["accounts"][USER] == {
        "api_2fa": True,
        "keys": [
            {"name": MAIN, "ip_whitelisting": False, "ips": []},
            {"name": OLD_MAIN, "ip_whitelisting": False, "ips": []},
            {"name": EXTRA_1, "ip_whitelisting": False, "ips": []},
            {"name": EXTRA_2, "ip_whitelisting": False, "ips": []},
            {"name": BOT, "ip_whitelisting": True, "ips": ["198.51.100.80"]},
        ],
    }


@pytest.mark.usefixtures("seeded")
def test_api_needs_a_logged_in_session(mock: MockExchanges) -> None:
    anonymous = Client(mock)
    assert anonymous.call("GET", "/api/keys")[0] == 401
    assert anonymous.save(MAIN, ["203.0.113.10"])[0] == 401


@pytest.mark.usefixtures("seeded")
def test_save_stores_addresses_and_ranges(mock: MockExchanges, client: Client) -> None:
    status, body = client.save(
        MAIN, ["203.0.113.10", "192.0.2.0/24", "2001:DB8::1", "2001:db8:1::/48"]
    )
    saved = ["203.0.113.10", "192.0.2.0/24", "2001:db8::1", "2001:db8:1::/48"]
    assert (status, body) == (200, {"name": MAIN, "ip_whitelisting": True, "ips": saved})
    assert keys(mock)[MAIN]["ips"] == saved
    assert keys(mock)[OLD_MAIN]["ips"] == []  # keys are told apart by their exact name
    assert changes(mock, SITE) == [
        {
            "action": "save_whitelist",
            "username": USER,
            "key": MAIN,
            "ip_whitelisting": True,
            "ips": saved,
        }
    ]


@pytest.mark.usefixtures("seeded")
def test_switching_off_clears_the_list(mock: MockExchanges, client: Client) -> None:
    assert client.save(BOT, ["198.51.100.80"], on=False)[0] == 200
    assert keys(mock)[BOT] == {"name": BOT, "ip_whitelisting": False, "ips": []}


@pytest.mark.parametrize(
    ("name", "ips", "status", "error"),
    [
        (MAIN, ["198.51.100.1, 198.51.100.2"], 400, '"198.51.100.1, 198.51.100.2" holds more'),
        (MAIN, ["198.51.100.1 198.51.100.2"], 400, '"198.51.100.1 198.51.100.2" holds more'),
        (MAIN, ["198.51.100.256"], 400, '"198.51.100.256" is not a valid IP address or range.'),
        (MAIN, ["192.0.2.1/24"], 400, '"192.0.2.1/24" is not a valid IP address or range.'),
        (MAIN, ["198.51.100.1", "198.51.100.1/32"], 400, '"198.51.100.1/32" is already in'),
        (MAIN, ["2001:db8::1", "2001:DB8:0::1"], 400, '"2001:DB8:0::1" is already in the list.'),
        (MAIN, [f"203.0.113.{n}" for n in range(31)], 400, "at most 30 IP addresses or ranges"),
        (MAIN, [], 400, "Add at least one IP address or range, or turn IP whitelisting off."),
        (MAIN, ["198.51.100.1", " "], 400, "Enter an IP address or range in every field"),
        (MAIN, "198.51.100.1", 400, "malformed request"),
        ("Altrady", ["198.51.100.1"], 404, "API key not found."),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_refused_save_stores_nothing(
    mock: MockExchanges, client: Client, name: str, ips: Any, status: int, error: str
) -> None:
    before = mock.state(SITE)["accounts"]
    got_status, body = client.save(name, ips)
    assert got_status == status
    assert error in body["error"]
    assert mock.state(SITE)["accounts"] == before
    assert mock.state(SITE)["log"] == []


@pytest.mark.usefixtures("seeded")
def test_thirty_entries_fit(mock: MockExchanges, client: Client) -> None:
    thirty = [f"203.0.113.{n}" for n in range(30)]
    assert client.save(EXTRA_2, thirty)[0] == 200
    assert keys(mock)[EXTRA_2]["ips"] == thirty


@pytest.mark.usefixtures("seeded")
def test_2fa_for_api_changes_takes_each_code_once(mock: MockExchanges, codes: Codes) -> None:
    mock.reset(SITE, fast_seed(api_2fa=True))
    client = Client(mock).log_in(codes)
    status, body = client.save(MAIN, ["203.0.113.10"])
    assert (status, body["field"]) == (400, "totp")
    # The list is checked before the code, so a refused list does not use the code up.
    code = codes.next()
    assert "already in the list" in client.save(MAIN, ["203.0.113.10"] * 2, code=code)[1]["error"]
    assert client.save(MAIN, ["203.0.113.10"], code=code)[0] == 200
    status, body = client.save(EXTRA_1, ["203.0.113.10"], code=code)
    assert (status, body["error"]) == (400, "Code already used. Wait for a new code.")
    assert keys(mock)[EXTRA_1]["ips"] == []
    assert client.save(EXTRA_1, ["203.0.113.10"], code=codes.next())[0] == 200


@pytest.mark.usefixtures("seeded")
def test_fault_routes(mock: MockExchanges, client: Client) -> None:
    mock.fault(SITE, "keys", "rate_limited")
    assert client.call("GET", "/api/keys")[0] == 429
    mock.fault(SITE, "save", "http500")
    assert client.save(MAIN, ["203.0.113.10"])[0] == 500
    assert keys(mock)[MAIN]["ips"] == []


# -- the pages, through a browser --------------------------------------------------------


def log_in(page: Page, codes: Codes) -> None:
    """From the login page back to where it was sent from, through "Verify it's you"."""
    SIGN_IN.enter_password(page, USER, PASSWORD)
    expect(SIGN_IN.enter_code(page, codes.next())).to_be_hidden()


def key_card(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name, exact=True)


def whitelist(page: Page, name: str) -> Locator:
    """The key's saved whitelist as the API page shows it: what a flow reads back."""
    return list_items(key_card(page, name), f"IP whitelist for {name}")


def edit(page: Page, name: str) -> None:
    key_card(page, name).get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


def add_entry(page: Page, value: str) -> None:
    entries = page.get_by_label("IP address or range")
    count = entries.count()
    page.get_by_role("button", name="Add an IP address or range").click()
    expect(entries).to_have_count(count + 1)  # a new input may take a moment to show
    entries.last.fill(value)


@pytest.fixture
def api_page(mock: MockExchanges, seeded: None, codes: Codes, page: Page) -> Page:
    open_signed_in(page, mock.base_url(SITE) + API_PATH, log_in, codes)
    expect(key_card(page, MAIN)).to_be_visible()
    return page


@pytest.mark.usefixtures("seeded")
def test_login_redirects_and_comes_back(mock: MockExchanges, codes: Codes, page: Page) -> None:
    mock.reset(SITE, fast_seed(cookie_banner=True))
    page.goto(mock.base_url(SITE) + API_PATH)
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/app/settings/api$"))
    page.get_by_role("button", name=re.compile("Accept")).click()
    log_in(page, codes)
    expect(page).to_have_url(re.compile(f"{API_PATH}$"))
    for name in (MAIN, OLD_MAIN, EXTRA_1, EXTRA_2, BOT):
        expect(key_card(page, name).get_by_role("button", name="Edit")).to_be_visible()
    expect(key_card(page, MAIN)).to_contain_text("IP whitelisting: Off")
    expect(whitelist(page, BOT)).to_have_text(["198.51.100.80"])


@pytest.mark.usefixtures("seeded")
def test_entries_one_per_input_then_save_with_2fa(
    mock: MockExchanges, codes: Codes, page: Page
) -> None:
    mock.reset(SITE, fast_seed(api_2fa=True))
    page.goto(mock.base_url(SITE) + API_PATH)
    log_in(page, codes)
    edit(page, MAIN)
    expect(page).to_have_url(re.compile(f"{API_PATH}/edit/Altrady%20main$"))
    switch = page.get_by_role("switch", name="IP whitelisting")
    expect(page.get_by_role("button", name="Add an IP address or range")).to_be_hidden()
    switch.check()
    for value in ("203.0.113.10", "192.0.2.0/24", "2001:db8::1"):
        add_entry(page, value)
    expect(page.get_by_role("button", name="Remove 192.0.2.0/24")).to_be_visible()
    mock.fault(SITE, "save", "totp_refused_once")
    page.get_by_role("button", name="Save").click()
    verify = page.get_by_role("dialog", name="Verify it's you")
    code_field = verify.get_by_label("Two-factor authentication")
    code_field.fill(codes.next())
    verify.get_by_role("button", name="Continue").click()
    expect(verify.get_by_role("alert")).to_have_text("Invalid verification code")
    expect(code_field).to_have_value("")
    code_field.fill(codes.next())
    verify.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(f"{API_PATH}$"))
    saved = ["203.0.113.10", "192.0.2.0/24", "2001:db8::1"]
    expect(whitelist(page, MAIN)).to_have_text(saved)
    assert keys(mock)[MAIN] == {"name": MAIN, "ip_whitelisting": True, "ips": saved}
    assert keys(mock)[OLD_MAIN]["ips"] == []


@pytest.mark.usefixtures("seeded")
def test_refused_entries_show_on_the_edit_page(mock: MockExchanges, api_page: Page) -> None:
    edit(api_page, BOT)
    expect(api_page.get_by_label("IP address or range")).to_have_value("198.51.100.80")
    add_entry(api_page, "198.51.100.80/32")
    api_page.get_by_role("button", name="Save").click()
    alert = api_page.get_by_role("alert")
    expect(alert).to_have_text('"198.51.100.80/32" is already in the list.')
    api_page.get_by_label("IP address or range").last.fill("203.0.113.5, 203.0.113.6")
    api_page.get_by_role("button", name="Save").click()
    expect(alert).to_contain_text('"203.0.113.5, 203.0.113.6" holds more than one entry.')
    assert keys(mock)[BOT]["ips"] == ["198.51.100.80"]
    api_page.get_by_label("IP address or range").last.fill("203.0.113.5")
    api_page.get_by_role("button", name="Remove 198.51.100.80").click()
    api_page.get_by_role("button", name="Save").click()
    expect(whitelist(api_page, BOT)).to_have_text(["203.0.113.5"])
    assert keys(mock)[BOT]["ips"] == ["203.0.113.5"]


@pytest.mark.usefixtures("seeded")
def test_switching_off_on_the_page_clears_the_list(mock: MockExchanges, api_page: Page) -> None:
    edit(api_page, BOT)
    switch = api_page.get_by_role("switch", name="IP whitelisting")
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(api_page.get_by_label("IP address or range")).to_be_hidden()
    api_page.get_by_role("button", name="Save").click()
    expect(key_card(api_page, BOT)).to_contain_text("IP whitelisting: Off")
    assert keys(mock)[BOT] == {"name": BOT, "ip_whitelisting": False, "ips": []}


@pytest.mark.usefixtures("seeded")
def test_page_faults(mock: MockExchanges, api_page: Page) -> None:
    mock.fault(SITE, "keys", "http500")
    api_page.reload()
    expect(api_page.get_by_role("alert")).to_have_text(re.compile("Something went wrong"))
    api_page.get_by_role("button", name="Try again").click()
    expect(key_card(api_page, MAIN)).to_be_visible()

    mock.fault(SITE, "page", "label_changed", label="Add an IP address or range", to="Add IP")
    api_page.reload()
    edit(api_page, MAIN)
    api_page.get_by_role("switch", name="IP whitelisting").check()
    expect(api_page.get_by_role("button", name="Add IP", exact=True)).to_be_visible()
    expect(api_page.get_by_role("button", name="Add an IP address or range")).to_have_count(0)
