"""`ipbind doctor`: versions, the browser a run would launch and why, where each setting
came from, each exchange's settings with secrets masked, whether each TOTP secret decodes;
non-zero, naming the problem, when something would stop a run. One test runs the real
command (and so starts the browser once); the rest run in this process with the browser's
part stood in for."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console
from support import PASSWORD, SECRET, ipbind, leaks

from assistant import doctor
from assistant.errors import ExitCode

FUND = "fund-Passw0rd-doctor"
GOOD = doctor.Choice("/usr/bin/chromium", "a system Chromium or Chrome", "chromium 1.2.3")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of its own as the current one (its `.env`) and an empty config file; the
    browser's part stood in for."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IPBIND_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("IPBIND_ARTIFACTS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(doctor, "which_browser", lambda settings, named: GOOD)
    return tmp_path


def check(overrides: dict[str, object] | None = None) -> tuple[ExitCode, str]:
    out = io.StringIO()
    code = doctor.doctor(overrides or {}, Console(file=out, width=300))
    return code, out.getvalue()


def line_of(text: str, start: str) -> str:
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(start))


def test_each_setting_says_where_it_came_from_and_no_secret_is_shown(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPBIND_BINANCE__USERNAME", "me@example.com")
    monkeypatch.setenv("IPBIND_BINANCE__PASSWORD", PASSWORD)
    (home / ".env").write_text(f"IPBIND_BINANCE__TOTP_SECRET={SECRET}\nIPBIND_TIMEOUT=7\n")
    (home / "config.toml").write_text(
        f'slow_mo = 5\ntimeout = 99\n[gate]\nusername = "g@example.com"\npassword = "{PASSWORD}"\n'
        f'fund_password = "{FUND}"\ntotp_secret = "otpauth://totp/x?secret={SECRET}&period=60"\n'
    )

    code, out = check({"headless": True})

    assert code == ExitCode.OK, out
    assert leaks(out, {"password": PASSWORD, "TOTP secret": SECRET, "fund password": FUND}) == []
    assert "ipbind: 0.1.0" in out and f"Python: {sys.version.split()[0]}" in out
    assert re.search(r"Playwright: \d+\.\d+", out)
    assert "  /usr/bin/chromium\n" in out and "headless (chromium 1.2.3)" in out
    assert line_of(out, "headless =") == "headless = true  (command line)"
    assert line_of(out, "timeout =") == f"timeout = 7.0  (.env: {home / '.env'})"  # over TOML
    assert line_of(out, "slow_mo =") == f"slow_mo = 5.0  (config file: {home / 'config.toml'})"
    assert line_of(out, "browser_channel =") == "browser_channel = not set  (default)"
    assert line_of(out, "password =") == (
        "password = set (hidden)  (environment: IPBIND_BINANCE__PASSWORD)"
    )
    assert line_of(out, "totp_secret =").startswith(
        "totp_secret = set (hidden), decodes (6 digits every 30 s)  (.env:"
    )
    gate = out[out.index("gate (Gate)") :]
    assert "fund_password = set (hidden)" in gate
    assert "decodes (6 digits every 60 s)" in gate  # the period the otpauth URI gives
    assert "No problem found" in out


def test_a_totp_secret_that_does_not_decode_is_named_and_stops(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = "NOT-BASE32-AT-ALL-0189"
    monkeypatch.setenv("IPBIND_KRAKEN__USERNAME", "k")
    monkeypatch.setenv("IPBIND_KRAKEN__PASSWORD", PASSWORD)
    monkeypatch.setenv("IPBIND_KRAKEN__TOTP_SECRET", bad)

    code, out = check()

    assert code == ExitCode.BAD_INPUT, out
    assert "totp_secret = set (hidden), does NOT decode" in out
    assert "IPBIND_KRAKEN__TOTP_SECRET: the TOTP secret is not valid Base32" in out
    assert leaks(out, {"password": PASSWORD, "TOTP secret": bad}) == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"IPBIND_BINANCE__USERNAME": "me"},
            "IPBIND_BINANCE__USERNAME and IPBIND_BINANCE__PASSWORD go together",
        ),
        (
            {"IPBIND_GATE__USERNAME": "me", "IPBIND_GATE__PASSWORD": PASSWORD},
            "saving on Gate asks for the fund password: set IPBIND_GATE__FUND_PASSWORD",
        ),
        (
            {"IPBIND_OKX__BASE_URL": "https://okx.example.net"},
            "IPBIND_OKX__BASE_URL: https://okx.example.net is neither the exchange's own site",
        ),
        (
            {"IPBIND_BINANCE__PASWORD": PASSWORD},
            "IPBIND_BINANCE__PASWORD (from the environment): not",
        ),
        ({"IPBIND_TIMEOUT": "-1"}, "IPBIND_TIMEOUT: Input should be greater than 0"),
        (
            {"IPBIND_KUCOIN__PASSWORD": PASSWORD, "IPBIND_KUCOIN__USERNAME": "me"},
            "set IPBIND_KUCOIN__TRADING_PASSWORD",
        ),
    ],
)
def test_what_would_stop_a_run_is_named_and_exits_non_zero(
    home: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code, out = check()

    assert code == ExitCode.BAD_INPUT, out
    problems = out[out.index("Problems that would stop a run") :]
    assert named in problems, out
    assert PASSWORD not in out


def test_no_browser_and_an_unknown_name_are_said(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = doctor.Choice("none", "none of those ipbind looks for", problem="No browser found")
    monkeypatch.setattr(doctor, "which_browser", lambda settings, named: missing)
    monkeypatch.setenv("IPBIND_HEADLES", "false")  # a typo: ignored by the settings

    code, out = check()

    assert code == ExitCode.BROWSER, out
    assert "- browser: No browser found" in out
    assert "IPBIND_HEADLES: not a setting ipbind knows; ignored" in out


def test_the_real_command_names_the_browser_it_starts_and_its_version(tmp_path: Path) -> None:
    secrets = {
        "IPBIND_BINANCE__USERNAME": "me@example.com",
        "IPBIND_BINANCE__PASSWORD": PASSWORD,
        "IPBIND_BINANCE__TOTP_SECRET": SECRET,
    }
    env = {"IPBIND_CONFIG": str(tmp_path / "none.toml"), **secrets}
    done = ipbind("doctor", env={**env, "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs")})

    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    browser = done.stdout[done.stdout.index("Browser") :]
    assert re.search(r"\((chromium|chrome)[\w-]* \d+\.\d+\.\d+\.\d+\)", browser), browser
    assert "why: " in browser
    assert leaks(done.stdout + done.stderr, {"password": PASSWORD, "secret": SECRET}) == []


def test_a_kept_session_others_can_read_is_pointed_out(home: Path) -> None:
    sessions = home / "state" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "kraken.json").write_text("{}")
    (sessions / "kraken.json").chmod(0o644)

    code, out = check({"state_dir": home / "state"})

    assert code == ExitCode.OK, out
    kept = line_of(out, "kept session")
    assert str(sessions / "kraken.json") in kept
    assert f"others can read it; `chmod 600 {sessions / 'kraken.json'}`" in kept


def test_at_a_terminal_long_lines_wrap_between_words(home: Path) -> None:
    out = io.StringIO()
    doctor.doctor({}, Console(file=out, width=60, force_terminal=True, color_system=None))
    text = out.getvalue()

    assert max(len(line) for line in text.splitlines()) <= 60, text
    words = text.split()
    for exchange in ("binance", "kraken", "poloniex"):  # "not configured: …" spans lines
        assert exchange in words or f"{exchange}," in words, text


def test_with_no_exchange_configured_it_says_so_and_what_to_set(home: Path) -> None:
    code, out = check()

    assert code == ExitCode.OK, out
    assert "a run has what it needs" not in out, out
    assert "No exchange is configured" in out and "IPBIND_<EXCHANGE>__USERNAME" in out, out


def test_a_setting_that_is_not_valid_is_shown_as_given_and_named(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPBIND_TIMEOUT", "abc")
    monkeypatch.setenv("IPBIND_SLOW_MO", "5")

    code, out = check()

    assert code == ExitCode.BAD_INPUT, out
    assert line_of(out, "timeout =").startswith("timeout = 'abc': NOT valid"), out
    assert "timeout = 20" not in out
    assert line_of(out, "slow_mo =") == "slow_mo = 5.0  (environment: IPBIND_SLOW_MO)", out
    assert "- settings: IPBIND_TIMEOUT: " in out


def test_a_browser_that_started_is_said_to(home: Path) -> None:
    _, out = check()
    assert line_of(out, "starts:") == "starts: yes, started once, headless (chromium 1.2.3)"


def test_notifications_say_what_reaches_you_and_keep_a_webhooks_token_hidden(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)  # no desktop session: left out, said so
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "none reaches you from a timer" in check()[1]

    token = "T0ken-in-the-hook-url"
    monkeypatch.setenv("IPBIND_NOTIFY__WEBHOOK", f"https://hooks.example.com/{token}")
    monkeypatch.setenv("IPBIND_NOTIFY__EMAIL", "me@example.com")
    monkeypatch.setenv("IPBIND_NOTIFY__SMTP_HOST", "mail.example.com")
    out = check()[1]

    assert token not in out
    assert line_of(out, "webhook:") == "webhook: set (hidden: it may hold a token)"
    assert line_of(out, "e-mail:") == "e-mail: to me@example.com through mail.example.com:465 (tls)"
    assert line_of(out, "desktop:").startswith("desktop: no desktop session here")
    assert "none reaches you" not in out


def test_altradys_sign_in_for_import_and_sync_is_shown_with_its_pass_key_hidden(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pass_key = "amber river candle stone mirror"
    monkeypatch.setenv("IPBIND_ALTRADY__USERNAME", "me@example.com")
    monkeypatch.setenv("IPBIND_ALTRADY__PASSWORD", PASSWORD)
    monkeypatch.setenv("IPBIND_ALTRADY__PASS_KEY", pass_key)

    code, out = check()

    assert code == ExitCode.OK, out
    altrady = out[out.index("altrady (Altrady)") :]
    assert "pass_key = set (hidden)" in altrady and "signs in at https://app.altrady.com" in altrady
    assert leaks(out, {"password": PASSWORD, "pass key": pass_key}) == []
