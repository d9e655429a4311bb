"""The real Apache Kafka broker for the test session, and a 3-node cluster for topology tests.

Started once per session in its own state folder on free loopback ports (jars are the
checkout's, fetched from Maven Central by `make` or on first use), stopped at the end even on
failure. ``SHOCKWATCH_TEST_BOOTSTRAP`` points the tests at an already running cluster instead.
``kafka_cluster`` (module-scoped, only for the tests that ask for it) is three KRaft nodes of
their own, in another state folder, stopped at the end of the module even on failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.kafka import kafka_python_config, partitions_for
from common.settings import Settings
from shockwatch.local.broker import LocalBroker
from streams.topics import create_topics

BROKER_START_TIMEOUT_S = 90
CONSUME_TIMEOUT_S = 60
CLUSTER_NODE_HEAP = "-Xms128m -Xmx384m"


def read_all(settings: Settings, topic: str, idle_ms: int = 1500) -> list:
    """Every message of ``topic`` from the beginning (kafka-python, no group)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        **kafka_python_config(settings), enable_auto_commit=False, consumer_timeout_ms=idle_ms
    )
    try:
        n = partitions_for(settings, [topic]).get(topic, 0)
        tps = [TopicPartition(topic, p) for p in range(n)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return list(consumer)
    finally:
        consumer.close()


class TestBroker:
    def __init__(self, broker: LocalBroker | None, bootstrap: str) -> None:
        self.broker = broker
        self.bootstrap = bootstrap

    def settings(self, **overrides: object) -> Settings:
        return Settings(kafka_bootstrap=self.bootstrap, **overrides)  # type: ignore[arg-type]

    def restart(self) -> None:
        """Stop and start the same broker (same data, same ports)."""
        assert self.broker is not None, "cannot restart an external cluster"
        info = self.broker.info()
        assert info is not None
        self.broker.down()
        self.broker.up(port=info["port"], controller_port=info["controller_port"])


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    external = os.environ.get("SHOCKWATCH_TEST_BOOTSTRAP")
    if external:
        yield TestBroker(None, external)
        return
    state: Path = tmp_path_factory.mktemp("kafka-state")
    broker = LocalBroker(Settings(), state_dir=state)
    started = time.monotonic()
    info = broker.up()
    took = time.monotonic() - started
    print(f"\n[kafka] test broker at {info['bootstrap']} ready in {took:.1f} s")
    try:
        yield TestBroker(broker, info["bootstrap"])
    finally:
        broker.down()


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestBroker]:
    """Three combined broker+controller nodes (replication factor 3, min.insync.replicas 2)."""
    state: Path = tmp_path_factory.mktemp("kafka-cluster-state")
    # Three JVMs next to the session's broker, the worker and the notifier on a small
    # machine: each node gets a smaller heap than a lone broker (plenty for a test day).
    broker = LocalBroker(Settings(kafka_heap=CLUSTER_NODE_HEAP), state_dir=state, brokers=3)
    started = time.monotonic()
    try:
        info = broker.up()
        print(f"\n[kafka] 3-node test cluster at {info['bootstrap']} ready in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        yield TestBroker(broker, info["bootstrap"])
    finally:
        broker.down()


@pytest.fixture
def kafka_settings(kafka: TestBroker, prefix: str, tmp_path: Path) -> Settings:
    """Settings for the test broker with this test's own topic prefix and state folder (so no
    test sees another's producer or notifier state), topics created."""
    settings = kafka.settings(
        topic_prefix=prefix,
        input_partitions=3,
        state_dir=tmp_path / "state",
        reports_dir=tmp_path / "reports",
    )
    create_topics(settings, keep_all=True)  # fixtures hold past days
    return settings


@pytest.fixture
def settings_factory(kafka: TestBroker) -> Callable[..., Settings]:
    return kafka.settings
