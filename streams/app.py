"""The faust app: one factory, so the worker, replay and tests build the same topology.

Topology: one agent reads the three input topics as raw bytes in batches (``take_events``),
decodes and validates each message with ``streams.records`` (rejects -> ``<topic>.dlq`` with the
reason), files it into the ``Detector`` and sends what the ticks produce: a ``ShockSignal`` per
event-time minute to ``shock.signals`` and each alert transition to ``shock.alerts``.

State: detection is global (every asset and venue at once), which does not fit faust's
co-partitioned Tables; the detector's whole state is checkpointed instead to the compacted
``shock.state`` topic (its changelog) together with the input offsets it covers. Offsets are
committed only after a checkpoint was acknowledged, so after a crash the worker restores the
checkpoint, re-reads from the committed offsets, and skips what the checkpoint already holds:
each event is applied exactly once and the same alerts fire (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import faust
import orjson

from shockwatch.kafka import aiokafka_config, faust_config
from shockwatch.settings import Settings
from streams.detection.detector import Detector, TickOutput
from streams.dlq import dead_letter
from streams.records import (
    DeadLetter,
    FundingObservation,
    Heartbeat,
    Liquidation,
    PriceTick,
    RecordError,
    decode_frame,
    is_frame,
)
from streams.topics import TopicNames

log = logging.getLogger(__name__)

FEED_TYPES: dict[str, type[Any]] = {
    "prices": PriceTick,
    "liquidations": Liquidation,
    "funding": FundingObservation,
}
BATCH_MAX = 5000
BATCH_WITHIN_S = 0.05
CHECKPOINT_EVERY_S = 1.0
IDLE_REPAIR_S = 2.0
STALL_REPORT_S = 15.0


class MetricsSink(Protocol):
    """What the worker reports to (``alerts.metrics.Metrics``)."""

    def observe_events(
        self, feed: str, processed: int, last_ts_ms: int | None, lags_s: Iterable[float]
    ) -> None: ...
    def observe_rejected(self, feed: str, reason: str, n: int = 1) -> None: ...
    def observe_liquidations(self, agg: dict[tuple[str, str, str], tuple[int, float]]) -> None: ...
    def observe_signal(self, signal: Any) -> None: ...
    def observe_alert(self, alert: Any) -> None: ...


@dataclass
class BatchStats:
    """What one batch did, aggregated so metrics are touched once per batch, not per event."""

    stamps: dict[str, list[int]] = field(default_factory=dict)
    rejects: dict[tuple[str, str], int] = field(default_factory=dict)
    liquidations: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def accepted(self, feed: str, record: Any) -> None:
        if isinstance(record, Heartbeat):
            return
        self.stamps.setdefault(feed, []).append(record.ts_ms)
        if isinstance(record, Liquidation):
            key = (record.exchange, record.base, str(record.side_liquidated))
            agg = self.liquidations.setdefault(key, [0, 0.0])
            agg[0] += 1
            agg[1] += record.notional_usd

    def rejected(self, feed: str, reason: str) -> None:
        self.rejects[(feed, reason)] = self.rejects.get((feed, reason), 0) + 1

    def report(self, metrics: MetricsSink, now_ms: int, outputs: list[TickOutput]) -> None:
        for feed, stamps in self.stamps.items():
            lags = [(now_ms - ts) / 1000 for ts in stamps[:: max(1, len(stamps) // 64)]]
            metrics.observe_events(feed, len(stamps), max(stamps), lags)
        for (feed, reason), n in self.rejects.items():
            metrics.observe_rejected(feed, reason, n)
        if self.liquidations:
            metrics.observe_liquidations(
                {k: (int(v[0]), v[1]) for k, v in self.liquidations.items()}
            )
        for out in outputs:
            metrics.observe_signal(out.signal)
            for alert in out.alerts:
                metrics.observe_alert(alert)


@dataclass
class BatchResult:
    outputs: list[TickOutput] = field(default_factory=list)
    dead: list[tuple[str, bytes | None, DeadLetter]] = field(default_factory=list)
    processed: int = 0
    skipped: int = 0
    stats: BatchStats = field(default_factory=BatchStats)


class DetectorRuntime:
    """The detector plus what the agent needs around it: decoding, DLQ letters, metrics,
    and the (compressed) checkpoint codec. Plain Python: tests drive it without faust."""

    def __init__(self, settings: Settings, names: TopicNames, metrics: MetricsSink | None = None):
        self.settings = settings
        self.names = names
        self.metrics = metrics
        self.detector = Detector(settings.detection)
        self.feed_of = {
            names.prices: "prices",
            names.liquidations: "liquidations",
            names.funding: "funding",
        }
        self.max_future_ms = settings.max_future_s * 1000
        self.dirty = False
        self.seen_total = 0  # records handled (processed, rejected, skipped): for benchmarks

    def assign(self, tps: Iterable[tuple[str, int]]) -> None:
        self.detector.set_partitions(f"{t}:{p}" for t, p in tps if t in self.feed_of)

    def process(self, messages: Iterable[tuple[str, int, int, bytes | None, bytes]]) -> BatchResult:
        """(topic, partition, offset, key, value) per message -> outputs and dead letters.

        A message is one record or a frame of several (see ``decode_frame``); every item is
        validated and dead-lettered on its own."""
        det = self.detector
        now_ms = int(time.time() * 1000)
        res = BatchResult()
        for topic, partition, offset, key, value in messages:
            tp = f"{topic}:{partition}"
            if det.already_applied(tp, offset):
                res.skipped += 1
                continue
            feed = self.feed_of[topic]
            items = decode_frame(FEED_TYPES[feed], value or b"", now_ms, self.max_future_ms)
            framed = len(items) > 1 or is_frame(value)
            for index, (item, record) in enumerate(items):
                if not isinstance(record, RecordError):
                    try:
                        det.ingest(record, tp, offset)
                    except RecordError as exc:
                        record = exc
                if isinstance(record, RecordError):
                    det.offsets[tp] = offset + 1
                    raw = orjson.dumps(item) if framed and item is not None else (value or b"")
                    letter = dead_letter(
                        source_topic=topic,
                        value=raw,
                        error=record,
                        key=key,
                        source="shockwatch:worker",
                        partition=partition,
                        offset=offset,
                        ts_ms=now_ms,
                        frame_index=index if framed else None,
                    )
                    res.dead.append((self.names.dlq(topic), key, letter))
                    res.stats.rejected(feed, record.reason)
                else:
                    res.processed += 1
                    res.stats.accepted(feed, record)
        res.outputs = det.advance()
        self.seen_total += res.processed + len(res.dead) + res.skipped
        self.dirty = self.dirty or bool(res.processed or res.dead or res.skipped)
        if self.metrics:
            res.stats.report(self.metrics, now_ms, res.outputs)
        return res

    # -- checkpoint codec --------------------------------------------------------------------
    def encode_checkpoint(self) -> bytes:
        return zlib.compress(orjson.dumps(self.detector.snapshot()), 3)

    def restore_checkpoint(self, blob: bytes) -> None:
        snap = orjson.loads(zlib.decompress(blob))
        self.detector = Detector.restore(self.settings.detection, snap)
        log.info(
            "restored detector checkpoint: %d ticks, next tick %s, %d partitions",
            self.detector.ticks,
            self.detector.next_tick_ms,
            len(self.detector.offsets),
        )


async def read_checkpoint(settings: Settings, names: TopicNames, scope: str) -> bytes | None:
    """The newest checkpoint for ``scope`` on the state topic (read backwards from the end)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**aiokafka_config(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(names.state, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        start = max(0, end - 50)
        if end == 0:
            return None
        consumer.seek(tp, start)
        latest: bytes | None = None
        while True:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            msgs = batch.get(tp, [])
            for msg in msgs:
                if msg.key == scope.encode():
                    latest = msg.value
            if not msgs or msgs[-1].offset >= end - 1:
                return latest
    finally:
        await consumer.stop()


class Topology:
    """The agent's moving parts: topics, runtime, and the send/checkpoint sequence."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        names: TopicNames,
        runtime: DetectorRuntime,
        on_output: Callable[[TickOutput], None] | None,
    ) -> None:
        self.app, self.settings, self.names, self.runtime = app, settings, names, runtime
        self.on_output = on_output
        raw = {"value_serializer": "raw", "key_serializer": "raw"}
        self.inputs = app.topic(*names.inputs, **raw)
        self.signals = app.topic(names.signals, **raw)
        self.alerts = app.topic(names.alerts, **raw)
        self.state = app.topic(names.state, **raw)
        self.scope_key = settings.detection.scope.encode()
        # Held while a batch's outputs are being sent, so a checkpoint never lands between a
        # tick's state change and the delivery of what that tick emitted.
        self.lock = asyncio.Lock()
        self.last_checkpoint = time.monotonic()
        self.last_batch = time.monotonic()
        self.last_tick_seen = (0, time.monotonic())

    async def restore(self) -> None:
        blob = await read_checkpoint(self.settings, self.names, self.runtime.detector.scope)
        if blob is not None:
            self.runtime.restore_checkpoint(blob)

    async def checkpoint(self) -> None:
        # Outputs first, then the checkpoint, then the offsets: a crash anywhere in between
        # re-does work (deduplicated downstream by alert id), it never skips any.
        await self.app.producer.flush()
        fut = await self.state.send(key=self.scope_key, value=self.runtime.encode_checkpoint())
        await fut
        await self.app.consumer.commit()
        self.runtime.dirty = False
        self.last_checkpoint = time.monotonic()

    def repair_flow(self) -> list[Any]:
        """Re-activate partitions faust parked as "buffer full" once the agent is idle.

        faust stops fetching a partition when its stream queue is under pressure and relies on
        a pressure-drop callback to resume it; under load that callback can be missed and the
        partition stays parked forever (seen here as a worker stalling mid-replay; cf. faust
        issues #53/#88). An agent idle for IDLE_REPAIR_S has an empty queue, so resuming every
        parked partition then is safe."""
        consumer = self.app.consumer
        parked = list(getattr(consumer, "_buffered_partitions", ()) or ())
        if not parked or time.monotonic() - self.last_batch < IDLE_REPAIR_S:
            return []
        for tp in parked:
            consumer.on_buffer_drop(tp)
        log.warning("resumed %d partition(s) faust had parked as buffer-full", len(parked))
        return parked

    async def heal_stall(self) -> list[str]:
        """Re-read what faust fetched but never delivered, when ticks stop.

        Under load faust can drop fetched records on their way to the agent (its consumer
        advances to the high-water mark while the agent never sees some messages; cf. faust
        issue #88). When no tick has run for STALL_REPORT_S, the agent is idle and a
        partition's fetch position is past the offset the detector has applied, seek that
        partition back to it: the detector skips whatever it already holds, so re-reading is
        safe, and the lost records arrive after all."""
        det = self.runtime.detector
        ticks, since = self.last_tick_seen
        now = time.monotonic()
        if det.ticks != ticks:
            self.last_tick_seen = (det.ticks, now)
            return []
        if now - since < STALL_REPORT_S or now - self.last_batch < IDLE_REPAIR_S:
            return []
        self.last_tick_seen = (det.ticks, now)
        inner = getattr(getattr(self.app.consumer, "_thread", None), "_consumer", None)
        if inner is None:
            return []
        healed = []
        for tp in inner.assignment():
            key = f"{tp.topic}:{tp.partition}"
            if tp.topic not in self.runtime.feed_of:
                continue
            applied = det.offsets.get(key, 0)
            position = await inner.position(tp)
            if position > applied:
                await self.app.consumer.seek(tp, applied)
                healed.append(f"{key} {applied}..{position}")
        if healed:
            log.warning(
                "no tick for %.0f s: re-reading what faust fetched but never delivered: %s",
                now - since,
                ", ".join(healed),
            )
        return healed

    async def handle(self, events: list[Any]) -> None:
        self.last_batch = time.monotonic()
        runtime = self.runtime
        runtime.assign((tp.topic, tp.partition) for tp in self.app.consumer.assignment())
        result = runtime.process(
            (e.message.topic, e.message.partition, e.message.offset, e.message.key, e.value)
            for e in events
        )
        for dlq_topic, key, letter in result.dead:
            await self.app.send(dlq_topic, key=key, value=letter.encode())
        for out in result.outputs:
            await self.signals.send(key=out.signal.scope.encode(), value=out.signal.encode())
            for alert in out.alerts:
                log.warning("ALERT %s: %s", alert.state, alert.headline)
                await self.alerts.send(key=alert.alert_id.encode(), value=alert.encode())
            if self.on_output is not None:
                self.on_output(out)
        # At most once a second: a checkpoint costs a flush, a ~50 KB write and a commit.
        if runtime.dirty and time.monotonic() - self.last_checkpoint >= CHECKPOINT_EVERY_S:
            await self.checkpoint()


def base_app(settings: Settings, app_id: str) -> faust.App:
    """A faust app configured for shockwatch's broker, serializers and commit policy."""
    datadir = settings.state_dir / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        **faust_config(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        # faust writes a data folder per app (default: ./<app_id>-data); keep it in our state.
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.input_partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # A crashed worker's partitions move on once its session expires: 10 s, not faust's 60.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_acks=-1,
        # Offsets are committed by the agent right after a checkpoint is acknowledged.
        broker_commit_every=10**9,
        broker_commit_interval=10**6,
        # Large enough that a scenario or a day's replay never puts the stream under "pressure"
        # (see Topology.repair_flow for what faust does then); messages are frames of <= 500.
        stream_buffer_maxsize=200_000,
    )


def create_app(
    settings: Settings,
    *,
    app_id: str | None = None,
    prefix: str | None = None,
    metrics: MetricsSink | None = None,
    on_output: Callable[[TickOutput], None] | None = None,
) -> faust.App:
    """Build the worker's faust app for ``settings`` (own app id / topic prefix if given)."""
    names = TopicNames(settings.topic_prefix if prefix is None else prefix)
    app = base_app(settings, app_id or settings.app_id)
    topo = Topology(app, settings, names, DetectorRuntime(settings, names, metrics), on_output)
    app.shockwatch = topo  # type: ignore[attr-defined]

    @app.agent(topo.inputs, name="detect")
    async def detect(stream: faust.StreamT) -> None:
        await topo.restore()
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            async with topo.lock:
                await topo.handle(list(events))

    @app.timer(interval=CHECKPOINT_EVERY_S)
    async def idle_checkpoint() -> None:
        topo.repair_flow()
        await topo.heal_stall()
        # A quiet stream still gets its last batch checkpointed and committed.
        if topo.runtime.dirty and not topo.lock.locked():
            async with topo.lock:
                await topo.checkpoint()

    return app


def run_worker(app: faust.App, loglevel: str = "WARNING") -> None:
    """Run the app as a faust worker in this process until SIGINT/SIGTERM."""
    from faust.worker import Worker

    from shockwatch.log import RedactingFilter

    class RedactingWorker(Worker):
        """faust's worker installs its own root handlers; give each the redacting filter."""

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            for handler in logging.getLogger().handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())

    worker = RedactingWorker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
