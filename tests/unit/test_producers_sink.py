"""The sink's pieces that need no broker: the heartbeat clock, dry-run output, start-up failure,
and the CLI's dry run over the recorded fixtures."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from common.kafka import KafkaUnavailable
from common.ports import free_port
from common.settings import Settings
from producers.config import ProducerSettings
from producers.metrics import create_metrics
from producers.sink import DryRunSink, KafkaSink
from producers.watermark import EventClock
from streams.records import InvalidValue, Liquidation, Side

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
T = 1_762_266_600_000


class Clock:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = T + 3_600_000

    def monotonic(self) -> float:
        return self.mono

    def wall_ms(self) -> int:
        return self.wall


def test_event_clock_follows_event_time_not_the_wall_clock() -> None:
    c = Clock()
    clock = EventClock(2_000, wall_clock_start=False, monotonic=c.monotonic, wall_ms=c.wall_ms)
    assert clock.watermark() is None  # a replay: nothing before its first event
    clock.observe(T)
    c.mono += 5
    assert clock.watermark() == T + 5_000 - 2_000  # old data heartbeats in its own past
    clock.mark(T + 3_000)
    assert clock.watermark() is None  # no progress since: no heartbeat
    c.mono += 1
    assert clock.watermark() == T + 4_000


def test_event_clock_live_start_and_cap_at_wall_clock() -> None:
    c = Clock()
    clock = EventClock(1_000, monotonic=c.monotonic, wall_ms=c.wall_ms)
    assert clock.watermark() == c.wall - 1_000
    clock.observe(c.wall - 10)
    c.mono += 3_600  # idle for an hour but the wall clock says otherwise: never ahead of it
    assert clock.watermark() == c.wall - 1_000


def liquidation() -> Liquidation:
    return Liquidation(
        ts_ms=T,
        source="ccxt:okx",
        exchange="okx",
        symbol="BTC/USDT:USDT",
        base="BTC",
        side_liquidated=Side.LONG,
        qty_base=0.1,
        price_usd=100_000.0,
        notional_usd=10_000.0,
        event_id="x",
        lower_bound=True,
    )


async def test_dry_run_prints_one_json_per_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    sink = DryRunSink(out, err)
    await sink.send("crypto.liquidations", liquidation())
    await sink.dead_letter("crypto.liquidations", b"{}", InvalidValue("qty", "bad"), "ccxt:okx")
    assert json.loads(out.getvalue())["side_liquidated"] == "long"
    letter = json.loads(err.getvalue())["dead_letter"]
    assert (letter["reason"], letter["source_topic"]) == ("invalid_value", "crypto.liquidations")


async def test_unreachable_broker_at_start_is_a_clear_error() -> None:
    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    sink = KafkaSink(
        settings,
        ProducerSettings(start_timeout_s=2.0),
        client_id="test",
        source="test",
        heartbeat_topics=("t",),
    )
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=r"cannot reach Kafka at 127\.0\.0\.1"):
        await sink.start()
    assert time.monotonic() - started < 10


@pytest.mark.usefixtures("clean_env")
async def test_dry_run_over_fixtures() -> None:
    """The liquidation producer over the lab's fixture server, printing instead of sending."""
    from common.settings import load_settings
    from producers.liquidations.producer import RunLimits
    from producers.liquidations.venues import Venue
    from producers.run import produce_liquidations
    from shockwatch.lab.fixtures import serve_fixtures

    out = io.StringIO()
    await produce_liquidations(
        load_settings(),
        ProducerSettings(),
        venues=[Venue("okx")],
        dry_run=True,
        fixtures=FIXTURES,
        endpoints=serve_fixtures(FIXTURES),
        limits=RunLimits(idle_exit_s=2.0),
        out=out,
    )
    records = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{")]
    assert len(records) == 133  # 115 live + 18 replayed (new on the first subscribe)
    assert {r["exchange"] for r in records} == {"okx"}


@pytest.mark.usefixtures("clean_env")
def test_cli_exits_non_zero_when_the_broker_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from shockwatch.cli.main import app

    monkeypatch.setenv("SHOCKWATCH_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("SHOCKWATCH_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOCKWATCH_PRODUCERS__START_TIMEOUT_S", "2")
    result = CliRunner().invoke(app, ["produce", "funding", "--once", "--no-create-topics"])
    assert result.exit_code == 1
    assert "cannot reach Kafka" in result.output


# -- the Kafka sink's buffering and retries, against a stand-in producer ------------------------
class StubBatch:
    def __init__(self, capacity: int = 100) -> None:
        self.records: list[tuple[bytes | None, bytes, int]] = []
        self.capacity = capacity

    def append(self, *, key: bytes | None, value: bytes, timestamp: int) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value, timestamp))
        return object()

    def close(self) -> None:
        return None


class StubProducer:
    """Acknowledges batches once ``gate`` is open; can time out or refuse some first."""

    def __init__(self, lost_state: bool = False) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.timeouts = 0
        self.lost_state = lost_state  # every batch: OutOfOrderSequenceNumber, as after an outage
        self.delivered: list[tuple[str, bytes]] = []
        self.stopped = False

    def create_batch(self) -> StubBatch:
        return StubBatch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send_batch(self, batch: StubBatch, topic: str, *, partition: int) -> asyncio.Future:
        from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber, UnknownError

        fut: asyncio.Future = asyncio.get_running_loop().create_future()

        async def complete() -> None:
            await self.gate.wait()
            if self.timeouts:
                self.timeouts -= 1
                fut.set_exception(KafkaTimeoutError())
            elif self.lost_state:
                fut.set_exception(OutOfOrderSequenceNumber())
            elif any(v == b"poison" for _, v, _ in batch.records):
                fut.set_exception(UnknownError())  # what a compacted topic says to a null key
            else:
                self.delivered.extend((topic, v) for _, v, _ in batch.records)
                fut.set_result(None)

        asyncio.get_running_loop().create_task(complete())
        return fut

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True


def stub_sink(**ps: object) -> tuple[KafkaSink, StubProducer, CollectorRegistry]:
    registry = CollectorRegistry()
    sink = KafkaSink(
        Settings(kafka_bootstrap="unused:9092"),
        ProducerSettings(**ps),  # type: ignore[arg-type]
        client_id="test",
        source="test",
        metrics=create_metrics(registry),
    )
    return sink, StubProducer(), registry


async def test_full_buffer_makes_send_wait_instead_of_growing() -> None:
    sink, producer, _ = stub_sink(queue_max=5, send_round_max=3)
    producer.gate.clear()  # a broker that does not answer
    await sink.start(producer)
    accepted = 0
    while True:
        try:
            await asyncio.wait_for(sink.send_raw("t", b"%d" % accepted, b"k", T), timeout=0.3)
        except TimeoutError:
            break  # send waits: backpressure
        accepted += 1
        assert accepted <= 5 + 3, "the buffer grew past its bound"
    assert sink.buffered == 5
    producer.gate.set()
    await sink.send_raw("t", b"last", b"k", T)
    await asyncio.wait_for(sink.flush(), timeout=5)
    await sink.close()
    expected = [b"%d" % i for i in range(accepted)] + [b"last"]
    assert sorted(v for _, v in producer.delivered) == sorted(expected)


async def test_failed_batches_are_re_sent_never_dropped() -> None:
    sink, producer, registry = stub_sink(send_round_max=50)
    producer.timeouts = 2  # the broker is away for two attempts
    await sink.start(producer)
    for i in range(20):
        await sink.send_raw("t", b"%d" % i, b"k%d" % (i % 4), T + i)
    await asyncio.wait_for(sink.flush(), timeout=10)
    await sink.close()
    values = [v for _, v in producer.delivered]
    assert sorted(values) == sorted(b"%d" % i for i in range(20))  # each once
    assert sink.failed_attempts >= 1
    assert registry.get_sample_value("shockwatch_producer_send_failures_total", {"topic": "t"}) > 0
    assert registry.get_sample_value("shockwatch_producer_sent_total", {"topic": "t"}) == 20


async def test_a_refused_record_goes_to_the_dlq_without_blocking_others() -> None:
    sink, producer, _ = stub_sink()
    await sink.start(producer)
    for value in (b"a", b"poison", b"b"):
        await sink.send_raw("funding.daily", value, b"same-key", T)
    await asyncio.wait_for(sink.flush(), timeout=5)
    await sink.close()
    main = [v for t, v in producer.delivered if t == "funding.daily"]
    dlq = [json.loads(v) for t, v in producer.delivered if t == "funding.daily.dlq"]
    assert main == [b"a", b"b"]
    assert len(dlq) == 1 and "refused by Kafka" in dlq[0]["error"]
    assert sink.refused == 1 and sink.dropped == 0


async def test_a_producer_that_lost_its_sequence_state_is_renewed_not_dead_lettered() -> None:
    """After a long outage the idempotent producer's batches all get OutOfOrderSequenceNumber
    (measured in the broker-outage fault test): the records are not at fault. They are re-sent
    by a new producer, not refused into the DLQ."""
    sink, old, _ = stub_sink(send_round_max=50)
    old.lost_state = True
    new = StubProducer()
    await sink.start(old)
    sink._own_producer = True  # as if it had built ``old`` itself
    sink._new_producer = lambda: new  # type: ignore[method-assign]
    for i in range(20):
        await sink.send_raw("t", b"%d" % i, b"k%d" % (i % 4), T + i)
    await asyncio.wait_for(sink.flush(), timeout=10)
    await sink.close()
    assert old.delivered == [] and old.stopped
    assert sorted(v for _, v in new.delivered) == sorted(b"%d" % i for i in range(20))
    assert not any(t.endswith(".dlq") for t, _ in new.delivered)
    assert (sink.renewals, sink.refused, sink.dropped) == (1, 0, 0)
