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
``PartitionShard`` by ``shockwatch.reorder_hold`` (``python -m shockwatch.reorder_hold`` prints
the table in docs/producers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from typing import Any

from producers.sink import Keyed, Sink
from streams.records import Liquidation, RecordError

DEFAULT_HOLD_MS = 5_000


class ReorderBuffer:
    """A heap of records by event time; ``due`` pops those whose hold has passed."""

    def __init__(self, hold_ms: int) -> None:
        self.hold_ms = hold_ms
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, ts_ms: int, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (ts_ms, self._seq, item))

    def due(self, now_ms: int) -> list[Any]:
        out = []
        while self._heap and self._heap[0][0] + self.hold_ms <= now_ms:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def drain(self) -> list[Any]:
        out = [item for _, _, item in sorted(self._heap)]
        self._heap.clear()
        return out


class ReorderingSink:
    """A ``Sink`` that holds liquidations ``hold_ms`` and forwards them in event-time order;
    everything else (dead letters, heartbeats, flush, close) goes straight through, and
    ``flush`` and ``close`` release what is held first, so nothing is ever dropped."""

    def __init__(
        self,
        inner: Sink,
        hold_ms: int = DEFAULT_HOLD_MS,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        tick_s: float = 0.1,
    ) -> None:
        self.inner = inner
        self.buffer = ReorderBuffer(hold_ms)
        self.clock_ms = clock_ms
        self.tick_s = tick_s
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

    async def release_due(self) -> int:
        """Forward the records whose hold has passed, oldest first; returns how many."""
        due = self.buffer.due(self.clock_ms())
        for topic, record in due:
            await self.inner.send(topic, record)
        return len(due)

    async def send(self, topic: str, record: Keyed) -> None:
        if isinstance(record, Liquidation):
            self.buffer.push(record.ts_ms, (topic, record))
        else:
            await self.inner.send(topic, record)

    async def dead_letter(
        self, topic: str, raw: bytes, error: RecordError, source: str, key: str | None = None
    ) -> None:
        await self.inner.dead_letter(topic, raw, error, source, key)

    async def heartbeat(self, topic: str, ts_ms: int | None = None) -> None:
        await self.inner.heartbeat(topic, ts_ms)

    async def _release_all(self) -> None:
        for topic, record in self.buffer.drain():
            await self.inner.send(topic, record)

    async def flush(self) -> None:
        await self._release_all()
        await self.inner.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._release_all()
        await self.inner.close()


# -- measurement ----------------------------------------------------------------------------
