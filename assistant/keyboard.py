"""Lines typed at the terminal, read so that a Ctrl-C, SIGTERM or SIGHUP is heard at once.

Python's `input()` waits in C, in a `read()` that a signal interrupts only once it has begun:
one that comes in the instant between the prompt showing and that `read()` (a supervisor's
SIGTERM sent as soon as the prompt shows) runs its handler only after Enter, and the run
hangs at the prompt. Here the wait is in Python, a little at a time, so a handler runs within
`LOOK_S` however the signal came (1 hang in about 60 SIGTERMs before, 2026-12-06).
"""

from __future__ import annotations

import os
import select
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TextIO, cast

from rich.console import Console

LOOK_S = 0.2  # how long one wait lasts before pending signal handlers get their turn


class Keyboard:
    """What rich's prompts read from (`Prompt.ask(..., stream=KEYBOARD)`)."""

    def readline(self) -> str:
        return typed()  # without its newline, as input() gives it: rich takes "" as the default


KEYBOARD = cast(TextIO, Keyboard())  # rich reads only its readline()


def ask(console: Console, prompt: str, *, hidden: bool = False) -> str:
    """`prompt` as written (no rich markup), then the line typed; `hidden`: not echoed (echo
    goes off before the prompt shows, so nothing typed as soon as it shows is echoed)."""
    fd = _terminal()
    if fd is None:  # a pipe, or a test's stand-in for stdin: nothing to wait on in C
        return console.input(prompt, password=hidden, markup=False)
    with _echo_off(fd) if hidden else nullcontext():
        console.print(prompt, end="", markup=False, highlight=False)
        line = _line(fd)
    if hidden:
        console.print()  # the Enter was not echoed either
    return line


def typed() -> str:
    """One line from stdin, without its newline. EOFError at the end of input."""
    fd = _terminal()
    return input() if fd is None else _line(fd)


def _line(fd: int) -> str:
    # A terminal in canonical mode is readable once a whole line is typed, and each read
    # returns at most that line: nothing is left behind in Python's buffer.
    try:
        while not select.select([fd], [], [], LOOK_S)[0]:
            pass
    except KeyboardInterrupt:  # the prompt's line ends with the ^C: what follows, on its own
        sys.stdout.write("\n")
        sys.stdout.flush()
        raise
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def _terminal() -> int | None:
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    return fd if os.isatty(fd) else None


@contextmanager
def _echo_off(fd: int) -> Iterator[None]:
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO  # lflags; ICANON and ISIG stay: a line, and Ctrl-C still stops
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
