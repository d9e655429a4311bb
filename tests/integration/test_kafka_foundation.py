"""The foundation against the real broker: topics, codecs over both clients, faust, restarts."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from common.kafka import (
    aiokafka_config,
    describe_topic_configs,
    kafka_python_config,
    partitions_for,
)
from common.settings import Settings
from shockwatch.runs.publish import Publisher
from streams.records import DeadLetter, FundingObservation, Liquidation, PriceTick, decode
from streams.scenario import load_scenario, read_scenario
from streams.topics import TopicNames, create_topics, topic_specs
from tests.cli import run_shockwatch
from tests.scenario_factory import stressed_funding, write_scenario
from tests.unit.test_records import FUND, LIQ, PRICE

pytestmark = pytest.mark.integration
CONSUME_TIMEOUT_MS = 20_000


def consume_all(settings: Settings, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(
        **kafka_python_config(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=CONSUME_TIMEOUT_MS,
    )
    parts = partitions_for(settings, [topic])[topic]
    consumer.assign([TopicPartition(topic, p) for p in range(parts)])
    out = []
    for msg in consumer:
        out.append(msg)
        if len(out) >= expected:
            break
    consumer.close()
    return out


def test_topics_are_created_with_their_configs_idempotently(kafka_settings: Settings) -> None:
    live = kafka_settings.topic_prefix + "live."
    assert set(create_topics(kafka_settings, live).values()) == {"created"}
    # The fixture's topics hold past days (keep_all); the live ones keep retention_days.
    for prefix, keep_all in ((kafka_settings.topic_prefix, True), (live, False)):
        specs = topic_specs(kafka_settings, prefix, keep_all=keep_all)
        again = create_topics(kafka_settings, prefix, keep_all=keep_all)
        assert set(again.values()) == {"exists"}
        names = [s.name for s in specs]
        parts = partitions_for(kafka_settings, names)
        configs = describe_topic_configs(kafka_settings, names)
        for spec in specs:
            assert parts[spec.name] == spec.partitions
            for key, value in spec.config.items():
                assert configs[spec.name][key] == value, (spec.name, key)
        topics = TopicNames(prefix)
        assert configs[topics.funding]["cleanup.policy"] == "compact"
        days = str(kafka_settings.retention_days * 86_400_000)
        assert configs[topics.liquidations]["retention.ms"] == ("-1" if keep_all else days)


def test_every_record_type_over_kafka_python(kafka_settings: Settings) -> None:
    names = TopicNames(kafka_settings.topic_prefix)
    producer = KafkaProducer(**kafka_python_config(kafka_settings), acks="all")
    cases = [
        (names.prices, PriceTick, PRICE),
        (names.liquidations, Liquidation, LIQ),
        (names.funding, FundingObservation, FUND),
    ]
    for topic, cls, raw in cases:
        record = cls.from_dict(raw, now_ms=1_762_300_000_000)
        producer.send(
            topic, key=record.key.encode(), value=record.encode(), timestamp_ms=raw["ts_ms"]
        )
    producer.flush()
    producer.close()
    for topic, cls, raw in cases:
        (msg,) = consume_all(kafka_settings, topic, 1)
        assert decode(cls, msg.value, now_ms=1_762_300_000_000) == cls.from_dict(
            raw, now_ms=1_762_300_000_000
        )
        assert msg.timestamp == raw["ts_ms"]


async def test_every_record_type_over_aiokafka(kafka_settings: Settings) -> None:
    names = TopicNames(kafka_settings.topic_prefix)
    producer = AIOKafkaProducer(
        **aiokafka_config(kafka_settings), acks="all", enable_idempotence=True
    )
    await producer.start()
    cases = [
        (names.prices, PriceTick, PRICE),
        (names.liquidations, Liquidation, LIQ),
        (names.funding, FundingObservation, FUND),
    ]
    try:
        for topic, cls, raw in cases:
            rec = cls.from_dict(raw, now_ms=1_762_300_000_000)
            await producer.send_and_wait(
                topic, rec.encode(), key=rec.key.encode(), timestamp_ms=raw["ts_ms"]
            )
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        *names.inputs,
        **aiokafka_config(kafka_settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: dict[str, bytes] = {}
    try:
        async with asyncio.timeout(CONSUME_TIMEOUT_MS / 1000):
            while len(got) < 3:
                msg = await consumer.getone()
                got[msg.topic] = msg.value
    finally:
        await consumer.stop()
    for topic, cls, raw in cases:
        assert orjson.loads(got[topic]) == raw
        assert isinstance(decode(cls, got[topic], now_ms=1_762_300_000_000), cls)


async def test_a_faust_app_from_the_factory_consumes_and_updates_a_table(
    kafka_settings: Settings,
) -> None:
    import faust

    from streams.app import base_app

    topic_name = TopicNames(kafka_settings.topic_prefix).prices
    app = base_app(kafka_settings, f"{kafka_settings.topic_prefix}faust-table-test")
    counts = app.Table("counts", default=int, partitions=kafka_settings.input_partitions)
    seen = asyncio.Event()
    topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")

    @app.agent(topic)
    async def count(stream: faust.StreamT) -> None:
        async for event in stream.events():
            tick = decode(PriceTick, event.value, now_ms=1_762_300_000_000)
            counts[tick.symbol] += 1
            if counts[tick.symbol] >= 3:
                seen.set()

    with Publisher(kafka_settings) as pub:
        rec = PriceTick.from_dict(PRICE, now_ms=1_762_300_000_000)
        for _ in range(3):
            pub.send(topic_name, rec.encode(), rec.key, rec.ts_ms)
    await app.start()
    try:
        await asyncio.wait_for(seen.wait(), timeout=60)
        assert counts["SPX"] == 3
    finally:
        await app.stop()


def test_load_produces_exactly_the_records_with_event_timestamps(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    folder = write_scenario(
        tmp_path / "s",
        start="2025-11-04T15:00:00Z",
        minutes=5,
        moves_pct={"SPX": -1, "BTC": -2},
        liq_usd_per_min=3000.0,
        funding=stressed_funding(),
    )
    # one truncated line and one wrong type: both dead-lettered with their reasons
    with open(folder / "prices.jsonl", "ab") as f:
        f.write(b'{"schema_version":1,"ts_ms":1762268700000,"source":"t","symbol":"SPX"\n')
        f.write(orjson.dumps({**PRICE, "price_usd": "cheap"}) + b"\n")
    scenario = read_scenario(folder)
    names = TopicNames(kafka_settings.topic_prefix)
    with Publisher(kafka_settings) as pub:
        results = load_scenario(scenario, pub, names, heartbeat=False)
    assert (results["prices"].valid, results["prices"].rejected) == (10, 2)
    assert results["prices"].reasons == {"malformed": 1, "wrong_type": 1}
    assert results["liquidations"].valid == 15 and results["funding"].valid == 8
    lines = [orjson.loads(x) for x in (folder / "prices.jsonl").read_bytes().splitlines()[:10]]
    msgs = consume_all(kafka_settings, names.prices, 10)
    assert sorted((m.timestamp, orjson.loads(m.value)["symbol"]) for m in msgs) == sorted(
        (x["ts_ms"], x["symbol"]) for x in lines
    )
    assert all(m.timestamp == orjson.loads(m.value)["ts_ms"] for m in msgs)
    dead = consume_all(kafka_settings, names.dlq(names.prices), 2)
    letters = [DeadLetter.from_dict(orjson.loads(m.value)) for m in dead]
    assert {x.reason for x in letters} == {"malformed", "wrong_type"}
    assert any(x.error_field == "price_usd" for x in letters)
    assert base64.b64decode(letters[0].value_b64).startswith(b'{"schema_version"')


def test_cli_load_reports_counts(kafka_settings: Settings, tmp_path: Path) -> None:
    folder = write_scenario(
        tmp_path / "s",
        start="2025-11-04T15:00:00Z",
        minutes=3,
        moves_pct={"XAU": -1},
        liq_usd_per_min=3000.0,
    )
    env = {"SHOCKWATCH_KAFKA_BOOTSTRAP": kafka_settings.kafka_bootstrap, "PATH": "/usr/bin:/bin"}
    proc = run_shockwatch(
        ["load", str(folder), "--topic-prefix", kafka_settings.topic_prefix], env, 120
    )
    assert proc.returncode == 0, proc.stderr
    assert "prices" in proc.stdout and " 3 " in proc.stdout and " 9 " in proc.stdout


def test_broker_restart_keeps_topics_and_committed_offsets(kafka, kafka_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    if kafka.broker is None:
        pytest.skip("external cluster: not restarted by tests")
    names = TopicNames(kafka_settings.topic_prefix)
    with Publisher(kafka_settings) as pub:
        for i in range(5):
            pub.send(names.signals, b'{"n":%d}' % i, "global", None)
    group = f"{kafka_settings.topic_prefix}restart-group"
    consumer = KafkaConsumer(
        names.signals,
        **kafka_python_config(kafka_settings),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=CONSUME_TIMEOUT_MS,
    )
    got = [m for _, m in zip(range(3), consumer, strict=False)]
    consumer.commit()
    consumer.close()
    assert len(got) == 3
    kafka.restart()
    assert names.signals in partitions_for(kafka_settings, [names.signals])
    consumer = KafkaConsumer(
        names.signals,
        **kafka_python_config(kafka_settings),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    rest = [orjson.loads(m.value)["n"] for m in consumer]
    consumer.close()
    assert rest == [3, 4]
