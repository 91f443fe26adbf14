"""Settings from the environment, `.env` and the TOML config file; TOTP secrets; the base-URL
rule. Every test runs in an empty directory with no IPBIND_ variable and a config file path
of its own, so neither the developer's shell, a `.env` nor ~/.config/ipbind can leak in."""

from __future__ import annotations

import os
from pathlib import Path

import pyotp
import pytest
from pydantic import SecretStr

from assistant.errors import BadInput, ExitCode
from assistant.settings import (
    ExchangeSettings,
    TotpSetting,
    load_settings,
    parse_totp,
    site_origin,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits
SHORT_SECRET = "JBSWY3DPEHPK3PXP"  # 80 bits: what Binance and others hand out
PASSWORD = "correct-horse-battery-staple"
BINANCE = ("https://www.binance.com", "https://accounts.binance.com")
ENV = "IPBIND_BINANCE__BASE_URL"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("IPBIND_"):
            monkeypatch.delenv(name)
    config = tmp_path / "config" / "config.toml"  # absent unless a test writes it
    monkeypatch.setenv("IPBIND_CONFIG", str(config))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no .env unless a test writes one
    return config


def test_defaults_without_any_configuration() -> None:
    settings = load_settings()
    conf = settings.exchange("binance")
    assert conf == ExchangeSettings()
    assert conf.totp() is None
    assert settings.headless is True


def test_exchange_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPBIND_BINANCE__USERNAME", "me@example.com")
    monkeypatch.setenv("IPBIND_BINANCE__PASSWORD", PASSWORD)
    monkeypatch.setenv("IPBIND_BINANCE__TOTP_SECRET", SECRET)
    monkeypatch.setenv("IPBIND_BINANCE__TOTP_PERIOD", "1")
    monkeypatch.setenv("IPBIND_BINANCE__BASE_URL", "http://binance.localhost:8765")
    monkeypatch.setenv("IPBIND_HEADLESS", "false")
    settings = load_settings()
    conf = settings.exchange("binance")
    assert conf.username == "me@example.com"
    assert isinstance(conf.password, SecretStr)
    assert conf.password.get_secret_value() == PASSWORD
    assert isinstance(conf.totp_secret, SecretStr)
    assert conf.totp_period == 1
    assert conf.base_url == "http://binance.localhost:8765"
    assert settings.headless is False
    totp = conf.totp()
    assert totp is not None
    assert (totp.secret.get_secret_value(), totp.period, totp.digits) == (SECRET, 1, 6)


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPBIND_BINANCE__PASSWORD", PASSWORD)
    monkeypatch.setenv("IPBIND_BINANCE__TOTP_SECRET", SECRET)
    settings = load_settings()
    conf = settings.exchange("binance")
    totp = conf.totp()
    texts = [repr(settings), str(settings), repr(conf), str(conf), repr(totp), str(totp)]
    texts.append(settings.model_dump_json())
    for text in texts:
        assert PASSWORD not in text
        assert SECRET not in text
    assert "**********" in repr(conf)


def test_config_file_is_read_at_load_time(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # IPBIND_CONFIG is honoured when settings are loaded, not only when the module was
    # imported: that is what keeps a user's ~/.config/ipbind/config.toml out of tests.
    isolated.parent.mkdir()
    isolated.write_text(
        '[binance]\nusername = "from-toml"\npassword = "toml-password"\ntotp_period = 15\n',
        encoding="utf-8",
    )
    conf = load_settings().exchange("binance")
    assert conf.username == "from-toml"
    assert conf.totp_period == 15
    elsewhere = isolated.parent / "other.toml"
    monkeypatch.setenv("IPBIND_CONFIG", str(elsewhere))
    assert load_settings().exchange("binance").username is None


def test_precedence_env_then_dotenv_then_toml(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated.parent.mkdir()
    isolated.write_text(
        '[binance]\nusername = "toml"\npassword = "toml-pass"\ntotp_period = 10\n',
        encoding="utf-8",
    )
    Path(".env").write_text(
        "IPBIND_BINANCE__USERNAME=dotenv\nIPBIND_BINANCE__PASSWORD=dotenv-pass\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("IPBIND_BINANCE__USERNAME", "env")
    conf = load_settings().exchange("binance")
    assert conf.username == "env"
    assert conf.password is not None
    assert conf.password.get_secret_value() == "dotenv-pass"
    # pydantic-settings merges nested sections field by field across sources
    assert conf.totp_period == 10


def test_invalid_totp_secret_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = "NOT-BASE32-BUT-A-SECRET-1089!"
    monkeypatch.setenv("IPBIND_BINANCE__TOTP_SECRET", bad)
    monkeypatch.setenv("IPBIND_BINANCE__PASSWORD", PASSWORD)
    with pytest.raises(BadInput) as info:
        load_settings()
    assert info.value.exit_code == ExitCode.BAD_INPUT
    message = info.value.message
    assert "IPBIND_BINANCE__TOTP_SECRET" in message
    assert bad not in message
    assert bad.upper() not in message
    assert PASSWORD not in message


def test_otpauth_uri_with_an_unsupported_algorithm_is_refused_without_echo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = f"otpauth://totp/Binance:me?secret={SECRET}&algorithm=SHA256"
    monkeypatch.setenv("IPBIND_BINANCE__TOTP_SECRET", uri)
    with pytest.raises(BadInput) as info:
        load_settings()
    assert "IPBIND_BINANCE__TOTP_SECRET" in info.value.message
    assert "SHA256" in info.value.message
    assert SECRET not in info.value.message


@pytest.mark.parametrize("value", ["abc", "0", "301"])
def test_invalid_totp_period(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("IPBIND_BINANCE__TOTP_PERIOD", value)
    with pytest.raises(BadInput, match="IPBIND_BINANCE__TOTP_PERIOD"):
        load_settings()


def test_unknown_exchange_field_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPBIND_BINANCE__PASWORD", PASSWORD)
    with pytest.raises(BadInput) as info:
        load_settings()
    assert "IPBIND_BINANCE__PASWORD" in info.value.message
    assert PASSWORD not in info.value.message


def test_invalid_config_toml_is_bad_input(isolated: Path) -> None:
    isolated.parent.mkdir()
    isolated.write_text("[binance\nusername = 'x'\n", encoding="utf-8")
    with pytest.raises(BadInput, match="settings"):
        load_settings()


# --- parse_totp ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        SECRET,
        SECRET.lower(),
        " ".join(SECRET[i : i + 4] for i in range(0, len(SECRET), 4)),
        f"  {SECRET.lower()}\n",
    ],
)
def test_parse_totp_base32_forms(raw: str) -> None:
    totp = parse_totp(raw, 30)
    assert isinstance(totp, TotpSetting)
    assert (totp.secret.get_secret_value(), totp.period, totp.digits) == (SECRET, 30, 6)


def test_parse_totp_accepts_80_bit_secrets() -> None:
    assert parse_totp(SHORT_SECRET.lower(), 30).secret.get_secret_value() == SHORT_SECRET


def test_parse_totp_uri_gives_period_and_digits() -> None:
    uri = pyotp.TOTP(SECRET, interval=60, digits=8).provisioning_uri(
        name="me", issuer_name="Binance"
    )
    totp = parse_totp(uri, 30)
    assert (totp.secret.get_secret_value(), totp.period, totp.digits) == (SECRET, 60, 8)
    uri = f"otpauth://totp/Binance%3Ame?secret={SECRET.lower()}&issuer=Binance"
    totp = parse_totp(uri, 1)  # no period in the URI: the configured one stays
    assert (totp.secret.get_secret_value(), totp.period, totp.digits) == (SECRET, 1, 6)


def test_uri_period_is_used_by_exchange_settings() -> None:
    uri = f"otpauth://totp/x?secret={SECRET}&period=45&algorithm=sha1"
    totp = ExchangeSettings(totp_secret=SecretStr(uri), totp_period=30).totp()
    assert totp is not None
    assert totp.period == 45


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (f"otpauth://hotp/Binance:me?secret={SECRET}&counter=0", "TOTP"),
        (f"otpauth://totp/Binance:me?secret={SECRET}&algorithm=SHA512", "SHA512"),
        ("otpauth://totp/Binance:me?issuer=Binance", "no secret"),
        ("otpauth://totp/Binance:me?secret=&issuer=Binance", "no secret"),
        (f"otpauth://totp/x?secret={SECRET}&period=soon", "not a number"),
        (f"otpauth://totp/x?secret={SECRET}&digits=4", "out of range"),
        (f"otpauth://totp/x?secret={SECRET}&period=0", "out of range"),
        ("THIS-IS-NOT-BASE32!!", "Base32"),
        ("JBSWY3DP18", "Base32"),  # 1 and 8 are not Base32 digits
        ("JBSWY3DPEHPK", "Base32"),  # valid Base32 but only 60 bits
    ],
)
def test_parse_totp_refusals_never_echo_the_secret(raw: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_totp(raw, 30)
    message = str(info.value)
    assert why in message
    assert SECRET not in message
    assert SECRET.lower() not in message
    assert raw not in message


# --- site_origin ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        (None, "https://www.binance.com"),
        ("", "https://www.binance.com"),
        ("https://www.binance.com", "https://www.binance.com"),
        ("https://www.binance.com/en/my/settings", "https://www.binance.com"),
        ("HTTPS://WWW.Binance.com/", "https://www.binance.com"),
        ("https://accounts.binance.com", "https://accounts.binance.com"),
        ("http://binance.localhost:8765", "http://binance.localhost:8765"),
        ("http://localhost:8765/", "http://localhost:8765"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
        ("http://127.8.9.10:9", "http://127.8.9.10:9"),
        ("http://[::1]:9", "http://[::1]:9"),
    ],
)
def test_site_origin_accepts_official_and_loopback(base_url: str | None, origin: str) -> None:
    assert site_origin(base_url, BINANCE, ENV) == origin


@pytest.mark.parametrize(
    "base_url",
    [
        "https://binance.com.evil.example",
        "https://evil.example",
        "https://www.binance.com.evil.example/",
        "http://www.binance.com",  # the official host, but not its origin
        "https://www.binance.com:8443",
        "https://www.binance.com@evil.example",
        "http://localhost.evil.example:8765",
        "http://binance.localhost.evil.example:8765",
        "http://evil.example/binance.localhost",
        "http://127.0.0.1.evil.example:9",
        "http://10.0.0.1:8765",
        "http://[::2]:9",
        "ftp://127.0.0.1/",
        "binance.localhost:8765",
        "not a url",
    ],
)
def test_site_origin_refuses_everything_else(base_url: str) -> None:
    with pytest.raises(BadInput) as info:
        site_origin(base_url, BINANCE, ENV)
    assert info.value.exit_code == ExitCode.BAD_INPUT
    assert ENV in info.value.message


def test_a_flows_own_secret_is_a_setting_held_and_redacted_like_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IPBIND_GATE__FUND_PASSWORD", PASSWORD)
    settings = load_settings()
    conf = settings.exchange("gate")
    assert isinstance(conf.fund_password, SecretStr)  # type: ignore[attr-defined]
    assert PASSWORD not in repr(settings) + settings.model_dump_json()
    assert PASSWORD in conf.secret_values()  # so the redactor masks it in every log line
    with pytest.raises(BadInput):  # an exchange without that step has no such setting
        monkeypatch.setenv("IPBIND_BINANCE__FUND_PASSWORD", PASSWORD)
        load_settings()
