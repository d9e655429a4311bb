"""The synthetic load the Kafka figures run on: a day of one-minute price bars for every
symbol plus liquidations (a wave in the afternoon), and how it is produced: through the
project's loader (``produce_day``), or framed once and sent as fast as the client goes
(``day_frames``, ``send_day``)."""

from __future__ import annotations

import math
import random
import time

import orjson

from common.settings import Settings
from shockwatch.runs.publish import Publisher
from streams.instruments import CLASS_OF
from streams.records import AssetClass
from streams.records.inputs import heartbeat_messages
from streams.topics import TopicNames

MIN_MS = 60_000
DAY_MS = 24 * 3600_000
DAY0_MS = 1_762_214_400_000  # 2025-11-04 00:00 UTC
# Every instrument but the VIX, with its class (``streams.instruments``).
SYMBOLS = {s: c.value for s, c in CLASS_OF.items() if c is not AssetClass.VOLATILITY}
VENUES = ("binanceusdm", "bybit", "okx")


def synthetic_day(
    n_liq: int, minutes: int = 1440, seed: int = 7, start_ms: int = DAY0_MS
) -> tuple[list, list, int]:
    """(prices, liquidations, end_ms) as encoded rows in event-time order: one bar a minute for
    every symbol, ``n_liq`` liquidations spread over the day (a wave in the afternoon)."""
    rng = random.Random(seed)
    prices: list[tuple[int, str, bytes]] = []
    level = dict.fromkeys(SYMBOLS, 100.0)
    for m in range(1, minutes + 1):
        ts = start_ms + m * MIN_MS
        for sym, cls in SYMBOLS.items():
            level[sym] *= math.exp(rng.gauss(-0.00002, 0.0008))
            prices.append(
                (
                    ts,
                    sym,
                    orjson.dumps(
                        {
                            "schema_version": 1,
                            "ts_ms": ts,
                            "source": "bench",
                            "symbol": sym,
                            "asset_class": cls,
                            "price_usd": round(level[sym], 4),
                            "interval_s": 60,
                        }
                    ),
                )
            )
    liqs: list[tuple[int, str, bytes]] = []
    span = minutes * MIN_MS
    stamps = sorted(start_ms + int(rng.random() * span) for _ in range(n_liq))
    for i, ts in enumerate(stamps):
        venue = VENUES[i % 3]
        usd = round(rng.lognormvariate(8.5, 1.2), 2)
        key = f"{venue}:BTC/USDT:USDT"
        liqs.append(
            (
                ts,
                key,
                orjson.dumps(
                    {
                        "schema_version": 1,
                        "ts_ms": ts,
                        "source": f"bench:{venue}",
                        "exchange": venue,
                        "symbol": "BTC/USDT:USDT",
                        "base": "BTC",
                        "side_liquidated": "long" if rng.random() < 0.7 else "short",
                        "qty_base": round(usd / 100_000, 8),
                        "price_usd": 100_000.0,
                        "notional_usd": usd,
                        "event_id": f"{venue}:{i}",
                        "lower_bound": venue == "binanceusdm",
                    }
                ),
            )
        )
    return prices, liqs, start_ms + span


def produce_day(
    settings: Settings, names: TopicNames, prices: list, liqs: list, end_ms: int
) -> float:
    """Produce the day (event-time order across topics) and end-of-day heartbeats; events/s."""
    import heapq

    from streams.scenario import _Framer

    start = time.monotonic()
    with Publisher(settings, client_id="bench-load") as pub:
        framer = _Framer(pub, settings.frame_max_events)
        merged = heapq.merge(
            ((ts, names.prices, k, v) for ts, k, v in prices),
            ((ts, names.liquidations, k, v) for ts, k, v in liqs),
        )
        for ts, topic, key, value in merged:
            framer.add(topic, key, ts, value)
        framer.flush()
        for topic in names.inputs:
            pub.heartbeat(topic, end_ms + 60_000, "bench")
    return (len(prices) + len(liqs)) / (time.monotonic() - start)


def day_frames(names: TopicNames, prices: list, liqs: list, frame_max: int) -> list:
    """The day as ready-to-send (topic, key, ts, value) messages, framed as ``produce_day``
    frames it (so the sending costs the client and the broker, not the framing)."""
    import heapq

    from streams.records import encode_frame
    from streams.scenario import _Framer

    frames: list[tuple[str, bytes, int, bytes]] = []

    class Collect:
        def send_frame(self, topic: str, raws: list[bytes], key: str, ts_ms: int) -> None:
            frames.append((topic, key.encode(), ts_ms, encode_frame(raws)))

    framer = _Framer(Collect(), frame_max)
    for ts, topic, key, value in heapq.merge(
        ((ts, names.prices, k, v) for ts, k, v in prices),
        ((ts, names.liquidations, k, v) for ts, k, v in liqs),
    ):
        framer.add(topic, key, ts, value)
    framer.flush()
    return frames


async def send_day(settings: Settings, frames: list, end_ms: int, names: TopicNames) -> None:
    """Send the prepared day as fast as the client goes (acks=all), then heartbeats."""
    from aiokafka import AIOKafkaProducer

    from common.kafka import aiokafka_config

    producer = AIOKafkaProducer(**aiokafka_config(settings), acks="all", linger_ms=5,
                                max_batch_size=1 << 20, max_request_size=32 << 20)  # fmt: skip
    await producer.start()
    try:
        for topic, key, ts, value in frames:
            await producer.send(topic, value, key=key, timestamp_ms=ts)
        for topic in names.inputs:
            partitions = sorted(await producer.partitions_for(topic))
            for partition, key, beat in heartbeat_messages(end_ms + MIN_MS, "bench", partitions):
                await producer.send(topic, beat, key=key, partition=partition,
                                    timestamp_ms=end_ms + MIN_MS)  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()
