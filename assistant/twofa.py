"""Two-factor codes: one provider per exchange login, from the TOTP secret or the terminal.

A server accepts a code once per time step, so a run that needs N codes needs N distinct
steps. `TotpCodes` hands out the code of the next unused step the moment that step begins
(never earlier: a reused step is refused; never later: no wasted seconds), and never one
with less than a safe margin left in its step. `PromptedCodes` asks a person for each
code, shows when the next one will be accepted, and refuses a code typed twice.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable
from typing import Protocol

import pyotp

from assistant.errors import UserActionNeeded
from assistant.logs import redactor

MIN_SECRET_BYTES = 10  # 80 bits: the 16-character secrets exchanges have long handed out


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


class Codes(Protocol):
    def next(self, purpose: str) -> str:
        """A code whose time step has not been used in this run. May block until one exists."""
        ...

    def seconds_until_next(self) -> float:
        """How long until `next` can return without waiting (0 when it can now)."""
        ...

    def used_elsewhere(self) -> None:
        """A code of the current step was just used outside this provider (the person
        signed in by hand): the next code must come from a later step."""
        ...


def safe_margin(period: float) -> float:
    """Seconds a code must still have left in its step when submitted: enough for the
    browser to type it and the server to check it."""
    return min(max(0.2 * period, 0.2), 3.0)


class TotpCodes:
    def __init__(
        self,
        secret: str,
        period: int = 30,
        digits: int = 6,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._totp = Totp(secret, interval=period, digits=digits)
        self.period = period
        self.margin = safe_margin(period)
        self._clock = clock
        self._sleep = sleep
        self.last_step = -1
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
        self.last_step = max(self.last_step, int(self._clock() // self.period))

    def next(self, purpose: str) -> str:
        while (wait := self.seconds_until_next()) > 0:
            # Sleeping to a step boundary is the one fixed wait the TOTP clock needs.
            self._sleep(wait + 0.002)
        step = int(self._clock() // self.period)
        self.last_step = step
        code = self._totp.at(step * self.period)
        redactor.add(code)
        return code


class PromptedCodes:
    """Codes typed by a person. `ask(prompt, wait)` shows the prompt (after a countdown of
    `wait` seconds, when the last code's step is still current) and returns the answer."""

    def __init__(
        self,
        exchange: str,
        period: int,
        ask: Callable[[str, float], str],
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.exchange = exchange
        self.period = period
        self._ask = ask
        self._clock = clock
        self.used: set[str] = set()
        self.last_used_at: float | None = None

    def seconds_until_next(self) -> float:
        if self.last_used_at is None:
            return 0.0
        next_step_at = (math.floor(self.last_used_at / self.period) + 1) * self.period
        return max(0.0, next_step_at - self._clock())

    def used_elsewhere(self) -> None:
        self.last_used_at = self._clock()

    def next(self, purpose: str) -> str:
        prompt = f"{self.exchange}: authenticator code for {purpose}"
        for _ in range(5):
            code = "".join(self._ask(prompt, self.seconds_until_next()).split())
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
            self.last_used_at = self._clock()
            return code
        raise UserActionNeeded(f"{self.exchange}: no usable authenticator code was entered")
