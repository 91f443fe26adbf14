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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

from loguru import logger
from playwright.sync_api import Locator, Page, expect
from pydantic import SecretStr

from assistant.errors import CannotRestrict, UserActionNeeded
from flows.base import Flow, KeyInfo, Progress, SignIn, ips_in
from flows.profiles import Assisted, Profile
from flows.vocabulary import Vocabulary, What


@dataclass(frozen=True)
class PageWords:
    """One profile's page words as patterns, each declared in its flow's vocabulary (see
    `page_words`); None where the profile has no such step."""

    email: re.Pattern[str]
    log_in: re.Pattern[str]
    sign_in_code: re.Pattern[str]
    submit: re.Pattern[str]
    edit: re.Pattern[str]
    save: re.Pattern[str]
    api_heading: re.Pattern[str]
    named_by: re.Pattern[str]
    ip_field: re.Pattern[str]
    switch: re.Pattern[str] | None
    group: re.Pattern[str] | None
    choice: re.Pattern[str] | None
    accept: re.Pattern[str] | None
    secret: re.Pattern[str] | None
    email_code: re.Pattern[str] | None
    send_code: re.Pattern[str] | None
    totp: re.Pattern[str]
    third_party: re.Pattern[str] | None


def page_words(profile: Profile) -> tuple[Vocabulary, PageWords]:
    """The profile's words, in its flow's vocabulary: promised where SITES.md's table or its
    common shape quotes them; the key list's word for a name is optional (how a name sits
    next to its label is not fixed), and so is any heading."""
    vocabulary = Vocabulary(profile.id)
    promised = vocabulary.promised
    restrict, verification = profile.restrict, profile.verification

    def maybe(text: str | None, what: What) -> re.Pattern[str] | None:
        return None if text is None else promised(text, what)

    choice = restrict.choice if restrict else None
    email_code = maybe(verification.email_code, "field")
    return vocabulary, PageWords(
        email=promised("Email", "field"),
        log_in=promised("Log In", "button"),
        sign_in_code=promised(profile.sign_in_code, "field"),
        submit=promised("Submit", "button"),
        edit=promised("Edit", "button"),
        save=promised("Save", "button"),
        api_heading=vocabulary.optional("API", "heading"),
        named_by=vocabulary.optional(profile.key_named_by, "label", whole=True),
        ip_field=promised(profile.ip_field, "field"),
        switch=maybe(restrict.label, "switch") if restrict and choice is None else None,
        group=maybe(restrict.label, "label") if restrict and choice else None,
        choice=maybe(choice, "choice"),
        accept=maybe(verification.acknowledge[1], "button") if verification.acknowledge else None,
        secret=maybe(verification.secret.label, "field") if verification.secret else None,
        email_code=email_code,
        send_code=promised("Send code", "button") if email_code else None,
        totp=promised(verification.totp, "field"),
        third_party=(
            None
            if profile.third_party is None
            else promised(profile.third_party, "text", whole=False)
        ),
    )


class ProfileFlow(Flow):
    """A bulk flow whose words come from `profile`; see `flow_of`."""

    profile: ClassVar[Profile]
    words: ClassVar[PageWords]

    def api_page_ready(self) -> Locator:
        return self.page.get_by_role("button", name=self.words.edit).or_(
            self.page.get_by_role("heading", name=self.words.api_heading)
        )

    # -- the keys and their lists ----------------------------------------------------------

    def list_keys(self) -> list[KeyInfo]:
        with self.step("listing the API keys"):
            edits = self.page.get_by_role("button", name=self.words.edit)
            return self.keys_listed(edits, self.words.named_by)

    def read(self, key: KeyInfo) -> list[str]:
        with self.step(f"reading the IP list of {key.name!r}"):
            text = self.key_text(key.name, "button", self.words.edit)
        third_party = self.words.third_party
        if third_party is not None and third_party.search(text):
            raise CannotRestrict(
                f"{self.name}: {key.name!r} cannot be restricted: recreate it in Altrady. It is "
                f"a third-party key ({self.profile.third_party!r}), whose IP list cannot be "
                "edited; ipbind left it untouched",
                hint=f"Create a normal API key on {self.name}, replace this one with it in "
                "Altrady (Settings > Exchange API Keys, edit the trading account), then run "
                "ipbind again with the new key's name.",
            )
        return ips_in(text.replace(key.name, " "))

    @contextmanager
    def showing(self, key: KeyInfo) -> Iterator[Locator | None]:
        """The key's card or row, where `read` found its list."""
        yield self.card(key.name, "button", self.words.edit)

    # -- edit, the whole list, Save, verification --------------------------------------------

    def change(self, key: KeyInfo, add: list[str], remove: list[str], progress: Progress) -> None:
        profile, page = self.profile, self.page
        field = page.get_by_label(self.words.ip_field)
        with self.step(f"{key.name!r}: Edit, {profile.ip_field!r}"):
            self.outlined(self.key_control(key.name, "button", self.words.edit)).click()
            self.restrict_on()
            field = self.appear(field)  # as a local fix finds it, if the page renamed it
        with self.step(f"{key.name!r}: entering {len(add)} addresses in {profile.ip_field!r}"):
            self.settle()
            current = ips_in(field.input_value())
            whole = [ip for ip in current if ip not in remove]
            whole += [ip for ip in add if ip not in whole]
            text = profile.separators[0].join(whole)
            self.outlined(field).fill(text)
            expect(field).to_have_value(text)
        progress(len(add), len(add), "add")
        self.save(key)

    def restrict_on(self) -> None:
        """The switch on, or the restricted choice taken (in its group, where SITES.md names
        one)."""
        words, page = self.words, self.page
        if words.switch is not None:
            control = page.get_by_role("switch", name=words.switch).or_(
                page.get_by_role("checkbox", name=words.switch)
            )
        elif words.choice is not None:
            scope: Page | Locator = page
            if words.group is not None:
                scope = page.get_by_role("radiogroup", name=words.group).or_(
                    page.get_by_role("group", name=words.group)
                )
            control = scope.get_by_role("radio", name=words.choice)
        else:
            return
        self.appear(control)
        self.outlined(control).check()

    def save(self, key: KeyInfo) -> None:
        """Save; the dialog holding "I accept" where the site shows one; then the dialog
        holding the authenticator code's field (whatever either is titled)."""
        words, verification, page = self.words, self.profile.verification, self.page
        purpose = f"saving {key.name!r}"
        save = page.get_by_role("button", name=words.save)
        dialog = page.get_by_role("dialog").filter(has=page.get_by_label(words.totp))
        with self.step(f"{key.name!r}: Save"):
            if words.accept is None:
                self.until(self.outlined(save).click, dialog, purpose)
            else:
                accept = page.get_by_role("dialog").get_by_role("button", name=words.accept)
                self.until(self.outlined(save).click, dialog.or_(accept), purpose)
                if accept.first.is_visible():
                    self.until(self.outlined(accept.first).click, dialog, purpose)
        if verification.secret and words.secret:
            with self.step(f"{key.name!r}: {verification.secret.label}"):
                field = dialog.get_by_label(words.secret)
                self.type_secret(field, self.secret(verification.secret.setting))
        if words.email_code and words.send_code:
            with self.step(f"{key.name!r}: Send code ({verification.email_code})"):
                send = dialog.get_by_role("button", name=words.send_code)
                self.sent(self.outlined(send).click, f"sending the {verification.email_code!r}")
            code = self.emailed_code(purpose)
            with self.step(f"{key.name!r}: {verification.email_code}"):
                self.type_secret(dialog.get_by_label(words.email_code), code)

        def attempt(code: str) -> str | None:
            with self.step(f"{key.name!r}: {verification.totp}, Submit"):
                self.type_secret(dialog.get_by_label(words.totp), code)
                return self.await_outcome(
                    self.outlined(dialog.get_by_role("button", name=words.submit)).click,
                    [dialog, save],
                )

        self.submit_code(purpose, attempt, dialog.get_by_label(words.totp))
        if verification.link:
            confirm = f"the {verification.link!r} link for {key.name!r}"
            if not self.emailed_link(confirm):
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
    """The flow class of one profile: its metadata, words and vocabulary are the profile's
    data."""
    verification = profile.verification
    vocabulary, words = page_words(profile)
    steps = [verification.acknowledge[1] if verification.acknowledge else None]
    steps += [verification.secret.label if verification.secret else None]
    steps += [verification.email_code, verification.totp]
    steps += [f"e-mailed link ({verification.link})" if verification.link else None]
    restrict = profile.restrict
    return type(
        f"{profile.id.capitalize()}Flow",
        (ProfileFlow,),
        {
            "profile": profile,
            "words": words,
            "vocabulary": vocabulary,
            "id": profile.id,
            "name": profile.name,
            "origins": profile.origins,
            "api_path": profile.api_path,
            "max_ips": profile.max_ips,
            "cidr": profile.cidr,
            "separators": profile.separators,
            "keys_by": f"{profile.key_named_by} (exact)",
            "how": (f"{restrict.label or restrict.choice} on, " if restrict else "")
            + f"{profile.ip_field!r}, Save, "
            + " + ".join(s for s in steps if s),
            "mode": "bulk",
            "unrestricted": profile.unrestricted,
            "mail": " and ".join(
                need
                for need, asked in (
                    ("an e-mailed code", verification.email_code),
                    ("an e-mailed confirmation link", verification.link),
                )
                if asked
            )
            or None,
            "secrets": tuple(
                s.setting
                for s in [verification.secret]
                if s is not None and s.setting != "password"
            ),
            "sign_in": SignIn(
                username=words.email,
                submit=words.log_in,
                code=words.sign_in_code,
                code_submit=words.submit,
            ),
        },
    )


# An exchange with no flow has no section in SITES.md: its words are all guesses.
ASSISTED = Vocabulary("assisted")


class AssistedFlow(Flow):
    """An exchange with no flow: listed, and opened by `ipbind assist`; plan, apply and
    verify refuse it before any browser starts."""

    mode = "assisted"
    how = "by hand, with `ipbind assist`"
    keys_by = "you"
    separators: ClassVar[str] = ",\n"
    vocabulary = ASSISTED
    sign_in = SignIn(
        username=ASSISTED.optional("Email", "field", whole=True),
        submit=ASSISTED.optional("Log In", "button", whole=True),
        code=ASSISTED.optional("Code", "field", whole=True),
        code_submit=ASSISTED.optional("Submit", "button", whole=True),
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
