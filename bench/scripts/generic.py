"""Any exchange of the generic bulk pattern by hand, in its profile's words (the same data
that drives flows/generic.py and the mock site): Edit, the restriction on where the site
has one, the list, Save, the verification it asks for, the e-mailed link; read back."""

from common import Codes, browser, emailed_code, job, new_page, open_emailed_link
from playwright.sync_api import expect, sync_playwright

from flows.profiles import PROFILES

j = job()
p = next(p for p in PROFILES if p.id == j["profile"])
v = p.verification
codes = Codes(j["totp_secret"], j["period"])
with sync_playwright() as pw:
    page = new_page(browser(pw))
    page.goto(j["base_url"] + p.api_path)
    page.get_by_label("Email").fill(j["username"])
    page.get_by_label("Password").fill(j["password"])
    page.get_by_role("button", name="Log In").click()
    codes.enter(page.get_by_label(p.sign_in_code))
    page.get_by_role("button", name="Submit").click()

    card = page.get_by_role("region", name=j["key"], exact=True)
    card.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name=f"Edit {j['key']}")
    if p.restrict and p.restrict.choice:
        form.get_by_role("radio", name=p.restrict.choice, exact=True).check()
    elif p.restrict:
        form.get_by_role("switch", name=p.restrict.label).check()
    form.get_by_label(p.ip_field, exact=True).fill(p.separators[0].join(j["ips"]))
    form.get_by_role("button", name="Save").click()
    if v.acknowledge:
        page.get_by_role("dialog", name=v.acknowledge[0]).get_by_role(
            "button", name=v.acknowledge[1]
        ).click()
    dialog = page.get_by_role("dialog", name="Security Verification")
    if v.secret:
        dialog.get_by_label(v.secret.label).fill(j["secret"] or j["password"])
    if v.email_code:
        dialog.get_by_role("button", name="Send code").click()
        expect(dialog.get_by_text("Code sent")).to_be_visible()
        dialog.get_by_label(v.email_code).fill(emailed_code(j["base_url"]))
    codes.enter(dialog.get_by_label(v.totp))
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog).to_be_hidden()
    if v.link:
        open_emailed_link(j["base_url"])

    page.reload()  # the key's card shows its list: "IP restriction: 203.0.113.10, …"
    card = page.get_by_role("region", name=j["key"], exact=True)
    expect(card).to_contain_text(", ".join(j["ips"]))
