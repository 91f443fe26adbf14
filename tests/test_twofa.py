"""2FA code providers against a fake clock: no real waiting, exact step arithmetic."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from assistant.errors import UserActionNeeded
from assistant.logs import redactor
from assistant.twofa import PromptedCodes, StepMemory, TotpCodes, safe_margin

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits: plain pyotp takes it too
SHORT_SECRET = "JBSWY3DPEHPK3PXP"  # 80 bits: as Binance and others issue them
EPS = 0.005  # "within a few ms": TotpCodes sleeps a hair past the boundary


class FakeClock:
    """A clock that only moves when slept on, recording every sleep."""

    def __init__(self, now: float):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def slept(self) -> float:
        return sum(self.sleeps)


@pytest.fixture(autouse=True)
def clean_redactor() -> Iterator[None]:
    redactor.clear()
    yield
    redactor.clear()


def step_of(t: float, period: int) -> int:
    return int(t // period)


def codes_at(
    clock: FakeClock,
    secret: str = SECRET,
    period: int = 30,
    digits: int = 6,
    memory: StepMemory | None = None,
) -> TotpCodes:
    return TotpCodes(secret, period, digits, clock=clock, sleep=clock.sleep, memory=memory)


def reference_totp(secret: str, step: int, digits: int = 6) -> str:
    """RFC 6238 with SHA1, written out independently of pyotp and of assistant.twofa."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def test_safe_margin() -> None:
    assert safe_margin(30) == 3.0
    assert safe_margin(1) == pytest.approx(0.2)
    assert safe_margin(5) == pytest.approx(1.0)


@pytest.mark.parametrize("period", [30, 1])
def test_first_code_is_immediate_in_a_fresh_step(period: int) -> None:
    clock = FakeClock(1_000_000 * period + 0.25 * period)
    codes = codes_at(clock, period=period)
    assert codes.seconds_until_next() == 0
    code = codes.next("login")
    assert clock.sleeps == []
    assert code == pyotp.TOTP(SECRET, interval=period).at(clock.now)


@pytest.mark.parametrize("period", [30, 1])
def test_next_code_waits_exactly_to_the_next_boundary(period: int) -> None:
    start = 1_000_000 * period + 0.1 * period
    clock = FakeClock(start)
    codes = codes_at(clock, period=period)
    codes.next("login")
    boundary = (step_of(start, period) + 1) * period
    assert codes.seconds_until_next() == pytest.approx(boundary - start, abs=1e-9)
    second = codes.next("save")
    assert clock.slept == pytest.approx(boundary - start, abs=EPS)
    assert clock.slept >= boundary - start  # never early: that step would be refused
    assert step_of(clock.now, period) == step_of(start, period) + 1
    assert second == pyotp.TOTP(SECRET, interval=period).at(boundary)


@pytest.mark.parametrize("period", [30, 1])
def test_waits_for_the_next_step_when_too_little_is_left(period: int) -> None:
    margin = safe_margin(period)
    boundary = 1_000_000 * period
    start = boundary - margin / 2  # fresh step, but not enough time left to use it
    clock = FakeClock(start)
    code = codes_at(clock, period=period).next("login")
    assert clock.slept == pytest.approx(boundary - start, abs=EPS)
    assert step_of(clock.now, period) == boundary // period
    assert code == pyotp.TOTP(SECRET, interval=period).at(boundary)


def test_enough_margin_left_is_used_at_once() -> None:
    clock = FakeClock(1_000_000 * 30 - safe_margin(30) - 0.01)
    codes_at(clock).next("login")
    assert clock.sleeps == []


@pytest.mark.parametrize("period", [30, 1])
def test_n_codes_take_n_minus_1_step_boundaries(period: int) -> None:
    start_step = 1_000_000
    start = start_step * period + 0.001
    clock = FakeClock(start)
    codes = codes_at(clock, period=period)
    n = 7
    steps = []
    for i in range(n):
        code = codes.next(f"ip {i}")
        steps.append(step_of(clock.now, period))
        assert code == pyotp.TOTP(SECRET, interval=period).at(clock.now)
        # every code has at least the safe margin left in its step
        assert (steps[-1] + 1) * period - clock.now >= safe_margin(period)
    assert steps == list(range(start_step, start_step + n))  # never the same step twice
    expected = (start_step + n - 1) * period - start
    assert clock.slept == pytest.approx(expected, abs=n * EPS)


def test_a_step_is_never_reused_even_if_the_clock_stands_still() -> None:
    clock = FakeClock(1_000_000 * 30 + 1)
    codes = codes_at(clock)
    codes.next("a")
    first_step = codes.last_step
    clock.now -= 0.5  # a clock that steps back a little must not give the same step again
    codes.next("b")
    assert codes.last_step == first_step + 1
    assert step_of(clock.now, 30) == first_step + 1


def test_codes_match_rfc_6238_vectors() -> None:
    # RFC 6238 appendix B, SHA1, secret "12345678901234567890", 8 digits.
    rfc_secret = base64.b32encode(b"12345678901234567890").decode()
    for t, expected in [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924")]:
        clock = FakeClock(t)
        codes = TotpCodes(rfc_secret, 30, 8, clock=clock, sleep=clock.sleep)
        codes.margin = 0  # the vectors sit anywhere in their step
        assert codes.next("rfc") == expected


def test_80_bit_secrets_work() -> None:
    clock = FakeClock(1_000_000 * 30 + 2)
    code = codes_at(clock, secret=SHORT_SECRET).next("login")
    assert code == reference_totp(SHORT_SECRET, 1_000_000)


def test_secret_and_codes_are_registered_with_the_redactor() -> None:
    clock = FakeClock(1_000_000 * 30 + 2)
    codes = codes_at(clock)
    assert redactor(f"secret {SECRET}") == "secret [redacted]"
    code = codes.next("login")
    assert code not in redactor(f"code {code}")


# --- PromptedCodes ---------------------------------------------------------------------


class Asker:
    """A scripted person: answers in order, remembering each prompt and countdown."""

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.calls: list[tuple[str, float]] = []

    def __call__(self, prompt: str, wait: float, sent_in_page: Any = None) -> str:
        self.calls.append((prompt, wait))
        return self.answers.pop(0)


def prompted(asker: Asker, clock: FakeClock, period: int = 30) -> PromptedCodes:
    return PromptedCodes("Binance", period, asker, clock=clock)


def test_prompted_returns_the_typed_code() -> None:
    asker = Asker(" 123 456 ")
    codes = prompted(asker, FakeClock(1000.0))
    assert codes.seconds_until_next() == 0
    assert codes.next("login") == "123456"
    assert asker.calls == [("Binance: authenticator code for login", 0.0)]


def test_prompted_refuses_a_code_typed_twice() -> None:
    clock = FakeClock(1000.0)
    asker = Asker("123456", "123456", "654321")
    codes = prompted(asker, clock)
    assert codes.next("login") == "123456"
    clock.now += 40
    assert codes.next("save") == "654321"
    assert len(asker.calls) == 3
    assert "already used" in asker.calls[2][0]
    assert "save" in asker.calls[2][0]


@pytest.mark.parametrize(
    "bad", ["abc", "12345", "123456789", "12a456", "", "１２３４５６", "²²²²²²"]
)
def test_prompted_refuses_non_digit_or_wrong_length(bad: str) -> None:
    asker = Asker(bad, "12345678")
    codes = prompted(asker, FakeClock(1000.0))
    assert codes.next("login") == "12345678"
    assert "6 to 8 digits" in asker.calls[1][0]


def test_prompted_counts_down_to_the_next_step() -> None:
    clock = FakeClock(1000.0)  # step 33 runs from 990 to 1020
    asker = Asker("111111", "222222")
    codes = prompted(asker, clock)
    codes.next("login")
    clock.now = 1005.0
    assert codes.seconds_until_next() == pytest.approx(15.0)
    codes.next("save")
    assert asker.calls[1][1] == pytest.approx(15.0)
    clock.now = 1040.0  # the step of the last code is over
    assert codes.seconds_until_next() == 0


def test_prompted_gives_up_after_five_bad_answers() -> None:
    asker = Asker("x", "1", "222222", "222222", "nope", "333333")
    codes = prompted(asker, FakeClock(1000.0))
    codes.used.add("222222")
    with pytest.raises(UserActionNeeded) as info:
        codes.next("login")
    assert len(asker.calls) == 5
    assert asker.answers == ["333333"]  # the sixth answer was never asked for
    assert "Binance" in info.value.message
    assert "222222" not in info.value.message


def test_prompted_accepts_a_good_fifth_answer() -> None:
    asker = Asker("a", "b", "c", "d", "987654")
    assert prompted(asker, FakeClock(1000.0)).next("login") == "987654"


def test_prompted_codes_are_registered_with_the_redactor() -> None:
    codes = prompted(Asker("424242"), FakeClock(1000.0))
    codes.next("login")
    assert redactor("typed 424242") == "typed [redacted]"


def test_a_code_used_elsewhere_moves_the_next_one_to_a_later_step() -> None:
    clock = FakeClock(1000.0)
    codes = TotpCodes(SECRET, 30, clock=clock, sleep=clock.sleep)
    codes.used_elsewhere()  # the person signed in by hand with this step's code
    codes.next("saving")
    assert codes.last_step == 1000 // 30 + 1


# --- refusals: wait for a new step only when the site spent the current one ---------------

ALREADY = "Code already used. Wait for a new code."
WRONG = "Invalid verification code"


def test_prompted_typo_is_asked_again_at_once() -> None:
    clock = FakeClock(1000.0)  # step 33 runs from 990 to 1020
    asker = Asker("111111", "222222")
    codes = prompted(asker, clock)
    codes.next("login")
    codes.refused(WRONG)
    assert codes.seconds_until_next() == 0  # the server did not spend this step
    assert codes.next("login") == "222222"
    assert asker.calls[1][1] == 0
    assert "refused that code" in asker.calls[1][0] and WRONG in asker.calls[1][0]


def test_prompted_already_used_waits_for_the_next_step() -> None:
    clock = FakeClock(1000.0)
    asker = Asker("111111", "222222")
    codes = prompted(asker, clock)
    codes.next("login")
    codes.refused(ALREADY)
    assert codes.next("login") == "222222"
    assert asker.calls[1][1] == pytest.approx(20.0)  # counted down to the step at 1020


def test_prompted_typo_after_an_accepted_code_still_waits_for_that_codes_step() -> None:
    clock = FakeClock(1000.0)
    codes = prompted(Asker("111111", "222222", "333333"), clock)
    codes.next("login")  # accepted: step 33 is spent
    clock.now = 1025.0  # step 34
    codes.next("save")
    codes.refused(WRONG)  # a typo in step 34: step 33's acceptance still stands
    assert codes.seconds_until_next() == 0
    codes.next("save")
    codes.refused(ALREADY)
    assert codes.seconds_until_next() == pytest.approx(25.0)  # step 35 begins at 1050


def test_prompted_never_takes_a_refused_code_again() -> None:
    asker = Asker("111111", "111111", "222222")
    codes = prompted(asker, FakeClock(1000.0))
    codes.next("login")
    codes.refused(WRONG)
    assert codes.next("login") == "222222"
    assert "already used" in asker.calls[2][0]


@pytest.mark.parametrize("reason", [ALREADY, WRONG])
def test_totp_refusal_takes_the_next_step(reason: str) -> None:
    """A generated code refused as wrong means clock skew or a wrong secret: the same code
    again cannot help, the next step's may. "Already used": the step is spent."""
    clock = FakeClock(1_000_000 * 30 + 1)
    codes = codes_at(clock)
    codes.next("login")
    codes.refused(reason)
    codes.next("login")
    assert step_of(clock.now, 30) == 1_000_000 + 1


def test_refusal_hints_fit_where_the_codes_came_from() -> None:
    totp_hint = codes_at(FakeClock(1000.0)).refusal_hint("bittrex")
    typed_hint = prompted(Asker(), FakeClock(1000.0)).refusal_hint("bittrex")
    assert "IPBIND_BITTREX__TOTP_SECRET" in totp_hint and "clock" in totp_hint
    assert "TOTP_SECRET" not in typed_hint and "IPBIND_" not in typed_hint
    assert "authenticator app" in typed_hint


# --- StepMemory: back-to-back runs ----------------------------------------------------------


def test_a_second_run_starts_after_the_step_the_first_one_used(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000 * 30 + 1)
    path = tmp_path / "state" / "totp-steps.json"
    first = codes_at(clock, memory=StepMemory(path, "https://www.binance.com"))
    first.next("plan: signing in")
    clock.now += 2  # the next run starts in the same step
    second = codes_at(clock, memory=StepMemory(path, "https://www.binance.com"))
    other_site = codes_at(clock, memory=StepMemory(path, "https://www.kraken.com"))

    assert second.seconds_until_next() == pytest.approx(27.0)
    second.next("apply: signing in")
    assert step_of(clock.now, 30) == 1_000_000 + 1
    clock.now = 1_000_000 * 30 + 3
    assert other_site.seconds_until_next() == 0  # each site has its own steps


def test_a_wait_the_previous_run_made_is_said_and_this_runs_own_waits_are_not(
    tmp_path: Path,
) -> None:
    clock = FakeClock(1_000_000 * 30 + 1)
    path = tmp_path / "state" / "totp-steps.json"
    codes_at(clock, memory=StepMemory(path, "https://www.binance.com")).next("plan: signing in")
    clock.now += 2  # the next run starts in the same step
    told: list[str] = []
    second = TotpCodes(
        SECRET,
        30,
        clock=clock,
        sleep=clock.sleep,
        memory=StepMemory(path, "https://www.binance.com"),
        tell=told.append,
    )

    second.next("apply: signing in")
    second.next("apply: saving")  # this run's own step: a wait, and nothing said

    assert told == [
        "waiting 27 s for a fresh authenticator code: your previous run used the last one"
    ]
    assert len(clock.sleeps) == 2

    fresh_told: list[str] = []
    fresh = TotpCodes(SECRET, 30, clock=clock, sleep=clock.sleep, tell=fresh_told.append)
    fresh.next("signing in")
    assert fresh_told == []  # no run before it: no wait to explain


def test_the_memory_file_is_private_and_small(tmp_path: Path) -> None:
    path = tmp_path / "state" / "totp-steps.json"
    clock = FakeClock(time.time())
    codes_at(clock, memory=StepMemory(path, "https://a.example")).next("x")
    StepMemory(path, "https://old.example").record(1.0)  # long past: dropped at next write
    codes_at(clock, memory=StepMemory(path, "https://b.example")).next("x")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert set(json.loads(path.read_text())) == {"https://a.example", "https://b.example"}
    assert SECRET not in path.read_text()


def test_prompted_codes_remember_the_step_across_runs(tmp_path: Path) -> None:
    path = tmp_path / "totp-steps.json"
    clock = FakeClock(time.time())
    PromptedCodes("X", 30, Asker("123456"), clock=clock, memory=StepMemory(path, "s")).next("a")
    again = PromptedCodes("X", 30, Asker(), clock=clock, memory=StepMemory(path, "s"))
    assert again.seconds_until_next() > 0


def test_an_unreadable_memory_is_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "totp-steps.json"
    path.write_text("{not json")
    clock = FakeClock(1_000_000 * 30 + 1)
    assert codes_at(clock, memory=StepMemory(path, "s")).seconds_until_next() == 0
