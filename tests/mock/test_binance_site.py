"""The mock Binance: its server rules over HTTP, and its pages through a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sitekit
from playwright.sync_api import Locator, Page, expect
from sitekit import Codes, SignIn, SiteClient, keys_by, list_items, open_signed_in
from support import changes

from fixtures.mockex import MockExchanges
from fixtures.mockex.core import load_seed

SITE = "binance"
API_PATH = "/en/my/settings/api-management"
USER = "demo@ipbind.test"
PASSWORD = "demo-password-1"
MAIN, EXTRA, OLD = "Altrady main", "Altrady extra", "Old bot"
SIGN_IN = SignIn(
    "Email/Phone number", "Log In", "Security Verification", "Authenticator App Code", "Submit"
)


def fast_seed(**overrides: Any) -> dict[str, Any]:
    """The default seed with short page delays and no cookie banner, unless overridden."""
    return sitekit.fast_seed(SITE, **overrides)


class Client(SiteClient):
    site, user, password = SITE, USER, PASSWORD


def keys(mock: MockExchanges) -> dict[str, dict[str, Any]]:
    return keys_by(mock, SITE, USER, "label")


def save(client: Client, mock: MockExchanges, label: str, code: str, **changes: Any):
    """Saves `label` as it is, plus `changes` (e.g. add=[...], keep=[...], restricted=...)."""
    key = keys(mock)[label]
    body = {
        "api_key": key["api_key"],
        "restricted": True,
        "spot_trading": key["spot_trading"],
        "keep": key["ips"],
        "add": [],
        "code": code,
        **changes,
    }
    return client.call("POST", "/api/keys/save", body)


# -- server rules over HTTP --------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_state_has_the_seeded_keys_in_order(mock: MockExchanges) -> None:
    state = mock.state(SITE)["accounts"][USER]
    assert [key["label"] for key in state["keys"]] == [MAIN, EXTRA, OLD]
    assert state["keys"][2] == {
        "label": OLD,
        "api_key": load_seed(SITE)["accounts"][0]["keys"][2]["api_key"],
        "restricted": True,
        "ips": ["198.51.100.50", "198.51.100.51"],
        "spot_trading": True,
    }


@pytest.mark.usefixtures("seeded")
def test_api_needs_a_logged_in_session(mock: MockExchanges) -> None:
    anonymous = Client(mock)
    assert anonymous.call("GET", "/api/keys")[0] == 401
    status, body = anonymous.call("POST", "/api/login", {"username": USER, "password": "wrong"})
    assert (status, body["error"]) == (401, "Incorrect account or password.")


@pytest.mark.usefixtures("seeded")
def test_save_appends_new_ips_after_existing_ones(
    mock: MockExchanges, client: Client, codes: Codes
) -> None:
    status, _ = save(client, mock, EXTRA, codes.next(), add=["203.0.113.10", "2001:DB8::1"])
    assert status == 200
    assert keys(mock)[EXTRA]["ips"] == ["198.51.100.7", "203.0.113.10", "2001:db8::1"]
    assert changes(mock, SITE) == [
        {
            "action": "save",
            "username": USER,
            "key": EXTRA,
            "ips": ["198.51.100.7", "203.0.113.10", "2001:db8::1"],
            "restricted": True,
        }
    ]
    status, body = client.call("GET", "/api/keys")
    assert status == 200 and body["keys"][1]["ips"][-1] == "2001:db8::1"


@pytest.mark.usefixtures("seeded")
def test_save_removes_entries_and_unrestricting_clears_the_list(
    mock: MockExchanges, client: Client, codes: Codes
) -> None:
    assert save(client, mock, OLD, codes.next(), keep=["198.51.100.51"])[0] == 200
    assert keys(mock)[OLD]["ips"] == ["198.51.100.51"]
    status, _ = save(client, mock, OLD, codes.next(), restricted=False, spot_trading=False)
    assert status == 200
    assert keys(mock)[OLD] | {"api_key": ""} == {
        "label": OLD,
        "api_key": "",
        "restricted": False,
        "ips": [],
        "spot_trading": False,
    }


OVER_LIMIT = [f"203.0.113.{n}" for n in range(1, 31)]  # 30 new + 1 existing on EXTRA


@pytest.mark.parametrize(
    ("label", "changes", "status", "error"),
    [
        (EXTRA, {"add": ["198.51.100.7"]}, 400, "IP 198.51.100.7 already exists"),
        (EXTRA, {"add": ["203.0.113.1", "203.0.113.1"]}, 400, "203.0.113.1 is entered more"),
        (EXTRA, {"add": ["2001:db8::1", "2001:DB8:0::1"]}, 400, "2001:DB8:0::1 is entered more"),
        (EXTRA, {"add": OVER_LIMIT}, 400, "at most 30 trusted IPs (31 entered)"),
        (EXTRA, {"add": ["203.0.113.1", "203.0.113.256"]}, 400, "Invalid IP address: 203.0."),
        (EXTRA, {"add": ["fe80::1%eth0"]}, 400, "Invalid IP address: fe80::1%eth0"),
        (EXTRA, {"add": ["203.0.113.0/24"]}, 400, "CIDR) are not supported: 203.0.113.0/24"),
        (EXTRA, {"keep": ["198.51.100.99"]}, 400, "198.51.100.99 is no longer on this API key"),
        (MAIN, {"keep": [], "add": []}, 400, "at least one trusted IP"),
        (MAIN, {"restricted": False, "spot_trading": True}, 400, "Spot & Margin Trading can only"),
        (EXTRA, {"add": "203.0.113.1"}, 400, "malformed request"),
        (EXTRA, {"api_key": "no-such-key"}, 404, "API key not found."),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_refused_save_stores_nothing(
    mock: MockExchanges,
    client: Client,
    label: str,
    changes: dict[str, Any],
    status: int,
    error: str,
) -> None:
    before = mock.state(SITE)["accounts"]
    # Validation comes before the code check, so any code shows the validation error.
    got_status, body = save(client, mock, label, "000000", **changes)
    assert got_status == status
    assert error in body["error"]
    assert mock.state(SITE)["accounts"] == before
    assert mock.state(SITE)["log"] == []


@pytest.mark.usefixtures("seeded")
def test_refused_save_keeps_the_code_and_a_replayed_code_is_refused(
    mock: MockExchanges, client: Client, codes: Codes
) -> None:
    code = codes.next()
    assert save(client, mock, EXTRA, code, add=["198.51.100.7"])[0] == 400
    assert save(client, mock, EXTRA, code, add=["203.0.113.10"])[0] == 200
    status, body = save(client, mock, EXTRA, code, add=["203.0.113.11"])
    assert (status, body["field"]) == (400, "totp")
    assert body["error"].startswith("Code already used")
    assert keys(mock)[EXTRA]["ips"] == ["198.51.100.7", "203.0.113.10"]


@pytest.mark.usefixtures("seeded")
def test_server_faults(mock: MockExchanges, client: Client, codes: Codes) -> None:
    code = codes.next()
    mock.fault(SITE, "save", "http500")
    assert save(client, mock, EXTRA, code, add=["203.0.113.10"])[0] == 500
    mock.fault(SITE, "save", "totp_refused_once")
    status, body = save(client, mock, EXTRA, code, add=["203.0.113.10"])
    assert (status, body["error"]) == (400, "Invalid verification code")
    assert keys(mock)[EXTRA]["ips"] == ["198.51.100.7"]
    assert save(client, mock, EXTRA, code, add=["203.0.113.10"])[0] == 200  # code unused so far
    mock.fault(SITE, "keys", "session_expired")
    assert client.call("GET", "/api/keys")[0] == 401
    assert client.call("GET", "/api/keys")[0] == 401  # the session is gone, not just one answer


# -- the pages, through a browser --------------------------------------------------------


def log_in(page: Page, codes: Codes) -> None:
    """From the login page to the API page, through "Security Verification"."""
    SIGN_IN.enter_password(page, USER, PASSWORD)
    submit_code(page, codes.next())
    expect(page).to_have_url(re.compile(re.escape(API_PATH) + "$"))


@pytest.fixture
def api_page(mock: MockExchanges, seeded: None, codes: Codes, page: Page) -> Page:
    open_signed_in(page, mock.base_url(SITE) + API_PATH, log_in, codes)
    expect(card(page, MAIN)).to_be_visible()
    return page


def card(page: Page, label: str) -> Locator:
    return page.get_by_role("region", name=label)


def trusted_ips(page: Page, label: str) -> Locator:
    return list_items(card(page, label), f"Trusted IPs for {label}")


def submit_code(page: Page, code: str) -> Locator:
    return SIGN_IN.enter_code(page, code)


@pytest.mark.usefixtures("seeded")
def test_login_redirects_and_comes_back(mock: MockExchanges, codes: Codes, page: Page) -> None:
    mock.reset(SITE, fast_seed(cookie_banner=True))
    page.goto(mock.base_url(SITE) + API_PATH)
    expect(page).to_have_url(re.compile(r"/en/login\?next=/en/my/settings/api-management$"))
    page.get_by_role("button", name=re.compile("Accept")).click()
    log_in(page, codes)
    main = card(page, MAIN)
    expect(main).to_contain_text(keys(mock)[MAIN]["api_key"])
    expect(main).to_contain_text("IP access restrictions: Unrestricted")
    expect(card(page, EXTRA)).to_contain_text("IP access restrictions: Restricted")
    expect(trusted_ips(page, OLD)).to_have_text(["198.51.100.50", "198.51.100.51"])


@pytest.mark.usefixtures("seeded")
def test_slider_captcha_comes_before_the_code(
    mock: MockExchanges, codes: Codes, page: Page
) -> None:
    mock.reset(SITE, fast_seed(options={"captcha": True}))
    page.goto(mock.base_url(SITE) + "/en/login")
    page.get_by_label("Email/Phone number").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log In").click()
    check = page.get_by_role("dialog", name="Security Check")
    slider = check.get_by_role("slider", name="Slide to complete the puzzle")
    slider.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuenow", "10")
    box = slider.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 600, y, steps=8)
    page.mouse.up()
    expect(check).to_be_hidden()
    submit_code(page, codes.next())
    expect(page).to_have_url(re.compile(re.escape(API_PATH) + "$"))


@pytest.mark.usefixtures("seeded")
def test_adding_ips_on_the_page(mock: MockExchanges, codes: Codes, api_page: Page) -> None:
    main = card(api_page, MAIN)
    main.get_by_role("button", name="Edit restrictions").click()
    trading = main.get_by_label("Enable Spot & Margin Trading")
    expect(trading).to_be_disabled()
    main.get_by_label("Restrict access to trusted IPs only (Recommended)").check()
    main.get_by_label("IP address").fill("203.0.113.10, 203.0.113.11\n2001:db8::1")
    main.get_by_role("button", name="Confirm").click()
    expect(main.get_by_role("button", name="Remove 2001:db8::1")).to_be_visible()
    main.get_by_label("IP address").fill("203.0.113.99")  # never confirmed: not saved
    trading.check()
    main.get_by_role("button", name="Save").click()
    expect(submit_code(api_page, codes.next())).to_be_hidden()
    saved = ["203.0.113.10", "203.0.113.11", "2001:db8::1"]
    expect(trusted_ips(api_page, MAIN)).to_have_text(saved)
    assert keys(mock)[MAIN] | {"api_key": ""} == {
        "label": MAIN,
        "api_key": "",
        "restricted": True,
        "ips": saved,
        "spot_trading": True,
    }


@pytest.mark.usefixtures("seeded")
def test_refusals_show_inline(mock: MockExchanges, codes: Codes, api_page: Page) -> None:
    extra = card(api_page, EXTRA)
    extra.get_by_role("button", name="Edit restrictions").click()
    extra.get_by_label("IP address").fill("203.0.113.0/24")
    extra.get_by_role("button", name="Confirm").click()
    expect(extra.get_by_role("alert")).to_have_text("Invalid IP address format: 203.0.113.0/24")
    extra.get_by_label("IP address").fill("198.51.100.7")
    extra.get_by_role("button", name="Confirm").click()
    extra.get_by_role("button", name="Save").click()
    expect(submit_code(api_page, codes.next())).to_be_hidden()
    expect(extra.get_by_role("alert")).to_have_text("IP 198.51.100.7 already exists")
    extra.get_by_role("button", name="Cancel").click()
    expect(trusted_ips(api_page, EXTRA)).to_have_text(["198.51.100.7"])
    assert keys(mock)[EXTRA]["ips"] == ["198.51.100.7"]
    assert mock.state(SITE)["log"] == []


@pytest.mark.usefixtures("seeded")
def test_a_refused_code_can_be_retyped(mock: MockExchanges, codes: Codes, api_page: Page) -> None:
    mock.fault(SITE, "save", "totp_refused_once")
    extra = card(api_page, EXTRA)
    extra.get_by_role("button", name="Edit restrictions").click()
    extra.get_by_label("IP address").fill("203.0.113.10")
    extra.get_by_role("button", name="Confirm").click()
    extra.get_by_role("button", name="Save").click()
    code = codes.next()
    verification = submit_code(api_page, code)
    expect(verification.get_by_role("alert")).to_have_text("Invalid verification code")
    expect(verification.get_by_label("Authenticator App Code")).to_have_value("")
    submit_code(api_page, code)  # the refused attempt did not use the code up
    expect(trusted_ips(api_page, EXTRA)).to_have_text(["198.51.100.7", "203.0.113.10"])


@pytest.mark.usefixtures("seeded")
def test_removing_every_entry_and_unrestricting(
    mock: MockExchanges, codes: Codes, api_page: Page
) -> None:
    old = card(api_page, OLD)
    old.get_by_role("button", name="Edit restrictions").click()
    trading = old.get_by_label("Enable Spot & Margin Trading")
    expect(trading).to_be_checked()
    old.get_by_role("button", name="Remove 198.51.100.50").click()
    old.get_by_role("button", name="Remove 198.51.100.51").click()
    expect(trading).to_be_disabled()
    expect(trading).not_to_be_checked()
    old.get_by_label("Unrestricted (Less Secure)").check()
    expect(old.get_by_label("IP address")).to_be_hidden()
    old.get_by_role("button", name="Save").click()
    submit_code(api_page, codes.next())
    expect(old).to_contain_text("IP access restrictions: Unrestricted")
    assert keys(mock)[OLD]["ips"] == []
    assert keys(mock)[OLD]["restricted"] is False


@pytest.mark.usefixtures("seeded")
def test_page_faults(mock: MockExchanges, codes: Codes, api_page: Page) -> None:
    mock.fault(SITE, "keys", "http500")
    api_page.reload()
    expect(api_page.get_by_role("alert")).to_have_text(re.compile("Something went wrong"))
    api_page.get_by_role("button", name="Retry").click()
    expect(card(api_page, MAIN)).to_be_visible()

    mock.fault(SITE, "keys", "session_expired")
    api_page.reload()
    expect(api_page).to_have_url(re.compile(r"/en/login\?next="))
    log_in(api_page, codes)

    mock.fault(SITE, "page", "modal")
    mock.fault(SITE, "page", "label_changed", label="Edit restrictions", to="Manage IPs")
    api_page.reload()
    promo = api_page.get_by_role("dialog", name="Limited-time offer")
    promo.get_by_role("button", name="Close").click()
    expect(card(api_page, MAIN).get_by_role("button", name="Manage IPs")).to_be_visible()
    expect(api_page.get_by_role("button", name="Edit restrictions")).to_have_count(0)


# -- the "table" layout: the same site, other markup ---------------------------------------
# No <label for>, editing in a modal dialog, entries deleted by icon buttons, "Security
# Verification" stacked on top; here with its keys as a table (no per-key heading or region).


@pytest.fixture
def table_page(mock: MockExchanges, seeded: None, codes: Codes, page: Page) -> Page:
    mock.reset(SITE, fast_seed(options={"layout": "table", "listShape": "table"}))
    open_signed_in(page, mock.base_url(SITE) + API_PATH, log_in, codes)
    expect(row(page, MAIN)).to_be_visible()
    return page


def row(page: Page, label: str) -> Locator:
    cell = page.get_by_role("cell", name=label, exact=True)
    return page.get_by_role("row").filter(has=cell)


def edit_dialog(page: Page, label: str) -> Locator:
    row(page, label).get_by_role("button", name="Edit restrictions").click()
    return page.get_by_role("dialog", name="Edit restrictions")


@pytest.mark.usefixtures("seeded")
def test_table_login_and_rows(mock: MockExchanges, codes: Codes, page: Page) -> None:
    mock.reset(
        SITE, fast_seed(cookie_banner=True, options={"layout": "table", "listShape": "table"})
    )
    page.goto(mock.base_url(SITE) + API_PATH)
    expect(page).to_have_url(re.compile(r"/en/login\?next="))
    page.get_by_role("button", name=re.compile("Accept")).click()
    assert page.locator("label[for]").count() == 0
    log_in(page, codes)  # the same words find the other markup
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()
    expect(page.get_by_role("region")).to_have_count(0)
    expect(page.get_by_role("heading")).to_have_count(1)
    expect(page.get_by_role("columnheader")).to_have_text(
        [
            "Label",
            "API Key",
            "IP access restrictions",
            "Trusted IPs",
            "Spot & Margin Trading",
            "Actions",
        ]
    )
    expect(row(page, MAIN).get_by_role("cell")).to_have_text(
        [MAIN, keys(mock)[MAIN]["api_key"], "Unrestricted", "–", "Disabled", "Edit restrictions"]
    )
    expect(row(page, OLD).get_by_role("cell").nth(3)).to_have_text("198.51.100.50, 198.51.100.51")


@pytest.mark.usefixtures("seeded")
def test_table_edit_in_a_dialog(mock: MockExchanges, codes: Codes, table_page: Page) -> None:
    edit = edit_dialog(table_page, OLD)
    trading = edit.get_by_label("Enable Spot & Margin Trading")
    expect(trading).to_be_checked()
    expect(edit.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    edit.get_by_role("button", name="Delete 198.51.100.50").click()
    edit.get_by_label("IP address").fill("203.0.113.10\n2001:DB8::1")
    edit.get_by_role("button", name="Confirm").click()
    expect(edit.get_by_role("listitem")).to_have_text(
        ["198.51.100.51", "203.0.113.10", "2001:DB8::1"]
    )
    edit.get_by_role("button", name="Save").click()
    verification = table_page.get_by_role("dialog", name="Security Verification")
    expect(edit).to_be_visible()  # stacked, not replaced
    verification.get_by_label("Authenticator App Code").fill(codes.next())
    verification.get_by_role("button", name="Submit").click()
    expect(verification).to_be_hidden()
    expect(edit).to_be_hidden()
    expect(row(table_page, OLD).get_by_role("cell").nth(3)).to_have_text(
        "198.51.100.51, 203.0.113.10, 2001:db8::1"
    )
    assert keys(mock)[OLD]["ips"] == ["198.51.100.51", "203.0.113.10", "2001:db8::1"]
    assert keys(mock)[OLD]["spot_trading"] is True


@pytest.mark.usefixtures("seeded")
def test_table_refusals(mock: MockExchanges, codes: Codes, table_page: Page) -> None:
    edit = edit_dialog(table_page, EXTRA)
    edit.get_by_label("IP address").fill("198.51.100.7")
    edit.get_by_role("button", name="Confirm").click()
    edit.get_by_role("button", name="Save").click()
    verification = submit_code(table_page, codes.next())
    # A validation error closes the verification, and shows in the edit dialog.
    expect(verification).to_be_hidden()
    expect(edit.get_by_role("alert")).to_have_text("IP 198.51.100.7 already exists")
    assert mock.state(SITE)["log"] == []

    mock.fault(SITE, "save", "totp_refused_once")
    edit.get_by_role("button", name="Delete 198.51.100.7").nth(1).click()
    edit.get_by_label("IP address").fill("203.0.113.10")
    edit.get_by_role("button", name="Confirm").click()
    edit.get_by_role("button", name="Save").click()
    code = codes.next()
    submit_code(table_page, code)
    expect(verification.get_by_role("alert")).to_have_text("Invalid verification code")
    expect(verification.get_by_label("Authenticator App Code")).to_have_value("")
    submit_code(table_page, code)  # the refused attempt did not use the code up
    expect(edit).to_be_hidden()
    expect(row(table_page, EXTRA).get_by_role("cell").nth(3)).to_have_text(
        "198.51.100.7, 203.0.113.10"
    )
    assert keys(mock)[EXTRA]["ips"] == ["198.51.100.7", "203.0.113.10"]


@pytest.mark.usefixtures("seeded")
def test_table_unrestricting(mock: MockExchanges, codes: Codes, table_page: Page) -> None:
    edit = edit_dialog(table_page, EXTRA)
    edit.get_by_label("Unrestricted (Less Secure)").check()
    expect(edit.get_by_label("IP address")).to_be_hidden()
    expect(edit.get_by_label("Enable Spot & Margin Trading")).to_be_disabled()
    edit.get_by_role("button", name="Save").click()
    submit_code(table_page, codes.next())
    expect(row(table_page, EXTRA).get_by_role("cell").nth(2)).to_have_text("Unrestricted")
    assert keys(mock)[EXTRA]["restricted"] is False


@pytest.mark.usefixtures("seeded")
def test_table_page_faults(mock: MockExchanges, codes: Codes, table_page: Page) -> None:
    mock.fault(SITE, "keys", "http500")
    table_page.reload()
    table_page.get_by_role("button", name="Retry").click()
    expect(row(table_page, MAIN)).to_be_visible()

    mock.fault(SITE, "page", "modal")
    mock.fault(SITE, "page", "label_changed", label="Delete", to="Discard")
    table_page.reload()
    table_page.get_by_role("dialog", name="Limited-time offer").get_by_role(
        "button", name="Close"
    ).click()
    edit = edit_dialog(table_page, EXTRA)
    expect(edit.get_by_role("button", name="Discard 198.51.100.7")).to_be_visible()


@pytest.mark.usefixtures("seeded")
def test_unknown_layout_is_said_on_the_page(mock: MockExchanges, page: Page) -> None:
    mock.reset(SITE, fast_seed(options={"layout": "grid"}))
    page.goto(mock.base_url(SITE) + "/en/login")
    expect(page.get_by_role("alert")).to_have_text(re.compile('Unknown layout "grid"'))
