"""The binance flow end to end, through the CLI's code path, against the mock Binance.
Every test asserts the mock server's state, not only what ipbind printed."""

from __future__ import annotations

import json
import stat
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from support import (
    PASSWORD,
    SECRET,
    actions,
    altrady_ips,
    api_key,
    binance_seed,
    current_code,
    keys_of,
    run_cli,
    run_engine,
    settings_for,
    write_allocation,
)

from assistant.errors import ExitCode
from fixtures.mockex import MockExchanges

IPS = altrady_ips()


Seed = Callable[..., dict[str, Any]]


LAYOUTS = ["cards", "table"]
# On both layouts (the one its name does not draw in the full tier only).
BOTH = {"test_apply_adds_exactly_the_twenty_to_the_right_key"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The mock Binance has two layouts with different markup under one contract: the flow
    proven on markup it was not written against. The core test runs on both; the others are
    spread over the two by name (like the chaos seeds in conftest.py), so that each layout
    carries about half of them and the suite does not run every test twice."""
    if "layout" not in metafunc.fixturenames:
        return
    name = metafunc.function.__name__
    own = LAYOUTS[zlib.crc32(name.encode()) % 2]
    layouts = [
        layout if layout == own else pytest.param(layout, marks=pytest.mark.full)
        for layout in (LAYOUTS if name in BOTH else [own])
    ]
    metafunc.parametrize("layout", layouts)


@pytest.fixture
def seed(layout: str) -> Seed:
    """Seeds for the mock Binance in this test's layout."""

    def build(*keys: dict[str, Any], options: dict[str, Any] | None = None, **site: Any):
        return binance_seed(*keys, options={"layout": layout, **(options or {})}, **site)

    return build


@pytest.fixture
def seeded(mock: MockExchanges, seed: Seed) -> None:
    mock.reset(
        "binance",
        seed(
            {"label": "Altrady main"},
            {"label": "Altrady main (old)", "ips": ["198.51.100.1"]},
            {
                "label": "Personal bot",
                "ips": ["198.51.100.50", "198.51.100.51"],
                "spot_trading": True,
            },
        ),
    )


def allocation(tmp_path: Path, key: str = "Altrady main", ips: list[str] = IPS, **extra) -> Path:
    account = {"exchange": "binance", "name": "My Binance", "key": key, "ips": ips, **extra}
    return write_allocation(tmp_path / "allocation.toml", [account])


@pytest.mark.usefixtures("seeded")
@pytest.mark.wallclock  # real TOTP waits: one test per entry mode
def test_apply_adds_exactly_the_twenty_to_the_right_key(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    before = keys_of(mock, "binance")
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "binance", tmp_path, signed_in=False),
        browser,
        capsys,
    )

    assert result.code == ExitCode.OK, result.out
    after = keys_of(mock, "binance")
    assert after[0]["ips"] == IPS
    assert after[0]["restricted"] is True
    assert after[1:] == before[1:]  # the other keys, the near-namesake included, untouched
    assert len(actions(mock, "binance", "save")) == 1
    assert "verified" in result.out
    assert "click Update" in result.out


@pytest.mark.usefixtures("seeded")
def test_existing_addresses_are_kept_and_only_missing_ones_added(
    mock: MockExchanges, seed: Seed, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset(
        "binance",
        seed(
            {"label": "Altrady main", "ips": ["198.51.100.9", *IPS[:5]]},
        ),
    )
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(mock, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    assert keys_of(mock, "binance")[0]["ips"] == ["198.51.100.9", *IPS]
    [save] = actions(mock, "binance", "save")
    assert sorted(save["ips"]) == sorted(["198.51.100.9", *IPS])


@pytest.mark.full  # fast: test_guided's plan, which changes nothing either
@pytest.mark.usefixtures("seeded")
def test_plan_changes_nothing(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    before = mock.state("binance")["accounts"]
    result = run_cli(
        "plan", allocation(tmp_path), settings_for(mock, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    assert mock.state("binance")["accounts"] == before
    assert actions(mock, "binance", "save") == []
    assert "Altrady main" in result.out and "20" in result.out


@pytest.mark.usefixtures("seeded")
def test_verify_fails_while_addresses_are_missing_passes_after_apply_and_reapply_is_a_no_op(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    """Four runs back to back, each signing in afresh: none reuses a 2FA step the one
    before it used (the steps used are remembered, 0600, in the state folder). With
    IPBIND_PICTURES=false: each report says so, and no screenshot is kept."""
    settings = settings_for(mock, "binance", tmp_path, pictures=False, signed_in=False)
    missing = run_cli("verify", allocation(tmp_path), settings, browser, capsys)
    assert missing.code == ExitCode.NOT_VERIFIED
    assert actions(mock, "binance", "save") == []

    applied = run_cli("apply", allocation(tmp_path), settings, browser, capsys)
    verified = run_cli("verify", allocation(tmp_path), settings, browser, capsys)
    assert applied.code == verified.code == ExitCode.OK, applied.out + verified.out
    state = mock.state("binance")["accounts"]

    again = run_cli("apply", allocation(tmp_path), settings, browser, capsys)

    assert again.code == ExitCode.OK, again.out
    assert mock.state("binance")["accounts"] == state
    assert len(actions(mock, "binance", "save")) == 1
    assert "unchanged" in again.out
    assert len(mock.state("binance")["sign_ins"]) == 4
    outs = missing.out + applied.out + verified.out + again.out
    assert "refused" not in outs  # no "already used" at any sign-in or save
    memory = tmp_path / "state" / "totp-steps.json"  # beside the runs folder
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600
    assert stat.S_IMODE(memory.parent.stat().st_mode) == 0o700
    assert list(json.loads(memory.read_text())) == [mock.base_url("binance")]
    reports = sorted((tmp_path / "runs").glob("*/report/result.json"))
    assert len(reports) == 4 and not list((tmp_path / "runs").rglob("*.png"))
    for report in reports:
        [key] = json.loads(report.read_text())["keys"]
        assert key["picture"]["none_because"] == "pictures are off (IPBIND_PICTURES=false)"


# Full tier; fast: test_engine's prefix rule (match_key), and the API keys read off each shape
# of list in test_each_key_is_found_with_its_controls_in_each_shape_of_list.
@pytest.mark.full
@pytest.mark.usefixtures("seeded")
def test_key_found_by_api_key_prefix(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path, key=api_key(2)[:12]),
        settings_for(mock, "binance", tmp_path),
        browser,
        capsys,
    )

    assert result.code == ExitCode.OK, result.out
    assert keys_of(mock, "binance")[2]["ips"] == ["198.51.100.50", "198.51.100.51", *IPS]
    assert keys_of(mock, "binance")[0]["ips"] == []


@pytest.mark.usefixtures("seeded")
def test_unknown_key_stops_before_any_change_and_lists_the_keys(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    path = write_allocation(
        tmp_path / "two.toml",
        [
            {"exchange": "binance", "name": "Good", "key": "Altrady main", "ips": IPS},
            {
                "exchange": "binance",
                "name": "Typo",
                "key": "Altrady  mian",
                "ips": altrady_ips(start=100),
            },
        ],
    )
    result = run_cli("apply", path, settings_for(mock, "binance", tmp_path), browser, capsys)

    assert result.code == ExitCode.USER_ACTION
    assert "no key named 'Altrady  mian'" in result.out
    assert "'Altrady main (old)'" in result.out  # the candidates are listed
    assert actions(mock, "binance", "save") == []  # not even the good key was changed


@pytest.mark.usefixtures("seeded")
def test_over_the_limit_is_refused_before_any_change(
    mock: MockExchanges, seed: Seed, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset(
        "binance",
        seed(
            {"label": "Altrady main", "ips": altrady_ips(15, base="198.51.100")},
        ),
    )
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(mock, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.USER_ACTION
    assert "over the limit of 30" in result.out
    assert actions(mock, "binance", "save") == []


@pytest.mark.usefixtures("seeded")
def test_replace_removes_addresses_not_in_the_allocation(
    mock: MockExchanges, seed: Seed, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset(
        "binance",
        seed(
            {"label": "Altrady main", "ips": ["198.51.100.9", IPS[0]]},
        ),
    )
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "binance", tmp_path),
        browser,
        capsys,
        replace=True,
    )

    assert result.code == ExitCode.OK, result.out
    assert sorted(keys_of(mock, "binance")[0]["ips"]) == sorted(IPS)


@pytest.mark.usefixtures("seeded")
def test_wrong_totp_secret_fails_clearly_and_changes_nothing(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    wrong = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    settings = settings_for(mock, "binance", tmp_path, secret=wrong, signed_in=False)
    result = run_cli("apply", allocation(tmp_path), settings, browser, capsys)

    assert result.code == ExitCode.USER_ACTION
    assert "two authenticator codes in a row were refused" in result.out
    assert "IPBIND_BINANCE__TOTP_SECRET" in result.out
    assert actions(mock, "binance", "save") == []
    logs = "".join(p.read_text() for p in (tmp_path / "runs").rglob("debug.log"))
    for secret in (wrong, PASSWORD, SECRET):
        assert secret not in result.out
        assert secret not in logs


@pytest.mark.usefixtures("seeded")
def test_changed_label_fails_loudly_as_a_site_change(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.fault("binance", "page", "label_changed", label="Edit restrictions", to="Manage")
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(mock, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.SITE_CHANGED
    assert "report" in result.out
    assert actions(mock, "binance", "save") == []


@pytest.mark.full  # fast: test_secrets' binance run, and every run_cli's scan
@pytest.mark.usefixtures("seeded")
def test_secrets_stay_out_of_output_and_debug_log(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "binance", tmp_path),
        browser,
        capsys,
        verbose=2,
    )

    assert result.code == ExitCode.OK, result.out
    [log] = (tmp_path / "runs").rglob("debug.log")
    text = log.read_text()
    assert "signing in" in text  # the log is really there, and detailed
    for secret in (PASSWORD, SECRET):
        assert secret not in result.out
        assert secret not in text


@pytest.mark.usefixtures("seeded")
def test_a_captcha_headless_asks_for_a_headed_run_and_changes_nothing(
    mock: MockExchanges, seed: Seed, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("binance", seed({"label": "Altrady main"}, options={"captcha": True}))
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "binance", tmp_path, signed_in=False),
        browser,
        capsys,
    )

    assert result.code == ExitCode.USER_ACTION
    assert "Binance shows a puzzle" in result.out and "--headed" in result.out
    assert actions(mock, "binance", "save") == []


class PuzzleSolver:
    """The person at a headed browser: solves the slider when handed the page."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        self.asked.append(message)
        page.get_by_role("slider").press("End")
        expect(done).to_be_visible()


@pytest.mark.usefixtures("seeded")
def test_a_captcha_is_handed_to_the_person_and_the_run_goes_on(
    mock: MockExchanges, seed: Seed, browser: Browser, tmp_path: Path
) -> None:
    mock.reset("binance", seed({"label": "Altrady main"}, options={"captcha": True}))
    person = PuzzleSolver()
    results = run_engine(
        settings_for(mock, "binance", tmp_path, signed_in=False),
        allocation(tmp_path),
        browser,
        person,
    )

    assert person.asked == ["Binance shows a puzzle: solve it"]
    assert [r.status for r in results] == ["verified"]
    assert keys_of(mock, "binance")[0]["ips"] == IPS


@pytest.mark.usefixtures("seeded")
def test_nothing_is_typed_on_a_sign_in_page_of_another_origin(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.fault("binance", "page", "foreign_login")
    result = run_cli(
        "apply",
        allocation(tmp_path),
        settings_for(mock, "binance", tmp_path, signed_in=False),
        browser,
        capsys,
    )

    assert result.code == ExitCode.USER_ACTION
    assert "binance-login.localhost" in result.out and "nothing was typed there" in result.out
    assert mock.state("binance")["foreign_sign_ins"] == []  # the look-alike got nothing
    assert mock.state("binance")["sign_ins"] == []
    assert actions(mock, "binance", "save") == []


class SignsInThemselves:
    """A person at a headed browser with no password configured: signs in by hand."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.asked: list[str] = []

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        self.asked.append(message)
        page.get_by_label("Email/Phone number").fill(self.username)
        page.get_by_label("Password").fill(self.password)
        page.get_by_role("button", name="Log In").click()
        code = current_code(SECRET, 1)
        page.get_by_label("Authenticator App Code").fill(code)
        page.get_by_role("button", name="Submit").click()
        expect(done).to_be_visible()

    def sign_in_again(self, exchange: str, refused: Any, why: str, tries_left: int) -> None:
        return None  # they sign in in the window


@pytest.mark.usefixtures("seeded")
def test_without_a_password_the_person_signs_in_and_the_run_goes_on(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    account = next(iter(mock.site("binance").accounts.values()))
    settings = settings_for(
        mock, "binance", tmp_path, username=None, password=None, signed_in=False
    )
    person = SignsInThemselves(account.username, account.password)
    headed = settings.model_copy(update={"headless": False})
    results = run_engine(headed, allocation(tmp_path), browser, person)

    assert person.asked == ["sign in to Binance"]
    assert [r.status for r in results] == ["verified"]
    assert keys_of(mock, "binance")[0]["ips"] == IPS


class CarriesOnWithoutSigningIn(SignsInThemselves):
    """A person who presses Enter (twice) at the terminal before signing in."""

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        self.asked.append(message)


@pytest.mark.usefixtures("seeded")
def test_carrying_on_before_signing_in_is_said_so_not_a_changed_page(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    settings = settings_for(
        mock, "binance", tmp_path, username=None, password=None, signed_in=False
    )
    person = CarriesOnWithoutSigningIn("", "")
    headed = settings.model_copy(update={"headless": False})
    result = run_cli("plan", allocation(tmp_path), headed, browser, capsys, person=person)

    assert result.code == ExitCode.USER_ACTION, result.out
    assert "Binance: you have not signed in yet (its sign-in form still shows)" in result.out
    assert "may have changed" not in result.out and "assist" not in result.out
    assert person.asked == ["sign in to Binance"]


@pytest.mark.full  # fast: the key found among near-namesakes (apply_adds_exactly_the_twenty)
@pytest.mark.usefixtures("seeded")
def test_a_single_key_is_found_by_its_label(
    mock: MockExchanges, seed: Seed, browser: Browser, tmp_path: Path, capsys
) -> None:
    mock.reset("binance", seed({"label": "Altrady main"}))
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(mock, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.OK, result.out
    assert keys_of(mock, "binance")[0]["ips"] == IPS


# The fast tier: the shapes no other flow's fast test reads (huobi: cards, poloniex: grid,
# gate: table); the full tier, every shape.
@pytest.mark.parametrize(
    ("shape", "site_layout"),
    [
        pytest.param("table", "cards", marks=pytest.mark.full),
        pytest.param("grid", "table", marks=pytest.mark.full),
        pytest.param("cards", "table", marks=pytest.mark.full),
        ("regions", "cards"),
        ("dl", "table"),
    ],
)
def test_each_key_is_found_with_its_controls_in_each_shape_of_list(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, shape: str, site_layout: str
) -> None:
    """The key, beside a look-alike and another, in a list of each shape (either layout);
    API keys in the format the chaos seed draws (the seed gives none)."""
    mock.reset(
        "binance",
        binance_seed(
            {"label": "Altrady main (old)", "api_key": None, "ips": ["198.51.100.1"]},
            {"label": "Altrady main", "api_key": None, "ips": ["198.51.100.9"]},
            {"label": "Personal bot", "api_key": None},
            options={"layout": site_layout, "listShape": shape},
        ),
    )
    before = keys_of(mock, "binance")
    result = run_cli(
        "apply",
        allocation(tmp_path, ips=IPS[:2]),
        settings_for(mock, "binance", tmp_path),
        browser,
        capsys,
        allow_count=True,
    )

    assert result.code == ExitCode.OK, result.out
    after = keys_of(mock, "binance")
    assert after[1]["ips"] == ["198.51.100.9", *IPS[:2]]
    assert [after[0], after[2]] == [before[0], before[2]]


def test_an_account_with_no_keys_is_said_so_not_taken_for_a_changed_page(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    """With no key, the API page shows no "Edit restrictions" (and SITES.md names no heading
    to know it by): settled on the API path, off the login page, it is the API page."""
    mock.reset("binance", binance_seed())
    result = run_cli(
        "apply", allocation(tmp_path), settings_for(mock, "binance", tmp_path), browser, capsys
    )

    assert result.code == ExitCode.USER_ACTION, result.out
    assert "no key named 'Altrady main'" in result.out
    assert actions(mock, "binance", "save") == []
