"""Kraken by hand: Edit, IP whitelisting on, one input per address, Save, 2FA, read back."""

import sys

from common import Codes, browser, job, new_page
from playwright.sync_api import expect, sync_playwright

j = job()
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + "/app/settings/api")
    page.get_by_label("Username").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Sign in").click()
    codes.enter(page.get_by_label("Two-factor authentication"))
    page.get_by_role("button", name="Continue").click()

    for key in j["keys"]:  # the main key, then each extra key: the same list
        page.get_by_role("region", name=key, exact=True).get_by_role("button", name="Edit").click()
        page.get_by_role("switch", name="IP whitelisting").check()
        entries = page.get_by_role("textbox", name="IP address or range")
        for n, ip in enumerate(j["ips"]):
            page.get_by_role("button", name="Add an IP address or range").click()
            entries.nth(n).fill(ip)
        page.get_by_role("button", name="Save").click()
        dialog = page.get_by_role("dialog", name="Verify it's you")
        codes.enter(dialog.get_by_label("Two-factor authentication"))
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog).to_be_hidden()
        page.goto(j["base_url"] + "/app/settings/api")

    whole = True
    for key in j["keys"]:
        saved = page.get_by_role("list", name=f"IP whitelist for {key}").get_by_role("listitem")
        expect(saved).to_have_count(len(j["ips"]))
        whole = whole and sorted(saved.all_inner_texts()) == sorted(j["ips"])
    sys.exit(0 if whole else 1)
