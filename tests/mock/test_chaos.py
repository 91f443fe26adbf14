"""The unruly mock sites (chaos): what varies from one page load to the next, that a chaos
seed replays it, and that the words and steps of SITES.md never vary."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sitekit import Codes, SignIn, fast_seed, open_signed_in

from fixtures.mockex import MockExchanges

SITE = "bittrex"
USER = "demo@ipbind.test"
API_PATH = "/Manage?view=ipAllowList"
SIGN_IN = SignIn("Email", "Sign In", "Two-Factor Authentication", "Authenticator Code", "Submit")

# Every element's tag, role, class and way of being labelled: the page's markup, not its text.
SHAPE = """() => [...document.querySelectorAll('body *')].map((el) => [el.tagName,
  el.getAttribute('role'), el.className, el.hasAttribute('aria-label'),
  el.hasAttribute('aria-labelledby'), el.hasAttribute('for')].join(' ')).join('\\n')"""


def under_chaos(mock: MockExchanges, seed: int | None) -> None:
    """Every site under chaos `seed` and back to its seed (its page loads drawn anew), this
    one without the cookie banner."""
    mock.chaos(seed)
    mock.reset(SITE, fast_seed(SITE))


def login_page_shape(mock: MockExchanges, page: Page, seed: int) -> str:
    under_chaos(mock, seed)
    page.goto(mock.base_url(SITE) + "/login")
    expect(page.get_by_role("button", name="Sign In")).to_be_visible()
    return page.evaluate(SHAPE)


def log_in(page: Page, codes: Codes) -> None:
    SIGN_IN.enter_password(page, USER, "demo-password-1")
    SIGN_IN.enter_code(page, codes.next())


@pytest.fixture
def seeded(mock: MockExchanges) -> None:
    mock.reset(SITE, fast_seed(SITE))


@pytest.fixture
def codes(mock: MockExchanges, seeded: None) -> Codes:
    return Codes.of(mock, SITE, USER)


def test_a_seed_replays_the_same_markup_and_another_seed_changes_it(
    mock: MockExchanges, page: Page
) -> None:
    first = login_page_shape(mock, page, 11)
    assert login_page_shape(mock, page, 11) == first
    others = {login_page_shape(mock, page, seed) for seed in (12, 13, 14)}
    assert first not in others


def test_controls_vary_but_their_words_do_not(mock: MockExchanges, page: Page) -> None:
    kinds, labelled_by = set(), set()
    for seed in range(1, 9):
        login_page_shape(mock, page, seed)
        # Whatever the markup, the controls answer to their role and their words.
        button = page.get_by_role("button", name="Sign In")
        kinds.add(button.evaluate("el => el.tagName"))
        for label in ("Email", "Password"):
            field = page.get_by_label(label, exact=True)
            expect(field).to_be_editable()
            labelled_by.add(
                field.evaluate(
                    "el => el.getAttribute('aria-label') !== null ? 'aria-label'"
                    " : el.getAttribute('aria-labelledby') ? 'aria-labelledby'"
                    " : el.closest('label') ? 'wrapped' : 'for'"
                )
            )
        classes = page.locator("[class]").evaluate_all("els => els.map(e => e.className)")
        assert all(re.search(r"_[0-9a-f]{6}\b", c) for c in classes)  # salted per load
    assert kinds == {"BUTTON", "DIV"}
    assert len(labelled_by) >= 3


def test_a_div_button_works_by_keyboard(mock: MockExchanges, page: Page, codes: Codes) -> None:
    seed = next(s for s in range(1, 50) if "DIV button" in login_page_shape(mock, page, s))
    under_chaos(mock, seed)
    page.goto(mock.base_url(SITE) + API_PATH)
    page.get_by_label("Email", exact=True).fill(USER)
    page.get_by_label("Password", exact=True).fill("demo-password-1")
    sign_in = page.get_by_role("button", name="Sign In")
    assert sign_in.evaluate("el => el.tagName") == "DIV"
    sign_in.focus()
    page.keyboard.press("Enter")
    SIGN_IN.enter_code(page, codes.next())
    expect(page.get_by_role("button", name="Add New IP Address")).to_be_visible()
    assert mock.state(SITE)["sign_ins"][0]["username"] == USER


@pytest.mark.usefixtures("seeded")
def test_the_list_arrives_after_the_page_from_its_own_request(
    mock: MockExchanges, page: Page, codes: Codes
) -> None:
    # Under the session's chaos seed a promotion may come unasked: closed when in the way.
    promo = page.get_by_role("dialog").filter(has_text="20% off fees")
    page.add_locator_handler(promo, lambda box: box.get_by_role("button", name="Close").click())
    open_signed_in(page, mock.base_url(SITE) + API_PATH, log_in, codes)
    expect(page.get_by_text("198.51.100.90", exact=True)).to_be_visible()
    mock.fault(SITE, "list", "slow", seconds=1.5)
    page.reload()
    # The frame, with its "Add New IP Address" button, first; no entry yet.
    expect(page.get_by_role("button", name="Add New IP Address")).to_be_visible()
    assert page.get_by_text("198.51.100.90", exact=True).count() == 0
    expect(page.get_by_text("198.51.100.90", exact=True)).to_be_visible()


def test_what_sites_md_leaves_open_varies_from_seed_to_seed(
    mock: MockExchanges, page: Page
) -> None:
    """A dialog's title (the site's, another, none) and the shape of a key list each take
    several forms over a few seeds, so no flow can lean on one."""
    titles, shapes = set(), set()
    # The key list's shape and the dialog's title are drawn per page load (common.js):
    # read them off pages rendered by the site's own script.
    for seed in range(1, 13):
        under_chaos(mock, seed)
        page.goto(mock.base_url(SITE) + "/login")
        page.wait_for_function("() => typeof keyList === 'function'")
        shape = page.evaluate(
            """() => { const keys = [{name: "A"}];
            const list = [keyList(keys, {nameLabel: "Name", name: (k) => k.name, columns: [],
              controls: () => [h("button", {}, "Edit")]})].flat()[0];
            return list.matches("table") ? "table" : list.getAttribute("role") || list.tagName; }"""
        )
        shapes.add(shape)
        title = page.evaluate(
            """() => { const box = dialog("Add New IP Address", h("p", {}, "x"));
            const by = box.el.getAttribute("aria-labelledby");
            const name = by ? document.getElementById(by).textContent : "";
            box.close(); return name; }"""
        )
        titles.add(title)
    assert {"table", "grid", "region"} <= shapes, shapes
    assert "Add New IP Address" in titles and "" in titles and len(titles) >= 3, titles


def test_calm_pages_without_a_chaos_seed(mock: MockExchanges, page: Page) -> None:
    under_chaos(mock, None)
    page.goto(mock.base_url(SITE) + "/login")
    expect(page.get_by_role("button", name="Sign In")).to_be_visible()
    assert page.get_by_role("button", name="Sign In").evaluate("el => el.tagName") == "BUTTON"
    assert page.locator("label[for]").count() == 2
    assert mock.state(SITE)["chaos"] is None
