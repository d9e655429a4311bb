"""The three producers publish their recorded fixtures into the real broker through the real
client code, and the real detection worker consumes them without a single reject.

Live, venues stream in real time and their interleaving on a partition is off by network
delays (the 2 s default lateness). A fixture replay plays each venue's hour as fast as it can,
so venues sharing a partition are up to ~55 minutes of event time apart on it: the worker here
allows that much lateness (FIXTURE_LATENESS_S), which is a setting, not a code path of its own.
For the same reason a venue's record may sit that far ahead of the one before it on the
partition, so the far-ahead hold (``max_jump_s``, 2 minutes live) is widened to the same reach:
left at 2 minutes, whether a venue's first records are dead-lettered as ``implausible_time``
depended on how the three concurrent replays happened to interleave. The replayed hour is
closed with a heartbeat past it (as a scenario load closes its day), so every minute of it is
evaluated."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from common.settings import Settings
from producers.config import ProducerSettings
from producers.metrics import create_metrics
from shockwatch.lab.fixtures import publish_fixtures
from shockwatch.runs.publish import Publisher
from shockwatch.runs.runner import WorkerProcess
from streams.topics import TopicNames
from tests.fixtures_kafka import read_all

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
WORKER_TIMEOUT_S = 120
FIXTURE_LATENESS_S = 3600


async def test_worker_consumes_the_producers_output_without_rejects(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    ps = ProducerSettings(heartbeat_s=0.5)
    stats = await publish_fixtures(
        kafka_settings, FIXTURES, ps=ps, metrics=create_metrics(CollectorRegistry())
    )
    assert set(stats) == {"liquidations", "prices", "funding"}
    names = TopicNames(kafka_settings.topic_prefix)
    replayed = [m for t in names.inputs[:2] for m in read_all(kafka_settings, t)]
    hour_end = max(m.timestamp for m in replayed)
    with Publisher(kafka_settings, client_id="test-close-the-hour") as pub:
        for topic in names.inputs:
            pub.heartbeat(topic, hour_end + (FIXTURE_LATENESS_S + 60) * 1000, "test")
    worker = WorkerProcess(
        kafka_settings,
        names.prefix,
        f"{names.prefix}worker",
        tmp_path / "worker.log",
        extra_env={
            "SHOCKWATCH_DETECTION__ALERTS__ALLOWED_LATENESS_S": str(FIXTURE_LATENESS_S),
            "SHOCKWATCH_DETECTION__ALERTS__MAX_JUMP_S": str(FIXTURE_LATENESS_S),
        },
    )
    worker.start()
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        signals: list = []
        while time.monotonic() < deadline and len(signals) < 5:
            signals = read_all(kafka_settings, names.signals, idle_ms=1000)
            assert worker.alive(), worker.log_tail()
        assert len(signals) >= 5, f"the worker emitted {len(signals)} signals:\n{worker.log_tail()}"
        time.sleep(2)  # anything the worker would reject is written before its next tick
    finally:
        worker.stop()
    last = orjson.loads(signals[-1].value)
    assert {"SPX", "BTC"} <= set(last["assets"])
    assert last["liquidations"]["day_total_usd"] > 0
    assert last["funding"]["stress"] is not None
    for topic in names.inputs:
        letters = [orjson.loads(m.value) for m in read_all(kafka_settings, names.dlq(topic))]
        from_worker = [x for x in letters if x["source"] == "shockwatch:worker"]
        assert from_worker == [], f"the worker rejected input on {topic}: {from_worker[:3]}"
