"""The broker goes away mid-stream and comes back: the producer retries, nothing is lost and
nothing is duplicated (count in = count out, read back with a consumer).

It restarts the SESSION broker (same ports, same data) that other tests use, so it keeps the
outage short and makes sure the broker is up again whatever happens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from common.settings import Settings
from producers.config import ProducerSettings
from producers.liquidations.producer import RunLimits
from producers.liquidations.venues import Venue
from producers.metrics import create_metrics
from producers.run import produce_liquidations
from shockwatch.lab.fixtures import FixtureServer
from streams.topics import TopicNames
from tests.fixtures_kafka import TestBroker as KafkaBroker
from tests.integration.test_producers_liquidations import EXPECTED, read_topic, split

pytestmark = [pytest.mark.integration, pytest.mark.faults]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
FRAME_DELAY_S = 0.03  # ~4.5 s of Binance pushes: the restart lands in the middle
RESTART_AFTER_S = 1.0
RUN_TIMEOUT_S = 60


def _ensure_up(kafka: KafkaBroker, port: int, controller_port: int) -> None:
    assert kafka.broker is not None
    if kafka.broker.info() is None:
        kafka.broker.up(port=port, controller_port=controller_port)


async def test_broker_restart_loses_and_duplicates_nothing(
    kafka: KafkaBroker, kafka_settings: Settings
) -> None:
    if kafka.broker is None:
        pytest.skip("an external cluster cannot be restarted by the tests")
    info = kafka.broker.info()
    assert info is not None
    registry = CollectorRegistry()
    async with FixtureServer(FIXTURES, frame_delay_s=FRAME_DELAY_S) as server:
        # A short delivery timeout: batches fail during the outage, so the sink's own re-send
        # path runs (not only aiokafka's internal retries).
        ps = ProducerSettings(
            endpoints=server.endpoints(), heartbeat_s=0.5, request_timeout_ms=1_500
        )
        run = asyncio.create_task(
            produce_liquidations(
                kafka_settings,
                ps,
                venues=[Venue.BINANCE],
                fixtures=FIXTURES,
                limits=RunLimits(duration_s=RUN_TIMEOUT_S, idle_exit_s=2.0),
                metrics=create_metrics(registry),
            )
        )
        try:
            await asyncio.sleep(RESTART_AFTER_S)
            assert not run.done()
            await asyncio.to_thread(kafka.restart)
            stats = await asyncio.wait_for(run, timeout=RUN_TIMEOUT_S + 30)
        finally:
            run.cancel()
            await asyncio.to_thread(_ensure_up, kafka, info["port"], info["controller_port"])
    assert stats["binanceusdm"].records == EXPECTED["binanceusdm"][0]
    names = TopicNames(kafka_settings.topic_prefix)
    records, _ = split(read_topic(kafka_settings, names.liquidations, EXPECTED["binanceusdm"][0]))
    assert len(records) == EXPECTED["binanceusdm"][0]  # count in = count out
    assert len({r.event_id for r in records}) == len(records)  # and each once
    sent = registry.get_sample_value(
        "shockwatch_producer_sent_total", {"topic": names.liquidations}
    )
    assert sent is not None and sent >= len(records)
