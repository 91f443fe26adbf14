"""Exchanges side by side: how many lanes a run takes, the lanes themselves (`Lanes`), and
the one person at the keyboard, whom every exchange's worker asks through the same desk,
one question at a time.

A lane is a thread with a Playwright driver and a browser of its own. Playwright's sync API
belongs to the thread that started it, so threads cannot share one browser; the one way to
share a Chromium between drivers (`connect_over_cdp`) needs a debugging port that any local
process could use to reach the signed-in exchange sessions. The cost is a driver and a
browser per lane (see `bench/parallel.py` for what that comes to).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from loguru import logger
from playwright.sync_api import Browser, Locator, Page, Playwright
from playwright.sync_api import Error as PlaywrightError

from assistant import browser as browsers
from assistant.errors import Interrupted
from assistant.stops import Stops
from flows.base import Credentials, Human

# What a lane holds at its peak: its driver, its browser and an exchange's page. Measured
# with bench/parallel.py (PSS; summed RSS counts a shared page in every process that maps
# it): 5 lanes 1.25 GB with the headless shell, 1.75 GB with the full Chromium (a headed
# run); rounded up.
LANE_MB = 400
# Lanes per core: a lane mostly waits (on the exchange's server, on a TOTP step), so more
# lanes than cores still run side by side: on 2 busy cores, 10 accounts on 5 exchanges took
# 25 s on 5 lanes, 32 s on 3, 39 s on 2 and 51 s on 1 (full Chromium).
LANES_PER_CPU = 3
# How often a worker waiting for an answer looks at its page (the person may do it there).
WATCH_S = 0.1

T = TypeVar("T")


def cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_mb(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Memory available to start new processes without swapping (Linux), in MB."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_lanes() -> int:
    """The lanes this machine takes: a few per core, and no more than half of the available
    memory holds."""
    lanes = LANES_PER_CPU * cpus()
    memory = available_mb()
    if memory is not None:
        lanes = min(lanes, memory // 2 // LANE_MB)
    return max(1, lanes)


def lanes_for(setting: int | None, exchanges: int) -> int:
    """`--parallel N` (else what this machine takes), and never more than one per exchange."""
    return max(1, min(setting or machine_lanes(), exchanges))


@dataclass
class Question(Generic[T]):
    ask: Callable[[], T]
    answered: threading.Event = field(default_factory=threading.Event)
    answer: T | None = None
    error: BaseException | None = None


class Desk:
    """Where the workers of a run ask the person something (an authenticator code, an
    e-mailed code or link): one question at a time, each naming its exchange, asked from
    the run's own thread (`home`), the one a Ctrl-C reaches. A worker in another thread waits
    for its answer; a Ctrl-C at the question stops the run (`on_stop`, counted before the
    worker hears it) and the worker hears Interrupted.

    A hand-off (the person does a step in the worker's own browser window) cannot leave the
    worker's thread: it holds `turn` instead, and no question is asked meanwhile."""

    def __init__(self, on_stop: Callable[[], None]):
        self.home = threading.current_thread()
        self.turn = threading.RLock()
        self.asking = False  # a question is being asked in the home thread
        self._questions: queue.SimpleQueue[Question[Any]] = queue.SimpleQueue()
        self._on_stop = on_stop

    @contextmanager
    def _asking(self) -> Iterator[None]:
        with self.turn:
            before, self.asking = self.asking, True
            try:
                yield
            finally:
                self.asking = before

    def ask(self, ask: Callable[[], T]) -> T:
        if threading.current_thread() is self.home:
            with self._asking():
                return ask()
        question = Question(ask)
        self._questions.put(question)
        question.answered.wait()
        if question.error is not None:
            raise question.error
        return cast(T, question.answer)

    def ask_watching(
        self, ask: Callable[[Callable[[], bool] | None], T | None], sent: Callable[[], bool] | None
    ) -> T | None:
        """`ask(gone)`, asked as `ask` asks; `sent()` (the person did it in the worker's page)
        is looked at in the calling thread, the page's, and once it holds the question is
        withdrawn: `gone()` turns true where it is being asked, which gives up (None)."""
        if sent is None or threading.current_thread() is self.home:
            return self.ask(lambda: ask(sent))
        withdrawn = threading.Event()
        question: Question[T | None] = Question(lambda: ask(withdrawn.is_set))
        self._questions.put(question)
        while not question.answered.wait(WATCH_S):
            if not withdrawn.is_set() and sent():
                withdrawn.set()
        if question.error is not None:
            raise question.error
        return question.answer

    def serve(self, wait: float) -> None:
        """In the home thread: asks the next question, if one comes within `wait` seconds."""
        try:
            question = self._questions.get(timeout=wait)
        except queue.Empty:
            return
        try:
            with self._asking():  # after any hand-off under way
                question.answer = question.ask()
        except (KeyboardInterrupt, Interrupted) as err:
            self._on_stop()
            question.error = (
                err if isinstance(err, Interrupted) else Interrupted("stopped at a question")
            )
        except BaseException as err:  # the worker's to handle, as if it had asked itself
            question.error = err
        finally:
            question.answered.set()


class OneAtATime:
    """The person, as every worker of a run meets them: through the run's desk."""

    def __init__(self, human: Human, desk: Desk):
        self.human = human
        self.desk = desk

    def hand_off(self, page: Page, message: str, done: Locator) -> None:
        with self.desk.turn:
            self.human.hand_off(page, message, done)

    def emailed_code(self, exchange: str, purpose: str) -> str:
        return self.desk.ask(lambda: self.human.emailed_code(exchange, purpose))

    def open_emailed_link(self, exchange: str, purpose: str) -> bool:
        return self.desk.ask(lambda: self.human.open_emailed_link(exchange, purpose))

    def sign_in_again(
        self, exchange: str, refused: Credentials | None, why: str, tries_left: int
    ) -> Credentials | None:
        return self.desk.ask(lambda: self.human.sign_in_again(exchange, refused, why, tries_left))

    def signed_in(self, ask: Callable[[], None]) -> None:
        self.desk.ask(lambda: self.human.signed_in(ask))  # from the run's thread

    def which_key(
        self, exchange: str, wanted: str, accounts: list[str], names: list[str]
    ) -> str | None:
        return self.desk.ask(lambda: self.human.which_key(exchange, wanted, accounts, names))


class Work(Protocol):
    """One exchange's part of a run, as a lane runs it (see `assistant.worker.Worker`)."""

    relaunch: Callable[[], Browser] | None  # a new browser for its lane, when it has its own

    def plan(self, chromium: Browser) -> None: ...
    def park(self) -> None: ...
    def apply(self) -> None: ...
    def close(self) -> None: ...


class Lanes:
    """Runs a run's workers on `count` lanes. Every worker plans first; once every lane has
    planned, `decide` (called once, in the calling thread) says whether to apply; then each
    lane applies its workers' keys. One lane is the calling thread, in `chromium` when given
    (the tests share one), else in a browser it launches; more lanes are threads, each with
    a Playwright driver and a browser of its own. The calling thread asks the workers'
    questions one at a time (`desk`) and hears Ctrl-C (`stops`)."""

    def __init__(
        self,
        workers: list[Work],
        launch: Callable[[Playwright], Browser],
        stops: Stops,
        desk: Desk,
        *,
        one_window: bool = False,
    ):
        """`one_window` (the walkthrough, on one lane): each exchange's window closes once
        it is planned and once it is applied, so that the person watches one at a time."""
        self.one_window = one_window
        self.todo: queue.SimpleQueue[Work] = queue.SimpleQueue()
        for worker in workers:
            self.todo.put(worker)
        self.launch = launch
        self.stops = stops
        self.desk = desk

    def run(self, count: int, decide: Callable[[], bool], chromium: Browser | None) -> None:
        if count > 1:
            self._threads(count, decide)
            return
        # One lane, in this thread: a Ctrl-C is counted here too, not raised wherever the
        # thread happens to be. Raised inside Playwright's own dispatch (a locator handler,
        # an event), it leaves the driver's connection unusable, and the read-back after
        # the stop fails. The worker hears it at its next step, as the lanes' workers do;
        # at a question (`desk.asking`: the plan's confirmation too) it is raised as ever and
        # cancels it.

        def asked() -> bool:
            return self.desk.ask(decide)

        with self.stops.counted(lambda: self.desk.asking):
            if chromium is not None:
                self._lane(lambda: chromium, asked)
            else:
                self._own_lane(asked)

    def _lane(
        self,
        chromium: Callable[[], Browser],
        decide: Callable[[], bool],
        relaunch: Callable[[], Browser] | None = None,
    ) -> None:
        """One lane: takes workers one after another and plans their keys in its browser;
        once the run is decided, applies each one's keys. A worker stays on its lane: its
        pages belong to this thread. `relaunch` starts the lane's browser again (for a
        worker whose browser died), where the lane launched its own."""
        mine: list[Work] = []
        try:
            while not self.stops.stopping:
                try:
                    worker = self.todo.get_nowait()
                except queue.Empty:
                    break
                mine.append(worker)
                worker.relaunch = relaunch
                worker.plan(chromium())
                if self.one_window:
                    worker.park()
            if decide():
                for worker in mine:
                    worker.apply()
                    if self.one_window:
                        worker.close()
        finally:
            for worker in mine:
                worker.close()

    def _own_lane(self, decide: Callable[[], bool]) -> None:
        """A lane with a Playwright driver and a browser of its own, launched when its first
        worker needs it."""
        with browsers.driver() as pw:
            launched: list[Browser] = []

            def chromium() -> Browser:
                if not launched:
                    launched.append(self.launch(pw))
                return launched[-1]

            def relaunch() -> Browser:
                logger.info("the browser's process ended; starting another")
                launched.append(self.launch(pw))
                return launched[-1]

            try:
                self._lane(chromium, decide, relaunch)
            finally:
                for browser in launched:
                    with suppress(PlaywrightError):  # after a Ctrl-C it may be gone already
                        browser.close()

    def _threads(self, count: int, decide: Callable[[], bool]) -> None:
        """`count` lanes, each in a thread of its own. This thread decides the run once every
        lane has planned, asks the person the workers' questions one at a time, and hears
        Ctrl-C."""
        planned = threading.Semaphore(0)
        decided = threading.Event()
        verdict: list[bool] = []
        errors: list[BaseException] = []

        def wait_for_verdict() -> bool:
            planned.release()
            decided.wait()
            return verdict == [True]

        def lane() -> None:
            try:
                self._own_lane(wait_for_verdict)
            except BaseException as err:  # raised in this thread, once the lanes have ended
                errors.append(err)
                planned.release()  # if it never came to the verdict; once more is harmless

        threads = [
            threading.Thread(target=lane, name=f"ipbind lane {n + 1}", daemon=True)
            for n in range(count)
        ]
        for thread in threads:
            thread.start()
        waiting = count

        def all_planned() -> bool:
            nonlocal waiting
            while waiting and planned.acquire(blocking=False):
                waiting -= 1
            return not waiting

        with self.stops.counted(lambda: self.desk.asking):
            try:
                self._serve_until(all_planned)
                if errors:
                    raise errors[0]
                verdict.append(self.desk.ask(decide))  # the confirmation: Ctrl-C cancels it
            finally:
                decided.set()
                self._serve_until(lambda: not any(thread.is_alive() for thread in threads))
        if errors:
            raise errors[0]

    def _serve_until(self, done: Callable[[], bool]) -> None:
        """Asks the workers' questions, one at a time, until `done`."""
        while True:
            try:
                while not done():
                    self.desk.serve(wait=0.05)
                return
            except KeyboardInterrupt:  # raised at a question (cancelled) or between two
                self.stops.stop()
