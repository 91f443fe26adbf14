"""Two-factor codes: one provider per exchange login, from the TOTP secret or the terminal.

A server accepts a code once per time step, so a run that needs N codes needs N distinct
steps. `TotpCodes` hands out the code of the next unused step the moment that step begins
(never earlier: a reused step is refused; never later: no wasted seconds), and never one
with less than a safe margin left in its step. `PromptedCodes` asks a person for each
code, shows when the next one will be accepted, and refuses a code typed twice.

A refused code tells its provider why (`refused`): "already used" means the step is spent,
so the next code comes from a later one; any other refusal of a typed code (a typo) is
asked again at once, since the server did not spend the step. `StepMemory` keeps, across
runs, when the last code used against each site stops being current, so that `plan` then
`apply` does not send a code of the step the first run spent.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pyotp
from loguru import logger

from assistant.errors import SentInPage, UserActionNeeded
from assistant.logs import redactor
from assistant.paths import write_private

MIN_SECRET_BYTES = 10  # 80 bits: the 16-character secrets exchanges have long handed out
# The site's words for a code whose step it has already accepted once (replay protection).
ALREADY_USED = re.compile(r"already (been )?used|been used|used before|wait for a new code", re.I)


class Clock:
    """The time codes are made, checked and waited for at: the wall clock. The tests make
    it virtual (their mock sites check codes on the same clock): then a wait for the next
    step moves it forward at once, for a test proves what a wait leads to, not the wait."""

    def __init__(self) -> None:
        self.virtual = False
        self.offset = 0.0  # how far a virtual clock has moved ahead of the wall clock
        self._lock = threading.Lock()

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        if not self.virtual:
            time.sleep(seconds)
            return
        with self._lock:
            self.offset += max(0.0, seconds)


CLOCK = Clock()


class Totp(pyotp.TOTP):
    """pyotp's TOTP, but accepting 80-bit secrets. pyotp refuses secrets under 112 bits
    (NIST's advice for new ones), yet Binance and others issue 16-character (80-bit)
    Base32 secrets, and a user cannot choose theirs."""

    def byte_secret(self) -> bytes:
        padded = self.secret + "=" * (-len(self.secret) % 8)
        decoded = base64.b32decode(padded, casefold=True)
        if len(decoded) < MIN_SECRET_BYTES:
            raise ValueError("a TOTP secret has at least 80 bits (16 Base32 characters)")
        return decoded


# Asks the person for a code: (prompt, seconds to count down first, sent_in_page) → the
# answer, or None once sent_in_page() holds.
Ask = Callable[[str, float, Callable[[], bool] | None], str | None]


class Codes(Protocol):
    # Whether the provider tells the person of a refusal itself (the next prompt says it):
    # then the flow's own warning goes to the debug file alone, not twice to the terminal.
    tells_refusals: bool

    def next(self, purpose: str, sent_in_page: Callable[[], bool] | None = None) -> str:
        """A code whose time step has not been used in this run. May block until one exists.
        A person asked for it who sends one in the page instead (`sent_in_page()` turns
        true, checked in the caller's thread) ends the asking: SentInPage."""
        ...

    def seconds_until_next(self) -> float:
        """How long until `next` can return without waiting (0 when it can now)."""
        ...

    def used_elsewhere(self) -> None:
        """A code of the current step was just used outside this provider (the person
        signed in by hand): the next code must come from a later step."""
        ...

    def refused(self, reason: str) -> None:
        """The site refused the last code, saying `reason`: decides where the next comes from."""
        ...

    def refusal_hint(self, exchange_id: str) -> str:
        """What to check when codes keep being refused: it depends on where they come from."""
        ...


class StepMemory:
    """When the last code used against a site stops being current (seconds since the
    epoch), kept in a small file shared by every run: {site origin: time}. Only an
    optimisation: a file that cannot be read or written is as good as an empty one."""

    _writing = threading.Lock()  # the exchanges of a run, side by side, share the file

    def __init__(self, path: Path, site: str):
        self.path = path
        self.site = site

    def _read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}

    def used_until(self) -> float:
        return self._read().get(self.site, 0.0)

    def record(self, until: float) -> None:
        with self._writing:
            self._record(until)

    def _record(self, until: float) -> None:
        now = CLOCK.time()
        data = {site: t for site, t in self._read().items() if t > now}  # only live entries
        data[self.site] = until
        try:
            write_private(self.path, json.dumps(data))
        except OSError as err:
            logger.debug("could not remember the last code's step: {}", err)


def safe_margin(period: float) -> float:
    """Seconds a code must still have left in its step when submitted: enough for the
    browser to type it and the server to check it."""
    return min(max(0.2 * period, 0.2), 3.0)


class TotpCodes:
    tells_refusals = False  # nobody is asked: the flow's warning is what the person sees

    def __init__(
        self,
        secret: str,
        period: int = 30,
        digits: int = 6,
        *,
        clock: Callable[[], float] = CLOCK.time,
        sleep: Callable[[float], None] = CLOCK.sleep,
        memory: StepMemory | None = None,
        tell: Callable[[str], None] | None = None,
    ):
        """`tell`: says a line to the person (a wait for a fresh code that a run before this
        one made necessary; nobody wonders at waits this run's own codes make)."""
        self._totp = Totp(secret, interval=period, digits=digits)
        self.period = period
        self.margin = safe_margin(period)
        self._clock = clock
        self._sleep = sleep
        self._memory = memory
        # The step a run before this one used last, if it is still current or later.
        self.last_step = math.ceil(memory.used_until() / period) - 1 if memory else -1
        self._spent_before = self.last_step  # by that run
        self._tell = tell
        redactor.add(secret)

    def _ready_at(self) -> float:
        """The earliest time at which a fresh step with enough margin is current."""
        now = self._clock()
        step = int(now // self.period)
        if step > self.last_step and (step + 1) * self.period - now >= self.margin:
            return now
        return max(step + 1, self.last_step + 1) * self.period

    def seconds_until_next(self) -> float:
        return max(0.0, self._ready_at() - self._clock())

    def used_elsewhere(self) -> None:
        self._use(max(self.last_step, int(self._clock() // self.period)))

    def refused(self, reason: str) -> None:
        """Nothing to undo: a generated code refused as "already used" had its step spent
        elsewhere, and one refused as wrong means a clock skew or a wrong secret, which the
        same code cannot mend. Either way the next code is the next step's, as `next` does."""
        logger.debug("generated code refused ({}); the next one is the next step's", reason)

    def refusal_hint(self, exchange_id: str) -> str:
        prefix = f"IPBIND_{exchange_id.upper()}__"
        return (
            f"Check {prefix}TOTP_SECRET (and {prefix}TOTP_PERIOD), and that this computer's "
            "clock is right."
        )

    def _use(self, step: int) -> None:
        self.last_step = step
        if self._memory is not None:
            self._memory.record((step + 1) * self.period)

    def next(self, purpose: str, sent_in_page: Callable[[], bool] | None = None) -> str:
        wait = self.seconds_until_next()
        # The current step is one a run before this one spent (this run has spent none yet).
        spent_before = self.last_step == self._spent_before >= int(self._clock() // self.period)
        if wait >= 1 and spent_before and self._tell:
            self._tell(
                f"waiting {math.ceil(wait)} s for a fresh authenticator code: your previous "
                "run used the last one"
            )
        while (wait := self.seconds_until_next()) > 0:
            # Sleeping to a step boundary is the one fixed wait the TOTP clock needs.
            self._sleep(wait + 0.002)
        step = int(self._clock() // self.period)
        self._use(step)
        code = self._totp.at(step * self.period)
        redactor.add(code)
        return code


class PromptedCodes:
    """Codes typed by a person. `ask(prompt, wait, sent_in_page)` shows the prompt (after a
    countdown of `wait` seconds, when the last code's step is still current) and returns the
    answer, or None once `sent_in_page()` holds (the person sent a code in the page)."""

    tells_refusals = True  # "Kraken refused that code (…). Code for …"

    def __init__(
        self,
        exchange: str,
        period: int,
        ask: Ask,
        *,
        clock: Callable[[], float] = CLOCK.time,
        memory: StepMemory | None = None,
    ):
        self.exchange = exchange
        self.period = period
        self._ask = ask
        self._clock = clock
        self._memory = memory
        self.used: set[str] = set()  # typed and sent (accepted or refused): never sent again
        self.last_used_at: float | None = None
        self._before_last: float | None = None  # to take back a step the site did not spend
        self._refusal: str | None = None
        if memory and (until := memory.used_until()) > clock():
            self.last_used_at = until - 0.001  # a run before this one spent that step

    def seconds_until_next(self) -> float:
        if self.last_used_at is None:
            return 0.0
        return max(0.0, self._step_end(self.last_used_at) - self._clock())

    def _step_end(self, at: float) -> float:
        return (math.floor(at / self.period) + 1) * self.period

    def _use(self, at: float | None) -> None:
        self._before_last, self.last_used_at = self.last_used_at, at
        if self._memory is not None:
            self._memory.record(self._step_end(at) if at is not None else 0.0)

    def used_elsewhere(self) -> None:
        self._use(self._clock())

    def refused(self, reason: str) -> None:
        """A code refused as "already used": that step is spent; wait for the next. Any
        other refusal (a typo, a code read off the wrong account): the site did not spend
        the step, so the person is asked again at once."""
        self._refusal = reason
        if not ALREADY_USED.search(reason):
            self._use(self._before_last)

    def refusal_hint(self, exchange_id: str) -> str:
        return (
            f"Type the code your authenticator app shows for this {self.exchange} account, "
            "and check that the phone's time is set automatically."
        )

    def next(self, purpose: str, sent_in_page: Callable[[], bool] | None = None) -> str:
        prompt = f"{self.exchange}: authenticator code for {purpose}"
        if self._refusal:
            prompt = f"{self.exchange} refused that code ({self._refusal}). Code for {purpose}"
            self._refusal = None
        for _ in range(5):
            answer = self._ask(prompt, self.seconds_until_next(), sent_in_page)
            if answer is None:  # sent in the page: its step is spent
                self._use(self._clock())
                raise SentInPage(purpose)
            code = "".join(answer.split())
            if not (code.isascii() and code.isdigit() and 6 <= len(code) <= 8):
                prompt = f"{self.exchange}: a code is 6 to 8 digits. Code for {purpose}"
                continue
            if code in self.used:
                prompt = (
                    f"{self.exchange}: that code was already used; wait for your app to "
                    f"show a new one. Code for {purpose}"
                )
                continue
            self.used.add(code)
            redactor.add(code)
            self._use(self._clock())
            return code
        raise UserActionNeeded(f"{self.exchange}: no usable authenticator code was entered")
