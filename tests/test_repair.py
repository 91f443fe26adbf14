"""Repair in place (flows/fixes.py): a control the page calls otherwise than SITES.md is shown
to ipbind once in a headed run, kept as a local fix, and used by later runs, headless too;
a fix that is a selector, or aims a field at a button, is refused before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect
from support import (
    MailboxHuman,
    altrady_ips,
    command_env,
    ipbind_here,
    keys_of,
    seeded_account,
    settings_for,
    write_allocation,
)

from assistant import browser as browsers
from assistant.errors import ExitCode
from assistant.exchanges import listing, note_verified
from assistant.outcome import KeyPlan, KeyResult, Target
from assistant.runner import Options, run, verified_live
from assistant.settings import load_settings
from assistant.targets import fixes_of
from fixtures.mockex import MockExchanges
from flows.base import Flow


class ShowsTheControl(MailboxHuman):
    """The person: reads the e-mailed codes, and when ipbind asks, clicks the control the
    page now calls "Get code" (ipbind outlined it among its guesses)."""

    def __init__(self, mock: MockExchanges, site: str):
        super().__init__(mock, site)
        self.asked: list[str] = []

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        self.asked.append(message)
        guess = page.get_by_role("button", name="Get code")
        expect(guess).to_have_attribute("data-ipbind-guess", "")  # outlined for them
        guess.click()  # caught by ipbind: it only points
        expect(done).to_be_visible()


OKX_SEED = {
    "latency_ms": [0, 60],
    "cookie_banner": False,
    "accounts": [seeded_account("trader@ipbind.test", keys=[{"name": "Altrady main"}])],
}
# The fix the headed run below keeps, as it writes it.
KEPT_FIX = '[[fix]]\nword = "Send code"\nwhat = "button"\nnow = "Get code"\nrole = "button"\n'


@pytest.mark.headed
@pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="needs a display: `make test` runs the suite under xvfb-run",
)
@pytest.mark.long
@pytest.mark.full  # a headed run; fast: the kept fix used headless, and `repair`, below
def test_a_renamed_control_is_shown_once_headed_and_found_by_later_runs_headless(
    mock: MockExchanges,
    playwright: Playwright,
    browser: Browser,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IPBIND_CONFIG", str(tmp_path / "config.toml"))
    mock.reset("okx", OKX_SEED)
    # Outside what SITES.md promises for the test: the e-mail code's button is renamed.
    mock.fault("okx", "page", "label_changed", label="Send code", to="Get code")
    settings = settings_for(mock, "okx", tmp_path)
    first = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "okx", "name": "My OKX", "key": "Altrady main", "ips": altrady_ips(3)}],
    )
    person = ShowsTheControl(mock, "okx")
    headed = browsers.launch(playwright, headless=False)
    try:
        code = run(
            "apply",
            first,
            Options(yes=True, allow_count=True),
            # The renamed button is looked for as long as a step waits, then asked for.
            settings=settings.model_copy(update={"headless": False, "timeout": 3}),
            chromium=headed,
            person=person,
        )
    finally:
        headed.close()
    out = capsys.readouterr()
    assert code == ExitCode.OK, out.out + out.err
    assert len(person.asked) == 1 and "'Send code'" in person.asked[0]
    assert keys_of(mock, "okx")[0]["ips"] == altrady_ips(3)  # saved, and read back
    kept = (tmp_path / "overrides" / "okx.toml").read_text()
    assert 'word = "Send code"' in kept and 'now = "Get code"' in kept
    assert 'role = "button"' in kept
    okx = next(e for e in listing() if e["id"] == "okx")
    assert okx["local_fixes"] == 1 and "1 local fix" in okx["status"]
    # A later failure's "report it" carries the fix, as it could be sent upstream.
    hint = Flow.changed_hint(SimpleNamespace(name="OKX", fixes=fixes_of("okx")))  # type: ignore[arg-type]
    assert (
        "Your local fixes for OKX, to send with it: button 'Send code' is button 'Get code'" in hint
    )

    # A second run, headless, with two more addresses: nobody is asked anything.
    second = write_allocation(
        tmp_path / "b.toml",
        [{"exchange": "okx", "name": "My OKX", "key": "Altrady main", "ips": altrady_ips(5)}],
    )
    code = run(
        "apply", second, Options(yes=True, allow_count=True), settings=settings,
        chromium=browser, person=MailboxHuman(mock, "okx"),
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == ExitCode.OK, out.out + out.err
    assert keys_of(mock, "okx")[0]["ips"] == altrady_ips(5)
    # `repair` listing and forgetting the fix: the test below, on the fix as kept here.


def test_a_kept_fix_is_used_by_a_headless_run_and_repair_lists_and_forgets_it(
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fix a headed run keeps (the test above) on a page whose button is renamed: a
    headless run finds the button by it and asks nobody; `repair` lists it and forgets it."""
    monkeypatch.setenv("IPBIND_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "overrides").mkdir()
    (tmp_path / "overrides" / "okx.toml").write_text(KEPT_FIX)
    mock.reset("okx", OKX_SEED)
    mock.fault("okx", "page", "label_changed", label="Send code", to="Get code")
    allocation = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "okx", "name": "My OKX", "key": "Altrady main", "ips": altrady_ips(3)}],
    )
    code = run(
        "apply", allocation, Options(yes=True, allow_count=True),
        settings=settings_for(mock, "okx", tmp_path), chromium=browser,
        person=MailboxHuman(mock, "okx"),
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == ExitCode.OK, out.out + out.err
    assert keys_of(mock, "okx")[0]["ips"] == altrady_ips(3)  # saved, and read back

    env = {"IPBIND_CONFIG": str(tmp_path / "config.toml")}
    listed = ipbind_here("repair", "okx", "--list", env=env)
    assert listed.returncode == 0
    assert "button 'Send code' is button 'Get code' here" in listed.stdout
    assert ipbind_here("repair", "okx", "--forget", env=env).returncode == 0
    assert not (tmp_path / "overrides" / "okx.toml").exists()
    assert "No local fix for OKX" in ipbind_here("repair", "okx", env=env).stdout


@pytest.mark.parametrize(
    ("exchange", "fix", "refusal"),
    [
        (
            "okx",
            {"word": "Send code", "what": "button", "now": "#send-code-btn", "role": "button"},
            "is a selector, not a control's name",
        ),
        (
            "okx",
            {"word": "Send code", "what": "button", "now": "css=button.primary", "role": "button"},
            "is a selector, not a control's name",
        ),
        (  # Bitvavo asks for the password again when a list is saved
            "bitvavo",
            {"word": "Password", "what": "field", "now": "Confirm", "role": "button"},
            "a field is never aimed at a button",
        ),
        (
            "okx",
            {"word": "Withdraw", "what": "button", "now": "Send", "role": "button"},
            "ipbind looks for no button 'Withdraw' on this exchange",
        ),
    ],
)
def test_a_fix_that_is_a_selector_or_aims_a_field_elsewhere_is_refused_before_any_browser(
    tmp_path: Path, exchange: str, fix: dict[str, str], refusal: str
) -> None:
    folder = tmp_path / "overrides"
    folder.mkdir()
    lines = "".join(f'{k} = "{v}"\n' for k, v in fix.items())
    (folder / f"{exchange}.toml").write_text(f"[[fix]]\n{lines}")
    allocation = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": exchange, "name": "Mine", "key": "Altrady main", "ips": altrady_ips()}],
    )
    prefix = f"IPBIND_{exchange.upper()}__"
    env = {
        "IPBIND_CONFIG": str(tmp_path / "config.toml"),
        f"{prefix}USERNAME": "me@example.com",
        f"{prefix}PASSWORD": "pw-not-used",
        f"{prefix}TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        f"{prefix}BASE_URL": f"http://{exchange}.localhost:9",
    }
    done = ipbind_here("plan", str(allocation), env=env)
    assert done.returncode == ExitCode.BAD_INPUT, done.stdout + done.stderr
    assert f"{folder / exchange}.toml: fix 1" in done.stderr and refusal in done.stderr
    assert "pw-not-used" not in done.stdout + done.stderr
    listed = ipbind_here("repair", exchange, env=env)
    assert listed.returncode == ExitCode.BAD_INPUT and refusal in listed.stderr


def test_exchanges_says_what_is_known_model_tested_verified_here_and_local_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPBIND_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("IPBIND_STATE_DIR", str(tmp_path / "state"))
    settings = load_settings(_env_file=None)
    binance, kraken = (
        KeyPlan(Target(x, "Altrady main", ["A"], altrady_ips(2))) for x in ("binance", "kraken")
    )
    results = [
        KeyResult(binance, "verified", altrady_ips(2)),
        KeyResult(kraken, "not verified", altrady_ips(1)),
    ]
    assert verified_live(settings, results) == ["binance"]  # the real site; kraken short
    mock_site = load_settings(binance={"base_url": "http://binance.localhost:8765"}, _env_file=None)
    assert verified_live(mock_site, results) == []  # a mock on this machine proves no site
    note_verified(settings.state_home, verified_live(settings, results), "2026-12-06")
    entries = {e["id"]: e for e in listing()}
    assert entries["binance"]["status"] == "model, verified here 2026-12-06"
    assert entries["binance"]["verified_here"] == "2026-12-06"
    assert entries["kraken"]["status"] == "model" and entries["kraken"]["local_fixes"] == 0
    assert entries["bitget"]["status"] == "by hand"


def test_the_installed_command_reads_the_fixes_into_the_flows_words(tmp_path: Path) -> None:
    """`ipbind` (and `python -m assistant`) build every flow's words with the local fixes,
    so that a later run finds the control wherever a flow looks for it, headless too."""
    folder = tmp_path / "overrides"
    folder.mkdir()
    (folder / "okx.toml").write_text(KEPT_FIX)
    probe = (
        "from assistant import paths; paths.fixes_at_import = True\n"
        "from flows import FLOWS\n"
        "okx, mexc = FLOWS['okx'].words.send_code, FLOWS['mexc'].words.send_code\n"
        "print(*(bool(p.search(t)) for p, t in"
        " ((okx, ' Get code '), (okx, 'Send code'), (mexc, 'Get code'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=command_env({"IPBIND_CONFIG": str(tmp_path / "config.toml")}),
        timeout=60,
    )
    assert done.stdout.split() == ["True", "True", "False"], done.stderr  # okx's alone
