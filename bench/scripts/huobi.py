"""Huobi (HTX) by hand: Edit, the comma-separated list, Confirm, Send code, the e-mailed
code and the authenticator code, Confirm; read back from the key's edit dialog."""

from common import Codes, browser, emailed_code, job, new_page
from playwright.sync_api import expect, sync_playwright

IP_FIELD = "Link IP address or IP segment (optional)"

j = job()
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + "/en-us/apikey/")
    page.get_by_label("Email/Phone").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Log In").click()
    codes.enter(page.get_by_label("Google Authenticator code"))
    page.get_by_role("button", name="Confirm").click()

    card = page.get_by_role("region", name=j["key"], exact=True)
    edit = page.get_by_role("dialog", name="Edit API Key")
    card.get_by_role("button", name="Edit").click()
    edit.get_by_label(IP_FIELD).fill(", ".join(j["ips"]))
    edit.get_by_role("button", name="Confirm").click()
    auth = page.get_by_role("dialog", name="Security Authentication")
    auth.get_by_role("button", name="Send code").click()
    expect(auth.get_by_text("code has been sent")).to_be_visible()
    auth.get_by_label("Email verification code").fill(emailed_code(j["base_url"]))
    codes.enter(auth.get_by_label("Google Authenticator code"))
    auth.get_by_role("button", name="Confirm").click()
    expect(edit).to_be_hidden()

    page.reload()
    card.get_by_role("button", name="Edit").click()
    expect(edit.get_by_label(IP_FIELD)).to_have_value(", ".join(j["ips"]))
