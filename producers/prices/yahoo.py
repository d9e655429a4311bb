"""Yahoo Finance minute bars (the chart API that yfinance reads).

Live, the request goes through yfinance's own session (``YfData``: browser impersonation,
cookie and crumb, ``YFRateLimitError`` on HTTP 429). Pointed at another base URL (a mirror, or
the fixture server), the same request goes out over plain HTTP. Either way the chart JSON is
parsed here, and a rate limit becomes ``RateLimited`` for the retry helper.

Chart JSON: ``{"chart":{"result":[{"meta":{..,"regularMarketTime":..},"timestamp":[..],
"indicators":{"quote":[{"open":[..],"high":[..],"low":[..],"close":[..],"volume":[..]}]}}],
"error":null}}`` -- minute starts in epoch seconds, ``null`` where a minute had no trade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from producers.http import HttpClient
from producers.prices.bars import INTERVAL_S, Bar
from producers.retry import ProviderError, RateLimited, RetryableError, retry_async

YAHOO_DEFAULT_BASE = "https://query2.finance.yahoo.com"
CHART_PARAMS = {"interval": "1m", "range": "1d", "includePrePost": "false"}


def _num(values: list[Any] | None, i: int) -> float | None:
    if values is None or i >= len(values):
        return None
    v = values[i]
    if v is None or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def parse_chart(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[Bar], int]:
    """``(meta, bars, unaligned)`` of a chart document; ``ProviderError`` for an error document.

    ``unaligned`` counts points that are not minute starts (Yahoo can append the live quote).
    """
    chart = doc.get("chart") if isinstance(doc, Mapping) else None
    if not isinstance(chart, Mapping):
        raise ProviderError("not a chart document")
    if chart.get("error"):
        err = chart["error"]
        raise ProviderError(f"chart error: {err.get('code')}: {err.get('description')}")
    results = chart.get("result")
    if not results:
        raise ProviderError("chart document without a result")
    result = results[0]
    meta = dict(result.get("meta") or {})
    stamps = result.get("timestamp") or []
    quotes = ((result.get("indicators") or {}).get("quote") or [{}])[0] or {}
    bars: list[Bar] = []
    unaligned = 0
    for i, t in enumerate(stamps):
        if not isinstance(t, int) or t % INTERVAL_S:
            unaligned += 1
            continue
        bars.append(
            Bar(
                start_ms=t * 1000,
                open=_num(quotes.get("open"), i),
                high=_num(quotes.get("high"), i),
                low=_num(quotes.get("low"), i),
                close=_num(quotes.get("close"), i),
                volume=_num(quotes.get("volume"), i),
            )
        )
    return meta, bars, unaligned


def session_end_ms(meta: Mapping[str, Any]) -> int | None:
    """The regular session's end (``currentTradingPeriod.regular.end``): Yahoo returns a row
    starting there that holds the closing-auction print."""
    period = meta.get("currentTradingPeriod")
    regular = period.get("regular") if isinstance(period, Mapping) else None
    end = regular.get("end") if isinstance(regular, Mapping) else None
    return end * 1000 if isinstance(end, int) and end > 0 else None


def provider_clock_ms(meta: Mapping[str, Any], now_ms: int) -> int:
    """Yahoo's clock: the last trade time (a bar ending after it is still forming)."""
    t = meta.get("regularMarketTime")
    if isinstance(t, int) and t > 0:
        return min(now_ms, t * 1000)
    return now_ms


class YahooChart:
    def __init__(
        self,
        base_url: str = YAHOO_DEFAULT_BASE,
        http: HttpClient | None = None,
        *,
        timeout_s: float = 30.0,
        attempts: int = 3,
        min_rate_limit_s: float = 30.0,
        backoff_base_s: float = 2.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.use_yfinance = self.base_url == YAHOO_DEFAULT_BASE
        self.http = http or HttpClient(timeout_s=timeout_s, attempts=1)
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.min_rate_limit_s = min_rate_limit_s
        self.backoff_base_s = backoff_base_s

    def url(self, ticker: str) -> str:
        return f"{self.base_url}/v8/finance/chart/{quote(ticker, safe='')}"

    async def fetch(self, ticker: str) -> dict[str, Any]:
        return await retry_async(
            lambda: self._fetch_once(ticker),
            attempts=self.attempts,
            min_rate_limit_s=self.min_rate_limit_s,
            base_s=self.backoff_base_s,
            what=f"yahoo chart {ticker}",
        )

    async def _fetch_once(self, ticker: str) -> dict[str, Any]:
        if self.use_yfinance:
            text = await asyncio.to_thread(self._yfinance_get, ticker)
        else:
            text = await self.http.get_once(self.url(ticker), CHART_PARAMS)
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise RetryableError(f"yahoo chart {ticker}: not JSON ({exc})") from None
        return doc

    def _yfinance_get(self, ticker: str) -> str:
        from yfinance.data import YfData
        from yfinance.exceptions import YFRateLimitError

        try:
            resp = YfData().get(url=self.url(ticker), params=CHART_PARAMS, timeout=self.timeout_s)
        except YFRateLimitError as exc:
            raise RateLimited(f"yahoo chart {ticker}: {exc}") from exc
        if resp.status_code == 429:
            raise RateLimited(f"yahoo chart {ticker}: HTTP 429")
        if resp.status_code >= 500:
            raise RetryableError(f"yahoo chart {ticker}: HTTP {resp.status_code}")
        if resp.status_code == 404:
            # An unknown ticker still answers with a chart error document.
            return resp.text
        if resp.status_code >= 400:
            raise ProviderError(f"yahoo chart {ticker}: HTTP {resp.status_code}")
        return resp.text
