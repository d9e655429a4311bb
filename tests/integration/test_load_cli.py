"""``shockwatch load`` against the real broker: a recorded day never lands in the live topics
by default (the live worker would take it for now and page the desk)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from common.kafka import kafka_python_config, partitions_for
from common.settings import Settings
from streams.topics import TopicNames, delete_prefix
from tests.cli import run_shockwatch
from tests.scenario_factory import write_scenario

pytestmark = pytest.mark.integration
CLI_TIMEOUT_S = 120


def messages_in(settings: Settings, topic: str) -> int:
    """How many messages the topic holds (0 when it does not exist)."""
    parts = partitions_for(settings, [topic]).get(topic)
    if not parts:
        return 0
    consumer = KafkaConsumer(**kafka_python_config(settings), enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(parts)]
        begin, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return sum(end[tp] - begin[tp] for tp in tps)
    finally:
        consumer.close()


def shockwatch_load(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, in an environment whose live prefix is the test's."""
    env = {
        "SHOCKWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SHOCKWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "SHOCKWATCH_STATE_DIR": str(settings.state_dir),
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
    }
    return run_shockwatch(["load", *args], env, CLI_TIMEOUT_S)


@pytest.fixture
def day(tmp_path: Path) -> Path:
    return write_scenario(
        tmp_path / "old-day",
        start="2025-11-04T15:00:00Z",
        minutes=3,
        moves_pct={"XAU": -1},
        liq_usd_per_min=3000.0,
        name="old-day",
    )


def test_load_into_the_live_prefix_is_refused_without_force(
    kafka_settings: Settings, day: Path
) -> None:
    live = TopicNames(kafka_settings.topic_prefix)
    for args in (["--topic-prefix", kafka_settings.topic_prefix], ["--topic-prefix", ""]):
        proc = shockwatch_load(kafka_settings, str(day), *args)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        said = " ".join((proc.stdout + proc.stderr).split())
        assert "refusing to load old-day into the live topics" in said, said
        assert "--force" in said
    assert messages_in(kafka_settings, live.prices) == 0
    assert messages_in(kafka_settings, live.liquidations) == 0

    forced = shockwatch_load(
        kafka_settings, str(day), "--topic-prefix", kafka_settings.topic_prefix, "--force"
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "warning: --force: loading old-day into the live topics" in " ".join(
        (forced.stdout + forced.stderr).split()
    )
    assert messages_in(kafka_settings, live.prices) > 0


def test_load_writes_to_a_run_prefix_by_default_and_says_how_to_run_it(
    kafka_settings: Settings, day: Path
) -> None:
    proc = shockwatch_load(kafka_settings, str(day))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"loaded under prefix (scn-\d{8}T\d{6}-load-old-day\.)", proc.stdout)
    assert found, proc.stdout
    prefix = found.group(1)
    try:
        assert f"shockwatch worker --prefix {prefix}" in proc.stdout
        assert "SHOCKWATCH_IDLE_PARTITION_S=0" in proc.stdout
        assert messages_in(kafka_settings, TopicNames(prefix).prices) > 0
        assert messages_in(kafka_settings, TopicNames(kafka_settings.topic_prefix).prices) == 0
    finally:
        delete_prefix(kafka_settings, prefix)
