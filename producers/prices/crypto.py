"""Binance USD-M minute bars through ccxt (REST ``fetch_ohlcv``), around the clock.

The exchange's own clock (``fetch_time``) decides which bar is complete: the last kline of a
response is still forming until the server time passes its end.
"""

from __future__ import annotations

from typing import Any

from producers.prices.bars import INTERVAL_MS, Bar
from producers.retry import ProviderError, RateLimited, RetryableError, retry_async

MAX_BARS = 500


class CcxtBars:
    def __init__(
        self,
        ccxt_id: str = "binanceusdm",
        *,
        rest_base: str | None = None,
        markets_snapshot: list[dict[str, Any]] | None = None,
        attempts: int = 4,
        min_rate_limit_s: float = 30.0,
        backoff_base_s: float = 1.0,
    ) -> None:
        self.ccxt_id = ccxt_id
        self.rest_base = rest_base
        self.snapshot = markets_snapshot
        self.attempts = attempts
        self.min_rate_limit_s = min_rate_limit_s
        self.backoff_base_s = backoff_base_s
        self.exchange: Any = None

    async def open(self) -> None:
        import ccxt.async_support as ccxt_async

        cls = getattr(ccxt_async, self.ccxt_id)
        self.exchange = cls(
            {"enableRateLimit": True, "options": {"fetchMarkets": {"types": ["linear"]}}}
        )
        if self.rest_base:
            self.exchange.urls["api"]["fapiPublic"] = self.rest_base.rstrip("/") + "/fapi/v1"
        if self.snapshot is not None:
            self.exchange.set_markets(self.snapshot)
        else:
            await self._call(self.exchange.load_markets)

    async def close(self) -> None:
        if self.exchange is not None:
            await self.exchange.close()

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import ccxt

        async def once() -> Any:
            try:
                return await fn(*args, **kwargs)
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
                raise RateLimited(f"{self.ccxt_id}: {exc}") from exc
            except ccxt.NetworkError as exc:
                raise RetryableError(f"{self.ccxt_id}: {exc}") from exc
            except ccxt.BaseError as exc:
                raise ProviderError(f"{self.ccxt_id}: {exc}") from exc

        return await retry_async(
            once,
            attempts=self.attempts,
            min_rate_limit_s=self.min_rate_limit_s,
            base_s=self.backoff_base_s,
            what=f"{self.ccxt_id} {getattr(fn, '__name__', 'call')}",
        )

    async def fetch(self, symbol: str, since_ms: int | None) -> tuple[list[Bar], int]:
        """``(bars since since_ms, server time ms)``."""
        server_ms = int(await self._call(self.exchange.fetch_time))
        if since_ms is None:
            since_ms = server_ms - 60 * INTERVAL_MS
        since_ms -= since_ms % INTERVAL_MS
        rows = await self._call(self.exchange.fetch_ohlcv, symbol, "1m", since_ms, MAX_BARS)
        return bars_from_ohlcv(rows, since_ms), server_ms


def bars_from_ohlcv(rows: list[list[Any]], since_ms: int | None = None) -> list[Bar]:
    """ccxt's unified OHLCV rows ``[timestamp ms (bar start), open, high, low, close, volume]``
    (oldest first) as ``Bar``s from ``since_ms`` on."""
    return [
        Bar(int(r[0]), r[1], r[2], r[3], r[4], r[5])
        for r in rows
        if r and r[0] is not None and (since_ms is None or int(r[0]) >= since_ms)
    ]
