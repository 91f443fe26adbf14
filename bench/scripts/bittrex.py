"""Bittrex by hand: Add New IP Address, the address, a fresh 2FA code, Add; 20 times."""

import sys

from common import Codes, browser, job, new_page
from playwright.sync_api import expect, sync_playwright

j = job()
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + "/Manage?view=ipAllowList")
    page.get_by_label("Email").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Sign In").click()
    codes.enter(page.get_by_label("Authenticator Code"))
    page.get_by_role("button", name="Submit").click()

    dialog = page.get_by_role("dialog", name="Add New IP Address")
    for ip in j["ips"]:
        page.get_by_role("button", name="Add New IP Address").click()
        dialog.get_by_label("IP Address").fill(ip)
        codes.enter(dialog.get_by_label("2FA Code"))
        dialog.get_by_role("button", name="Add", exact=True).click()
        expect(dialog).to_be_hidden()

    page.reload()
    saved = page.get_by_role("table", name="IP Allow List").get_by_role("rowheader")
    expect(saved).to_have_count(len(j["ips"]) + 1)  # and the one the account had
    sys.exit(0 if set(j["ips"]) <= set(saved.all_inner_texts()) else 1)
