"""Logging with redaction by value: every secret the run knows (passwords, TOTP secrets,
every code it generates or is given) is registered here, and every log record — stderr
and the per-run debug file alike — has each of them replaced before it is written."""

from __future__ import annotations

import logging
import re
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

MASK = "[redacted]"


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                # Very short values (a 1-char password) would blank out unrelated text.
                if value and len(value) >= 4 and value not in self._values:
                    self._values.add(value)
                    self._pattern = None

    def __call__(self, text: str) -> str:
        with self._lock:
            if not self._values:
                return text
            if self._pattern is None:
                # Longest first, so a secret that contains another is masked whole.
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            pattern = self._pattern
        return pattern.sub(MASK, text)

    def values(self) -> list[str]:
        """Every registered secret (for scrubbing what is not a log line: a trace)."""
        with self._lock:
            return list(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


redactor = Redactor()


def _patch(record: Any) -> None:
    record["message"] = redactor(record["message"])
    if record["exception"] is not None and record["exception"].value is not None:
        # loguru formats the traceback later, from the exception's own text: swap in a
        # stand-in whose text is redacted and whose traceback is the original's.
        record["exception"] = record["exception"]._replace(
            value=RedactedException(record["exception"].value)
        )


class RedactedException(Exception):
    """Stands in for an exception whose message might hold a secret: same class name,
    same traceback, redacted text."""

    def __init__(self, original: BaseException):
        super().__init__(redactor(str(original)))
        self.__traceback__ = original.__traceback__
        if original.__cause__ is not None:
            self.__cause__ = RedactedException(original.__cause__)

    def __new__(cls, original: BaseException) -> RedactedException:
        named = type(type(original).__name__, (cls,), {"__module__": type(original).__module__})
        return Exception.__new__(named)


def file_only() -> Any:
    """A logger for the debug file alone: for what the terminal is told in its own words
    (an error the reporter prints), which stderr would otherwise show twice with -v."""
    return logger.bind(file_only=True)


def to_stderr(line: str) -> None:
    sys.stderr.write(line)


class FromPlaywright(logging.Handler):
    """Playwright's own log records (an error in an event listener, which the next API call
    raises anyway) go to the debug file, not to the terminal through logging's last-resort
    handler: a Ctrl-C that lands in a listener would otherwise print a traceback there."""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        said = f": {type(error).__name__}" if error is not None else ""
        file_only().debug("playwright: {}{}", record.getMessage(), said)


def setup(verbosity: int = 0, run_dir: Path | None = None, *, quiet: bool = False) -> Path | None:
    """stderr at WARNING (-v: INFO, -vv: DEBUG), plus a DEBUG file in `run_dir`."""
    playwright_log = logging.getLogger("playwright")
    playwright_log.handlers = [FromPlaywright()]
    playwright_log.propagate = False
    logger.remove()
    logger.configure(patcher=_patch)  # type: ignore[arg-type]
    level = {0: "WARNING", 1: "INFO"}.get(verbosity, "DEBUG")
    if not quiet:
        logger.add(
            # sys.stderr as it is at each line: while a live progress line shows, rich has
            # swapped in a stand-in that prints the line above it instead of across it.
            to_stderr,
            colorize=sys.stderr.isatty(),
            level=level,
            format="<level>{level: <7}</level> {message}",
            filter=lambda record: not record["extra"].get("file_only"),
            backtrace=False,
            diagnose=False,
        )
    if run_dir is None:
        return None
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = run_dir / "debug.log"
    logger.add(
        path,
        level="DEBUG",
        backtrace=False,
        diagnose=False,
        encoding="utf-8",
        format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {message}",
    )
    return path


def new_run_dir(artifacts: Path) -> Path:
    """A new run's folder, named by the time (2026-12-06_20.02.09_3119d). No run of more
    than five digits in it: a code masked in the run's output (six digits) must never be
    found inside the folder's name as it is printed (20261206-200209-201133 was, once)."""
    now = datetime.now()
    return artifacts / f"{now:%Y-%m-%d_%H.%M.%S}_{now.microsecond:05x}"
