"""Settings: environment (`IPBIND_…`, nested with `__`), a `.env` file, and a TOML config
file in the user's config dir, in that order of precedence.

    IPBIND_BINANCE__USERNAME=me@example.com
    IPBIND_BINANCE__PASSWORD=…
    IPBIND_BINANCE__TOTP_SECRET=JBSWY3DPEHPK3PXP      # or otpauth://totp/…?secret=…&period=30
    IPBIND_BINANCE__BASE_URL=http://binance.localhost:8765   # only the real site or loopback
    IPBIND_HEADLESS=false

Secrets are `SecretStr`: they print as `**********` and reach a page only through
`.get_secret_value()` at the moment they are typed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    create_model,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import BadInput
from assistant.mail import MailSettings
from assistant.net import is_loopback_url
from assistant.notify import NotifySettings
from assistant.paths import APP_DIR, config_file
from assistant.twofa import Totp
from flows import SIGN_INS


class TotpSetting(BaseModel):
    """A validated TOTP secret: Base32, with the period and digits an otpauth URI gives."""

    secret: SecretStr
    period: int = 30
    digits: int = 6


class ExchangeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = None
    password: SecretStr | None = None
    totp_secret: SecretStr | None = None
    totp_period: int = Field(default=30, ge=1, le=300)
    base_url: str | None = None
    # Where the password came from when not from the settings: "keyring" or "typed"
    # (assistant.signin); a refused sign-in's hint names it.
    _sign_in_from: str | None = PrivateAttr(default=None)
    # Typed at the terminal: the offer to keep it in the keyring, made once the exchange has
    # taken it (`Credentials.accepted`).
    _on_taken: Callable[[], None] | None = PrivateAttr(default=None)

    @field_validator("totp_secret")
    @classmethod
    def totp_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_totp(value.get_secret_value(), 30)  # raises ValueError, without the value
        return value

    def secret_values(self) -> list[str]:
        # Every SecretStr: the password and TOTP secret, and a flow's own (fund password, …).
        values = [s.get_secret_value() for s in self.__dict__.values() if isinstance(s, SecretStr)]
        totp = self.totp() if self.totp_secret else None
        return values + ([totp.secret.get_secret_value()] if totp else [])

    def totp(self) -> TotpSetting | None:
        if self.totp_secret is None or not self.totp_secret.get_secret_value().strip():
            return None
        return parse_totp(self.totp_secret.get_secret_value(), self.totp_period)


def parse_totp(raw: str, period: int) -> TotpSetting:
    """Base32 or an otpauth:// URI. Error messages never repeat the secret."""
    raw = raw.strip()
    digits = 6
    if raw.lower().startswith("otpauth://"):
        parts = urlsplit(raw)
        if parts.netloc.lower() != "totp":
            raise ValueError("the otpauth URI is not a TOTP (time-based) one")
        query = parse_qs(parts.query)
        if "secret" not in query:
            raise ValueError("the otpauth URI has no secret= parameter")
        secret = unquote(query["secret"][0])
        try:
            period = int(query.get("period", [period])[0])
            digits = int(query.get("digits", [6])[0])
        except ValueError:
            raise ValueError("the otpauth URI's period or digits is not a number") from None
        algorithm = query.get("algorithm", ["SHA1"])[0].upper()
        if algorithm != "SHA1":
            raise ValueError(f"the otpauth URI asks for {algorithm}; only SHA1 is supported")
    else:
        secret = raw
    secret = secret.replace(" ", "").upper()
    try:
        Totp(secret).now()
    except Exception:
        raise ValueError(
            "the TOTP secret is not valid Base32 of at least 16 characters (nor an otpauth:// URI)"
        ) from None
    if not 6 <= digits <= 8 or not 1 <= period <= 300:
        raise ValueError("the TOTP period or digits are out of range")
    return TotpSetting(secret=SecretStr(secret), period=period, digits=digits)


class BaseIpbindSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IPBIND_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    headless: bool = True
    slow_mo: float = Field(default=0, ge=0, description="milliseconds between browser actions")
    browser_executable: Path | None = None
    browser_channel: str | None = None
    artifacts_dir: Path = APP_DIR / "runs"
    state_dir: Path | None = None  # what runs remember (the last 2FA step)
    timeout: float = Field(default=20, gt=0, description="seconds to wait for a page element")
    # Exchanges done side by side, each on a browser of its own; None: what this machine
    # takes (assistant.parallel.machine_lanes).
    parallel: int | None = Field(default=None, ge=1, le=64)
    # A picture of each key's list as read back, in the run's report; off: the report has
    # none (a failure's screenshot, every field masked, is still kept for the debug report).
    pictures: bool = True
    # The person's mailbox over IMAP (IPBIND_MAIL__HOST, …): codes and links the exchanges
    # e-mail are taken from it, with no one at the terminal (assistant/mail.py).
    mail: MailSettings | None = None
    # Where `check` and `watch` say what they found wrong (IPBIND_NOTIFY__WEBHOOK, __EMAIL,
    # …; the desktop by default): assistant/notify.py.
    notify: NotifySettings = Field(default_factory=NotifySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return init_settings, env_settings, dotenv_settings, toml

    def exchange(self, exchange_id: str) -> ExchangeSettings:
        return getattr(self, exchange_id)

    @property
    def state_home(self) -> Path:
        """By default a `state` folder (0700, made by the first run) beside the runs folder."""
        return self.state_dir or self.artifacts_dir.parent / "state"


def exchange_settings(secrets: tuple[str, ...]) -> type[ExchangeSettings]:
    """An exchange's settings: the common ones, and a SecretStr for each of its flow's own
    secrets (IPBIND_GATE__FUND_PASSWORD)."""
    if not secrets:
        return ExchangeSettings
    fields: dict[str, Any] = {name: (SecretStr | None, None) for name in secrets}
    return create_model("ExchangeSettings", __base__=ExchangeSettings, **fields)  # type: ignore[no-any-return]


# One field per supported exchange, so IPBIND_<EXCHANGE>__<FIELD> works for each flow; and
# one for Altrady (IPBIND_ALTRADY__…, with its PASS_KEY).
Settings = create_model(  # type: ignore[call-overload]
    "Settings",
    __base__=BaseIpbindSettings,
    **{
        fid: (model, Field(default_factory=model))
        for fid, model in ((fid, exchange_settings(flow.secrets)) for fid, flow in SIGN_INS.items())
    },
)


def load_settings(**overrides: Any) -> BaseIpbindSettings:
    try:
        return Settings(**overrides)
    except Exception as err:  # pydantic ValidationError, TOML errors
        raise BadInput(f"settings: {settings_problem(err)}") from None


def settings_problem(err: Exception) -> str:
    errors = getattr(err, "errors", None)
    if not callable(errors):
        return str(err).splitlines()[0]
    lines = []
    for problem in errors(include_input=False):
        loc = "__".join(str(p) for p in problem["loc"]).upper()
        lines.append(f"IPBIND_{loc}: {problem['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def site_origin(base_url: str | None, official: tuple[str, ...], env_name: str) -> str:
    """The origin the flow may use: an official one, or a loopback mock. Anything else is
    refused, because credentials are typed only on the exchange's own origin."""
    if not base_url:
        return official[0]
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"{env_name}: {base_url!r} is not an http(s) URL")
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if origin in official or is_loopback_url(origin):
        return origin
    raise BadInput(
        f"{env_name}: {origin} is neither the exchange's own site ({', '.join(official)}) "
        "nor a loopback address; credentials are only ever typed on those"
    )
