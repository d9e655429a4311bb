"""The liquidation hold is bounded: a full hold releases its oldest record early, ``send`` waits
on the Kafka queue behind it (backpressure), nothing is dropped and event-time order holds.

Pure asyncio: the inner sink is a stand-in whose ``send`` puts into a bounded queue that the
test drains (a broker that is away, then back), like ``KafkaSink``'s own queue.
"""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from producers.liquidations.order import ReorderBuffer, ReorderingSink
from producers.metrics import create_metrics
from streams.records import Heartbeat, Liquidation, RecordError, Side

T = 1_762_266_603_000
TOPIC = "crypto.liquidations"
BLOCKED_S = 0.2  # long enough for a send that could proceed to have done so


def liq(ts_ms: int, n: int = 0) -> Liquidation:
    return Liquidation(
        ts_ms=ts_ms,
        source="ccxt:binanceusdm",
        exchange="binanceusdm",
        symbol="BTC/USDT:USDT",
        base="BTC",
        side_liquidated=Side.LONG,
        qty_base=1.0,
        price_usd=100_000.0,
        notional_usd=100_000.0,
        event_id=f"e{ts_ms}-{n}",
    )


class QueueSink:
    """A stand-in for ``KafkaSink``: ``send`` waits while its bounded queue is full."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue(maxsize=maxsize)
        self.delivered: list[object] = []

    async def start(self) -> None:
        return None

    async def send(self, topic: str, record: object) -> None:
        await self.queue.put((topic, record))

    async def dead_letter(
        self, topic: str, raw: bytes, error: RecordError, source: str, key: str | None = None
    ) -> None:
        return None

    async def heartbeat(self, topic: str, ts_ms: int | None = None) -> None:
        return None

    def take(self, n: int | None = None) -> None:
        """The broker takes ``n`` queued records (all when ``None``)."""
        while not self.queue.empty() and (n is None or n > 0):
            self.delivered.append(self.queue.get_nowait()[1])
            n = None if n is None else n - 1

    async def flush(self) -> None:
        self.take()

    async def close(self, final_heartbeat: bool = False) -> None:
        self.take()


def ts_of(records: list[object]) -> list[int]:
    return [r.ts_ms for r in records]  # type: ignore[attr-defined]


def test_buffer_never_holds_more_than_its_capacity() -> None:
    with pytest.raises(ValueError):
        ReorderBuffer(5_000, capacity=0)
    buf = ReorderBuffer(5_000, capacity=2)
    buf.push(T + 1, "b")
    buf.push(T, "a")
    assert buf.full
    with pytest.raises(OverflowError):
        buf.push(T + 2, "c")
    assert buf.pop_due(T + 4_999) is None  # the oldest is not due yet
    assert buf.pop_due(T + 5_000) == "a"
    assert buf.pop_oldest() == "b"  # early, on demand


async def test_a_full_hold_releases_the_oldest_early_and_never_grows() -> None:
    registry = CollectorRegistry()
    inner = QueueSink(maxsize=1_000)
    sink = ReorderingSink(
        inner, hold_ms=5_000, clock_ms=lambda: T, capacity=3, metrics=create_metrics(registry)
    )
    order = [T + 4, T + 1, T + 7, T + 3, T + 9, T + 2, T + 8]  # nothing is ever due
    for i, ts in enumerate(order):
        await sink.send(TOPIC, liq(ts, i))
        assert len(sink.buffer) <= 3
    assert sink.released_early == 4
    assert registry.get_sample_value("shockwatch_producer_reorder_released_early_total") == 4
    assert registry.get_sample_value("shockwatch_producer_reorder_held_records") == 3
    inner.take()
    # each early release is the oldest held at the time; T+2 arrived after T+3 and T+4 had
    # gone early, so it follows them: a cut-short hold orders only what it still holds
    assert ts_of(inner.delivered) == [T + 1, T + 3, T + 4, T + 2]
    await sink.flush()
    assert ts_of(inner.delivered)[4:] == [T + 7, T + 8, T + 9]
    assert len(inner.delivered) == len(order)  # nothing dropped


async def test_send_waits_while_kafka_and_the_hold_are_full_then_delivers_all() -> None:
    inner = QueueSink(maxsize=2)  # the broker is away: nobody drains the Kafka queue
    now = [T]
    sink = ReorderingSink(inner, hold_ms=5_000, clock_ms=lambda: now[0], capacity=3)
    for i in range(5):  # 3 held + 2 released early into the Kafka queue, which is now full
        await sink.send(TOPIC, liq(T + i, i))
    blocked = asyncio.create_task(sink.send(TOPIC, liq(T + 5, 5)))
    await asyncio.sleep(BLOCKED_S)
    assert not blocked.done()  # backpressure: the feed's pump would wait here
    # bounded: 2 held + 1 in hand (the oldest, waiting for room) + 2 queued; nothing dropped
    assert (len(sink.buffer), inner.queue.qsize()) == (2, 2)
    now[0] = T + 10_000  # everything is due, but the release loop cannot pass Kafka either
    release = asyncio.create_task(sink.release_due())
    await asyncio.sleep(BLOCKED_S)
    assert not blocked.done() and not release.done()
    inner.take(1)  # the broker is back, slowly: one record of room
    while not blocked.done() or not release.done():
        inner.take(1)
        await asyncio.sleep(0.01)
    await sink.flush()
    assert ts_of(inner.delivered) == [T + i for i in range(6)]  # all of them, in order


async def test_release_loop_and_early_releases_keep_event_time_order() -> None:
    """Two ways out (the loop for due records, ``send`` for early ones) and two feeds sending
    at once, against a slow Kafka queue. Records arrive in event-time order, so whatever goes
    out of order was reordered by the sink's own two ways out racing each other."""
    inner = QueueSink(maxsize=4)
    now = [T]
    sink = ReorderingSink(inner, hold_ms=50, clock_ms=lambda: now[0], tick_s=0.001, capacity=8)
    await sink.start()
    arrivals = iter(range(300))

    async def broker() -> None:
        while True:
            inner.take(3)
            now[0] += 7
            await asyncio.sleep(0.002)

    async def feed() -> None:
        for i in arrivals:  # shared: the two feeds interleave, event time still increases
            await sink.send(TOPIC, liq(T + 10 * i, i))

    drain = asyncio.create_task(broker())
    try:
        await asyncio.wait_for(asyncio.gather(feed(), feed()), timeout=30)
        await sink.close()
    finally:
        drain.cancel()
    inner.take()
    got = ts_of(inner.delivered)
    assert sink.released_early > 0  # both ways out were used
    assert got == [T + 10 * i for i in range(300)]


async def test_close_cancelling_a_blocked_release_keeps_the_record() -> None:
    inner = QueueSink(maxsize=1)
    now = [T + 10_000]  # everything is due at once
    sink = ReorderingSink(inner, hold_ms=5_000, clock_ms=lambda: now[0], tick_s=0.01)
    await sink.start()
    for i in range(3):
        await sink.send(TOPIC, liq(T + i, i))
    await asyncio.sleep(BLOCKED_S)  # the loop forwarded one, and waits with the second popped
    assert inner.queue.qsize() == 1
    closing = asyncio.create_task(sink.close())
    await asyncio.sleep(BLOCKED_S)
    while not closing.done():
        inner.take()
        await asyncio.sleep(0.01)
    assert ts_of(inner.delivered) == [T, T + 1, T + 2]


async def test_non_liquidations_pass_straight_through() -> None:
    inner = QueueSink(maxsize=10)
    sink = ReorderingSink(inner, hold_ms=5_000, clock_ms=lambda: T, capacity=1)
    beat = Heartbeat(ts_ms=T, source="test")
    await sink.send(TOPIC, beat)  # type: ignore[arg-type]
    assert inner.queue.qsize() == 1 and len(sink.buffer) == 0
