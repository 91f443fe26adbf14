"""`ipbind check` and `ipbind watch`: unattended verifies that tell what is wrong, to a webhook
(a loopback HTTP server here), by e-mail (a real SMTP server, aiosmtpd, on loopback) and on
the desktop, with the timer's exit codes: 0 all good, 1 an address missing, 4 a page changed.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pexpect
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser
from support import (
    actions,
    altrady_ips,
    binance_seed,
    command_env,
    ended,
    keys_of,
    leaks,
    settings_for,
    site_env,
    write_allocation,
    written,
)

from assistant import check as checks
from assistant import notify
from assistant.errors import BadInput, ExitCode, SiteChanged
from assistant.notify import NotifySettings
from assistant.outcome import KeyPlan, KeyResult, Target
from assistant.runner import Options
from fixtures.mockex import MockExchanges

IPS = altrady_ips()
OTHER = "198.51.100.7"  # the person's own address on the key, kept
TOKEN = "T0ken-of-the-hook-5e1f"  # a webhook URL's secret part, as Slack's and Discord's


class Webhook:
    """A webhook on loopback that keeps what is posted to it."""

    def __init__(self) -> None:
        posts: list[dict[str, Any]] = []
        self.posts = posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append({"path": self.path, **json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


class Inbox:
    """What a real SMTP server on loopback was sent."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def binance_holding(mock: MockExchanges, ips: list[str]) -> None:
    mock.reset("binance", binance_seed({"label": "Altrady main", "ips": ips}))


def allocation(tmp_path: Path) -> Path:
    account = {"exchange": "binance", "name": "My Binance", "key": "Altrady main", "ips": IPS}
    return write_allocation(tmp_path / "allocation.toml", [account])


def test_a_check_that_finds_two_addresses_lost_exits_1_and_the_webhook_names_them(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, webhook: Webhook
) -> None:
    binance_holding(mock, [*IPS[:18], OTHER])
    settings = settings_for(mock, "binance", tmp_path).model_copy(
        update={"notify": NotifySettings(webhook=webhook.url, desktop=False)}  # type: ignore[arg-type]
    )

    code = checks.check(allocation(tmp_path), Options(), settings=settings, chromium=browser)
    out = capsys.readouterr()

    assert code == ExitCode.NOT_VERIFIED, out.out + out.err
    [post] = webhook.posts
    [finding] = post["findings"]
    assert finding["kind"] == "lost"
    assert finding["addresses"] == IPS[18:]
    assert (finding["exchange"], finding["key"]) == ("Binance", "Altrady main")
    assert all(ip in post["text"] for ip in IPS[18:]), post["text"]
    assert "Told the webhook: 1 problem" in out.out
    # Nothing was changed: a check only reads.
    assert actions(mock, "binance", "save") == []
    assert keys_of(mock, "binance")[0]["ips"] == [*IPS[:18], OTHER]
    # The hook's token is a secret: in no output, log or report.
    hook = {"the webhook's token": TOKEN}
    assert leaks(out.out + out.err, hook) == []
    for path, text in written(settings.artifacts_dir):
        assert leaks(text, hook) == [], path


@pytest.mark.full  # fast: the lost addresses above; notify's findings below
def test_a_whole_list_exits_0_and_tells_no_one(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, webhook: Webhook
) -> None:
    binance_holding(mock, [OTHER, *IPS])
    settings = settings_for(mock, "binance", tmp_path).model_copy(
        update={"notify": NotifySettings(webhook=webhook.url, desktop=False)}  # type: ignore[arg-type]
    )

    code = checks.check(allocation(tmp_path), Options(), settings=settings, chromium=browser)

    assert code == ExitCode.OK, capsys.readouterr().out
    assert webhook.posts == []


@pytest.mark.full  # fast: notify's findings below name a changed page
def test_a_changed_page_exits_4_and_is_told_by_e_mail(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys
) -> None:
    binance_holding(mock, IPS)
    mock.fault("binance", "page", "label_changed", label="Edit restrictions", to="Continue ›")
    inbox = Inbox()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        conf = NotifySettings(
            email="me@example.com",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="plain",
            desktop=False,
        )
        settings = settings_for(mock, "binance", tmp_path).model_copy(update={"notify": conf})
        code = checks.check(allocation(tmp_path), Options(), settings=settings, chromium=browser)
    finally:
        smtp.stop()
    out = capsys.readouterr().out

    assert code == ExitCode.SITE_CHANGED, out
    [raw] = inbox.messages
    message = message_from_bytes(raw, policy=policy.default)
    assert message["To"] == "me@example.com"
    assert message["Subject"] == "ipbind: 1 problem with your Altrady whitelists"
    body = message.get_content()  # type: ignore[attr-defined]
    assert "Binance · My Binance · 'Altrady main': not checked, the page has changed" in body
    assert "Told me@example.com by e-mail" in out


def result(exchange: str, key: str, ips: list[str], current: list[str], **kw: Any) -> KeyResult:
    plan_fields = {k: kw.pop(k) for k in ("pending", "error", "create") if k in kw}
    plan = KeyPlan(Target(exchange, key, ["A"], ips), current=current, **plan_fields)
    return KeyResult(plan, kw.pop("status", "not verified"), kw.pop("after", current), **kw)


def test_what_a_check_finds_is_told_key_by_key_in_words() -> None:
    ips = altrady_ips(3)
    found = notify.findings(
        [
            result("kraken", "whole", ips, [*ips, OTHER], status="verified"),
            result("kraken", "lost one", ips, ips[:2]),
            result("huobi", "bare", ips, []),  # Huobi expires unrestricted keys
            result("poloniex", "pending", ips, [], pending="Pending email confirmation"),
            result(
                "binance",
                "moved",
                ips,
                [],
                status="failed",
                after=None,
                error=SiteChanged("no 'Edit restrictions' button"),
            ),
            result("bybit", "Altrady", [], [], create=True),  # the bound key is gone
        ]
    )
    by_key = {f.key: f for f in found}

    assert "whole" not in by_key
    assert by_key["lost one"].kind == "lost"
    assert by_key["lost one"].addresses == ips[2:]
    assert "1 address of its 3 missing: 203.0.113.12" in by_key["lost one"].text
    assert by_key["bare"].kind == "unrestricted"
    assert "after 90 days" in by_key["bare"].text
    assert by_key["pending"].kind == "pending"
    assert "Pending email confirmation" in by_key["pending"].text
    assert by_key["moved"].kind == "page changed"
    assert by_key["Altrady"].kind == "lost"
    assert "no such key now" in by_key["Altrady"].text


def test_notify_settings_refuse_what_would_leak_or_cannot_send() -> None:
    with pytest.raises(ValueError, match="https://"):
        NotifySettings(webhook="http://hooks.example.com/T0ken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="smtp_host"):
        NotifySettings(email="me@example.com")
    with pytest.raises(ValueError, match="only for a mail server on this machine"):
        NotifySettings(email="me@example.com", smtp_host="mail.example.com", smtp_security="plain")
    assert NotifySettings(webhook="http://127.0.0.1:9/x").webhook is not None  # type: ignore[arg-type]


def test_every_reads_units_and_refuses_what_it_cannot_read() -> None:
    assert checks.parse_every("6h") == 6 * 3600
    assert checks.parse_every("1h30m") == 5400
    assert checks.parse_every("90s") == 90
    assert checks.parse_every("1d") == 86400
    for bad in ("6", "5q", "h", "0s", "-1h"):
        with pytest.raises(BadInput, match="--every"):
            checks.parse_every(bad)


def test_the_install_hint_runs_this_check_of_this_file_every_six_hours(tmp_path: Path) -> None:
    file = allocation(tmp_path)
    hint = checks.install_hint(file, allow_count=True)

    assert f"check --allow-count {file.resolve()}" in hint
    assert "OnCalendar=*-*-* 00/6:00:00" in hint
    assert "systemctl --user daemon-reload && systemctl --user enable --now" in hint
    assert "*/6 * * *" in hint  # the cron line


def test_watch_checks_then_waits_and_a_sigterm_ends_the_wait_at_once(
    mock: MockExchanges, tmp_path: Path
) -> None:
    """An hour between checks: a SIGTERM during the wait ends it with 143, not an hour
    later (`ended` gives it 20 s), after exactly one check."""
    binance_holding(mock, [OTHER, *IPS])
    env = command_env(
        site_env(mock, "binance", tmp_path)
        | {"IPBIND_NOTIFY__DESKTOP": "false", "PYTHONFAULTHANDLER": "1"}
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "watch", str(allocation(tmp_path)), "--every", "1h"],
        env=env,
        cwd=tempfile.gettempdir(),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    child.expect(r"Next check in (\d+ h )?\d+ min")
    checked = child.before
    child.kill(signal.SIGTERM)
    text = ended(child, timeout=20)

    assert child.exitstatus == ExitCode.TERMINATED, text
    assert "Traceback" not in text
    assert "verified" in checked
    assert len(mock.state("binance")["sign_ins"]) == 1
