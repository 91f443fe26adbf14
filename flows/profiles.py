"""Every exchange of the one generic bulk pattern, side by side, as data.

These exchanges differ only in words, limits and verification steps (SITES.md, "Other
exchanges Altrady supports"): the API page lists each key by its name with an "Edit"
button; Edit shows the IP field (behind a switch or a Yes/No choice on some) holding the
key's whole list in the site's separator; "Save" opens a dialog (SITES.md calls it "Security
Verification", but no dialog's title is fixed) with the profile's fields and "Submit"; the
key's list then shows on the API page.

One profile here is one exchange: `flows.generic` makes a flow of it (and its vocabulary:
the words SITES.md quotes are promised, the rest optional). The mock site
`fixtures/mockex/sites/generic.py` keeps its own table, written from SITES.md, so that a
wrong word here fails a test. Adding an exchange of this pattern is adding a profile.
Exchanges with no flow at all (the person enters the list with `ipbind assist`) are in
ASSISTED at the end.

Words are matched whole, case and spacing aside. Where the real site's words are unknown,
SITES.md marks them (chosen).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Restrict:
    """The control that turns the IP restriction on before the field shows: a switch (or
    checkbox) named `label`, or, with `choice`, the radio `choice` (of the group `label`,
    where SITES.md names the group)."""

    label: str | None
    choice: str | None = None


@dataclass(frozen=True)
class Secret:
    """A password asked again on save: its field's words, and the setting that holds it
    (`IPBIND_<EX>__<SETTING>`; "password" is the sign-in password itself)."""

    label: str
    setting: str


@dataclass(frozen=True)
class Verification:
    """What "Save" asks for, in this order: a "Risk Reminder"-style dialog to accept, then
    "Security Verification" with a password, an e-mailed code ("Send code" beside it) and the
    authenticator code; `link`: the change waits for an e-mailed confirmation link."""

    totp: str  # the authenticator code's field
    secret: Secret | None = None
    email_code: str | None = None
    acknowledge: tuple[str, str] | None = None  # (dialog title, accepting button)
    link: str | None = None  # the e-mail's words, when a link confirms the change


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    origins: tuple[str, ...]  # official origins; the first is the default
    api_path: str
    sign_in_code: str  # the sign-in's authenticator field (after "Email", "Password", "Log In")
    key_named_by: str  # what the API page calls a key's name
    ip_field: str
    verification: Verification
    restrict: Restrict | None = None
    separators: str = ","  # what the field takes between addresses; the first is typed
    max_ips: int = 20
    cidr: bool = False
    ipv6: bool = False
    third_party: str | None = None  # the label of keys whose IP list cannot be edited
    unrestricted: str | None = None  # what becomes of a key with no IP restriction


PROFILES: list[Profile] = [
    Profile(
        id="binanceus",
        name="Binance.US",
        origins=("https://www.binance.us",),
        api_path="/settings/api-management",
        sign_in_code="Authenticator App Code",
        key_named_by="label",
        # "as binance": its radios; SITES.md names no group around them.
        restrict=Restrict(None, choice="Restrict access to trusted IPs only (Recommended)"),
        ip_field="IP address",
        max_ips=30,
        verification=Verification(totp="Authenticator App Code"),
    ),
    Profile(
        id="bitvavo",
        name="Bitvavo",
        origins=("https://account.bitvavo.com",),
        api_path="/user/api",
        sign_in_code="2FA code",
        key_named_by="API key name",
        ip_field="IP Whitelist",
        verification=Verification(
            totp="2FA code", secret=Secret("Password", "password"), link="Confirm API key"
        ),
    ),
    Profile(
        id="coinbase",
        name="Coinbase",
        origins=("https://portal.cdp.coinbase.com",),
        api_path="/portal/access/api",
        sign_in_code="2-step verification code",
        key_named_by="nickname",
        restrict=Restrict("API restrictions"),
        ip_field="IP allowlist",
        cidr=True,
        ipv6=True,
        verification=Verification(totp="2-step verification code"),
    ),
    Profile(
        id="cryptocom",
        name="Crypto.com Exchange",
        origins=("https://crypto.com",),
        api_path="/settings/api-management",
        sign_in_code="2FA code",
        key_named_by="label",
        ip_field="IP address",
        max_ips=6,
        verification=Verification(totp="2FA code"),
    ),
    Profile(
        id="gate",
        name="Gate",
        origins=("https://www.gate.io", "https://www.gate.com"),
        api_path="/myaccount/api_key_manage",
        sign_in_code="Google Authenticator code",
        key_named_by="API Key Remarks",
        restrict=Restrict("IP permissions"),
        ip_field="IP whitelist",
        verification=Verification(
            totp="Google Authenticator code",
            secret=Secret("Fund Password", "fund_password"),
            acknowledge=("Risk Reminder", "I accept"),
        ),
    ),
    Profile(
        id="kucoin",
        name="KuCoin",
        origins=("https://www.kucoin.com",),
        api_path="/account/api",
        sign_in_code="Google Verification Code",
        key_named_by="API name",
        restrict=Restrict("IP Restriction", choice="Yes"),
        ip_field="IP Address",
        verification=Verification(
            totp="Google Verification Code",
            secret=Secret("Trading Password", "trading_password"),
            email_code="Email Verification Code",
        ),
        third_party="Third-party",
        unrestricted="30 days",
    ),
    Profile(
        id="mexc",
        name="MEXC",
        origins=("https://www.mexc.com",),
        api_path="/user/openapi",
        sign_in_code="Google Authenticator code",
        key_named_by="note",
        ip_field="Link IP Address",
        verification=Verification(
            totp="Google Authenticator code", email_code="Email verification code"
        ),
    ),
    Profile(
        id="okx",
        name="OKX",
        origins=("https://www.okx.com",),
        api_path="/account/my-api",
        sign_in_code="Authenticator code",
        key_named_by="API key name",
        ip_field="IP address allowlist",
        separators=", ",
        verification=Verification(totp="Authenticator code", email_code="Email code"),
        third_party="Linking third-party app",
        unrestricted="14 days",
    ),
]


@dataclass(frozen=True)
class Assisted:
    """An exchange ipbind has no flow for: `ipbind assist` opens its API page with the
    addresses beside it, for the person to enter. Paths here are (chosen) starting points;
    `assist --url` takes any other page of the exchange."""

    id: str
    name: str
    origins: tuple[str, ...]
    api_path: str
    max_ips: int = 20
    separators: str = ",\n"
    cidr: bool = False


ASSISTED: list[Assisted] = [
    Assisted(
        id="bitget",
        name="Bitget",
        origins=("https://www.bitget.com",),
        api_path="/account/newapi",
    ),
    Assisted(
        id="bitfinex",
        name="Bitfinex",
        origins=("https://setting.bitfinex.com",),
        api_path="/api",
    ),
]
