"""Bittrex: an account-wide allow list, one address at a time, a fresh 2FA code for each.

As a person does it (seed article, "Add IP addresses to Bittrex"):
  1. The IP Allow List page (account-wide: every API key of the account shares it).
  2. "Add New IP Address": the address, a fresh authenticator code, "Add".
  3. Repeat for each address: a code works once, so 20 addresses take 20 time steps.
The scheduler hands out each code the moment its step begins, so the run takes no longer
than the codes themselves force.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Locator

from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in
from flows.vocabulary import Vocabulary, any_of

WORDS = Vocabulary("bittrex")
ADD_NEW = WORDS.promised("Add New IP Address", "button")
IP_FIELD = WORDS.promised("IP Address", "field")
CODE = WORDS.promised("2FA Code", "field", whole=False)
ADD = WORDS.promised("Add", "button")
# An entry's button may also name the entry ("Remove 203.0.113.1").
REMOVE = WORDS.promised("Remove", "button", whole=False)
# The removal's own dialog sends it with "Remove", or with words SITES.md does not give.
CONFIRM_REMOVE = any_of(
    WORDS.promised("Remove", "button"), WORDS.optional("Confirm", "button", whole=True)
)


class Bittrex(Flow):
    id = "bittrex"
    name = "Bittrex Global"
    origins = ("https://global.bittrex.com", "https://bittrex.com")
    api_path = "/Manage?view=ipAllowList"
    max_ips = 30
    scope = "account"
    keys_by = "account (one list for all keys)"
    how = "one at a time, a fresh 2FA code each"
    mode = "per-address 2FA"
    vocabulary = WORDS
    sign_in = SignIn(
        username=WORDS.promised("Email", "field"),
        submit=WORDS.promised("Sign In", "button"),
        code=WORDS.promised("Authenticator Code", "field", whole=False),
        code_submit=WORDS.promised("Submit", "button"),
    )
    notice = (
        "stopped trading on 2023-12-04; the flow remains for accounts that "
        "still need their allow list."
    )

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=ADD_NEW)

    # -- the allow list --------------------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        return []  # one list per account: nothing to choose

    def read(self, key: KeyInfo) -> list[str]:
        with self.step("reading the IP allow list"):
            self.appear(self.api_page_ready())
            removes = self.page.get_by_role("button", name=REMOVE)
            return [ip for _, text in self.cards(removes) for ip in ips_in(text)]

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The whole page: the allow list is the account's, not one key's."""
        yield None

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        for done, ip in enumerate(remove, start=1):
            self.remove(ip)
            progress(done, len(remove), "remove")
        for done, ip in enumerate(add, start=1):
            progress(done - 1, len(add), "add")
            self.add(ip)
        if add:
            progress(len(add), len(add), "add")

    def add(self, ip: str) -> None:
        page = self.page
        ip_field = page.get_by_label(IP_FIELD)
        with self.step(f"Add New IP Address ({ip})"):
            self.outlined(page.get_by_role("button", name=ADD_NEW)).click()
            self.outlined(ip_field).fill(
                ip
            )  # everything but the code first: the code is spent on arrival

        def attempt(code: str) -> str | None:
            with self.step(f"adding {ip}: 2FA code"):
                self.type_secret(page.get_by_label(CODE), code)
                return self.await_outcome(
                    self.outlined(page.get_by_role("button", name=ADD)).click, [ip_field]
                )

        self.submit_code(f"adding {ip}", attempt, page.get_by_label(CODE))

    def remove(self, ip: str) -> None:
        page = self.page
        with self.step(f"Remove {ip}"):
            self.outlined(self.key_control(ip, "button", REMOVE)).click()
            dialog = page.get_by_role("dialog").filter(has=page.get_by_label(CODE))

        def attempt(code: str) -> str | None:
            with self.step(f"removing {ip}: 2FA code"):
                self.type_secret(dialog.get_by_label(CODE), code)
                return self.await_outcome(
                    self.outlined(dialog.get_by_role("button", name=CONFIRM_REMOVE)).click, [dialog]
                )

        self.submit_code(f"removing {ip}", attempt, dialog.get_by_label(CODE))
