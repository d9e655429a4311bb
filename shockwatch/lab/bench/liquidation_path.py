"""Throughput of the liquidation path: raw venue JSON -> normalise -> de-duplicate -> Kafka.

``bench_liquidation_path(n)`` pushes ``n`` Binance ``forceOrder`` messages (as the websocket
delivers them: JSON text) through the real ``VenueFeed`` capture path and the real
``KafkaSink`` into a fresh topic of the given broker, and reports events/s from the first
message to the last acknowledgement. ``make bench`` calls it; the target is 20,000 events/s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from common.settings import Settings
from producers.config import ProducerSettings
from producers.dedup import RecentIds
from producers.liquidations.feed import VenueFeed
from producers.liquidations.markets import MarketIndex
from producers.liquidations.venues import VENUES, Venue
from producers.metrics import create_metrics
from producers.sink import DryRunSink, KafkaSink

TARGET_EVENTS_PER_S = 20_000
COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX", "LINK", "LTC")
T0_MS = 1_762_266_600_000
# Feed the capture path like a busy socket: let the pump catch up past this many records.
MAX_PENDING = 5_000


def _markets() -> MarketIndex:
    return MarketIndex(
        {
            "id": f"{c}USDT",
            "symbol": f"{c}/USDT:USDT",
            "base": c,
            "contract": True,
            "swap": True,
            "contractSize": 1.0,
            "inverse": False,
        }
        for c in COINS
    )


def raw_messages(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        coin = COINS[i % len(COINS)]
        q = f"{0.001 * (1 + i % 997):.3f}"
        order = {
            "s": f"{coin}USDT",
            "S": "SELL" if i % 5 else "BUY",
            "o": "LIMIT",
            "f": "IOC",
            "q": q,
            "p": f"{100 + i % 1000:.2f}",
            "ap": f"{100.5 + i % 1000:.2f}",
            "X": "FILLED",
            "l": q,
            "z": q,
            "T": T0_MS + i,
        }
        out.append(orjson.dumps({"e": "forceOrder", "E": T0_MS + i + 2, "o": order}))
    return out


def _feed(sink: Any, topic: str, metrics: Any) -> VenueFeed:
    feed = VenueFeed(
        VENUES[Venue.BINANCE],
        sink=sink,
        topic=topic,
        metrics=metrics,
        dedup=RecentIds(capacity=1_000_000),
        max_pending=10**9,
    )
    feed.markets = _markets()
    return feed


async def _drive(feed: VenueFeed, raws: list[bytes]) -> None:
    pump = asyncio.create_task(feed.pump())
    try:
        for raw in raws:
            feed.on_message(orjson.loads(raw))
            if len(feed._pending) > MAX_PENDING:
                while len(feed._pending) > MAX_PENDING // 4:
                    await asyncio.sleep(0)
        await feed.drained()
    finally:
        pump.cancel()


async def _normalise_only(raws: list[bytes]) -> float:
    class Null(DryRunSink):
        async def send(self, topic: str, record: Any) -> None:
            self.sent += 1

    metrics = create_metrics(CollectorRegistry())
    feed = _feed(Null(), "bench", metrics)
    started = time.perf_counter()
    await _drive(feed, raws)
    return len(raws) / (time.perf_counter() - started)


async def _bench(n: int, settings: Settings, ps: ProducerSettings, cleanup: bool) -> dict[str, Any]:
    from common.kafka import admin
    from streams.topics import TopicNames, create_topics

    raws = raw_messages(n)
    normalise_rate = await _normalise_only(raws[: min(n, 50_000)])
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    bench_settings = settings.model_copy(update={"topic_prefix": prefix})
    create_topics(bench_settings)
    topic = TopicNames(prefix).liquidations
    metrics = create_metrics(CollectorRegistry())
    sink = KafkaSink(
        bench_settings, ps, client_id="shockwatch-bench", source="bench", metrics=metrics
    )
    await sink.start()
    try:
        feed = _feed(sink, topic, metrics)
        started = time.perf_counter()
        await _drive(feed, raws)
        await sink.flush()
        elapsed = time.perf_counter() - started
    finally:
        await sink.close()
        if cleanup:
            client = admin(bench_settings)
            try:
                client.delete_topics(TopicNames(prefix).all())
            except Exception:
                pass
            finally:
                client.close()
    rate = n / elapsed
    return {
        "events": n,
        "sent": sink.sent,
        "seconds": round(elapsed, 3),
        "events_per_s": round(rate),
        "normalise_only_events_per_s": round(normalise_rate),
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "ok": rate >= TARGET_EVENTS_PER_S and sink.sent == n,
        "topic": topic,
    }


def bench_liquidation_path(
    n: int = 200_000,
    settings: Settings | None = None,
    producer_settings: ProducerSettings | None = None,
    cleanup: bool = True,
) -> dict[str, Any]:
    """Events/s of normaliser + real Kafka producer against ``settings``' broker."""
    from common.settings import load_settings

    settings = settings or load_settings()
    ps = producer_settings or ProducerSettings()
    return asyncio.run(_bench(n, settings, ps, cleanup))


if __name__ == "__main__":
    import json

    print(json.dumps(bench_liquidation_path(), indent=1))
