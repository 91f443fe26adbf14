"""What `check` and `watch` say when a whitelist is no longer whole (`IPBIND_NOTIFY__*`):
to a webhook, by e-mail over SMTP, and on the desktop.

A finding is built from names and addresses only (an allocated address is not a secret;
passwords, codes and keys never reach a finding). The webhook's URL often holds a token of
its own (Slack's, Discord's, ntfy's topic), and the SMTP password is one: both are masked in
every log line, like every other secret.

- webhook: one POST of JSON, `{"text": …, "findings": [{kind, exchange, account, key,
  addresses, text}, …]}` ("text" is what Slack, Mattermost and most chat hooks show).
  https, or http only to this machine.
- e-mail: one message to `EMAIL` through `SMTP_HOST` (TLS from the first byte by default;
  STARTTLS, or none, only to this machine, as the IMAP settings).
- desktop: notify-send (Linux, with a desktop session) or osascript (macOS); where there is
  no desktop it is quietly left out: the findings are in the output and the log anyway.

The standard library does each of these in a few lines; a library that knows a hundred
services (apprise) would bring more than it gives here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Literal

from loguru import logger
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from assistant.errors import ExitCode, first_line
from assistant.logs import redactor
from assistant.net import is_loopback_url
from assistant.outcome import ACCOUNT_LIST, KeyResult
from assistant.words import count
from flows import FLOWS

Security = Literal["tls", "starttls", "plain"]
SMTP_PORTS: dict[Security, int] = {"tls": 465, "starttls": 587, "plain": 25}
SEND_TIMEOUT_S = 15
Kind = Literal["lost", "unrestricted", "pending", "page changed", "not checked"]


class NotifySettings(BaseModel):
    """IPBIND_NOTIFY__WEBHOOK; __EMAIL with __SMTP_HOST, __SMTP_PORT, __SMTP_USERNAME,
    __SMTP_PASSWORD, __SMTP_SECURITY, __SENDER; __DESKTOP."""

    webhook: SecretStr | None = None
    email: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Security = "tls"
    sender: str | None = None  # the From address; EMAIL when not set
    desktop: bool = True

    @field_validator("webhook")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        if url.startswith("https://") or (url.startswith("http://") and is_loopback_url(url)):
            return value
        # Not the URL itself in the message: it may hold a token.
        raise ValueError("webhook: an https:// URL (http:// only to this machine)")

    @model_validator(mode="after")
    def _mail_needs_a_server(self) -> NotifySettings:
        if self.email and not self.smtp_host:
            raise ValueError("email: set smtp_host too (IPBIND_NOTIFY__SMTP_HOST)")
        if (
            self.smtp_host
            and self.smtp_security != "tls"
            and not is_loopback_url(
                f"smtp://[{self.smtp_host}]"
                if ":" in self.smtp_host
                else f"smtp://{self.smtp_host}"
            )
        ):
            raise ValueError(
                f"smtp_security = {self.smtp_security!r} is only for a mail server on this "
                f"machine, not {self.smtp_host!r}: the password would cross the network "
                "unprotected; use 'tls'"
            )
        return self

    def secret_values(self) -> list[str]:
        return [s.get_secret_value() for s in (self.webhook, self.smtp_password) if s]


@dataclass
class Finding:
    kind: Kind
    exchange: str
    account: str
    key: str
    text: str
    addresses: list[str] = field(default_factory=list)


def findings(results: list[KeyResult]) -> list[Finding]:
    """What a check found wrong, key by key; nothing for a key that is whole."""
    found: list[Finding] = []
    for result in results:
        target = result.plan.target
        flow = FLOWS[target.exchange]
        accounts = ", ".join(target.accounts)
        key = "the account's allow list" if target.key == ACCOUNT_LIST else repr(target.key)
        seen = judge(result, f"{flow.name} · {accounts} · {key}")
        if seen is not None:
            kind, text, addresses = seen
            found.append(Finding(kind, flow.name, accounts, target.key, text, addresses))
    return found


def judge(result: KeyResult, where: str) -> tuple[Kind, str, list[str]] | None:
    flow = FLOWS[result.plan.target.exchange]
    missing = result.missing
    error = result.error or result.plan.error
    if error is not None and error.exit_code == ExitCode.SITE_CHANGED:
        return (
            "page changed",
            f"{where}: not checked, the page has changed ({error.message}). "
            "`ipbind assist FILE` shows you the page; please report it.",
            [],
        )
    if error is not None:
        return "not checked", f"{where}: not checked: {error.message}", []
    if result.plan.pending and missing:
        return (
            "pending",
            f"{where}: {count(len(missing), 'address')} saved but not in effect yet: "
            f"{result.plan.pending}",
            missing,
        )
    if result.known == [] and flow.unrestricted:
        return (
            "unrestricted",
            f"{where}: the key has no IP whitelist at all; {flow.name} expires or strips such "
            f"keys after {flow.unrestricted}. `ipbind apply FILE` restricts it.",
            missing,
        )
    if missing:
        them = "it" if len(missing) == 1 else "them"
        return (
            "lost",
            f"{where}: {count(len(missing), 'address')} of its "
            f"{len(result.plan.target.ips)} missing: {', '.join(missing)}. "
            f"`ipbind apply FILE` adds {them} again.",
            missing,
        )
    if result.unknown:
        return "not checked", f"{where}: its whitelist could not be read", []
    if result.status == "not verified":  # a key bound to Altrady (Bybit): gone, or rebound
        return (
            "lost",
            f"{where}: not bound to Altrady as the file asks"
            + (" (there is no such key now)" if result.plan.create else "")
            + ". `ipbind apply FILE` sets it right.",
            [],
        )
    return None


def reaches(conf: NotifySettings) -> list[str]:
    """The channels set up that can reach the person from here, in words."""
    told = ["the webhook"] if conf.webhook else []
    told += [f"{conf.email} by e-mail"] if conf.email else []
    return told + (["the desktop"] if conf.desktop and has_desktop() else [])


def channels(conf: NotifySettings) -> list[str]:
    """Each channel and whether it is set up, for `ipbind doctor`."""
    hook = "set (hidden: it may hold a token)" if conf.webhook else "not set (__WEBHOOK)"
    mail = "not set (__EMAIL, with __SMTP_HOST)"
    if conf.email and conf.smtp_host:
        port = conf.smtp_port or SMTP_PORTS[conf.smtp_security]
        mail = f"to {conf.email} through {conf.smtp_host}:{port} ({conf.smtp_security})"
    sender = has_desktop()
    desk = (
        "off (__DESKTOP=false)"
        if not conf.desktop
        else f"yes ({sender})"
        if sender
        else "no desktop session here (or no notify-send): left out"
    )
    return [f"webhook: {hook}", f"e-mail: {mail}", f"desktop: {desk}"]


def headline(found: list[Finding]) -> str:
    return f"ipbind: {count(len(found), 'problem')} with your Altrady whitelists"


def send(found: list[Finding], conf: NotifySettings) -> list[str]:
    """Tells each channel set up; returns what could not be told, in words (a channel that
    fails never stops the others, nor changes the check's exit code)."""
    redactor.add(*conf.secret_values())
    text = "\n".join([headline(found), *(f"- {f.text}" for f in found)])
    failed: list[str] = []
    if conf.webhook is not None:
        try:
            webhook(conf.webhook.get_secret_value(), text, found)
        except (OSError, urllib.error.URLError) as err:
            failed.append(f"the webhook: {redactor(first_line(err))}")
    if conf.email:
        try:
            mail(conf, text, found)
        except (OSError, smtplib.SMTPException) as err:
            failed.append(f"the e-mail to {conf.email}: {redactor(first_line(err))}")
    if conf.desktop:
        desktop(f"{headline(found)}: {found[0].text}" + (" …" if len(found) > 1 else ""))
    for problem in failed:
        logger.warning("could not notify {}", problem)
    return failed


def webhook(url: str, text: str, found: list[Finding]) -> None:
    body = json.dumps({"text": text, "findings": [asdict(f) for f in found]}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as response:
        response.read()


def mail(conf: NotifySettings, text: str, found: list[Finding]) -> None:
    assert conf.smtp_host and conf.email  # checked by the settings
    message = EmailMessage()
    message["Subject"] = headline(found)
    message["From"] = conf.sender or conf.email
    message["To"] = conf.email
    message.set_content(text + "\n")
    port = conf.smtp_port or SMTP_PORTS[conf.smtp_security]
    context = ssl.create_default_context()
    server: smtplib.SMTP
    if conf.smtp_security == "tls":
        server = smtplib.SMTP_SSL(conf.smtp_host, port, timeout=SEND_TIMEOUT_S, context=context)
    else:
        server = smtplib.SMTP(conf.smtp_host, port, timeout=SEND_TIMEOUT_S)
    with server:
        if conf.smtp_security == "starttls":
            server.starttls(context=context)
        if conf.smtp_username and conf.smtp_password:
            server.login(conf.smtp_username, conf.smtp_password.get_secret_value())
        server.send_message(message)


def has_desktop() -> str | None:
    """The program that shows a desktop notification here, if there is a desktop session."""
    if sys.platform == "darwin":
        return shutil.which("osascript")
    session = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and session:
        return shutil.which("notify-send")
    return None


def desktop(text: str) -> None:
    """A desktop notification where there is a desktop session; else nothing (a courtesy)."""
    sender = has_desktop()
    if sender is None:
        return
    args = (
        [sender, "-e", f'display notification {json.dumps(text)} with title "ipbind"']
        if sys.platform == "darwin"
        else [sender, "ipbind", text]
    )
    with contextlib.suppress(OSError):
        subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
