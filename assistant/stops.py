"""Ctrl-C, for every worker of a run at once.

The first Ctrl-C stops every worker at its next step; each reads back the key it was on,
and no key is started after it. A second one stops a read-back too. Workers hear it in
their own threads through `checkpoint` (before each step of a flow) and `nap` (a wait with
no page to watch); a person waiting to be asked something hears it through `stopped`.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from assistant.errors import ExitCode, Interrupted
from assistant.twofa import CLOCK
from flows import FLOWS

# Signals that stop a run as Ctrl-C does, and the exit code each ends it with.
AS_CTRL_C = {signal.SIGTERM: ExitCode.TERMINATED, signal.SIGHUP: ExitCode.HANGUP}


@contextmanager
def as_ctrl_c() -> Iterator[list[int]]:
    """SIGTERM (a supervisor, a shutdown) and SIGHUP (the terminal closed) stop the run as a
    Ctrl-C does, through whatever SIGINT's handler is when they come: raised at once, or
    counted while lanes run (`Stops.counted`) so that the key under way is read back. The
    list yielded holds the signals heard, first first (for the exit code)."""
    heard: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield heard  # no signal reaches this thread (an embedding program's own thread)
        return

    def as_if_ctrl_c(signum: int, frame: FrameType | None) -> None:
        heard.append(signum)
        if signum == signal.SIGHUP:
            off_the_terminal()
        handler = signal.getsignal(signal.SIGINT)
        if not callable(handler):  # ignored, or the default: raised as Python's own is
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)

    previous = {signum: signal.signal(signum, as_if_ctrl_c) for signum in AS_CTRL_C}
    try:
        yield heard
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def off_the_terminal() -> None:
    """The terminal has gone (SIGHUP): what the run still says goes nowhere, rather than
    failing its last steps (every write to a hung-up terminal fails). The read-back after the
    stop, the journal, the debug log and the report still happen."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):  # a terminal, hung up or not (isatty is false once it has gone)
            with suppress(OSError):
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class Stops:
    def __init__(self) -> None:
        self.count = 0  # Ctrl-C's so far: the first stops every worker, a second a read-back
        self.stopped = threading.Event()  # set at the first: a wait on the person gives up
        self._heard: dict[str, int] = {}  # per exchange: the stops its worker stopped for
        self._changed = threading.Condition()

    @property
    def stopping(self) -> bool:
        return self.count > 0

    def stop(self) -> None:
        """A Ctrl-C (or a question the person cancelled): every worker stops at its next step."""
        with self._changed:
            self.count += 1
            self.stopped.set()
            self._changed.notify_all()

    def interrupted(self, exchange: str) -> None:
        """`exchange`'s worker has stopped for a Ctrl-C: one it heard at a step (counted where
        it was pressed), or one pressed in its own thread (counted here). Its read-back of
        the key under way goes on, unless a Ctrl-C comes after this one."""
        with self._changed:
            if self._heard.get(exchange, 0) == self.count:
                self.count += 1
                self.stopped.set()
                self._changed.notify_all()
            self._heard[exchange] = self.count

    def checkpoint(self, exchange: str) -> None:
        """Before each step of `exchange`'s flow: a Ctrl-C it has not stopped for stops it."""
        if self.count > self._heard.get(exchange, 0):
            raise Interrupted(f"{FLOWS[exchange].name}: stopped with Ctrl-C")

    def nap(self, exchange: str, seconds: float) -> None:
        """A wait with no page to watch (for a TOTP step, a server's Retry-After), cut short
        by a Ctrl-C; on a virtual clock (the tests'), no wait at all."""
        if CLOCK.virtual:
            CLOCK.sleep(seconds)
            self.checkpoint(exchange)
            return
        with self._changed:
            self._changed.wait_for(lambda: self.count > self._heard.get(exchange, 0), seconds)
        self.checkpoint(exchange)

    @contextmanager
    def counted(self, asking: Callable[[], bool]) -> Iterator[None]:
        """While lanes run (one in this thread, or several in their own), a Ctrl-C (which
        only the main thread hears) is counted rather than raised wherever this thread
        happens to be: every worker stops at its next step and reads back the key it was
        on, and the run ends once every lane has. While `asking` (a code, the confirmation)
        it is raised as ever: it cancels the question."""
        if threading.current_thread() is not threading.main_thread():
            yield  # no Ctrl-C reaches this thread (an embedding program's own thread)
            return

        def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
            if asking():
                raise KeyboardInterrupt
            self.stop()

        previous = signal.signal(signal.SIGINT, on_ctrl_c)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
