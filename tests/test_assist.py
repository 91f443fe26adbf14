"""`ipbind assist`: a visible browser on the exchange's page with the addresses beside it;
the person (a scripted stand-in here) signs in and enters the list; ipbind then reads the
page and reports which allocated addresses it sees. Here on an exchange with no flow
(bitget, an "assisted" entry), its page given with --url: a mock site's API page."""

from __future__ import annotations

import os
import socket
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect
from support import (
    PASSWORD,
    altrady_ips,
    code_after,
    current_code,
    ipbind,
    seeded_account,
    write_allocation,
)

from assistant import browser
from assistant.assist import assist
from assistant.errors import ExitCode, UserActionNeeded
from assistant.output import ConsoleReporter
from assistant.runner import Options, run
from assistant.settings import load_settings
from fixtures.mockex import MockExchanges
from flows import FLOWS
from flows.base import Flow

IPS = altrady_ips(3)


@pytest.mark.headed
@pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="needs a display: `make test` runs the suite under xvfb-run",
)
@pytest.mark.long
def test_assist_on_an_exchange_with_no_flow_reports_what_the_page_shows(
    mock: MockExchanges, playwright: Playwright, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert FLOWS["bitget"].mode == "assisted"
    mock.reset(
        "cryptocom",
        {
            "latency_ms": [0, 60],
            "cookie_banner": False,  # the person would close it; not what this test is about
            # The person's codes are typed as they read them; on a busy machine one may reach
            # the server a step or two late (1 s steps in tests), as a real server allows.
            "totp_window": 5,
            "accounts": [seeded_account("trader@ipbind.test", keys=[{"name": "Altrady main"}])],
        },
    )
    site = mock.site("cryptocom")
    secret = next(iter(site.accounts.values())).totp_secret
    path = write_allocation(
        tmp_path / "allocation.toml",
        [{"exchange": "bitget", "name": "My Bitget", "key": "Altrady main", "ips": IPS}],
    )

    def person(page: Page) -> None:
        """Signs in, copies the list with the panel's "copy all", pastes two of the three
        addresses (the third is forgotten), saves, and presses Done in the panel."""
        panel = page.get_by_role("complementary", name="ipbind: addresses to whitelist")
        # A promotion the site shows now and then is closed, as a person closes it.
        promo = page.get_by_role("dialog").filter(has_text="20% off")
        page.add_locator_handler(promo, lambda d: d.get_by_role("button", name="Close").click())
        page.get_by_label("Email").fill("trader@ipbind.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log In").click()
        signed_in_with = current_code(secret, site.totp_period)
        page.get_by_label("2FA code").fill(signed_in_with)
        page.get_by_role("button", name="Submit").click()
        page.get_by_role("button", name="Edit").first.click()
        panel.get_by_role("button", name="Copy all of My Bitget (comma)").click()
        expect(
            panel.get_by_role("button", name="Copied: Copy all of My Bitget (comma)")
        ).to_be_visible()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == ",".join(IPS)
        panel.get_by_role("button", name=f"Copy {IPS[0]}").click()
        expect(panel.get_by_role("button", name=f"Copied: Copy {IPS[0]}")).to_be_visible()
        page.get_by_label("IP address").fill(",".join(IPS[:2]))
        page.get_by_role("button", name="Save").click()
        # The person sees the dialog asking for the code, whatever its title on this load.
        dialog = page.get_by_role("dialog").filter(has=page.get_by_label("2FA code"))
        dialog.get_by_label("2FA code").fill(
            code_after(secret, site.totp_period, signed_in_with)  # the site takes each once
        )
        dialog.get_by_role("button", name="Submit").click()
        expect(dialog).to_be_hidden()
        panel.get_by_role("button", name="Done").click()

    settings = load_settings(artifacts_dir=tmp_path / "runs", _env_file=None)
    url = mock.base_url("cryptocom") + site.api_path
    headed = browser.launch(playwright, headless=False)  # assist is always in a visible browser
    try:
        code = assist(
            path,
            url=url,
            settings=settings,
            allow_count=True,
            person=person,
            reporter=ConsoleReporter(),
            chromium=headed,
            run_dir=tmp_path / "run",  # -v: a trace, scrubbed of what the person typed
        )
    finally:
        headed.close()
    out = capsys.readouterr().out
    trace = tmp_path / "run" / "trace-bitget.zip"
    with zipfile.ZipFile(trace) as archive:
        recorded = b" ".join(archive.read(name) for name in archive.namelist())
    assert b"Log In" in recorded  # it is the person's session, recorded
    assert PASSWORD.encode() not in recorded
    assert secret.encode() not in recorded

    assert code == ExitCode.NOT_VERIFIED, out
    assert "bitget: My Bitget: 2 of 3 addresses seen" in out
    assert f"not seen: {IPS[2]}" in out
    keys = next(iter(mock.state("cryptocom")["accounts"].values()))["keys"]
    assert keys[0]["ips"] == IPS[:2]  # what the person saved, on the server


def test_plan_on_an_exchange_with_no_flow_points_to_assist(tmp_path: Path, capsys) -> None:
    path = write_allocation(
        tmp_path / "allocation.toml",
        [{"exchange": "bitget", "name": "My Bitget", "key": "main", "ips": altrady_ips(20)}],
    )
    settings = load_settings(artifacts_dir=tmp_path / "runs", _env_file=None)
    code = run("plan", path, Options(), settings=settings)  # no browser is ever started

    assert code == ExitCode.BAD_INPUT
    assert "`ipbind assist FILE`" in capsys.readouterr().err  # an error: on stderr


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port bound and not listening while it lasts: a connection is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def test_an_unreachable_page_is_one_line_naming_the_exchange_and_address(
    tmp_path: Path, browser: Browser, capsys
) -> None:
    path = write_allocation(
        tmp_path / "allocation.toml",
        [{"exchange": "bitget", "name": "My Bitget", "key": "main", "ips": altrady_ips(20)}],
    )
    settings = load_settings(artifacts_dir=tmp_path / "runs", _env_file=None)
    with closed_port() as port:
        address = f"http://127.0.0.1:{port}/api"
        code = assist(path, url=address, settings=settings, chromium=browser)
    out = "".join(capsys.readouterr())

    assert code == ExitCode.USER_ACTION, out
    assert f"Error: Bitget: could not open {address} (net::ERR_CONNECTION_REFUSED)" in out, out
    assert "on this computer" in out and "internet connection" not in out, out
    assert "Traceback" not in out


def test_a_refused_loopback_origin_points_to_the_local_server_not_the_internet(
    page: Page,
) -> None:
    flow = Flow.__new__(Flow)  # only its step(): no sign-in, no site
    flow.name = "Binance"  # type: ignore[misc]
    with closed_port() as port, pytest.raises(UserActionNeeded) as info:
        flow.origin = f"http://127.0.0.1:{port}"
        with flow.step("opening the API page"):
            page.goto(f"{flow.origin}/api")
    refused = f"could not reach http://127.0.0.1:{port} (net::ERR_CONNECTION_REFUSED)"
    assert refused in info.value.message, info.value.message
    assert info.value.hint is not None and "not running" in info.value.hint
    assert "internet connection" not in info.value.hint


def test_with_v_an_error_is_printed_once(tmp_path: Path) -> None:
    """-v shows the run's steps on stderr; the error that ends it is told once, in its own
    words, not also as a log line."""
    file = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "kraken", "name": "K", "key": "Altrady main", "ips": IPS}],
    )
    with closed_port() as port:
        env = {
            "IPBIND_CONFIG": str(tmp_path / "c"),
            "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
            "IPBIND_KRAKEN__USERNAME": "me",
            "IPBIND_KRAKEN__PASSWORD": "pw-for-this-test",
            "IPBIND_KRAKEN__TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "IPBIND_KRAKEN__BASE_URL": f"http://127.0.0.1:{port}",
        }
        done = ipbind("-v", "plan", str(file), "--allow-count", env=env)  # a browser of its own
    assert done.returncode == ExitCode.USER_ACTION, done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("net::ERR_CONNECTION_REFUSED") == 1, done.stderr
