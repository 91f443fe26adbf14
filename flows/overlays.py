"""What stands in the way of a flow and is none of its business: a cookie banner, and a
dialog it did not open (a promotion). Playwright clears each whenever it covers the next
action (`page.add_locator_handler`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from flows.vocabulary import COMMON, any_of

# A cookie banner goes with "a button whose name contains "Accept" (or "Reject")".
CONSENT = any_of(
    COMMON.promised("Accept", "button", whole=False),
    COMMON.promised("Reject", "button", whole=False),
)
COOKIE = COMMON.optional("cookie", "text")
# What closes a dialog the flow did not open (a promotion): guesses, all of them.
DISMISS = any_of(
    *(
        COMMON.optional(w, "button", whole=True)
        for w in (
            "Close",
            "×",
            "✕",
            "x",
            "No thanks",
            "No, thanks",
            "Dismiss",
            "Skip",
            "Not now",
            "Maybe later",
        )
    )
)
NOT_DISMISS = re.compile(rf"^(?!(?:{DISMISS.pattern})$)", re.I)  # any other button


def dismiss_promotions(page: Page, settle: Callable[[], None]) -> None:
    """Closes, whenever it stands in the way, a dialog the flow did not open and has no use
    for (a promotion, an announcement: no field, no slider, nothing loading, no button but
    one that closes it)."""
    promo = (
        page.get_by_role("dialog")
        .filter(has_not=page.locator("input, textarea, select"))
        .filter(has_not=page.get_by_role("slider"))
        .filter(has_not=page.get_by_role("progressbar"))
        .filter(has_not=page.get_by_role("button", name=NOT_DISMISS))
        .filter(has=page.get_by_role("button", name=DISMISS))
    )

    def dismiss(_: Locator) -> None:
        # A dialog of the flow's own may look like that while its body still loads (a
        # skeleton has no role): only what still looks so once the page has settled.
        settle()
        if promo.count():
            # The run may be closing the page meanwhile (its end, a Ctrl-C): then there is
            # nothing left to dismiss, and the run, not the handler, says how it ended.
            with suppress(PlaywrightError):
                promo.first.get_by_role("button", name=DISMISS).first.click()

    page.add_locator_handler(promo.first, dismiss, no_wait_after=True)


def dismiss_cookie_banner(page: Page) -> None:
    """Accepts (or rejects) a cookie banner whenever it stands in the way of an action:
    banners come late and may cover the next control."""
    banner = page.get_by_role("region", name=COOKIE).or_(page.get_by_role("dialog", name=COOKIE))
    both = re.compile(rf"^(?=.*(?:{CONSENT.pattern}))(?=.*(?:{COOKIE.pattern}))", re.I)
    consent = page.get_by_role("button", name=both).or_(banner.get_by_role("button", name=CONSENT))

    def accept(button: Locator) -> None:
        # The run may be closing the page meanwhile (its end, a Ctrl-C): then there is no
        # banner left to clear, and the run, not the handler, says how it ended.
        with suppress(PlaywrightError):
            button.click()

    page.add_locator_handler(consent.first, accept)
