"""Bybit by hand: Create New Key bound to Altrady (name, third-party app, permissions),
Submit, the e-mailed code and the authenticator code, Confirm, Understood; read back."""

import re

from common import Codes, browser, emailed_code, job, new_page
from playwright.sync_api import expect, sync_playwright

j = job()
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + "/app/user/api-management")
    page.get_by_label("Email / Mobile").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Log In").click()
    codes.enter(page.get_by_label("Google Authenticator"))
    page.get_by_role("button", name="Confirm").click()

    page.get_by_role("button", name="Create New Key").click()
    page.get_by_role("button", name="System-generated API Keys").click()
    form = page.get_by_role("dialog", name="Create New Key")
    form.get_by_label("Name").fill(j["key"])
    form.get_by_label("Connect to Third-Party Applications").check()
    form.get_by_role("combobox", name="Third-Party Application").click()
    page.get_by_role("option", name="Altrady").click()
    form.get_by_label("Read-Write").check()
    for scope in ("Orders", "Positions", "Trade"):
        form.get_by_role("checkbox", name=scope, exact=True).check()
    form.get_by_role("button", name="Submit").click()
    verify = page.get_by_role("dialog", name="Security Verification")
    expect(verify).to_be_visible()  # the code is e-mailed by now
    verify.get_by_label("Email verification code").fill(emailed_code(j["base_url"]))
    codes.enter(verify.get_by_label("Google Authenticator"))
    verify.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="Understood").click()

    page.reload()
    card = page.get_by_role("region", name=j["key"], exact=True)
    expect(card).to_contain_text("Permissions: Read-Write, Orders, Positions, Spot Trade")
    expect(card).to_contain_text(re.compile("Third-Party Application: Altrady", re.I))
