"""The price producer: poll minute bars, send each completed bar once, heartbeat when idle.

Every ``price_poll_s`` (a few seconds after the minute) it asks Yahoo and Binance USD-M for the
instruments in their hours (the timing model's: equities US hours, gold CME Globex's ~23 hours,
VIX Cboe's, crypto always), and for a delayed instrument until its last bars have arrived, keeps
the bars that are complete and newer than the last one sent per symbol, and sends them as
``PriceTick``s. A
rate-limited provider is retried with backoff, then left alone for a while; one failing symbol
does not stop the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from common.backoff import calculate_backoff
from producers.config import Endpoint, ProducerSettings
from producers.liquidations.markets import load_snapshot
from producers.metrics import ProducerMetrics
from producers.plausibility import OncePerDay, PriceGuard
from producers.prices.bars import Bar, LastSent, select_bars, to_tick
from producers.prices.crypto import CcxtBars
from producers.prices.yahoo import YahooChart, parse_chart, provider_clock_ms, session_end_ms
from producers.retry import ProviderError, RateLimited
from producers.sink import Sink
from streams.instruments import INSTRUMENTS, Instrument, PriceProvider
from streams.records import RecordError
from streams.timing import Hours, is_open

log = logging.getLogger(__name__)

FEED = "prices"
# Poll a few minutes past each close so the last bars of the session arrive (16:05 for US
# equities); a delayed instrument is polled its maximum delay longer still.
POLL_GRACE_S = 300.0
POLL_OFFSET_S = 5.0
# After a provider kept rate-limiting through the retries, skip its polls for a while.
PROVIDER_PAUSE_BASE_S = 60.0
PROVIDER_PAUSE_MAX_S = 900.0


def session_open(hours: Hours, now: datetime, *, grace_s: float = POLL_GRACE_S) -> bool:
    """Whether new bars of an instrument of these hours may appear now: its source is open, or
    was within ``grace_s`` (holidays not modelled; a closed day simply yields no new bars)."""
    return is_open(hours, now) or is_open(hours, now - timedelta(seconds=grace_s))


def poll_due(inst: Instrument, now: datetime) -> bool:
    """Whether to poll ``inst`` now: in its hours, and for as long after them as it is late."""
    timing = inst.timing
    return session_open(timing.hours, now, grace_s=POLL_GRACE_S + timing.max_delay_s)


@dataclass
class PriceStats:
    sent: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    polls: int = 0


class PriceProducer:
    def __init__(
        self,
        *,
        sink: Sink,
        topic: str,
        ps: ProducerSettings,
        metrics: ProducerMetrics,
        state_path: Path | None = None,
        fixtures: Path | None = None,
        instruments: tuple[Instrument, ...] = INSTRUMENTS,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.sink = sink
        self.topic = topic
        self.ps = ps
        self.metrics = metrics
        self.last = LastSent(state_path)
        self.fixtures = fixtures
        wanted_y = set(ps.yahoo_tickers)
        wanted_c = set(ps.crypto_symbols)
        self.instruments = tuple(
            i
            for i in instruments
            if (i.provider is PriceProvider.YFINANCE and i.ticker in wanted_y)
            or (i.provider is PriceProvider.CCXT_BINANCEUSDM and i.ticker in wanted_c)
        )
        self.clock_ms = clock_ms
        self.stats = PriceStats()
        self.yahoo = YahooChart(
            ps.endpoint(Endpoint.YAHOO) or "",
            timeout_s=ps.http_timeout_s,
            attempts=ps.http_attempts,
            min_rate_limit_s=ps.rate_limit_min_s,
            backoff_base_s=min(2.0, ps.rate_limit_min_s),
        )
        snapshot = None
        if fixtures is not None:
            snapshot = load_snapshot(fixtures / "binanceusdm" / "markets.json")
        self.crypto = CcxtBars(
            rest_base=ps.endpoint(Endpoint.BINANCE_REST),
            markets_snapshot=snapshot,
            attempts=ps.http_attempts,
            min_rate_limit_s=ps.rate_limit_min_s,
            backoff_base_s=min(1.0, ps.rate_limit_min_s),
        )
        self._paused_until: dict[PriceProvider, float] = {}
        self._pauses: dict[PriceProvider, int] = {}
        self._crypto_open = False
        self._outbox: list[tuple[int, str, Any]] = []
        self.guard = PriceGuard(ps.price_max_multiple, ps.price_rebase_after)
        self.implausible = OncePerDay()

    async def close(self) -> None:
        await self.yahoo.http.close()
        if self._crypto_open:
            await self.crypto.close()

    # -- one poll ----------------------------------------------------------------------------
    async def poll_once(self, *, ignore_sessions: bool = False) -> int:
        """Poll every due instrument once; returns the number of bars sent."""
        now = datetime.fromtimestamp(self.clock_ms() / 1000).astimezone()
        sent = 0
        self.stats.polls += 1
        self._outbox = []
        for inst in self.instruments:
            if not ignore_sessions and not poll_due(inst, now):
                continue
            if time.monotonic() < self._paused_until.get(inst.provider, 0.0):
                continue
            try:
                sent += await self._poll(inst)
                self._pauses[inst.provider] = 0
            except RateLimited as exc:
                self._count_error(inst, "rate_limited")
                n = self._pauses.get(inst.provider, 0)
                self._pauses[inst.provider] = n + 1
                pause = max(
                    calculate_backoff(n, base_s=PROVIDER_PAUSE_BASE_S, cap_s=PROVIDER_PAUSE_MAX_S),
                    exc.retry_after_s or 0.0,
                )
                self._paused_until[inst.provider] = time.monotonic() + pause
                log.warning("%s rate-limited; pausing it for %.0f s", inst.provider, pause)
            except ProviderError as exc:
                self._count_error(inst, "provider_error")
                log.warning("%s %s: %s", inst.provider, inst.ticker, exc)
            except Exception as exc:  # network after retries, ...
                self._count_error(inst, type(exc).__name__)
                log.warning(
                    "%s %s failed: %s: %s", inst.provider, inst.ticker, type(exc).__name__, exc
                )
        # One poll's bars go out in event-time order across instruments: a partition holds
        # several symbols, and the detector needs each partition in event-time order (a bar
        # sent after a newer bar of another symbol would be a late event).
        self._outbox.sort(key=lambda item: (item[0], item[1]))
        for _, _, tick in self._outbox:
            await self.sink.send(self.topic, tick)
        self._outbox = []
        return sent

    def _count_error(self, inst: Instrument, error: str) -> None:
        self.stats.errors[error] = self.stats.errors.get(error, 0) + 1
        self.metrics.poll_failed(FEED, inst.provider.value, error)

    async def _poll(self, inst: Instrument) -> int:
        venue = inst.provider.value
        self.metrics.messages.labels(FEED, venue).inc()
        if inst.provider is PriceProvider.YFINANCE:
            doc = await self.yahoo.fetch(inst.ticker)
            meta, bars, unaligned = parse_chart(doc)
            clock = provider_clock_ms(meta, self.clock_ms())
            close_print = session_end_ms(meta)
            if unaligned:
                self._skip(venue, "unaligned_point", unaligned)
        else:
            if not self._crypto_open:
                await self.crypto.open()
                self._crypto_open = True
            bars, clock = await self.crypto.fetch(inst.ticker, self.last.get(inst.symbol))
            close_print = None
        self.metrics.message_seen(FEED, venue)
        return await self._send(inst, bars, clock, close_print)

    async def _send(
        self, inst: Instrument, bars: list[Bar], clock_ms: int, close_print_ms: int | None = None
    ) -> int:
        venue = inst.provider.value
        chosen, skipped = select_bars(bars, self.last.get(inst.symbol), clock_ms, close_print_ms)
        for reason, n in skipped.items():
            self._skip(venue, reason, n)
        sent = 0
        for bar in chosen:
            try:
                tick = to_tick(inst, bar)
                implausible = self.guard.check(inst.symbol, tick.price_usd, inst.asset_class.value)
                if implausible is not None:
                    self.implausible.warn(
                        inst.symbol, tick.ts_ms, "price %s rejected: %s",
                        inst.symbol, implausible.message,
                    )  # fmt: skip
                    raise implausible
            except RecordError as exc:
                self.metrics.rejects.labels(FEED, venue, exc.reason).inc()
                raw = orjson.dumps(
                    {"ticker": inst.ticker, "start_ms": bar.start_ms, "close": bar.close}
                )
                await self.sink.dead_letter(self.topic, raw, exc, inst.provider.source, inst.symbol)
                self.last.set(inst.symbol, bar.end_ms)
                continue
            self._outbox.append((tick.ts_ms, tick.symbol, tick))
            self.last.set(inst.symbol, bar.end_ms)
            sent += 1
            self.metrics.records.labels(FEED, venue).inc()
            self.metrics.last_event.labels(FEED, venue).set(tick.ts_ms / 1000)
        self.stats.sent[inst.symbol] = self.stats.sent.get(inst.symbol, 0) + sent
        return sent

    def _skip(self, venue: str, reason: str, n: int) -> None:
        self.stats.skipped[reason] = self.stats.skipped.get(reason, 0) + n
        self.metrics.skipped.labels(FEED, venue, reason).inc(n)

    async def commit(self) -> None:
        """After the sink has acknowledged everything: remember what was sent."""
        await self.sink.flush()
        self.last.save()

    # -- the schedule ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, once: bool = False) -> PriceStats:
        try:
            while not stop.is_set():
                await self.poll_once(ignore_sessions=once)
                await self.commit()
                if once:
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._until_next_poll())
        finally:
            await self.close()
        return self.stats

    def _until_next_poll(self) -> float:
        period = self.ps.price_poll_s
        now = self.clock_ms() / 1000
        return period - (now % period) + POLL_OFFSET_S if period >= 60 else period
