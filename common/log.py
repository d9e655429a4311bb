"""Logging set-up: one format, quiet client libraries, and secrets redacted everywhere.

``register_secret`` adds a value (webhook URL, token, password) that must never reach a log
line; the filter also masks anything shaped like a Slack webhook or token as a second guard.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable

_SECRETS: set[str] = set()
_PATTERNS = (
    re.compile(r"https://hooks\.slack\.com/[^\s'\"]+"),
    re.compile(r"xox[abprs]-[A-Za-z0-9-]+"),
)
REDACTED = "***"


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts the message, the whole traceback (chained causes included) and stack info."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class DemoteFilter(logging.Filter):
    """kafka-python warns when one step of its I/O loop took over 0.1 s of wall time ("Task ...
    ran for 0.3s ... blocking the event loop"). Here that is a thread of the same process
    holding the GIL, or the machine busy, not a client stuck: the line goes out at DEBUG, so
    it reaches the log only when debugging, not the user's terminal mid-demo."""

    DEMOTED = (("kafka.net.selector", "blocking the event loop"),)

    def filter(self, record: logging.LogRecord) -> bool:
        for name, text in self.DEMOTED:
            if record.name == name and text in str(record.msg):
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class RateLimitFilter(logging.Filter):
    """The same line over and over (a client retrying a broker that is away) is let through
    once, then at most once per ``window_s`` with a count of what was held back.

    It applies to the client libraries' loggers (``QUIET``: kafka, aiokafka, faust, ...) and to
    the project's retry loggers (``retry_logger``, named ``<module>.retry``); the project's other
    lines (lifecycle, alerts) always pass. "The same line" is the same logger, level and message
    template (``record.msg`` before its arguments), so "Unable connect to node with id 1" at
    every retry is one line. Errors with a traceback always pass."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self.seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [last shown, held]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.levelno < logging.WARNING or not _rate_limited(record.name):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        entry = self.seen.get(key)
        if entry is None:
            if len(self.seen) > 1000:
                self.seen.clear()
            self.seen[key] = [now, 0]
            return True
        if now - entry[0] < self.window_s:
            entry[1] += 1
            return False
        held = int(entry[1])
        entry[0], entry[1] = now, 0
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {self.window_s:.0f} s]"
        return True


def _rate_limited(name: str) -> bool:
    return name.endswith(".retry") or name.split(".", 1)[0] in QUIET


def retry_logger(module: str) -> logging.Logger:
    """The logger for a module's retry warnings (outages): rate-limited by ``RateLimitFilter``."""
    return logging.getLogger(f"{module}.retry")


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


QUIET = ("kafka", "aiokafka", "faust", "mode", "urllib3", "yfinance", "ccxt", "asyncio")


def setup_logging(level: str | int = "INFO", json_lines: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = StderrHandler()
    fmt = (
        '{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}'
        if json_lines
        else "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(DemoteFilter())
    handler.addFilter(RedactingFilter())
    handler.addFilter(RateLimitFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
