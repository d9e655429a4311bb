"""Liquidation producer against the real broker, fed by the local venue fixture server.

Reconnect after a dropped socket, reconnect after silence, re-sent OKX events de-duplicated across
reconnects, and all three venues publishing from the recorded fixtures (a test the detection
worker can be run on: ``publish_all_venues`` leaves the records in the test's topics).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from common.kafka import kafka_python_config
from common.settings import Settings
from producers.config import ProducerSettings
from producers.liquidations.producer import RunLimits
from producers.liquidations.venues import Venue
from producers.metrics import create_metrics
from producers.run import produce_liquidations
from shockwatch.lab.fixtures import ConnPlan, FixtureServer
from streams.records import Heartbeat, Liquidation, decode
from streams.topics import TopicNames

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
READ_TIMEOUT_S = 20
RUN_TIMEOUT_S = 30
# Records per venue in the fixture files (after de-duplication) and their DLQ rejects.
EXPECTED = {"binanceusdm": (151, 2), "bybit": (100, 0), "okx": (133, 1)}


def read_topic(settings: Settings, topic: str, min_count: int = 0) -> list[Any]:
    """The messages of ``topic`` from the beginning (all partitions), as kafka-python records:
    at least ``min_count`` data records — heartbeats do not count — (or until
    ``READ_TIMEOUT_S``); with ``min_count=0``, until idle."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        **kafka_python_config(settings),
        enable_auto_commit=False,
        consumer_timeout_ms=400,
    )
    try:
        # partitions_for_topic() answers None until the consumer's first metadata fetch lands
        parts: set[int] = set()
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not parts and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                time.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            batch = list(consumer)  # until idle for consumer_timeout_ms
            out.extend(batch)
            data = sum(1 for m in out if b'"kind":"heartbeat"' not in (m.value or b""))
            if data >= min_count and (min_count or not batch):
                break
        return out
    finally:
        consumer.close()


def split(messages: list[Any]) -> tuple[list[Liquidation], list[tuple[int, Heartbeat]]]:
    records, beats = [], []
    for m in messages:
        item = decode(Liquidation, m.value)
        if isinstance(item, Heartbeat):
            beats.append((m.partition, item))
        else:
            assert m.timestamp == item.ts_ms  # Kafka timestamp = event time (replay by time)
            assert m.key.decode() == item.key
            records.append(item)
    return records, beats


async def run_venues(
    settings: Settings,
    venues: list[Venue],
    server: FixtureServer,
    *,
    silence_s: float | None = None,
    idle_exit_s: float = 4.0,  # generous: a reconnect under a loaded CI machine takes a while
    registry: CollectorRegistry | None = None,
) -> dict[str, Any]:
    ps = ProducerSettings(endpoints=server.endpoints(), heartbeat_s=0.5)
    return await asyncio.wait_for(
        produce_liquidations(
            settings,
            ps,
            venues=venues,
            fixtures=FIXTURES,
            limits=RunLimits(duration_s=RUN_TIMEOUT_S, idle_exit_s=idle_exit_s),
            silence_s=silence_s,
            reconnect_base_s=0.1,
            metrics=create_metrics(registry or CollectorRegistry()),
        ),
        timeout=RUN_TIMEOUT_S + 15,
    )


async def test_reconnects_after_the_venue_drops_the_socket(kafka_settings: Settings) -> None:
    plans = {"binanceusdm": [ConnPlan(0, 50, then="close"), ConnPlan(50, None)]}
    registry = CollectorRegistry()
    async with FixtureServer(FIXTURES, plans) as server:
        stats = await run_venues(kafka_settings, [Venue.BINANCE], server, registry=registry)
    assert server.connections["binanceusdm"] == 2
    assert len(server.subscriptions["binanceusdm"]) == 2  # re-subscribed after the drop
    s = stats["binanceusdm"]
    assert s.reconnects == {"drop": 1} and s.gaps == 1
    labels = {"feed": "liquidations", "venue": "binanceusdm"}
    assert registry.get_sample_value("shockwatch_producer_gaps_total", labels) == 1
    assert (
        registry.get_sample_value(
            "shockwatch_producer_reconnects_total", {**labels, "reason": "drop"}
        )
        == 1
    )
    assert registry.get_sample_value("shockwatch_producer_gap_seconds_total", labels) > 0

    names = TopicNames(kafka_settings.topic_prefix)
    records, _ = split(read_topic(kafka_settings, names.liquidations, 151))
    assert len(records) == 151
    assert len({r.event_id for r in records}) == 151  # every one once
    dlq = read_topic(kafka_settings, names.dlq(names.liquidations), 2)
    assert sorted(orjson.loads(m.value)["reason"] for m in dlq) == ["invalid_value", "malformed"]


async def test_silence_triggers_a_reconnect(kafka_settings: Settings) -> None:
    # The first connection goes quiet after 30 pushes without closing: a stale stream.
    plans = {"bybit": [ConnPlan(0, 30), ConnPlan(30, None)]}
    async with FixtureServer(FIXTURES, plans) as server:
        stats = await run_venues(
            kafka_settings, [Venue.BYBIT], server, silence_s=0.8, idle_exit_s=2.0
        )
    assert stats["bybit"].reconnects.get("silence", 0) >= 1
    assert server.connections["bybit"] >= 2
    names = TopicNames(kafka_settings.topic_prefix)
    records, _ = split(read_topic(kafka_settings, names.liquidations, 100))
    assert len(records) == EXPECTED["bybit"][0]


async def test_okx_events_sent_again_are_dropped_on_reconnect(kafka_settings: Settings) -> None:
    plans = {"okx": [ConnPlan(0, 20, then="close"), ConnPlan(20, None)]}
    async with FixtureServer(FIXTURES, plans) as server:
        stats = await run_venues(kafka_settings, [Venue.OKX], server)
    s = stats["okx"]
    assert s.duplicates == 18  # the replay of 6 pushes x 3 details, sent again on re-subscribe
    names = TopicNames(kafka_settings.topic_prefix)
    records, _ = split(read_topic(kafka_settings, names.liquidations, EXPECTED["okx"][0]))
    assert len(records) == EXPECTED["okx"][0]
    assert len({r.event_id for r in records}) == len(records)


async def publish_all_venues(settings: Settings) -> dict[str, Any]:
    """The three venues from the recorded fixtures into ``settings``' topics."""
    async with FixtureServer(FIXTURES) as server:
        return await run_venues(settings, list(Venue), server)


async def test_all_venues_publish_from_fixtures(kafka_settings: Settings) -> None:
    stats = await publish_all_venues(kafka_settings)
    names = TopicNames(kafka_settings.topic_prefix)
    total = sum(n for n, _ in EXPECTED.values())
    records, beats = split(read_topic(kafka_settings, names.liquidations, total))
    by_venue = Counter(r.exchange for r in records)
    assert by_venue == {v: n for v, (n, _) in EXPECTED.items()}
    assert {v: s.rejects for v, s in stats.items()} == {v: r for v, (_, r) in EXPECTED.items()}
    # Snapshot venues are flagged as lower bounds; sides normalised per venue.
    assert {r.exchange for r in records if r.lower_bound} == {"binanceusdm", "bybit", "okx"}
    assert Counter(r.side_liquidated for r in records)["long"] > len(records) / 2
    # The final heartbeat reached every partition, at the newest event time.
    newest = max(r.ts_ms for r in records)
    assert {p for p, hb in beats if hb.ts_ms == newest} == {0, 1, 2}
    dlq = read_topic(kafka_settings, names.dlq(names.liquidations), 3)
    assert len(dlq) == 3
