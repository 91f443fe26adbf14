"""Redaction by value: no registered secret reaches stderr or the debug log, not even
inside an exception's message."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from assistant import logs
from assistant.logs import MASK, Redactor, redactor
from assistant.twofa import TotpCodes

PASSWORD = "p4ss-w0rd-Secret!"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    redactor.clear()
    yield
    redactor.clear()
    logger.remove()
    logger.configure(patcher=lambda record: None)


def read_log(path: Path) -> str:
    logger.remove()  # closes (and so flushes) the file sink
    return path.read_text(encoding="utf-8")


# --- the redactor on its own ---------------------------------------------------------------


def test_every_registered_value_is_replaced() -> None:
    r = Redactor()
    r.add("alpha-secret", "beta-secret")
    assert r("x alpha-secret y beta-secret z alpha-secret") == f"x {MASK} y {MASK} z {MASK}"


def test_nothing_registered_changes_nothing() -> None:
    assert Redactor()("a password in plain text") == "a password in plain text"


def test_longest_first_when_one_secret_contains_another() -> None:
    r = Redactor()
    r.add("hunter2", "hunter2hunter2-long")  # the short one is added first on purpose
    assert r("pw=hunter2hunter2-long;") == f"pw={MASK};"
    assert r("pw=hunter2;") == f"pw={MASK};"


def test_overlapping_secrets_leave_neither_whole() -> None:
    r = Redactor()
    r.add("abcdef", "defghi")
    out = r("..abcdefghi..")
    assert "abcdef" not in out and "defghi" not in out
    assert out.startswith(f"..{MASK}")


def test_values_shorter_than_four_characters_are_ignored() -> None:
    r = Redactor()
    r.add("abc", "", None, "x")
    assert r("abc x the abcde") == "abc x the abcde"
    r.add("abcd")
    assert r("abc abcd abcde") == f"abc {MASK} {MASK}e"


def test_regex_characters_are_literal() -> None:
    r = Redactor()
    r.add("a.b*c+(d)")
    assert r("a.b*c+(d) aXbbbc+d") == f"{MASK} aXbbbc+d"


def test_clear_forgets_everything() -> None:
    r = Redactor()
    r.add("secret-one")
    r.clear()
    assert r("secret-one") == "secret-one"
    r.add("secret-two")  # and works again after clearing
    assert r("secret-one secret-two") == f"secret-one {MASK}"


# --- through loguru, to stderr and the debug log -------------------------------------------


def test_secrets_are_redacted_on_stderr_and_in_the_debug_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = logs.setup(verbosity=2, run_dir=tmp_path)
    assert path == tmp_path / "debug.log"
    redactor.add(PASSWORD)
    codes = TotpCodes(TOTP_SECRET, 30, clock=lambda: 1_000_000 * 30 + 1, sleep=lambda s: None)
    code = codes.next("login")
    logger.debug("typing password {} then secret {}", PASSWORD, TOTP_SECRET)
    logger.info(f"submitting code {code} for step 1000000")
    logger.warning("all three: {p}/{s}/{c}", p=PASSWORD, s=TOTP_SECRET, c=code)
    err = capsys.readouterr().err
    text = read_log(path)
    for out in (err, text):
        for secret in (PASSWORD, TOTP_SECRET, code):
            assert secret not in out
        assert f"typing password {MASK} then secret {MASK}" in out
        assert f"submitting code {MASK} for step 1000000" in out
        assert f"all three: {MASK}/{MASK}/{MASK}" in out


def test_stderr_level_follows_verbosity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = logs.setup(verbosity=0, run_dir=tmp_path)
    logger.debug("a debug line")
    logger.warning("a warning line")
    err = capsys.readouterr().err
    assert "a warning line" in err and "a debug line" not in err
    assert "a debug line" in read_log(path)  # the file always gets DEBUG


def test_an_exception_message_does_not_leak_into_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = logs.setup(verbosity=2, run_dir=tmp_path)
    redactor.add(PASSWORD)
    try:
        raise RuntimeError(f"login refused for password {PASSWORD}")
    except RuntimeError:
        logger.exception("login failed")
    err = capsys.readouterr().err
    text = read_log(path)
    for out in (err, text):
        assert PASSWORD not in out
        assert "login failed" in out
        assert "Traceback" in out
        assert f"login refused for password {MASK}" in out
        # (the stand-in shows as RedactedException, not RuntimeError: see the report)


def test_a_chained_exception_does_not_leak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = logs.setup(verbosity=2, run_dir=tmp_path)
    redactor.add(PASSWORD)
    try:
        try:
            raise ValueError(f"bad password {PASSWORD}")
        except ValueError as inner:
            raise RuntimeError("login failed") from inner
    except RuntimeError:
        logger.exception("step failed")
    err = capsys.readouterr().err
    text = read_log(path)
    for out in (err, text):
        assert PASSWORD not in out
        assert "login failed" in out


def test_quiet_writes_only_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = logs.setup(verbosity=2, run_dir=tmp_path, quiet=True)
    assert path is not None
    logger.error("only in the file")
    assert capsys.readouterr().err == ""
    assert "only in the file" in read_log(path)


def test_an_error_in_a_playwright_listener_goes_to_the_debug_file_not_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Playwright logs an exception raised in one of its event listeners (a Ctrl-C that lands
    # there, say) and raises it at the next API call; logging's last resort would print it.
    path = logs.setup(run_dir=tmp_path)
    assert path is not None
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as err:
        logging.getLogger("playwright").error("Error occurred in event listener", exc_info=err)

    assert capsys.readouterr().err == ""
    assert "playwright: Error occurred in event listener: KeyboardInterrupt" in read_log(path)


def test_no_six_digit_code_can_be_masked_inside_a_run_folders_name(tmp_path: Path) -> None:
    """A code is masked wherever it shows; the run's folder, printed at the end, holds no
    run of six digits for one to be found in."""
    import re

    from assistant.logs import new_run_dir

    name = new_run_dir(tmp_path).name
    assert not re.search(r"\d{6}", name), name
