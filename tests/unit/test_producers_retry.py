"""The floor's one backoff (common.backoff), and the producers' Retry-After and retry loop."""

from __future__ import annotations

import email.utils

import pytest

from common.backoff import BACKOFF_BASE_S, BACKOFF_MAX_S, calculate_backoff
from producers.retry import (
    RETRY_AFTER_MAX_S,
    ProviderError,
    RateLimited,
    RetryableError,
    parse_retry_after,
    retry_async,
    retry_delay,
    retrying,
)


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 10, 100])
def test_backoff_lies_between_half_and_full_nominal(attempt: int) -> None:
    nominal = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt)
    assert calculate_backoff(attempt, rng=lambda: 0.0) == pytest.approx(nominal / 2)
    assert calculate_backoff(attempt, rng=lambda: 1.0) == pytest.approx(nominal)
    for _ in range(50):
        assert nominal / 2 <= calculate_backoff(attempt) <= nominal


def test_backoff_grows_then_caps() -> None:
    delays = [calculate_backoff(a, rng=lambda: 1.0) for a in range(12)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert delays == sorted(delays)
    assert delays[-1] == BACKOFF_MAX_S
    assert calculate_backoff(3, base_s=1, cap_s=5, rng=lambda: 1.0) == 5


def test_backoff_jitter_spreads_clients() -> None:
    assert len({round(calculate_backoff(4), 6) for _ in range(20)}) > 10


def test_backoff_rejects_negative_attempt() -> None:
    with pytest.raises(ValueError):
        calculate_backoff(-1)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("99999") == RETRY_AFTER_MAX_S
    when = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after(when, now_s=1_000_000.0) == pytest.approx(30.0)
    assert parse_retry_after(email.utils.formatdate(0, usegmt=True), now_s=10.0) == 0.0


def test_retry_delay_honours_retry_after_and_rate_limit_floor() -> None:
    assert retry_delay(0, RetryableError("x", retry_after_s=9.0)) >= 9.0
    assert retry_delay(0, RateLimited("429"), min_rate_limit_s=30.0) >= 30.0
    assert retry_delay(0, RetryableError("x"), min_rate_limit_s=30.0) <= BACKOFF_BASE_S


class Flaky:
    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_retry_async_retries_then_succeeds_with_retry_after() -> None:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    fn = Flaky([RateLimited("429", retry_after_s=12.0), ConnectionError("reset")])
    assert await retry_async(fn, attempts=4, sleep=sleep) == "ok"
    assert fn.calls == 3
    assert slept[0] >= 12.0  # the provider said how long
    assert slept[1] <= 1.0  # plain backoff, attempt 1


async def test_retry_async_gives_up_after_attempts() -> None:
    async def sleep(s: float) -> None:
        return None

    fn = Flaky([RetryableError("a"), RetryableError("b"), RetryableError("c")])
    with pytest.raises(RetryableError, match="c"):
        await retry_async(fn, attempts=3, sleep=sleep)
    assert fn.calls == 3


async def test_retry_async_does_not_retry_provider_errors() -> None:
    fn = Flaky([ProviderError("404")])
    with pytest.raises(ProviderError):
        await retry_async(fn, attempts=5)
    assert fn.calls == 1


async def test_retrying_decorator() -> None:
    calls = []

    async def no_sleep(s: float) -> None:
        return None

    @retrying(attempts=3, sleep=no_sleep)
    async def get(x: int) -> int:
        calls.append(x)
        if len(calls) < 2:
            raise RetryableError("once")
        return x * 2

    assert await get(21) == 42
    assert calls == [21, 21]
