"""What can go wrong, whose it is to fix, and the exit code each ends the run with.

Errors carry words for the user. They never carry a secret: messages are built from
names (account, key, step), never from credential or code values.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NOT_VERIFIED = 1  # the run finished, but at least one key is not (yet) whitelisted
    BAD_INPUT = 2  # allocation file, settings or command line: nothing was started
    USER_ACTION = 3  # wrong password, 2FA refused, a limit reached: the user must act
    SITE_CHANGED = 4  # the page no longer has what the flow expects: report it
    BROWSER = 5  # no browser could be started
    HANGUP = 129  # SIGHUP (the terminal closed), stopped as at a Ctrl-C
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM (a supervisor, a shutdown), stopped as at a Ctrl-C


class IpbindError(Exception):
    """Base class. `hint` says what to do about it."""

    exit_code = ExitCode.USER_ACTION

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInput(IpbindError):
    """The allocation file, settings or arguments are wrong. Nothing has been started."""

    exit_code = ExitCode.BAD_INPUT


class BrowserMissing(IpbindError):
    exit_code = ExitCode.BROWSER


class UserActionNeeded(IpbindError):
    """The user's to fix: wrong credentials, refused code, limit, key not found."""

    exit_code = ExitCode.USER_ACTION


class CannotRestrict(UserActionNeeded):
    """A key whose IP list nobody can edit (one made through a third-party login): it needs
    recreating in Altrady. Said for that key; the run goes on with the others."""


class SignInRefused(UserActionNeeded):
    """The exchange refused the username and password (the hint says where they came from:
    typed, the keyring, or the variables set). A person at the terminal is asked again."""


class BrowserGone(UserActionNeeded):
    """The browser's process ended under the run (out of memory, a crash), not a window the
    person closed: a run that launched its own starts another once and goes on."""


class SiteTrouble(UserActionNeeded):
    """The exchange's server failed a request of the page (an HTTP 5xx), limited it (429), or
    ended the session (401): not the user's doing, and worth one more try."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None):
        super().__init__(message, hint="Run again later if it keeps happening.")
        self.status = status
        self.retry_after = retry_after


class SiteChanged(IpbindError):
    """The page does not have what the flow expects: the site changed, or our flow is wrong."""

    exit_code = ExitCode.SITE_CHANGED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(
            message,
            hint
            or "The exchange's page may have changed. Run again with -v and report it, "
            "with the debug log and the trace it writes (neither holds a secret).",
        )


class Interrupted(IpbindError):
    exit_code = ExitCode.INTERRUPTED


class SentInPage(Exception):
    """While a code was asked at the terminal, the person typed it into the page and sent
    it there (a headed run): the step is done, and no code is to be typed."""


def first_line(err: BaseException) -> str:
    """An error's first line (Playwright's run to many): what a log line or a message quotes."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
