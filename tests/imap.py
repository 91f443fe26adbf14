"""A real IMAP server for the tests: Debian's dovecot (`dovecot-imapd`, which `make test`
installs), started in the foreground on 127.0.0.1 from a throwaway config, one passwd-file
user per test, stopped by its PID. The mock sites deliver what they e-mail into the user's
Maildir (`Site.maildir`); ipbind reads it over IMAP as it would the person's mailbox."""

from __future__ import annotations

import mailbox
import os
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from assistant.mail import MailSettings

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """One dovecot for a test worker; `user()` makes a fresh mailbox for each test."""

    def __init__(self) -> None:
        if not os.path.exists(DOVECOT):
            raise RuntimeError(
                "no dovecot here: `make test` installs Debian's dovecot-imapd (the e-mail tests "
                "read codes from a real IMAP server)"
            )
        # Short: dovecot's sockets live under it, and a socket path has a length limit.
        self.root = Path(tempfile.mkdtemp(prefix="dv"))
        os.chmod(self.root, 0o755)
        # The mail user cannot be root: as root, nobody (65534); else whoever runs the tests.
        self.uid, self.gid = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
        me = "dovenull" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        for part in ("run", "state", "mail"):
            (self.root / part).mkdir()
        if os.geteuid() == 0:
            os.chown(self.root / "mail", self.uid, self.gid)
        # Every user up front: a user added to the passwd-file within a second of dovecot's
        # last read of it was refused (seen: dovecot judges the file unchanged by its mtime).
        self.users = [(f"person{n}@mail.test", f"pw-{os.urandom(6).hex()}") for n in range(500)]
        (self.root / "users").write_text(
            "".join(
                f"{name}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{self.root / 'mail' / name}::\n"
                for name, password in self.users
            )
        )
        self.port = free_port()
        config = self.root / "dovecot.conf"
        config.write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                login_user=me,
                internal_user="dovecot" if os.geteuid() == 0 else me,
            )
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while True:  # up when it takes a connection
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.root / "dovecot.log"
                    raise RuntimeError(
                        "dovecot did not start: " + (log.read_text() if log.exists() else "")
                    ) from None
                time.sleep(0.05)
        self.count = 0

    def user(self) -> tuple[MailSettings, Path]:
        """A new mailbox: the settings that read it, and its Maildir."""
        name, password = self.users[self.count]
        self.count += 1
        home = self.root / "mail" / name
        maildir = mailbox.Maildir(home, create=True)
        del maildir
        for path in (home, *(home / part for part in ("cur", "new", "tmp"))):
            os.chmod(path, 0o700)
            if os.geteuid() == 0:
                os.chown(path, self.uid, self.gid)
        settings = MailSettings(
            host="127.0.0.1",
            port=self.port,
            username=name,
            password=password,
            security="plain",
            wait=20,
        )
        return settings, home

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def put(home: Path, sender: str, subject: str, text: str) -> str:
    """A message already in the mailbox (unread), as another sender left it; its key."""
    from fixtures.mockex.core import deliver

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "person@mail.test", subject
    message.set_content(text)
    return deliver(home, message)


def flags(home: Path) -> dict[str, str]:
    """Each message's Maildir flags by its key ("" for unread, "S" once read)."""
    box = mailbox.Maildir(home, create=False)
    return {key: box.get_message(key).get_flags() for key in box.iterkeys()}
