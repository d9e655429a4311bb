"""One venue's liquidation stream, kept alive: ccxt.pro connection, capture, reconnects.

ccxt.pro does the venue's connection, subscription and keep-alive. Its ``handle_liquidation``
is replaced (a one-method subclass, ``capturing``) so that every raw push reaches us as is:
ccxt resolves a watcher with one parsed liquidation and drops what arrives while nobody waits,
and its OKX parser keeps only the first entry of a ``details`` batch. Where ccxt.pro has no
liquidation watcher (Gate, HTX, Deribit) the adapter sends the venue's own subscription over
ccxt.pro's socket and names its pushes (``is_push``); ``handle_message`` hands those over and
leaves the rest (acks, pings) to ccxt. The venue adapter
extracts the raw entries, ``normalise`` turns them into records, ``RecentIds`` drops replays.

A session ends when the venue drops the socket, on an error, when the venue has been silent
for ``silence_s`` (a stale subscription), or when the sink is too far behind (backpressure);
each end is a counted reconnect and a gap, and the next session starts after a jittered
backoff (reset once a session has delivered messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import orjson

from common.backoff import calculate_backoff
from producers.dedup import RecentIds
from producers.liquidations import binance, bybit, deribit, gate, htx, okx
from producers.liquidations.markets import MarketIndex
from producers.liquidations.normalise import normalise
from producers.liquidations.venues import Scope, Venue, VenueSpec
from producers.metrics import ProducerMetrics
from producers.sink import Sink
from streams.records import Liquidation, RecordError

log = logging.getLogger(__name__)

FEED = "liquidations"
ADAPTERS: dict[Venue, ModuleType] = {
    Venue.BINANCE: binance,
    Venue.BYBIT: bybit,
    Venue.OKX: okx,
    Venue.GATE: gate,
    Venue.HTX: htx,
    Venue.DERIBIT: deribit,
}
RECONNECT_BASE_S = 1.0
RECONNECT_MAX_S = 60.0
MARKETS_RELOAD_MIN_S = 600.0
MARKETS_RETRY_MAX_S = 300.0


def capturing(ccxt_id: str, is_push: Callable[[Any], bool] | None = None) -> type:
    """A ccxt.pro exchange class whose liquidation pushes go to ``self.on_liquidation_message``:
    those ccxt routes to ``handle_liquidation``, and those ``is_push`` names (native channels)."""
    import ccxt.pro

    base = getattr(ccxt.pro, ccxt_id)

    def handle_liquidation(self: Any, client: Any, message: Any) -> None:
        self.on_liquidation_message(message)

    methods: dict[str, Any] = {"handle_liquidation": handle_liquidation}
    if is_push is not None:

        def handle_message(self: Any, client: Any, message: Any) -> Any:
            if is_push(message):
                self.on_liquidation_message(message)
                return None
            return base.handle_message(self, client, message)

        methods["handle_message"] = handle_message
    return type(f"Capturing{base.__name__}", (base,), methods)


@dataclass
class FeedStats:
    messages: int = 0
    records: int = 0
    rejects: int = 0
    duplicates: int = 0
    reconnects: dict[str, int] = field(default_factory=dict)
    gaps: int = 0
    sessions: int = 0


class VenueFeed:
    def __init__(
        self,
        spec: VenueSpec,
        *,
        sink: Sink,
        topic: str,
        metrics: ProducerMetrics,
        symbols: list[str] | None = None,
        ws_url: str | None = None,
        markets_snapshot: list[dict[str, Any]] | None = None,
        silence_s: float | None = None,
        dedup: RecentIds | None = None,
        max_pending: int = 50_000,
        reconnect_base_s: float = RECONNECT_BASE_S,
    ) -> None:
        self.spec = spec
        self.adapter = ADAPTERS[spec.venue]
        self.sink = sink
        self.topic = topic
        self.metrics = metrics
        self.symbols = list(symbols or [])
        self.ws_url = ws_url
        self.snapshot = markets_snapshot
        self.silence_s = silence_s if silence_s is not None else spec.silence_s
        self.dedup = dedup or RecentIds()
        self.max_pending = max_pending
        self.reconnect_base_s = reconnect_base_s
        self.stats = FeedStats()
        self.markets = MarketIndex([])
        self.exchange: Any = None
        self.last_message_at: float | None = None
        self._pending: deque[tuple[Liquidation | None, bytes, RecordError | None]] = deque()
        self._wake = asyncio.Event()
        self._busy = False
        self._backpressure = False
        self._down_since: float | None = None
        self._session_messages = 0
        self._markets_loaded_at = 0.0
        self._reload_task: asyncio.Task[None] | None = None
        self._opened = False
        self._labels = (FEED, spec.venue.value)
        # Labelled children resolved once: ``labels()`` per event costs more than the event.
        self._m_messages = metrics.messages.labels(*self._labels)
        self._m_records = metrics.records.labels(*self._labels)
        self._m_duplicates = metrics.duplicates.labels(*self._labels)
        self._m_last_event = metrics.last_event.labels(*self._labels)
        self._m_last_message = metrics.last_message.labels(*self._labels)
        self._m_connected = metrics.connected.labels(*self._labels)
        self._m_notional = metrics.notional.labels(*self._labels)
        self._m_connected.set(0)  # listed (and stale) from the start, until a stream opens

    # -- set-up ------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the ccxt.pro exchange (once) and load its markets (live or the snapshot)."""
        if self.exchange is None:
            cls = capturing(self.spec.ccxt_id, getattr(self.adapter, "is_push", None))
            self.exchange = cls(
                {
                    "enableRateLimit": True,
                    "options": {"fetchMarkets": {"types": list(self.spec.market_types)}},
                }
            )
            self.exchange.on_liquidation_message = self.on_message
            if self.ws_url:
                self.spec.set_ws_url(self.exchange.urls, self.ws_url)
        if self.snapshot is not None:
            self.exchange.set_markets(self.snapshot)
        else:
            await self.exchange.load_markets()
        self._markets_loaded_at = time.monotonic()
        self.markets = MarketIndex(self.exchange.markets.values())
        if self.spec.scope is Scope.LISTED_USDT_PERPETUALS and not self.symbols:
            self.symbols = self.markets.usdt_perpetuals()
        self._opened = True
        log.info("%s: %d contract markets known", self.spec.venue, len(self.markets))

    async def _open_until_done(self, stop: asyncio.Event) -> None:
        """Markets are needed first; a venue that cannot serve them (down, geo-blocked) is
        retried with backoff without holding the other venues back."""
        attempt = 0
        while not self._opened and not stop.is_set():
            try:
                await self.open()
            except Exception as exc:
                self.metrics.poll_errors.labels(*self._labels, type(exc).__name__).inc()
                delay = calculate_backoff(attempt, base_s=5.0, cap_s=MARKETS_RETRY_MAX_S)
                attempt += 1
                log.error(
                    "%s: cannot load markets (%s: %s); retrying in %.0f s",
                    self.spec.venue,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    async def close(self) -> None:
        if self._reload_task is not None:
            self._reload_task.cancel()
        if self.exchange is not None:
            with contextlib.suppress(Exception):
                await self.exchange.close()

    # -- the capture path (synchronous, called by ccxt for every push) -----------------------
    def on_message(self, message: Any) -> None:
        now = time.monotonic()
        self.last_message_at = now
        self.stats.messages += 1
        self._session_messages += 1
        self._m_messages.inc()
        self._m_last_message.set(time.time())
        if self._down_since is not None:
            self.metrics.gap_seconds.labels(*self._labels).inc(now - self._down_since)
            self._down_since = None
        if not isinstance(message, Mapping):
            self._reject(orjson.dumps(message, default=str), _malformed(message))
            return
        try:
            raws = self.adapter.extract(message)
        except RecordError as exc:
            self._reject(orjson.dumps(message, default=str), exc)
            return
        for raw in raws:
            try:
                record = normalise(self.spec, self.markets, raw)
            except RecordError as exc:
                self._reject(orjson.dumps(raw.raw, default=str), exc)
                if exc.field == "symbol":
                    self._maybe_reload_markets()
                continue
            if self.dedup.seen(record.event_id):
                self.stats.duplicates += 1
                self._m_duplicates.inc()
                continue
            self._pending.append((record, b"", None))
        self._wake.set()
        if len(self._pending) > self.max_pending:
            self._backpressure = True

    def _reject(self, raw: bytes, exc: RecordError) -> None:
        self.stats.rejects += 1
        self.metrics.rejects.labels(*self._labels, exc.reason).inc()
        self._pending.append((None, raw, exc))
        self._wake.set()

    def _maybe_reload_markets(self) -> None:
        """A new listing: reload the venue's markets, at most every ``MARKETS_RELOAD_MIN_S``."""
        if self.snapshot is not None or self._reload_task is not None or self.exchange is None:
            return
        if time.monotonic() - self._markets_loaded_at < MARKETS_RELOAD_MIN_S:
            return

        async def reload() -> None:
            try:
                await self.exchange.load_markets(reload=True)
                self.markets = MarketIndex(self.exchange.markets.values())
            except Exception as exc:
                log.warning("%s: market reload failed: %s", self.spec.venue, exc)
            finally:
                self._markets_loaded_at = time.monotonic()
                self._reload_task = None

        self._reload_task = asyncio.create_task(reload())

    # -- to the sink -------------------------------------------------------------------------
    async def pump(self) -> None:
        while True:
            self._wake.clear()
            newest = 0
            while self._pending:
                self._busy = True
                record, raw, error = self._pending.popleft()
                if record is not None:
                    await self.sink.send(self.topic, record)
                    self.stats.records += 1
                    self._m_records.inc()
                    self._m_notional.inc(record.notional_usd)
                    newest = max(newest, record.ts_ms)
                elif error is not None:
                    await self.sink.dead_letter(self.topic, raw, error, self.spec.source)
            if newest:
                self._m_last_event.set(newest / 1000)
            self._busy = False
            if self._backpressure and len(self._pending) == 0:
                self._backpressure = False
            await self._wake.wait()

    async def drained(self) -> None:
        while self._pending or self._busy:
            await asyncio.sleep(0.01)

    # -- the connection ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Sessions until ``stop``: connect, watch, end on drop/silence/backpressure, back off."""
        await self._open_until_done(stop)
        attempt = 0
        while not stop.is_set():
            self._session_messages = 0
            self.stats.sessions += 1
            reason = await self._session(stop)
            if stop.is_set():
                break
            self.stats.reconnects[reason] = self.stats.reconnects.get(reason, 0) + 1
            self.metrics.reconnects.labels(*self._labels, reason).inc()
            if self._down_since is None:
                self._down_since = time.monotonic()
                self.stats.gaps += 1
                self.metrics.gaps.labels(*self._labels).inc()
            if self._session_messages:
                attempt = 0
            delay = calculate_backoff(attempt, base_s=self.reconnect_base_s, cap_s=RECONNECT_MAX_S)
            attempt += 1
            log.warning(
                "%s: stream ended (%s) after %d message(s); reconnecting in %.1f s",
                self.spec.venue,
                reason,
                self._session_messages,
                delay,
            )
            if reason == "backpressure":
                while self._pending and not stop.is_set():
                    await asyncio.sleep(0.05)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _session(self, stop: asyncio.Event) -> str:
        watch = asyncio.ensure_future(self.adapter.watch(self.exchange, self.symbols))
        stopping = asyncio.ensure_future(stop.wait())
        started = time.monotonic()
        self._m_connected.set(1)  # the stream is open until it ends (drop, silence, error)
        check_s = max(0.05, min(1.0, self.silence_s / 4))
        try:
            while True:
                done, _ = await asyncio.wait({watch, stopping}, timeout=check_s)
                if stopping in done:
                    return "stop"
                if watch in done:
                    return self._ended(watch)
                last = max(started, self.last_message_at or started)
                if time.monotonic() - last > self.silence_s:
                    log.warning(
                        "%s: no message for %.0f s; treating the stream as stale",
                        self.spec.venue,
                        self.silence_s,
                    )
                    return "silence"
                if self._backpressure:
                    return "backpressure"
        finally:
            self._m_connected.set(0)
            stopping.cancel()
            watch.cancel()
            try:
                await asyncio.wait({watch})  # let it finish; its outcome was read above
            finally:
                with contextlib.suppress(Exception):
                    await self.exchange.close_ws_clients()

    def _ended(self, watch: asyncio.Future[Any]) -> str:
        if watch.cancelled():
            return "drop"
        exc = watch.exception()
        if exc is None:
            return "drop"
        import ccxt

        if isinstance(exc, ccxt.NetworkError):
            log.info("%s: %s", self.spec.venue, exc)
            return "drop"
        log.warning("%s: stream error %s: %s", self.spec.venue, type(exc).__name__, exc)
        return "error"


def _malformed(message: Any) -> RecordError:
    from streams.records import MalformedRecord

    return MalformedRecord("$", f"push is {type(message).__name__}, not a JSON object")
