"""Fault tests against the real worker: poison input never stops it, a silent feed never
stops detection."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from common.settings import PROJECT_ROOT, Settings
from shockwatch.runs.publish import Publisher
from shockwatch.runs.runner import WorkerProcess
from streams.scenario import load_scenario, read_scenario
from streams.topics import TopicNames
from tests.fixtures_kafka import read_all

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
TINY = PROJECT_ROOT / "data" / "scenarios" / "sample-tiny"
TIMEOUT_S = 90


def load_without_funding(settings: Settings, names: TopicNames, poison: list[bytes]) -> int:
    """sample-tiny's prices and liquidations (plus ``poison`` on the liquidation topic), and
    end-of-day heartbeats on those two topics only: the funding feed says nothing at all."""
    scenario = read_scenario(TINY)
    with Publisher(settings, client_id="test-hostile") as pub:
        for value in poison:
            pub.send(names.liquidations, value, b"poison", scenario.start_ms)
        load_scenario(scenario, pub, names, heartbeat=False,
                      feeds=("prices", "liquidations"), frame_max=200)  # fmt: skip
        for topic in (names.prices, names.liquidations):
            pub.heartbeat(topic, scenario.end_ms + 2_000, "test")
    return scenario.end_ms


def wait_for_signals(settings: Settings, names: TopicNames, worker: WorkerProcess, n: int) -> list:
    deadline = time.monotonic() + TIMEOUT_S
    signals: list = []
    while time.monotonic() < deadline and len(signals) < n:
        signals = read_all(settings, names.signals)
        assert worker.alive(), worker.log_tail()
    return signals


def test_poison_input_is_dead_lettered_and_a_silent_feed_goes_idle(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    names = TopicNames(kafka_settings.topic_prefix)
    deep = b"[" + b"[" * 300 + b"]" * 300 + b"]"
    huge = b'{"x":"' + b"A" * 1_000_100 + b'"}'
    long_symbol = orjson.dumps(
        {"schema_version": 1, "ts_ms": 1_762_268_400_000, "source": "t", "exchange": "okx",
         "symbol": "S" * 200_000, "base": "BTC", "side_liquidated": "long", "qty_base": 0.01,
         "price_usd": 100_000.0, "notional_usd": 1_000.0, "event_id": "okx:x",
         "lower_bound": True}
    )  # fmt: skip
    load_without_funding(kafka_settings, names, [deep, huge, long_symbol])
    worker = WorkerProcess(
        kafka_settings, names.prefix, f"{names.prefix}w", tmp_path / "worker.log",
        extra_env={"SHOCKWATCH_IDLE_PARTITION_S": "2"},
    )  # fmt: skip
    worker.start()
    try:
        signals = wait_for_signals(kafka_settings, names, worker, 25)
        assert len(signals) >= 25, f"{len(signals)} signals:\n{worker.log_tail()}"
        assert worker.alive()
    finally:
        worker.stop()
    last = orjson.loads(signals[-1].value)
    funding = [tp for tp in last["idle_partitions"] if tp.startswith(names.funding)]
    assert funding, last["idle_partitions"]  # the silent feed is named in the signal
    assert last["funding"]["stress"] is None  # unknown, and detection went on
    letters = [
        orjson.loads(m.value) for m in read_all(kafka_settings, names.dlq(names.liquidations))
    ]
    reasons = sorted(x["reason"] for x in letters if x["source"] == "shockwatch:worker")
    assert reasons == ["malformed", "too_large", "too_long"], reasons
    big = next(x for x in letters if x["reason"] == "too_large")
    assert big["truncated"] and big["value_len"] == len(huge) and big["offset"] is not None


def log_lines(path: Path) -> int:
    return len(path.read_text(errors="replace").splitlines()) if path.exists() else 0


def test_a_broker_outage_is_logged_in_a_few_lines_per_process(
    kafka, kafka_settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """25 s without the broker: the worker and the notifier retry quietly (a line, then a
    summary with a count per 30 s), and both are still running afterwards."""
    from shockwatch.runs.runner import NotifierProcess

    if kafka.broker is None:
        pytest.skip("an external cluster cannot be stopped by the tests")
    info = kafka.broker.info()
    names = TopicNames(kafka_settings.topic_prefix)
    load_without_funding(kafka_settings, names, [])
    worker_log, notifier_log = tmp_path / "worker.log", tmp_path / "notifier.log"
    worker = WorkerProcess(kafka_settings, names.prefix, f"{names.prefix}w", worker_log,
                           extra_env={"SHOCKWATCH_IDLE_PARTITION_S": "2"})  # fmt: skip
    notifier = NotifierProcess(kafka_settings, names.prefix, "http://127.0.0.1:9/hook",
                               f"{names.prefix}n", notifier_log)  # fmt: skip
    worker.start()
    try:
        assert wait_for_signals(kafka_settings, names, worker, 5)
        time.sleep(3)
        before = {p: log_lines(p) for p in (worker_log, notifier_log)}
        kafka.broker.down()
        try:
            time.sleep(25)
        finally:
            kafka.broker.up(port=info["port"], controller_port=info["controller_port"])
        time.sleep(10)
        assert worker.alive(), worker.log_tail()
        assert notifier.proc.poll() is None, notifier_log.read_text()[-2000:]
        during = {p.name: log_lines(p) - before[p] for p in before}
    finally:
        worker.stop()
        notifier.stop()
    print("log lines during the outage:", during)
    assert all(n < 50 for n in during.values()), during
