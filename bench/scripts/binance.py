"""Binance by hand: Edit restrictions, restrict, paste, Confirm, Save, 2FA, read back."""

import sys

from common import Codes, browser, job, new_page
from playwright.sync_api import expect, sync_playwright

j = job()
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + "/en/my/settings/api-management")
    page.get_by_label("Email/Phone number").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Log In").click()
    codes.enter(page.get_by_label("Authenticator App Code"))
    page.get_by_role("button", name="Submit").click()

    card = page.get_by_role("region", name=j["key"], exact=True)
    card.get_by_role("button", name="Edit restrictions").click()
    card.get_by_label("Restrict access to trusted IPs only").check()
    card.get_by_label("IP address", exact=True).fill("\n".join(j["ips"]))
    card.get_by_role("button", name="Confirm").click()
    expect(card.get_by_role("listitem")).to_have_count(len(j["ips"]))
    card.get_by_role("button", name="Save").click()
    dialog = page.get_by_role("dialog", name="Security Verification")
    codes.enter(dialog.get_by_label("Authenticator App Code"))
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog).to_be_hidden()

    page.reload()
    saved = page.get_by_role("list", name=f"Trusted IPs for {j['key']}").get_by_role("listitem")
    expect(saved).to_have_count(len(j["ips"]))
    sys.exit(0 if sorted(saved.all_inner_texts()) == sorted(j["ips"]) else 1)
