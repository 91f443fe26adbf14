"""The headed walkthrough (`apply --walkthrough`, `demo --walkthrough`): a visible browser,
slowed down; before each step a banner on the page says what is about to happen and why, in
the words of Altrady's help article, and each control is outlined just before it is used.

The banners hang off the steps every flow already names (`Flow.step`): a new flow gets
them without extra work; a step whose words match no explanation shows its own name.
The banner lives in a closed shadow root on the document element, outside the page's body:
the flows' locators never see it, and it lets clicks through.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from loguru import logger
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

from assistant.errors import first_line

if TYPE_CHECKING:
    from assistant.settings import BaseIpbindSettings
    from flows.base import Flow

SLOW_MO_MS = 300  # between browser actions, unless the user asked for another pace
BANNER_KEY = "ipbind-banner"

# Step words → what the step does, in the seed article's words (first match wins).
WHY: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"puzzle|captcha|your turn", re.I),
        "Only a person can do this step: do it in this window, and ipbind carries on.",
    ),
    (
        re.compile(r"sign|log ?in", re.I),
        "Log into your Exchange account and navigate to the API keys page.",
    ),
    (
        re.compile(r"open|listing|API page|keys after", re.I),
        "Navigate to the API keys page. If you have more than one API key for this exchange, "
        "find the correct one.",
    ),
    (
        re.compile(r"reading", re.I),
        "Check that all 20 IP addresses have been added: the list is read from the exchange.",
    ),
    (
        re.compile(r"edit", re.I),
        "Click Edit. Enable IP whitelisting. On your exchange, it might be called Trusted IPs, "
        "IP binding, IP addresses, or IP Whitelist.",
    ),
    (
        re.compile(r"past|confirm", re.I),
        "Paste the IP addresses into the relevant field for your exchange. On some exchanges "
        "you must then click Confirm.",
    ),
    (
        re.compile(r"2fa|two-factor|code|verification", re.I),
        "You must have 2FA enabled to add IP addresses, and you will be prompted for a 2FA code.",
    ),
    (
        re.compile(r"add", re.I),
        "For Bittrex and Kraken the IP addresses must be added one at a time. All 20 should be "
        "added to avoid exchange rate limits and to allow for load balancing across IP "
        "addresses.",
    ),
    (re.compile(r"save", re.I), "Finally, click Save to save the added IP addresses."),
    (
        re.compile(r"remov", re.I),
        "Removing an address that is not in Altrady's list, as you asked (--replace).",
    ),
]
# A list read before anything is changed: the plan's, not the check.
PLANNING = (
    re.compile(r"^(?!.*picture).*reading", re.I),
    "Reading what this key holds now, to plan what to add: nothing is changed until you "
    "confirm the plan.",
)
ABOUT = (
    "Each of your API keys has been allocated a set of 20 Altrady IP addresses. Altrady will "
    "only use those 20 IP addresses when sending API requests to the exchange for the "
    "specific API key."
)

# Shows the banner stored for this tab (sessionStorage survives the page loads of a flow)
# and outlines the control in use.
INIT_JS = """(() => {
  const KEY = 'ipbind-banner';
  function show() {
    let data;
    try { data = JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (e) { data = null; }
    let host = document.documentElement.querySelector(':scope > ipbind-banner');
    if (!data) { if (host) host.remove(); return; }
    if (!host) {
      host = document.createElement('ipbind-banner');
      host.__root = host.attachShadow({ mode: 'closed' });
      document.documentElement.appendChild(host);
    }
    host.setAttribute('data-title', data.title);
    host.setAttribute('data-kind', data.kind);
    const colour = data.kind === 'hand-off' ? '#b3261e' : '#1e2329';
    host.__root.innerHTML = `<style>
      div { position: fixed; left: 0; right: 0; bottom: 0; z-index: 2147483647;
            pointer-events: none; background: ${colour}; color: #fff; opacity: .94;
            font: 15px/1.4 system-ui, sans-serif; padding: 10px 18px;
            box-shadow: 0 -2px 8px rgba(0,0,0,.3); }
      b { color: #f0b90b; display: block; font-size: 16px; } </style>
      <div><b></b><span></span></div>`;
    host.__root.querySelector('b').textContent = data.title;
    host.__root.querySelector('span').textContent = data.text;
  }
  window.__ipbindBanner = show;
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show);
  else show();
  const style = () => {
    const s = document.createElement('style');
    s.textContent = '[data-ipbind-active] { outline: 3px solid #f0b90b !important;'
      + ' outline-offset: 2px !important; box-shadow: 0 0 0 6px rgba(240,185,11,.35) !important; }';
    (document.head || document.documentElement).appendChild(s);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', style);
  else style();
  // One control outlined at a time: the one about to be used (ipbind outlines it just
  // before its action, `__ipbindOutline`), else the one being used (clicked, or focused to
  // be typed into); until the next is, or for a moment after.
  let active = null, timer = 0;
  const mark = (el) => {
    if (active && active !== el) active.removeAttribute('data-ipbind-active');
    active = el;
    el.setAttribute('data-ipbind-active', '');
    clearTimeout(timer);
    timer = setTimeout(() => { el.removeAttribute('data-ipbind-active'); active = null; }, 1500);
  };
  window.__ipbindOutline = mark;
  const outline = (ev) => {
    const el = ev.target instanceof Element && ev.target.closest(
      'button, [role=button], [role=radio], [role=switch], [role=checkbox], input, textarea, '
      + 'select, label');
    if (el && el !== active) mark(el);
  };
  document.addEventListener('pointerdown', outline, true);
  document.addEventListener('focusin', outline, true);
})();"""
# How long a control about to be used is waited for, to outline it before its action.
POINT_MS = 2000


def settings_for(settings: BaseIpbindSettings) -> BaseIpbindSettings:
    """A visible browser, slowed down, one exchange after another: one window to watch. The
    pace (the user's own when they set one) is each action's whole time: a third of it after
    the action (the browser's slow_mo: its effect is seen), two thirds before it, with the
    control outlined (`outline_ms`)."""
    pace = settings.slow_mo or SLOW_MO_MS
    return settings.model_copy(update={"headless": False, "slow_mo": pace / 3, "parallel": 1})


def outline_ms(settings: BaseIpbindSettings) -> float:
    """How long a control shows outlined before its action, in a walkthrough's settings."""
    return 2 * settings.slow_mo


def why(what: str, checking: bool = True) -> str:
    """The banner's text for a step; `checking`: the engine reads a key back after changing
    it (else a list read is the plan's)."""
    rules = WHY if checking else [PLANNING, *WHY]
    return next((text for pattern, text in rules if pattern.search(what)), ABOUT)


def narrate(flow: Flow, pace_ms: float = SLOW_MO_MS) -> None:
    """Banners before each of `flow`'s steps, and each control outlined for `pace_ms` before
    it is used."""
    prepare(flow.page)
    name = flow.name

    def before(what: str) -> None:
        banner(flow.page, f"{name}: {what}", why(what, flow.checking))

    flow.narrator = before
    flow.pointer = lambda control: point(control, pace_ms)


def point(control: Locator, pace_ms: float) -> None:
    """Outlines `control` (one element, once it is on the page), then leaves the person
    `pace_ms` to see it before the action. A control not there within POINT_MS is left to
    the action: its own wait, its own error."""
    try:
        control.evaluate(
            "el => window.__ipbindOutline && window.__ipbindOutline(el)", timeout=POINT_MS
        )
    except PlaywrightError as err:  # not (yet) there, or more than one: no outline
        logger.debug("no outline: {}", first_line(err))
        return
    control.page.wait_for_timeout(pace_ms)  # the walkthrough's pace, as slow_mo's


def prepare(page: Page) -> None:
    if getattr(page, "_ipbind_walkthrough", False):
        return
    page.add_init_script(INIT_JS)
    page._ipbind_walkthrough = True  # type: ignore[attr-defined]


def banner(page: Page, title: str, text: str, kind: str = "step") -> None:
    """Shows (or replaces) the banner on the page, and on the pages it loads next."""
    prepare(page)
    data = {"title": title, "text": text, "kind": kind}
    try:
        page.evaluate(
            f"""(data) => {{
              try {{ sessionStorage.setItem({BANNER_KEY!r}, JSON.stringify(data)); }}
              catch (e) {{}}
              if (!window.__ipbindBanner) {{ {INIT_JS} }}
              window.__ipbindBanner();
            }}""",
            data,
        )
    except Exception as err:  # a page mid-navigation: the next step shows its own banner
        logger.debug("no banner: {}", err)


def shown(page: Page) -> tuple[str, str] | None:
    """The banner now on the page, as (title, kind), for the tests; None when there is none,
    or when the page is between two documents (no document yet, or its context gone)."""
    try:
        found = page.evaluate(
            """() => {
              const h = document.documentElement?.querySelector(':scope > ipbind-banner');
              return h ? [h.getAttribute('data-title'), h.getAttribute('data-kind')] : null;
            }"""
        )
    except PlaywrightError:  # navigated away while it was read
        return None
    return (found[0], found[1]) if found else None
