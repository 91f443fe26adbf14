"""E-mailed codes and links from the person's mailbox over IMAP: a real dovecot (tests/imap.py)
that the mock sites deliver into. With `IPBIND_MAIL__*` set, a run needs no one at the
terminal; it reads only the exchange's newest message after its own start, marks nothing
read, and keeps nothing else. Assertions are on the mock server's state and the Maildir."""

from __future__ import annotations

from pathlib import Path

import pytest
from imap import flags, put
from playwright.sync_api import Browser
from pydantic import SecretStr, ValidationError
from support import altrady_ips, run_cli, settings_for, tiered, write_allocation, written

from assistant.errors import ExitCode, UserActionNeeded
from assistant.mail import Mailbox, MailSettings
from assistant.settings import BaseIpbindSettings
from fixtures.mockex import MockExchanges
from fixtures.mockex.sites import SITES

IPS = altrady_ips(3)
# Each exchange's job on its own seed (fixtures/seed/): a key and its addresses, or on Bybit
# a new key bound to Altrady. Huobi and OKX e-mail a code, Poloniex a link, Bybit a code.
JOBS = {
    "huobi": ("Altrady main 2", IPS),
    "poloniex": ("Altrady extra 1", IPS),
    "okx": ("Altrady main", IPS),
    "bybit": ("Altrady bench", []),
}


def job(
    mock: MockExchanges, site: str, tmp_path: Path, mail: MailSettings
) -> tuple[BaseIpbindSettings, Path]:
    """`site`'s job (JOBS) as an allocation file, and settings that read codes from `mail`."""
    account = next(iter(mock.site(site).accounts.values()))
    settings = settings_for(mock, site, tmp_path, secret=account.totp_secret)
    key, ips = JOBS[site]
    entry = {"exchange": site, "name": "Mine", "key": key} | ({"ips": ips} if ips else {})
    path = write_allocation(tmp_path / "allocation.toml", [entry])
    return settings.model_copy(update={"mail": mail}), path


@pytest.mark.parametrize("site", tiered(list(JOBS), fast={"huobi", "poloniex"}))
def test_with_no_terminal_the_mailed_code_or_link_comes_from_the_mailbox_and_nothing_else(
    site: str,
    mock: MockExchanges,
    mailbox: tuple[MailSettings, Path],
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conf, home = mailbox
    other = put(home, "Sam <sam@friends.example>", "Dinner on Friday", "Door code 482913.")
    older = put(  # the exchange's own, from before the run: never read, never used
        home, f"Exchange <no-reply@{site}.localhost>", "Your code", "Your code is 135790."
    )
    settings, path = job(mock, site, tmp_path, conf)
    key, ips = JOBS[site]

    # pytest's stdin is no terminal, and no stand-in plays the person: the mailbox or nothing.
    result = run_cli("apply", path, settings, browser, capsys, allow_count=True)

    assert result.code == ExitCode.OK, result.out
    state = next(iter(mock.state(site)["accounts"].values()))
    saved = SITES[site].saved(state, key)
    assert set(ips) <= set(saved) if ips else saved == ["Altrady"]
    assert mock.state(site)["inbox"], "the exchange e-mailed nothing: the test proves nothing"
    # Every message still unread (the one used read with PEEK), none gone.
    assert set(flags(home)) >= {other, older} and set(flags(home).values()) == {""}
    used = [str(m.get("code") or m["link"]) for m in mock.state(site)["inbox"]]
    for where, text in written(tmp_path / "runs"):
        for word in ("Dinner", "482913", "sam@friends", "135790", *used):
            assert word not in text, (where, word)
    assert "Dinner" not in result.out and "482913" not in result.out


def test_with_nothing_in_the_mailbox_the_run_stops_saying_what_it_waited_for(
    mock: MockExchanges,
    mailbox: tuple[MailSettings, Path],
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conf, _ = mailbox
    mock.deliver_mail_to(None)  # the exchange writes elsewhere
    settings, path = job(mock, "huobi", tmp_path, conf.model_copy(update={"wait": 1.0}))

    result = run_cli("apply", path, settings, browser, capsys, allow_count=True)

    assert result.code == ExitCode.USER_ACTION, result.out
    assert "no e-mail with the code for" in result.out
    assert f"mailbox {conf.username}, INBOX" in result.out
    state = next(iter(mock.state("huobi")["accounts"].values()))
    assert not set(IPS) & set(SITES["huobi"].saved(state, "Altrady main 2"))


def test_a_wrong_mail_password_stops_before_anything_changes(
    mock: MockExchanges,
    mailbox: tuple[MailSettings, Path],
    browser: Browser,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conf, _ = mailbox
    wrong = conf.model_copy(update={"password": SecretStr("not-the-Mail-passw0rd")})
    settings, path = job(mock, "huobi", tmp_path, wrong)

    result = run_cli("apply", path, settings, browser, capsys, allow_count=True)

    assert result.code == ExitCode.USER_ACTION, result.out
    assert "refused IPBIND_MAIL__USERNAME / __PASSWORD" in result.out
    assert mock.state("huobi")["inbox"] == []  # no code even asked for


@pytest.mark.parametrize("security", ["plain", "starttls"])
def test_no_unencrypted_mail_password_off_this_machine(security: str) -> None:
    with pytest.raises(ValidationError, match="only for a mail server on this machine"):
        MailSettings(host="imap.example.com", username="u", password="p", security=security)
    assert MailSettings(host="::1", username="u", password="p", security=security).address == (
        "::1",
        143,
    )
    assert MailSettings(host="imap.example.com", username="u", password="p").address == (
        "imap.example.com",
        993,
    )


def test_a_message_that_comes_during_the_wait_wakes_it(
    mailbox: tuple[MailSettings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """IMAP IDLE: the server tells of a message delivered while ipbind waits (no polling
    interval to sit out); the message comes after the mark, so it is the one read."""
    from email.message import EmailMessage

    from fixtures.mockex.core import deliver

    conf, home = mailbox
    put(home, "Exchange <no-reply@huobi.localhost>", "Your code", "Your code is 135790.")
    box = Mailbox(conf, "Huobi", ["huobi.localhost"], ["http://huobi.localhost:1"])
    box.mark()
    pushed: list[list[bytes]] = []
    idle = box._open().idle
    poll = idle.poll

    def arrives_while_idle(timeout: float | None) -> list[bytes]:
        message = EmailMessage()
        message["From"], message["Subject"] = "HTX <no-reply@huobi.localhost>", "Code"
        message.set_content("Your verification code: 246810")
        deliver(home, message)  # IDLE is on: only the server's word can wake the wait
        pushed.append(poll(timeout=60))
        return pushed[-1]

    monkeypatch.setattr(idle, "poll", arrives_while_idle)
    try:
        assert box.code("the test") == "246810"
    finally:
        box.close()
    assert pushed and any(b"EXISTS" in line for line in pushed[0])


def test_a_dropped_connection_is_made_again(mailbox: tuple[MailSettings, Path]) -> None:
    """A long run outlives an IMAP connection (servers end idle ones): ipbind connects again
    and still reads only after its mark."""
    conf, home = mailbox
    put(home, "Exchange <no-reply@huobi.localhost>", "Your code", "Your code is 135790.")
    box = Mailbox(conf, "Huobi", ["huobi.localhost"], ["http://huobi.localhost:1"])
    box.mark()
    box._open().client.shutdown()  # the connection is gone
    put(home, "HTX <no-reply@huobi.localhost>", "Code", "Your verification code: 246810")
    try:
        assert box.code("the test") == "246810"
    finally:
        box.close()


def test_a_missing_folder_is_named(mailbox: tuple[MailSettings, Path]) -> None:
    conf, _ = mailbox
    box = Mailbox(conf.model_copy(update={"folder": "Exchanges"}), "Huobi", ["huobi.localhost"], [])
    with pytest.raises(UserActionNeeded, match="has no folder 'Exchanges'"):
        box.mark()
