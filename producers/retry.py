"""The producers' retry helper (after freqtrade's ``exchange/common.py``).

``retry_async`` retries a coroutine on the errors a provider can recover from, waiting
``max(backoff, Retry-After)`` between attempts; the backoff is the floor's one
(``common.backoff.calculate_backoff``, "equal jitter" by default).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from common.backoff import calculate_backoff

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 4
# A Retry-After longer than this is treated as a misconfiguration: capped, not obeyed.
RETRY_AFTER_MAX_S = 900.0

P = ParamSpec("P")
T = TypeVar("T")


class RetryableError(Exception):
    """A provider failure worth retrying; ``retry_after_s`` when the provider said how long."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(RetryableError):
    """HTTP 429 (or the provider's equivalent, e.g. yfinance's ``YFRateLimitError``)."""


class ProviderError(Exception):
    """A provider answered, but not with usable data (4xx, an error document): not retried."""


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` (delta-seconds or an HTTP date), capped; else None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now_s is None else now_s)
    return max(0.0, min(seconds, RETRY_AFTER_MAX_S))


def retry_delay(
    attempt: int, error: BaseException, *, min_rate_limit_s: float = 0.0, **backoff: Any
) -> float:
    """The wait before the next attempt after ``error``: backoff, raised by Retry-After."""
    delay = calculate_backoff(attempt, **backoff)
    if isinstance(error, RateLimited):
        delay = max(delay, min_rate_limit_s)
    after = getattr(error, "retry_after_s", None)
    if after is not None:
        delay = max(delay, after)
    return delay


def _default_retryable() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (RetryableError, aiohttp.ClientConnectionError, asyncio.TimeoutError, ConnectionError)


async def retry_async(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_on: tuple[type[BaseException], ...] | None = None,
    min_rate_limit_s: float = 0.0,
    what: str = "request",
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    **backoff: Any,
) -> T:
    """Await ``fn()``; on a retryable error wait and try again, ``attempts`` times in all."""
    retryable = retry_on if retry_on is not None else _default_retryable()
    for attempt in range(attempts):
        try:
            return await fn()
        except retryable as exc:
            if attempt + 1 >= attempts:
                raise
            delay = retry_delay(attempt, exc, min_rate_limit_s=min_rate_limit_s, **backoff)
            log.warning(
                "%s failed (%s: %s); retry %d/%d in %.1f s",
                what,
                type(exc).__name__,
                exc,
                attempt + 1,
                attempts - 1,
                delay,
            )
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def retrying(
    **options: Any,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorator form of ``retry_async`` for coroutine functions."""

    def wrap(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            options.setdefault("what", fn.__qualname__)
            return await retry_async(lambda: fn(*args, **kwargs), **options)

        return wrapper

    return wrap
