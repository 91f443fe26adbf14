"""What every straight-line script shares: the job the benchmark hands it, one browser,
authenticator codes, and the mock's inbox (the scripts play the person who reads the mail).

A script is the shortest correct way to do a flow's job by hand-written Playwright on the
same mock site: sign in, open the key, enter the addresses, save (with the site's 2FA and
e-mail steps), read the list back once from a fresh load. It is the yardstick ipbind is
measured against (bench/run.py)."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
import urllib.request
from typing import Any

import pyotp
from playwright.sync_api import Browser, Locator, Page, Playwright

from assistant.browser import launch  # the same Chromium, with the same flags, as ipbind


def job() -> dict[str, Any]:
    """What to do, from the benchmark: base_url, username, password, totp_secret, period,
    key, ips, secret (a fund or trading password), profile (the generic sites)."""
    return json.loads(os.environ["BENCH_JOB"])


def browser(pw: Playwright) -> Browser:
    return launch(pw)


def new_page(chromium: Browser) -> Page:
    page = chromium.new_page(locale="en-US")
    page.set_default_timeout(10_000)
    # A consent banner comes a moment after the page and may cover the next button; SITES.md
    # promises a button whose name holds "Accept" (or "Reject"), no more.
    accept = page.get_by_role("button", name=re.compile(r"\bAccept\b|\bReject\b"))
    page.add_locator_handler(accept.first, lambda button: button.click())
    return page


class Codes:
    """Authenticator codes, each of a time step not used before (the server refuses a reused
    step): waits for the next step when the last code's is still current."""

    def __init__(self, secret: str, period: int):
        self.totp = pyotp.TOTP(secret, interval=period)
        self.period = period
        self.last = -1

    def enter(self, field: Locator) -> None:
        """A fresh code into `field`, made once the field is there (a code made earlier may
        be too old by the time it reaches the server)."""
        field.wait_for()
        field.fill(self.next())

    def next(self) -> str:
        step = int(time.time() // self.period)
        if step <= self.last:
            time.sleep((self.last + 1) * self.period - time.time())
            step = self.last + 1
        self.last = step
        return self.totp.at(step * self.period)


def _get(base_url: str, path: str) -> bytes:
    # `<site>.localhost` resolves in Chromium; from Python, ask 127.0.0.1 with its Host.
    url = urllib.parse.urlsplit(base_url)
    request = urllib.request.Request(
        f"http://127.0.0.1:{url.port}{path}", headers={"Host": url.netloc}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def _inbox(base_url: str) -> list[dict[str, Any]]:
    return json.loads(_get(base_url, "/__mock__/inbox"))


def emailed_code(base_url: str) -> str:
    """The newest code the site e-mailed, read from the mock's inbox."""
    return [m["code"] for m in _inbox(base_url) if m["code"]][-1]


def open_emailed_link(base_url: str) -> None:
    """Opens the newest link the site e-mailed, as a mail client does (no browser session)."""
    link = urllib.parse.urlsplit([m["link"] for m in _inbox(base_url) if m["link"]][-1])
    _get(base_url, f"{link.path}?{link.query}")
