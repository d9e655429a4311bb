"""Event-time order for the liquidation topic: venues that push out of order are held back.

OKX documents that its liquidation data "comes from different data sources, so the updated
data is not necessarily in chronological order" (API v5, liquidation-orders channel). The
detection worker judges lateness per partition with 2 s of allowed lateness, and all venues
share the topic's partitions (key ``exchange:symbol``): an OKX order pushed a few seconds after
newer Binance and Bybit events can land behind a minute its partition already sealed and be
dead-lettered as ``late_event``.

``ReorderingSink`` holds every liquidation ``hold_ms`` past its event time and releases them in
event-time order, so a push up to ``hold_ms`` out of order reaches the topic in order. The
sink's heartbeats lag by the hold as well (``producers/run.py``), so a heartbeat never moves a
partition past what is still held. How long to hold is measured against the worker's own
``PartitionShard`` by ``shockwatch.lab.reorder_hold`` (``python -m shockwatch.lab.reorder_hold``
prints the table in docs/producers.md).

**Bounded, with backpressure.** The hold holds at most ``capacity`` records
(``LIQUIDATION_REORDER_MAX``). Every record leaves it through one lock, oldest first, by
awaiting the inner sink's ``send`` — which waits while the Kafka sink's own bounded queue is
full. So a broker outage fills the Kafka queue, then the hold, then blocks ``send``, which
stops the feed's pump; the feed's ``max_pending`` then lets the socket go. Memory stays at the
sum of the three bounds and nothing is dropped.

When the hold is full, ``send`` releases the *oldest* record early (before its hold has
passed) instead of waiting for it to fall due. Waiting would tie throughput to the clock
(``capacity / hold`` records a second, whatever Kafka could take): a burst above that would
stall a healthy broker's feed and force venue disconnects, which lose events at the venue.
Releasing early only ever waits for Kafka, so it cannot deadlock (the release loop is not
needed to make room) and under overload the hold shrinks to ``capacity / rate`` seconds
instead of the feed stopping; the oldest record is the one closest to its release anyway. Each
early release is counted (``shockwatch_producer_reorder_released_early_total``): a non-zero
rate says the hold is cut short and OKX's disorder may reach the worker as late events.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from typing import Any

from producers.metrics import ProducerMetrics
from producers.sink import Keyed, Sink
from streams.records import Liquidation, RecordError

DEFAULT_HOLD_MS = 5_000
DEFAULT_CAPACITY = 20_000


class ReorderBuffer:
    """A heap of at most ``capacity`` records by event time (the caller keeps the bound:
    ``full`` before ``push``); ``pop_due`` pops the oldest once its hold has passed."""

    def __init__(self, hold_ms: int, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"reorder capacity must be at least 1, not {capacity}")
        self.hold_ms = hold_ms
        self.capacity = capacity
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def full(self) -> bool:
        return len(self._heap) >= self.capacity

    def push(self, ts_ms: int, item: Any) -> None:
        if self.full:
            raise OverflowError(f"reorder buffer holds {self.capacity} records already")
        self._seq += 1
        heapq.heappush(self._heap, (ts_ms, self._seq, item))

    def pop_oldest(self) -> Any:
        return heapq.heappop(self._heap)[2]

    def restore(self, ts_ms: int, item: Any) -> None:
        """Put back a popped record whose forwarding was cancelled (may pass ``capacity`` by
        one: a sender can fill the room meanwhile)."""
        self._seq += 1
        heapq.heappush(self._heap, (ts_ms, self._seq, item))

    def pop_due(self, now_ms: int) -> Any | None:
        """The oldest record if its hold has passed at ``now_ms``, else ``None``."""
        if self._heap and self._heap[0][0] + self.hold_ms <= now_ms:
            return self.pop_oldest()
        return None

    def due(self, now_ms: int) -> list[Any]:
        """Every record whose hold has passed at ``now_ms``, oldest first (the release rule
        without a Kafka queue behind it: what the rehearsal models)."""
        out = []
        while (item := self.pop_due(now_ms)) is not None:
            out.append(item)
        return out


class ReorderingSink:
    """A ``Sink`` that holds liquidations ``hold_ms`` (at most ``capacity`` of them) and
    forwards them in event-time order; everything else (dead letters, heartbeats, flush,
    close) goes straight through, and ``flush`` and ``close`` release what is held first, so
    nothing is ever dropped."""

    def __init__(
        self,
        inner: Sink,
        hold_ms: int = DEFAULT_HOLD_MS,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        tick_s: float = 0.1,
        capacity: int = DEFAULT_CAPACITY,
        metrics: ProducerMetrics | None = None,
    ) -> None:
        self.inner = inner
        self.buffer = ReorderBuffer(hold_ms, capacity)
        self.clock_ms = clock_ms
        self.tick_s = tick_s
        self.metrics = metrics
        if metrics is not None:  # read at each scrape: the records held right then
            metrics.reorder_held.set_function(lambda: len(self.buffer))
        self.released_early = 0
        # One way out, oldest first: the release loop, an early release and flush take turns.
        self._out = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:  # metrics, counters of the inner sink
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()
        self._task = asyncio.create_task(self._release_loop(), name="liquidation-reorder")

    async def _release_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            await self.release_due()

    async def _forward(self, item: tuple[str, Keyed]) -> None:
        # Awaits while the inner sink's queue is full: the backpressure that reaches ``send``.
        try:
            await self.inner.send(*item)
        except asyncio.CancelledError:  # close() cancelled the loop mid-wait: keep the record
            self.buffer.restore(item[1].ts_ms, item)
            raise

    async def release_due(self) -> int:
        """Forward the records whose hold has passed, oldest first; returns how many."""
        released = 0
        async with self._out:
            while (item := self.buffer.pop_due(self.clock_ms())) is not None:
                await self._forward(item)
                released += 1
        return released

    async def send(self, topic: str, record: Keyed) -> None:
        if not isinstance(record, Liquidation):
            await self.inner.send(topic, record)
            return
        while self.buffer.full:
            async with self._out:
                if self.buffer.full:  # another sender may have made room meanwhile
                    await self._forward(self.buffer.pop_oldest())
                    self.released_early += 1
                    if self.metrics is not None:
                        self.metrics.reorder_released_early.inc()
        self.buffer.push(record.ts_ms, (topic, record))  # no await since the check: room

    async def dead_letter(
        self, topic: str, raw: bytes, error: RecordError, source: str, key: str | None = None
    ) -> None:
        await self.inner.dead_letter(topic, raw, error, source, key)

    async def heartbeat(self, topic: str, ts_ms: int | None = None) -> None:
        await self.inner.heartbeat(topic, ts_ms)

    async def _release_all(self) -> None:
        async with self._out:
            while len(self.buffer):
                await self._forward(self.buffer.pop_oldest())

    async def flush(self) -> None:
        await self._release_all()
        await self.inner.flush()

    async def close(self, final_heartbeat: bool = False) -> None:
        """Stop the release loop, forward everything held, then close the inner sink (whose
        final heartbeat, if asked for, follows the released records)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._release_all()
        await self.inner.close(final_heartbeat)
