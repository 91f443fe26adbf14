"""Helpers shared by the mock-site tests (`tests/mock/test_*_site.py`): fresh TOTP codes,
an HTTP client of a site's JSON API, fast seeds and the stored state. The fixtures built on
them are in `tests/mock/conftest.py`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import pyotp
from playwright.sync_api import Locator, Page

from assistant.twofa import CLOCK
from fixtures.mockex import MockExchanges
from fixtures.mockex.core import load_seed


class Codes:
    """TOTP codes, each of a time step no earlier one had: the server takes a step only once.
    On the clock the mock sites check codes on (`CLOCK`: virtual in tests, so a wait for
    the next step costs no real time)."""

    def __init__(self, secret: str, period: int):
        self.totp = pyotp.TOTP(secret, interval=period)
        self.period = period
        self.last_step = -1

    @classmethod
    def of(cls, mock: MockExchanges, site: str, user: str) -> Codes:
        """The codes of `user`'s authenticator on `site`, as the mock has it now."""
        server = mock.site(site)
        return cls(server.accounts[user].totp_secret, server.totp_period)

    def next(self) -> str:
        """A code with at least half a step left in it (the server also takes the step
        before its current one): under load, typing it and the page's request can take a
        while."""
        now = CLOCK.time()
        step = int(now // self.period)
        if (step + 1) * self.period - now < self.period / 2:
            step += 1
        step = max(step, self.last_step + 1)
        CLOCK.sleep(max(0.0, step * self.period - CLOCK.time()))  # the TOTP clock, at most 1 step
        self.last_step = step
        return self.totp.at(step * self.period)


class SiteClient:
    """A site's JSON API over HTTP, keeping the session cookie as a browser would.

    A test module subclasses it with its `site`, `user` and `password`, and adds the
    site's own calls."""

    site: ClassVar[str]
    user: ClassVar[str]
    password: ClassVar[str]

    def __init__(self, mock: MockExchanges):
        self.port = mock.port
        self.cookie = ""

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {
            "Host": f"{self.site}.localhost:{self.port}",
            "Content-Type": "application/json",
        }
        if self.cookie:
            headers["Cookie"] = self.cookie
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
            method=method,
        )
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as err:  # 4xx/5xx still carry the site's JSON
            response = err
        with response:
            if cookie := response.headers.get("set-cookie"):
                self.cookie = cookie.split(";")[0]
            return response.status, json.loads(response.read() or b"{}")

    def log_in(self, codes: Codes) -> Self:
        """Password, then a fresh code: the session cookie is kept for the calls after."""
        credentials = {"username": self.user, "password": self.password}
        assert self.call("POST", "/api/login", credentials)[0] == 200
        assert self.call("POST", "/api/login/2fa", {"code": codes.next()})[0] == 200
        return self


def fast_seed(site: str, account: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """The site's default seed with short page delays and no cookie banner, its one account
    changed by `account`, the rest by `overrides`."""
    seed = load_seed(site)
    fast = {**seed, "latency_ms": [5, 40], "cookie_banner": False}
    if account:
        fast["accounts"] = [{**seed["accounts"][0], **account}]
    return fast | overrides


def account(mock: MockExchanges, site: str, user: str) -> dict[str, Any]:
    """`user`'s account on `site` as the mock stores it now."""
    return mock.state(site)["accounts"][user]


def keys_by(mock: MockExchanges, site: str, user: str, field: str) -> dict[str, dict[str, Any]]:
    """`user`'s API keys on `site`, by the field that names them (e.g. "label", "name")."""
    return {key[field]: key for key in account(mock, site, user)["keys"]}


def list_items(scope: Page | Locator, name: str) -> Locator:
    """The items of the list called `name` in `scope`: what a page shows as saved."""
    return scope.get_by_role("list", name=name).get_by_role("listitem")


def open_signed_in(
    page: Page, url: str, log_in: Callable[[Page, Codes], None], codes: Codes
) -> Page:
    """Opens `url`, a page behind the sign-in, signing in with `log_in` on the way."""
    page.goto(url)
    log_in(page, codes)
    return page


@dataclass(frozen=True)
class SignIn:
    """A site's sign-in page in the words a user sees: a form for the password, then a
    dialog for the authenticator's code."""

    user_field: str
    button: str
    dialog: str
    code_field: str
    submit: str
    password_field: str = "Password"

    def enter_password(self, page: Page, user: str, password: str) -> None:
        page.get_by_label(self.user_field).fill(user)
        page.get_by_label(self.password_field).fill(password)
        page.get_by_role("button", name=self.button).click()

    def enter_code(self, page: Page, code: str) -> Locator:
        """Types `code` into the dialog and submits it; the dialog, to check what came of it."""
        # Found by the field it holds: its title is the site's only on calm pages.
        dialog = page.get_by_role("dialog").filter(has=page.get_by_label(self.code_field))
        dialog.get_by_label(self.code_field).fill(code)
        dialog.get_by_role("button", name=self.submit).click()
        return dialog
