"""The person's mailbox over IMAP: the code or link an exchange has just e-mailed, taken
without a person at the terminal (`IPBIND_MAIL__*`).

What is read, and nothing more: at the exchange's first step ipbind notes where the mailbox
ends (its next UID); when the exchange has e-mailed a code or link, it asks the server for
the messages after that from the exchange's own domain (an IMAP SEARCH: the server matches,
ipbind sees only the numbers of those messages) and reads the newest one, without marking
it read (BODY.PEEK). Other mail is never fetched, logged or kept, and its flags are never
touched. The code or link is masked in every log line from then on.

imap-tools (well kept, typed, a thin layer over the standard library's imaplib) over
IMAPClient: both would do; imap-tools' search criteria builder and its IDLE helper are all
this needs, with no further dependency.
"""

from __future__ import annotations

import imaplib
import re
import time
from collections.abc import Callable, Iterable
from html import unescape
from typing import Literal
from urllib.parse import urlsplit

from imap_tools import AND, OR, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError
from imap_tools.message import MailMessage
from loguru import logger
from pydantic import BaseModel, Field, SecretStr, model_validator

from assistant.errors import UserActionNeeded
from assistant.logs import redactor
from assistant.net import is_loopback_url

Security = Literal["tls", "starttls", "plain"]
PORTS: dict[Security, int] = {"tls": 993, "starttls": 143, "plain": 143}
IDLE_S = 2.0  # each IDLE (or poll) lasts this long: a stop is heard between two
CODE = re.compile(r"(?<![\d-])\d{6}(?![\d-])")  # what exchanges send: six digits
SHORTER_CODE = re.compile(r"(?<![\d-])\d{4,8}(?![\d-])")
URL = re.compile(r"https?://[^\s\"'<>]+")
TAG = re.compile(r"<[^>]+>")


class MailSettings(BaseModel):
    """IPBIND_MAIL__HOST, __PORT, __USERNAME, __PASSWORD, __FOLDER, __SECURITY, __WAIT."""

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str
    password: SecretStr
    folder: str = "INBOX"
    # TLS from the first byte by default; STARTTLS, or none at all, only to this machine.
    security: Security = "tls"
    wait: float = Field(default=180, gt=0, description="seconds to wait for the e-mail")

    @model_validator(mode="after")
    def _encrypted_unless_local(self) -> MailSettings:
        if self.security != "tls" and not is_loopback_url(
            f"imap://[{self.host}]" if ":" in self.host else f"imap://{self.host}"
        ):
            raise ValueError(
                f"security = {self.security!r} is only for a mail server on this machine "
                f"(127.0.0.1, ::1, localhost), not {self.host!r}: the password would cross "
                "the network unprotected (or before TLS is in place); use 'tls'"
            )
        return self

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port or PORTS[self.security]


class Mailbox:
    """One exchange's mail in the person's mailbox, for one run: `mark` where it ends now,
    then `code` and `link` each take the newest message from the exchange after the last
    one taken (or after the mark)."""

    def __init__(
        self,
        conf: MailSettings,
        exchange: str,
        senders: Iterable[str],
        origins: Iterable[str],
        checkpoint: Callable[[], None] | None = None,
    ):
        self.conf = conf
        self.exchange = exchange  # its name, for the messages
        self.senders = tuple(dict.fromkeys(s.lower() for s in senders if s))
        self.origins = {o.lower().rstrip("/") for o in origins}
        self.checkpoint = checkpoint  # raises once the run is being stopped
        self._box: BaseMailBox | None = None
        self._after: int | None = None  # the last UID not to read
        redactor.add(conf.password.get_secret_value())

    def mark(self) -> None:
        """Notes where the mailbox ends: nothing older is ever read. Once per run."""
        if self._after is not None:
            return
        box = self._open()
        status = box.folder.status(self.conf.folder, ["UIDNEXT"])
        self._after = int(status["UIDNEXT"]) - 1
        logger.debug(
            "{}: mail: watching {} after UID {}", self.exchange, self.conf.folder, self._after
        )

    def code(self, purpose: str) -> str:
        """The code in the exchange's newest message after the last one taken."""
        return self._next(purpose, "code", code_in)

    def link(self, purpose: str) -> str:
        """The link, on the exchange's own origin, in its newest message after the last."""
        return self._next(purpose, "link", lambda m: link_in(m, self.origins))

    def close(self) -> None:
        if self._box is not None:
            try:
                self._box.logout()
            except Exception as err:  # the server may have gone: nothing is lost
                logger.debug("mail: logout: {}", type(err).__name__)
            self._box = None

    # -- inside --------------------------------------------------------------------------

    def _open(self) -> BaseMailBox:
        if self._box is not None:
            return self._box
        host, port = self.conf.address
        kind = {"tls": MailBox, "starttls": MailBoxStartTls, "plain": MailBoxUnencrypted}
        try:
            box = kind[self.conf.security](host, port, timeout=30)
            box.login(self.conf.username, self.conf.password.get_secret_value(), self.conf.folder)
        except MailboxLoginError:
            raise UserActionNeeded(
                f"the mail server at {host}:{port} refused IPBIND_MAIL__USERNAME / __PASSWORD",
                hint="Check them (an app password, where the provider asks for one).",
            ) from None
        except MailboxFolderSelectError:
            raise UserActionNeeded(
                f"the mailbox {self.conf.username} has no folder {self.conf.folder!r}",
                hint="Check IPBIND_MAIL__FOLDER (INBOX unless the exchange's mail is filed).",
            ) from None
        except (OSError, imaplib.IMAP4.abort) as err:
            raise UserActionNeeded(
                f"cannot reach the mail server at {host}:{port} ({type(err).__name__}: {err})",
                hint="Check IPBIND_MAIL__HOST, __PORT and __SECURITY.",
            ) from None
        self._box = box
        return box

    def _next(self, purpose: str, what: str, find: Callable[[MailMessage], str | None]) -> str:
        box = self._open()
        if self._after is None:
            self.mark()
        assert self._after is not None
        logger.info("{}: waiting for the e-mailed {} for {}", self.exchange, what, purpose)
        idle = "IDLE" in box.client.capabilities
        deadline = time.monotonic() + self.conf.wait
        while True:
            if self.checkpoint is not None:
                self.checkpoint()
            try:
                found = self._newest(box, find)
            except (OSError, imaplib.IMAP4.abort) as err:  # the connection dropped: once more
                logger.debug("{}: mail: {}; connecting again", self.exchange, type(err).__name__)
                self._box = None
                box = self._open()
                found = self._newest(box, find)
            if found is not None:
                uid, value = found
                self._after = uid
                redactor.add(value)
                logger.info("{}: the {} for {} came by e-mail", self.exchange, what, purpose)
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise UserActionNeeded(
                    f"{self.exchange}: no e-mail with the {what} for {purpose} came within "
                    f"{self.conf.wait:.0f} s (mailbox {self.conf.username}, {self.conf.folder})",
                    hint="Check that the exchange writes to this mailbox, and its spam folder; "
                    "IPBIND_MAIL__WAIT gives it longer.",
                )
            if idle:
                box.idle.wait(timeout=min(left, IDLE_S))
            else:
                time.sleep(min(left, IDLE_S))

    def _newest(
        self, box: BaseMailBox, find: Callable[[MailMessage], str | None]
    ) -> tuple[int, str] | None:
        """The newest message from the exchange after `_after` that holds what `find`
        finds; only the matching messages' numbers come back from the server's search."""
        assert self._after is not None
        # A server may evaluate SEARCH on its view from the last sync; NOOP syncs it first
        # (dovecot does not see a message delivered since the last command otherwise).
        box.client.noop()
        senders = (
            OR(from_=list(self.senders)) if len(self.senders) > 1 else AND(from_=self.senders[0])
        )
        uids = [int(u) for u in box.uids(AND(senders, uid=f"{self._after + 1}:*"))]
        for uid in sorted((u for u in uids if u > self._after), reverse=True):
            for message in box.fetch(AND(uid=str(uid)), mark_seen=False):
                value = find(message)
                if value:
                    return uid, value
        return None


def text_of(message: MailMessage) -> str:
    """The message's subject and text: the plain part, else the HTML part's words."""
    body = message.text or unescape(TAG.sub(" ", message.html or ""))
    return f"{message.subject}\n{body}"


def code_in(message: MailMessage) -> str | None:
    text = text_of(message)
    found = CODE.search(text) or SHORTER_CODE.search(text)
    return found.group(0) if found else None


def link_in(message: MailMessage, origins: set[str]) -> str | None:
    """The first link in the message on one of `origins` (never one elsewhere: a message
    that only looks like the exchange's cannot send the browser off to another site)."""
    hrefs = re.findall(r"href=[\"']([^\"']+)[\"']", message.html or "")
    for url in [*URL.findall(message.text or ""), *(unescape(h) for h in hrefs)]:
        parts = urlsplit(url.rstrip(".,;)"))
        if f"{parts.scheme}://{parts.netloc}".lower() in origins:
            return url.rstrip(".,;)")
    return None


def senders_of(origins: Iterable[str], exchange_id: str) -> list[str]:
    """What the exchange's mail comes from, as IMAP's FROM matches it (a part of the From
    header): each origin's domain without its first label where it has more than two
    ("www.okx.com" -> "okx.com"; "huobi.localhost" stays)."""
    found = []
    for origin in origins:
        host = (urlsplit(origin).hostname or "").lower()
        labels = host.split(".")
        found.append(".".join(labels[-2:]) if len(labels) > 2 else host)
    return [*dict.fromkeys(found)] or [exchange_id]
