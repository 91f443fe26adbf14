"""The generic bulk flow: one class driven by a profile (flows/profiles.py) for every
exchange that differs from the others only in words, limits and verification steps.

As a person does it (seed article, "most exchanges"):
  1. The API page: find the key by its name; "Edit".
  2. Turn the IP restriction on where the site has a switch or a Yes/No choice first.
  3. The IP field holds the key's whole list: keep what stays, add the rest, in the site's
     separator (what is saved is the field's whole content).
  4. "Save"; accept a "Risk Reminder" if the site shows one; "Security Verification": the
     trading/fund password, the e-mailed code ("Send code"), the authenticator code, "Submit".
  5. Where the site e-mails a confirmation link, the person opens it; until then the key
     keeps its old list (and the read-back says so).
  6. The key's list shows on the API page: that is what we verify.
Keys made through a third-party / "Fast Connect" path carry a label and cannot have their
list edited: such a key is stopped, untouched, with the advice to make a normal key.
"""

from __future__ import annotations

import re
from typing import ClassVar

from loguru import logger
from playwright.sync_api import Locator, expect
from pydantic import SecretStr

from assistant.errors import UserActionNeeded
from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in, words
from flows.profiles import Assisted, Profile

EDIT = words("Edit")
SAVE = words("Save")
SUBMIT = words("Submit")
SEND_CODE = re.compile(r"^\s*(re)?send\s+code\b", re.I)
CODE_SENT = re.compile(r"code sent", re.I)
VERIFICATION = re.compile(r"security verification", re.I)


class ProfileFlow(Flow):
    """A bulk flow whose words come from `profile`; see `flow_of`."""

    profile: ClassVar[Profile]

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=EDIT).or_(
            self.page.get_by_role("heading", name=re.compile(r"\bapi\b", re.I))
        )

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            return [
                KeyInfo(name) for name, _ in self.cards(self.page.get_by_role("button", name=EDIT))
            ]

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"reading the IP list of {key.name!r}"):
            text = self.key_text(key.name, "button", EDIT)
        label = self.profile.third_party
        if label and re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.I):
            raise UserActionNeeded(
                f"{self.name}: {key.name!r} is a third-party key ({label!r}): its IP list "
                "cannot be edited, so ipbind left it untouched",
                hint=f"Create a normal API key on {self.name}, replace this one with it in "
                "Altrady (Settings > Exchange API Keys, edit the trading account), then run "
                "ipbind again with the new key's name.",
            )
        return ips_in(text.replace(key.name, " "))

    # -- edit, the whole list, Save, verification --------------------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        profile, page = self.profile, self.page
        field = page.get_by_label(words(profile.ip_field))
        with self.step(f"{key.name!r}: Edit, {profile.ip_field!r}"):
            self.key_control(key.name, "button", EDIT).click()
            self.restrict_on()
            self.appear(field)
        with self.step(f"{key.name!r}: entering {len(add)} addresses in {profile.ip_field!r}"):
            self.settle()
            current = ips_in(field.input_value())
            whole = [ip for ip in current if ip not in remove]
            whole += [ip for ip in add if ip not in whole]
            text = profile.separators[0].join(whole)
            field.fill(text)
            expect(field).to_have_value(text)
        progress(len(add), len(add), "addresses entered")
        self.save(key)

    def restrict_on(self) -> None:
        restrict, page = self.profile.restrict, self.page
        if restrict is None:
            return
        if restrict.choice is None:
            control = page.get_by_role("switch", name=words(restrict.label)).or_(
                page.get_by_role("checkbox", name=words(restrict.label))
            )
        else:
            group = page.get_by_role("radiogroup", name=words(restrict.label)).or_(
                page.get_by_role("group", name=words(restrict.label))
            )
            control = group.get_by_role("radio", name=words(restrict.choice))
        self.appear(control)
        control.check()

    def save(self, key: KeyInfo) -> None:
        verification, page = self.profile.verification, self.page
        alerts = page.get_by_role("alert")
        save = page.get_by_role("button", name=SAVE)
        dialog = page.get_by_role("dialog", name=VERIFICATION)
        acknowledge = (
            page.get_by_role("dialog", name=words(verification.acknowledge[0]))
            if verification.acknowledge
            else None
        )
        first = dialog if acknowledge is None else dialog.or_(acknowledge)
        with self.step(f"{key.name!r}: Save"):
            self.mark_seen(alerts)
            save.click()
            self.appear(first.or_(self.fresh(alerts)).first)
            if acknowledge is not None and acknowledge.is_visible():
                assert verification.acknowledge is not None
                acknowledge.get_by_role("button", name=words(verification.acknowledge[1])).click()
                self.appear(dialog.or_(self.fresh(alerts)).first)
        if not dialog.is_visible():  # refused before any verification was asked for
            self.refused(f"saving {key.name!r}", self.fresh(alerts))
        purpose = f"saving {key.name!r}"
        if verification.secret:
            with self.step(f"{key.name!r}: {verification.secret.label}"):
                field = dialog.get_by_label(words(verification.secret.label))
                self.type_secret(field, self.secret(verification.secret.setting))
        if verification.email_code:
            with self.step(f"{key.name!r}: Send code ({verification.email_code})"):
                dialog.get_by_role("button", name=SEND_CODE).click()
                self.appear(dialog.get_by_text(CODE_SENT))
            code = self.emailed_code(purpose)
            with self.step(f"{key.name!r}: {verification.email_code}"):
                self.type_secret(dialog.get_by_label(words(verification.email_code)), code)

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: Security Verification, Submit"):
                self.type_secret(dialog.get_by_label(words(verification.totp)), code)
                return self.await_outcome(
                    dialog.get_by_role("button", name=SUBMIT).click, [dialog, save], alerts
                )

        self.submit_code(purpose, attempt)
        if verification.link:
            confirm = f"the {verification.link!r} link for {key.name!r}"
            if not self.human.open_emailed_link(self.name, confirm):
                logger.warning(
                    "{}: {!r} waits for the e-mailed {!r} link; until it is opened the key keeps "
                    "its old list",
                    self.name,
                    key.name,
                    verification.link,
                )

    def secret(self, setting: str) -> SecretStr:
        assert self.credentials is not None
        if setting == "password":
            return self.credentials.password
        value = self.credentials.secrets.get(setting)
        if value is None:  # the engine checks this before any browser starts
            raise UserActionNeeded(
                f"{self.name}: saving asks for the {setting.replace('_', ' ')}",
                hint=f"Set IPBIND_{self.id.upper()}__{setting.upper()}.",
            )
        return value


def flow_of(profile: Profile) -> type[ProfileFlow]:
    """The flow class of one profile: its metadata are the profile's data."""
    verification = profile.verification
    steps = [verification.acknowledge[0] if verification.acknowledge else None]
    steps += [verification.secret.label if verification.secret else None]
    steps += [verification.email_code, verification.totp]
    steps += [f"e-mailed link ({verification.link})" if verification.link else None]
    return type(
        f"{profile.id.capitalize()}Flow",
        (ProfileFlow,),
        {
            "profile": profile,
            "id": profile.id,
            "name": profile.name,
            "origins": profile.origins,
            "api_path": profile.api_path,
            "max_ips": profile.max_ips,
            "cidr": profile.cidr,
            "separators": profile.separators,
            "keys_by": f"{profile.key_named_by} (exact)",
            "how": (f"{profile.restrict.label} on, " if profile.restrict else "")
            + f"{profile.ip_field!r}, Save, "
            + " + ".join(s for s in steps if s),
            "mode": "bulk",
            "unrestricted": profile.unrestricted,
            "secrets": tuple(
                s.setting
                for s in [verification.secret]
                if s is not None and s.setting != "password"
            ),
            "sign_in": SignIn(
                username=words("Email"),
                submit=words("Log In"),
                code=words(profile.sign_in_code),
                code_submit=SUBMIT,
            ),
        },
    )


class AssistedFlow(Flow):
    """An exchange with no flow: listed, and opened by `ipbind assist`; plan, apply and
    verify refuse it before any browser starts."""

    mode = "assisted"
    how = "by hand, with `ipbind assist`"
    keys_by = "you"
    separators: ClassVar[str] = ",\n"
    sign_in = SignIn(
        username=words("Email"), submit=words("Log In"), code=words("Code"), code_submit=SUBMIT
    )


def assisted_flow_of(entry: Assisted) -> type[AssistedFlow]:
    return type(
        f"{entry.id.capitalize()}Assisted",
        (AssistedFlow,),
        {
            "id": entry.id,
            "name": entry.name,
            "origins": entry.origins,
            "api_path": entry.api_path,
            "max_ips": entry.max_ips,
            "cidr": entry.cidr,
            "separators": entry.separators,
        },
    )
