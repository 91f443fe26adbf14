"""Poloniex by hand: restrict to trusted IPs, the comma-separated list, Save, 2FA, Got it,
open the e-mailed confirmation link, read back."""

from common import Codes, browser, job, new_page, open_emailed_link
from playwright.sync_api import expect, sync_playwright

j = job()
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + "/apikeys")
    page.get_by_label("Email").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Log In").click()
    codes.enter(page.get_by_label("Authenticator Code"))
    page.get_by_role("button", name="Submit").click()

    card = page.get_by_role("region", name=j["key"], exact=True)
    card.get_by_label("Restrict access to trusted IPs only").check()
    card.get_by_label("Trusted IPs", exact=True).fill(", ".join(j["ips"]))
    card.get_by_role("button", name="Save").click()
    dialog = page.get_by_role("dialog", name="Two-Factor Authentication")
    codes.enter(dialog.get_by_label("2FA Code"))
    dialog.get_by_role("button", name="Submit").click()
    dialog.get_by_role("button", name="Got it").click()
    open_emailed_link(j["base_url"])

    page.reload()
    expect(card).to_contain_text("Trusted IPs: " + ", ".join(j["ips"]))
