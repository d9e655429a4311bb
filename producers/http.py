"""One small HTTP client for the polled providers (FRED, New York Fed, Treasury, Yahoo).

Status codes become the retry helper's vocabulary: 429 -> ``RateLimited`` (with the server's
``Retry-After``), 5xx and connection errors -> retried, other 4xx -> ``ProviderError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.retry import (
    ProviderError,
    RateLimited,
    RetryableError,
    parse_retry_after,
    retry_async,
)

# Some public data sites turn away clients without a browser-like agent.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) shockwatch-producers/0.1"


class HttpClient:
    def __init__(
        self,
        timeout_s: float = 30.0,
        attempts: int = 4,
        min_rate_limit_s: float = 0.0,
        backoff_base_s: float = 0.5,
    ) -> None:
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.min_rate_limit_s = min_rate_limit_s
        self.backoff_base_s = backoff_base_s
        self._session: Any = None

    async def _client(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_once(self, url: str, params: Mapping[str, str] | None = None) -> str:
        session = await self._client()
        async with session.get(url, params=params) as resp:
            text = await resp.text()
            if resp.status == 429:
                raise RateLimited(
                    f"{url}: HTTP 429", parse_retry_after(resp.headers.get("Retry-After"))
                )
            if resp.status >= 500:
                raise RetryableError(
                    f"{url}: HTTP {resp.status}", parse_retry_after(resp.headers.get("Retry-After"))
                )
            if resp.status >= 400:
                raise ProviderError(f"{url}: HTTP {resp.status}: {text[:200]}")
            return text

    async def get(self, url: str, params: Mapping[str, str] | None = None) -> str:
        return await retry_async(
            lambda: self.get_once(url, params),
            attempts=self.attempts,
            min_rate_limit_s=self.min_rate_limit_s,
            base_s=self.backoff_base_s,
            what=f"GET {url}",
        )
