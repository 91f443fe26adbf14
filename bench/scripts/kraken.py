"""Kraken by hand: Edit, IP whitelisting on, one input per address, Save, 2FA; then each key's
list read back from its edit view, the one place SITES.md says Kraken shows it (its API page
shows keys by name only)."""

import sys

from common import Codes, browser, job, new_page
from playwright.sync_api import expect, sync_playwright

j = job()
codes = Codes(j["totp_secret"], j["period"])
api_page = j["base_url"] + "/app/settings/api"
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(api_page)
    page.get_by_label("Username").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Sign in").click()
    codes.enter(page.get_by_label("Two-factor authentication"))
    page.get_by_role("button", name="Continue").click()
    entries = page.get_by_role("textbox", name="IP address or range")

    def edit(key: str) -> None:
        # The innermost element holding the key's name and an "Edit": its card or row, however
        # the page marks it up (SITES.md promises the name and the button, not a region).
        name, button = page.get_by_text(key, exact=True), page.get_by_role("button", name="Edit")
        page.locator("*").filter(has=name).filter(has=button).last.get_by_role(
            "button", name="Edit"
        ).click()

    for key in j["keys"]:  # the main key, then each extra key: the same list
        edit(key)
        page.get_by_role("switch", name="IP whitelisting").check()
        for n, ip in enumerate(j["ips"]):
            page.get_by_role("button", name="Add an IP address or range").click()
            entries.nth(n).fill(ip)
        page.get_by_role("button", name="Save").click()
        # The dialog asking for the code, whatever its title.
        dialog = page.get_by_role("dialog").filter(
            has=page.get_by_label("Two-factor authentication")
        )
        codes.enter(dialog.get_by_label("Two-factor authentication"))
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog).to_be_hidden()
        page.goto(api_page)  # a fresh load: the next key's Edit, or the first read-back

    whole = True
    for n, key in enumerate(j["keys"]):
        if n:
            page.goto(api_page)
        edit(key)
        expect(entries).to_have_count(len(j["ips"]))
        saved = entries.evaluate_all("inputs => inputs.map(i => i.value.trim())")
        whole = whole and sorted(saved) == sorted(j["ips"])
    sys.exit(0 if whole else 1)
