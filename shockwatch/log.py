"""Logging set-up: one format, quiet client libraries, and secrets redacted everywhere.

``register_secret`` adds a value (webhook URL, token, password) that must never reach a log
line; the filter also masks anything shaped like a Slack webhook or token as a second guard.
"""

from __future__ import annotations

import logging
import re
import sys

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
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
