"""The person at the terminal: confirmations, typed authenticator codes, and hand-offs to
the visible browser for the steps only a person can do (captcha, e-mailed code)."""

from __future__ import annotations

import os
import select
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from rich.console import Console
from rich.prompt import Confirm, Prompt

from assistant import notify, walkthrough
from assistant.errors import Interrupted, UserActionNeeded
from assistant.keyboard import KEYBOARD
from assistant.logs import redactor
from assistant.output import ConsoleReporter
from flows.types import Credentials

HAND_OFF_MINUTES = 10
# After Enter, how long the page may take to show the step done (the sign-in redirecting).
NOT_YET_SECONDS = 3
WATCH_S = 0.1  # how often a prompt looks whether the person did it in the page instead


def interactive() -> bool:
    return sys.stdin.isatty()


def countdown(console: Console, seconds: float, stdin: TextIO | None = None) -> bool:
    """Counts down to the next time step, keys typed meanwhile neither shown nor kept (a
    code typed early would be refused): True if any were typed and thrown away."""
    with keys_held(stdin or sys.stdin) as typed, console.status("") as status:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            status.update(
                f"Next code will be accepted in {left:.0f} s (keys typed now are ignored)"
            )
            time.sleep(min(left, 0.25))  # a countdown display, not a wait for the page
    return bool(typed)


@contextmanager
def keys_held(stdin: TextIO) -> Iterator[list[bytes]]:
    """Echo off while it lasts (a code must not show in the clear); then whatever was
    typed is read away into the yielded list, so that it is not taken as the answer."""
    typed: list[bytes] = []
    if not stdin.isatty():
        yield typed
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~(termios.ECHO | termios.ICANON)  # lflags; ISIG stays: Ctrl-C still stops
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield typed
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            typed.append(chunk)
    finally:
        termios.tcflush(fd, termios.TCIFLUSH)
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def attention(console: Console, text: str) -> None:
    """The terminal's bell and, where the desktop has one, a notification."""
    if console.is_terminal:
        console.bell()
    notify.desktop(text)


def read_line(
    console: Console, prompt: str, gone: Callable[[], bool], stdin: TextIO | None = None
) -> str | None:
    """A line typed at the terminal (echoed as typed), or None once `gone()` holds: looked
    at every WATCH_S while nothing has been typed (the person did it elsewhere)."""
    stdin = stdin or sys.stdin
    console.print(f"{prompt}: ", end="", markup=False, highlight=False)
    while True:
        try:
            ready = select.select([stdin.fileno()], [], [], WATCH_S)[0]
        except KeyboardInterrupt:
            console.print()  # the prompt's line ends with the ^C
            raise
        if ready:
            line = stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n")
        if gone():
            console.print()  # the prompt's line ends
            return None


def wait_for_person(
    done: Locator,
    seconds: float,
    stdin: TextIO | None = None,
    stopped: threading.Event | None = None,
) -> str | None:
    """Until `done` shows ("page"), Enter is pressed at the terminal ("enter"), or the time
    is up (None). Interrupted once `stopped` is set (a Ctrl-C heard by another thread)."""
    stdin = stdin or sys.stdin
    tty = stdin.isatty()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if stopped is not None and stopped.is_set():
            raise Interrupted("stopped with Ctrl-C while it was your turn")
        if shows(done, 0.25):
            return "page"
        if tty and select.select([stdin.fileno()], [], [], 0)[0]:
            stdin.readline()
            return "enter"
    return None


def shows(done: Locator, seconds: float) -> bool:
    """Whether `done` shows within `seconds` (a page still loading after the person's last
    click gets that long)."""
    try:
        done.first.wait_for(state="visible", timeout=seconds * 1000)
    except PlaywrightTimeout:
        return False
    return True


class TerminalHuman:
    def __init__(self, reporter: ConsoleReporter, *, headless: bool):
        self.reporter = reporter
        self.console = reporter.console
        self.headless = headless
        # Set by the run at a Ctrl-C: a hand-off waiting in another thread than the one the
        # Ctrl-C reached gives up too.
        self.stopped: threading.Event | None = None
        # False for `check` and `watch`: nobody is there, even at a terminal (a timer).
        self.present = True

    def there(self) -> bool:
        """Whether someone is at the terminal to be asked."""
        return self.present and interactive()

    def confirm(self, question: str) -> bool:
        if not self.there():
            raise UserActionNeeded(
                "there is no terminal to confirm the plan",
                hint="Pass --yes to apply without asking.",
            )
        try:
            return Confirm.ask(question, console=self.console, default=False, stream=KEYBOARD)
        except (EOFError, KeyboardInterrupt):
            raise Interrupted("interrupted at the confirmation; nothing was changed") from None

    def ask_code(
        self, prompt: str, wait: float, sent_in_page: Callable[[], bool] | None = None
    ) -> str | None:
        """Counts down to the next time step when the last code's step is still current.
        `sent_in_page` (a visible window): the person may type the code into the page and
        send it there instead; once it holds, the prompt gives up (None)."""
        with self.reporter.paused():
            return self._ask_code(prompt, wait, sent_in_page)

    def _ask_code(
        self, prompt: str, wait: float, sent_in_page: Callable[[], bool] | None
    ) -> str | None:
        if wait > 0 and countdown(self.console, wait):
            self.console.print(
                "What was typed during the countdown was ignored: type the new code now.",
                style="yellow",
            )
        try:  # shown as typed, so that a typo can be seen: a code is spent once sent
            # (it stays masked in every log line, trace and report)
            if sent_in_page is None or not sys.stdin.isatty():
                return Prompt.ask(prompt, console=self.console, stream=KEYBOARD)
            answer = read_line(
                self.console, f"{prompt} (or type it in the browser window)", sent_in_page
            )
        except (EOFError, KeyboardInterrupt):
            raise Interrupted("cancelled while asking for a code") from None
        if answer is None:
            self.console.print("You sent it in the browser window: carrying on.")
        return answer

    def emailed_code(self, exchange: str, purpose: str) -> str:
        if not self.there():
            raise UserActionNeeded(
                f"{exchange} has e-mailed a code for {purpose}, and there is no terminal to "
                "ask for it",
                hint="Run ipbind in a terminal to type e-mailed codes.",
            )
        with self.reporter.paused():
            try:
                code = Prompt.ask(  # shown as typed, as the authenticator's codes are
                    f"{exchange} has e-mailed a code to your address for {purpose}: type it",
                    console=self.console,
                    stream=KEYBOARD,
                )
            except (EOFError, KeyboardInterrupt):
                raise Interrupted("cancelled while asking for an e-mailed code") from None
        code = "".join(code.split())
        redactor.add(code)
        return code

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        if not self.there():
            return False
        with self.reporter.paused():
            try:
                Prompt.ask(
                    f"{exchange} has e-mailed you a confirmation link for {purpose}: open it, "
                    "then press Enter",
                    console=self.console,
                    default="",
                    show_default=False,
                    stream=KEYBOARD,
                )
            except (EOFError, KeyboardInterrupt):
                raise Interrupted("cancelled while waiting for an e-mailed link") from None
        return True

    def sign_in_again(
        self, exchange: str, refused: Credentials | None, why: str, tries_left: int
    ) -> Credentials | None:
        """Asked at the terminal (None with no terminal; nor, in a visible browser, when
        there is no sign-in at all: the person signs in in the window)."""
        if not self.there() or (refused is None and not self.headless):
            return None
        from assistant import signin

        with self.reporter.paused():
            return signin.ask_again(self.console, exchange, refused, why, tries_left)

    def signed_in(self, ask: Callable[[], None]) -> None:
        with self.reporter.paused():  # the live lines off the screen while it asks
            ask()

    def which_key(
        self, exchange: str, wanted: str, accounts: list[str], names: list[str]
    ) -> str | None:
        """A numbered list of the keys, asked at the terminal (None with nobody there)."""
        if not self.there():
            return None
        from assistant import signin

        with self.reporter.paused():
            self.console.print(
                f"{exchange} lists its keys by name, and Altrady shows the API key {wanted} "
                f"for {', '.join(map(repr, accounts))}. Which of {exchange}'s keys is it? "
                "(asked once: ipbind remembers it)",
                markup=False,
                highlight=False,
            )
            for number, name in enumerate(names, 1):
                self.console.print(f"  {number}) {name}", markup=False, highlight=False)
            while True:
                answer = signin.prompt(self.console, "Number (Enter: none of them)")
                if not answer:
                    return None
                if answer.isdigit() and 1 <= int(answer) <= len(names):
                    return names[int(answer) - 1]
                self.console.print(f"A number from 1 to {len(names)}.", style="yellow")

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        """Let the person do a step in the visible browser: a banner on the page says what,
        the terminal rings (and the desktop shows a notification) in case they looked away;
        go on once `done` shows, or once they press Enter at the terminal."""
        if self.headless or not self.present:
            raise UserActionNeeded(
                f"{message} — a step only a person can do",
                hint="Run again with --headed and do it in the browser window.",
            )
        walkthrough.banner(
            page,
            f"Your turn: {message}",
            "Do it in this window; ipbind carries on by itself as soon as the page shows it "
            "is done (or press Enter in the terminal).",
            kind="hand-off",
        )
        deadline = time.monotonic() + HAND_OFF_MINUTES * 60
        with self.reporter.paused():
            self.console.print(
                f"[bold yellow]Your turn:[/] {message}, in the browser window. ipbind goes on "
                "as soon as the page shows it is done (or press Enter here when you are)."
            )
            attention(self.console, f"ipbind: your turn — {message}")
            how = wait_for_person(done, deadline - time.monotonic(), stopped=self.stopped)
            if how == "enter" and not shows(done, NOT_YET_SECONDS):
                # Enter before the page shows it done (e.g. still the sign-in form): say so
                # and wait on; a second Enter carries on all the same (the page may show
                # "done" in a way ipbind does not know).
                self.console.print(
                    f"[yellow]The page does not show that yet:[/] {message} in the browser "
                    "window; ipbind goes on as soon as it does (press Enter again to carry "
                    "on anyway)."
                )
                how = wait_for_person(done, deadline - time.monotonic(), stopped=self.stopped)
        if how is None:
            raise UserActionNeeded(
                f"{message}: not done within {HAND_OFF_MINUTES} minutes",
                hint="Run again when you can do it in the browser window.",
            )
        walkthrough.banner(page, "Thanks, carrying on", walkthrough.ABOUT)
        self.console.print("Thanks, carrying on.")
