"""Replay by time range against the real broker and worker: exact ranges, determinism, and
no disturbance of a live consumer group."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from shockwatch.kafka import create_topics, kafka_python_config
from shockwatch.publish import Publisher
from shockwatch.replay import parse_when, replay
from shockwatch.runner import WorkerProcess, end_pad_ms
from shockwatch.scenario import iter_raw, load_scenario, read_scenario
from shockwatch.settings import Settings
from streams.detection.offline import run_offline
from streams.topics import TopicNames

pytestmark = pytest.mark.e2e
SCENARIO = Path(__file__).resolve().parents[2] / "data/scenarios/2025-11-04-everything-sells"
T1 = parse_when("2025-11-03T20:30:00Z")  # mid-way through the warm-up hour before start
T2 = parse_when("2025-11-04T19:30:00Z")


@pytest.fixture(scope="module")
def live(kafka, tmp_path_factory: pytest.TempPathFactory) -> Settings:  # type: ignore[no-untyped-def]
    """The scenario loaded once into 'live' topics (framed, as the runner does)."""
    prefix = f"live{int(time.time() * 1000) % 10**8}."
    settings = kafka.settings(
        topic_prefix=prefix,
        state_dir=tmp_path_factory.mktemp("state"),
        reports_dir=tmp_path_factory.mktemp("reports"),
    )
    create_topics(settings, prefix, keep_all=True)
    with Publisher(settings) as pub:
        load_scenario(
            read_scenario(SCENARIO),
            pub,
            TopicNames(prefix),
            end_pad_ms=end_pad_ms(settings),
            frame_max=settings.frame_max_events,
        )
    return settings


def expected_inputs(tmp: Path) -> Path:
    """The scenario's lines inside [T1, T2] (funding: everything published by T2)."""
    out = tmp / "expected"
    out.mkdir()
    for feed in ("prices", "liquidations", "funding"):
        src = next(SCENARIO.glob(f"{feed}.jsonl*"))
        keep = []
        for _, raw in iter_raw(src):
            ts = orjson.loads(raw)["ts_ms"]
            if ts <= T2 and (feed == "funding" or ts >= T1):
                keep.append(raw)
        (out / f"{feed}.jsonl").write_bytes(b"".join(x + b"\n" for x in keep))
    (out / "scenario.toml").write_text(
        'name = "expected"\nstart = "2025-11-03T20:30:00Z"\nend = "2025-11-04T19:30:00Z"\n'
    )
    return out


def alert_tuples(alerts: list) -> list[tuple]:
    return [(a.ts_ms, a.alert_id, a.state, a.severity, a.regime, a.score) for a in alerts]


def test_mid_range_replay_is_exact_and_deterministic(live: Settings, tmp_path: Path) -> None:
    first = replay(live, T1, T2, run_id="mid-a")
    exp_dir = expected_inputs(tmp_path)
    for feed in ("prices", "liquidations", "funding"):
        expected = sum(1 for _ in iter_raw(exp_dir / f"{feed}.jsonl"))
        assert first.export.counts[feed] == expected, feed
    assert sum(first.export.counts.values()) > 10_000
    implied, _ = run_offline(read_scenario(exp_dir), live.detection)
    assert alert_tuples(first.run.alerts) == alert_tuples([a for o in implied for a in o.alerts])
    assert any(a.severity == "critical" for a in first.run.alerts)
    second = replay(live, T1, T2, run_id="mid-b")
    for name in ("signals.jsonl", "alerts.jsonl"):
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes()
    assert (first.run_dir / "signals.jsonl").stat().st_size > 0


def end_offsets(settings: Settings, topics: tuple[str, ...]) -> dict:
    from kafka import KafkaConsumer, TopicPartition

    from shockwatch.kafka import partitions_for

    consumer = KafkaConsumer(**kafka_python_config(settings))
    try:
        parts = partitions_for(settings, list(topics))
        tps = [TopicPartition(t, p) for t in topics for p in range(parts[t])]
        return {(tp.topic, tp.partition): off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def committed(settings: Settings, group: str) -> dict:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        except KafkaError:  # the group's coordinator is still being set up
            return {}
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        admin.close()


def test_replay_leaves_a_running_live_group_untouched(live: Settings, tmp_path: Path) -> None:
    group = f"{live.topic_prefix}live-worker"
    worker = WorkerProcess(live, live.topic_prefix, group, tmp_path / "worker.log")
    worker.start()
    try:
        # Wait until the live worker's committed offsets are settled (no change for 5 s): from
        # then on they only move if something else (a replay) disturbed its group.
        deadline = time.monotonic() + 180
        before: dict = {}
        while time.monotonic() < deadline:
            now = committed(live, group)
            if now and now == before:
                break
            before = now
            time.sleep(5)
        assert before and now == before, f"live offsets never settled:\n{worker.log_tail()}"
        result = replay(live, T1, T2, run_id="while-live")
        assert result.run.alerts
        assert worker.alive()
        assert committed(live, group) == before
        assert committed(live, result.run.app_id)  # the replay used its own group
    finally:
        worker.stop()
