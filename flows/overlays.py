"""What stands in the way of a flow and is none of its business: a cookie banner, and a
dialog it did not open (a promotion). Playwright clears them whenever they cover the next
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


def promotion(page: Page) -> Locator:
    """A dialog the flow did not open and has no use for (a promotion, an announcement): no
    field, no slider, nothing loading, no button but one that closes it."""
    return (
        page.get_by_role("dialog")
        .filter(has_not=page.locator("input, textarea, select"))
        .filter(has_not=page.get_by_role("slider"))
        .filter(has_not=page.get_by_role("progressbar"))
        .filter(has_not=page.get_by_role("button", name=NOT_DISMISS))
        .filter(has=page.get_by_role("button", name=DISMISS))
    )


def cookie_consent(page: Page) -> Locator:
    """The button that accepts (or rejects) a cookie banner."""
    banner = page.get_by_role("region", name=COOKIE).or_(page.get_by_role("dialog", name=COOKIE))
    both = re.compile(rf"^(?=.*(?:{CONSENT.pattern}))(?=.*(?:{COOKIE.pattern}))", re.I)
    return page.get_by_role("button", name=both).or_(banner.get_by_role("button", name=CONSENT))


def clear_overlays(page: Page, settle: Callable[[], object]) -> None:
    """Clears whatever stands in the way of an action when it does: a cookie banner (banners
    come late and may cover the next control) is accepted or rejected, a promotion closed.
    One handler for both: Playwright looks for a handler's locator before every action and
    every check of an assertion, and one look costs half of two."""
    promo, consent = promotion(page), cookie_consent(page)

    def clear(_: Locator) -> None:
        # The run may be closing the page meanwhile (its end, a Ctrl-C): then there is
        # nothing left to clear, and the run, not the handler, says how it ended.
        with suppress(PlaywrightError):
            if consent.first.is_visible():
                consent.first.click()
                return
            # A dialog of the flow's own may look like a promotion while its body still
            # loads (a skeleton has no role): only what still looks so once settled.
            settle()
            if promo.count():
                promo.first.get_by_role("button", name=DISMISS).first.click()

    # No wait after: a dialog found to be the flow's own once settled stays, and the action
    # goes on (a banner still there is met again before the action's next try).
    page.add_locator_handler(consent.or_(promo).first, clear, no_wait_after=True)
