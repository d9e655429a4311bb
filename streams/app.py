"""The faust app: one factory, so the worker, replay and tests build the same topology.

Topology: an input stage hosted by the faust app reads the three input topics in ``getmany``
batches, decodes and validates each message with ``streams.records`` (rejects -> ``<topic>.dlq``
with the reason), files it into the ``Detector`` and sends what the ticks produce: a
``ShockSignal`` per event-time minute to ``shock.signals`` and each alert transition to
``shock.alerts``. One worker of a group is active, the others stand by (``ActiveStandbyAssignor``).

State: detection is global (every asset and venue at once), which does not fit faust's
co-partitioned Tables; the detector's whole state is checkpointed instead to the compacted
``shock.state`` topic (its changelog) together with the input offsets it covers. Offsets are
committed only after a checkpoint was acknowledged, so after a crash the worker restores the
checkpoint, re-reads from the committed offsets, and skips what the checkpoint already holds:
each event is applied exactly once and the same alerts fire (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import faust
import mode
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from faust.app.base import BootStrategy

from common.kafka import aiokafka_config, faust_config
from common.log import retry_logger
from common.settings import Settings
from streams.detection.detector import Detector, TickOutput
from streams.detection.shard import PartitionShard, Summary
from streams.dlq import dead_letter
from streams.records import (
    DeadLetter,
    DuplicateEvent,
    FundingObservation,
    Heartbeat,
    ImplausibleTime,
    Liquidation,
    MalformedRecord,
    PriceTick,
    RecordError,
    decode_frame,
    frame_items,
    is_frame,
    wire_items,
)
from streams.topics import TopicNames

log = logging.getLogger(__name__)
retry_log = retry_logger(__name__)

FEED_TYPES: dict[str, type[Any]] = {
    "prices": PriceTick,
    "liquidations": Liquidation,
    "funding": FundingObservation,
}
BATCH_MAX = 20_000  # records per getmany: one detector pass, one lock hold
POLL_TIMEOUT_MS = 200  # an idle getmany returns after this (the stop flag is checked then)
OUTPUT_LINGER_MS = 2  # signals and alerts leave within ~2 ms of their tick
# A batch of ticks (a backlog, a replay) sends one signal per minute at once: with aiokafka's
# 16 KB default a partition's batch filled every few signals and the loop waited for the
# broker's ack each time (0.4 s of a 1.2 s benchmark run).
OUTPUT_BATCH_BYTES = 512 * 1024
CHECKPOINT_EVERY_S = 1.0
READ_STATE_TIMEOUT_S = 60.0  # reading the newest checkpoint back, at most


class MetricsSink(Protocol):
    """What the worker reports to (``alerts.metrics.Metrics``)."""

    def observe_events(
        self, feed: str, processed: int, last_ts_ms: int | None, lags_s: Iterable[float]
    ) -> None: ...
    def observe_rejected(self, feed: str, reason: str, n: int = 1) -> None: ...
    def observe_liquidations(self, agg: dict[tuple[str, str, str], tuple[int, float]]) -> None: ...
    def observe_signal(self, signal: Any, ticks: int = 1) -> None: ...
    def observe_alert(self, alert: Any) -> None: ...
    def observe_idle(self, partitions: list[str]) -> None: ...


@dataclass
class BatchStats:
    """What one batch did, aggregated so metrics are touched once per batch, not per event."""

    stamps: dict[str, list[int]] = field(default_factory=dict)
    rejects: dict[tuple[str, str], int] = field(default_factory=dict)
    liquidations: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def accepted(self, feed: str, record: Any) -> None:
        """One accepted record (a heartbeat counts for nothing)."""
        if type(record) is not Heartbeat:
            self.accepted_all(feed, [record])

    def accepted_all(self, feed: str, records: list[Any]) -> None:
        """A message's accepted records, all of one type (the hot path: one call a message)."""
        if not records:  # every one of them late
            return
        stamps = self.stamps.get(feed)
        if stamps is None:
            stamps = self.stamps[feed] = []
        stamps.extend([r.ts_ms for r in records])
        if type(records[0]) is Liquidation:
            sums = self.liquidations
            for r in records:
                key = (r.exchange, r.base, r.side_liquidated)
                agg = sums.get(key)
                if agg is None:
                    agg = sums[key] = [0, 0.0]
                agg[0] += 1
                agg[1] += r.notional_usd

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
                {
                    (ex, base, str(side)): (int(v[0]), v[1])
                    for (ex, base, side), v in self.liquidations.items()
                }
            )
        if outputs:
            # Gauges keep only the newest signal: a batch of ticks (a backlog, a replay) sets
            # them once and counts every tick.
            metrics.observe_signal(outputs[-1].signal, ticks=len(outputs))
        for out in outputs:
            for alert in out.alerts:
                metrics.observe_alert(alert)


@dataclass
class BatchResult:
    outputs: list[TickOutput] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)  # the shard stage's (scale-out)
    dead: list[tuple[str, bytes | None, DeadLetter]] = field(default_factory=list)
    processed: int = 0
    skipped: int = 0
    stats: BatchStats = field(default_factory=BatchStats)


class DetectorRuntime:
    """The detector plus what the input stage needs around it: decoding, DLQ letters, metrics,
    and the (compressed) checkpoint codec. Plain Python: tests drive it without faust.

    ``shard_only`` (the shard stage of a scaled-out worker): the same decoding and filing, but
    a batch ends with the summaries of what its partitions sealed instead of ticks."""

    def __init__(
        self,
        settings: Settings,
        names: TopicNames,
        metrics: MetricsSink | None = None,
        *,
        shard_only: bool = False,
        dead_letters: TopicNames | None = None,
    ):
        self.shard_only = shard_only
        self.settings = settings
        self.names = names
        self.metrics = metrics
        self.detector = Detector(settings.detection)
        self.feed_of = {
            names.prices: "prices",
            names.liquidations: "liquidations",
            names.funding: "funding",
        }
        # Where an input topic's rejects go: its own DLQ, or (a replay reading the live topics
        # in place) the DLQ of the same feed under the replay's prefix.
        out = dead_letters or names
        self.dlq_of = {t: out.dlq(getattr(out, feed)) for t, feed in self.feed_of.items()}
        self.max_future_ms = settings.max_future_s * 1000
        self.dirty = False
        self.seen_total = 0  # records handled (processed, rejected, skipped): for benchmarks
        self.first_batch_at: float | None = None  # perf_counter() as the first batch began
        self.last_batch_done = 0.0  # perf_counter() as the latest batch ended

    def assign(self, tps: Iterable[tuple[str, int]]) -> None:
        self.detector.set_partitions(f"{t}:{p}" for t, p in tps if t in self.feed_of)

    def process(self, messages: Iterable[tuple[str, int, int, bytes | None, bytes]]) -> BatchResult:
        """(topic, partition, offset, key, value) per message -> outputs and dead letters.

        A message is one record or a frame of several (see ``decode_frame``); every item is
        validated and dead-lettered on its own. A message of plain valid records (nearly all of
        them) is validated in one pass (``wire_items``) and filed in one call; any other takes
        the readers item by item."""
        if self.first_batch_at is None:
            self.first_batch_at = time.perf_counter()
        det = self.detector
        now_ms = int(time.time() * 1000)
        res = BatchResult()
        offsets, shards = det.offsets, det.shards
        accepted, accepted_all = res.stats.accepted, res.stats.accepted_all
        max_future = self.max_future_ms
        processed = skipped = 0
        for topic, partition, offset, key, value in messages:
            tp = f"{topic}:{partition}"
            if det.already_applied(tp, offset):  # the restored checkpoint holds it
                skipped += 1
                continue
            feed = self.feed_of[topic]
            shard = shards.get(tp) or det.shard(tp)
            shard.begin(offset)
            record_type = FEED_TYPES[feed]
            records = wire_items(record_type, value, now_ms, max_future)
            if records is not None:  # every item valid (one C pass): only lateness rejects now
                late = shard.file(records)
                if late:
                    where = (topic, partition, offset, key, value)
                    records = self._drop_unfiled(res, now_ms, feed, records, late, where)
                processed += len(records)
                accepted_all(feed, records)
                offsets[tp] = offset + 1
                continue
            # Some item is not a plain valid record: the readers judge each item, and each
            # reject is named and dead-lettered on its own.
            items = decode_frame(record_type, value or b"", now_ms, max_future)
            framed = len(items) > 1 or is_frame(value)
            for index, (item, record) in enumerate(items):
                if not isinstance(record, RecordError):
                    try:
                        shard.add(record)
                    except DuplicateEvent as exc:  # a re-send: dropped, counted
                        res.stats.rejected(feed, exc.reason)
                        continue
                    except RecordError as exc:
                        record = exc
                    else:
                        processed += 1
                        accepted(feed, record)
                        continue
                self._reject(res, now_ms, feed, topic, partition, offset, key, value, item,
                             record, index if framed else None)  # fmt: skip
            offsets[tp] = offset + 1  # the whole message is applied (items or dead letters)
        res.processed, res.skipped = processed, skipped
        return self._finish(res, now_ms)

    def _finish(self, res: BatchResult, now_ms: int) -> BatchResult:
        """After a batch's messages: held records found implausible to the DLQ, then the
        summaries (shard stage) or the ticks the watermark allows."""
        det = self.detector
        for tp, shard in det.shards.items():
            if shard.implausible:
                self._reject_implausible(res, now_ms, tp, shard)
        if self.shard_only:
            res.summaries = [x for tp, sh in det.shards.items() if (x := sh.seal(tp)) is not None]
        else:
            res.outputs = det.advance()
        return self._done(res, now_ms)

    def _reject_implausible(
        self, res: BatchResult, now_ms: int, tp: str, shard: PartitionShard
    ) -> None:
        """Dead-letter the records a partition held as far ahead and found wrong."""
        topic, partition = tp.rsplit(":", 1)
        for record, offset in shard.take_implausible():
            error = ImplausibleTime(
                "ts_ms", f"{record.ts_ms} is far ahead of its partition and was not confirmed"
            )
            self._reject(res, now_ms, self.feed_of[topic], topic, int(partition), offset or 0,
                         None, record.encode(), None, error, None)  # fmt: skip

    def _drop_unfiled(
        self,
        res: BatchResult,
        now_ms: int,
        feed: str,
        records: list[Any],
        unfiled: list[tuple[int, RecordError]],
        where: tuple[str, int, int, bytes | None, bytes | None],
    ) -> list[Any]:
        """A message's records the shard did not file: late ones dead-lettered, re-sent ones
        (``DuplicateEvent``) dropped and counted; returns the records that were filed."""
        topic, partition, offset, key, value = where
        framed = is_frame(value)
        parsed = frame_items(value) if framed else []  # type: ignore[arg-type]
        for index, exc in unfiled:
            if type(exc) is DuplicateEvent:
                res.stats.rejected(feed, exc.reason)
                continue
            self._reject(res, now_ms, feed, topic, partition, offset, key, value,
                         parsed[index] if framed else None, exc,
                         index if framed else None)  # fmt: skip
        gone = {index for index, _ in unfiled}
        return [r for i, r in enumerate(records) if i not in gone]

    def _done(self, res: BatchResult, now_ms: int) -> BatchResult:
        """A batch's bookkeeping: counts, the dirty flag, its metrics, when it ended."""
        self.seen_total += res.processed + len(res.dead) + res.skipped
        self.dirty = self.dirty or bool(res.processed or res.dead or res.skipped)
        if self.metrics:
            res.stats.report(self.metrics, now_ms, res.outputs)
        self.last_batch_done = time.perf_counter()
        return res

    def _reject(
        self,
        res: BatchResult,
        now_ms: int,
        feed: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        item: Any,
        error: RecordError,
        frame_index: int | None,
    ) -> None:
        """One item dead-lettered (a frame's item on its own), with the reason, and counted.
        Never raises: an item that cannot be serialised again (nested deeper than orjson
        writes) is kept as the whole message's bytes, bounded by ``dead_letter``."""
        raw = value
        if frame_index is not None and item is not None:
            try:
                raw = orjson.dumps(item)
            except (TypeError, ValueError):  # orjson.JSONEncodeError: recursion limit, ...
                raw = value
        letter = dead_letter(
            source_topic=topic,
            value=raw or b"",
            error=error,
            key=key,
            source="shockwatch:worker",
            partition=partition,
            offset=offset,
            ts_ms=now_ms,
            frame_index=frame_index,
        )
        res.dead.append((self.dlq_of[topic], key, letter))
        res.stats.rejected(feed, error.reason)

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


class MergeRuntime(DetectorRuntime):
    """The merging detector of a scaled-out app: reads the shard stage's summaries (one
    partition), merges them, ticks. Its watermark waits for every input partition."""

    def __init__(self, settings: Settings, names: TopicNames, metrics: MetricsSink | None = None):
        super().__init__(settings, names, metrics)
        self.input_partitions: list[str] = []  # every "topic:partition" of the input topics

    def assign(self, tps: Iterable[tuple[str, int]]) -> None:
        self.detector.set_partitions(self.input_partitions)

    def process(self, messages: Iterable[tuple[str, int, int, bytes | None, bytes]]) -> BatchResult:
        if self.first_batch_at is None:
            self.first_batch_at = time.perf_counter()
        det, res = self.detector, BatchResult()
        now_ms = int(time.time() * 1000)
        for topic, partition, offset, key, value in messages:
            tp = f"{topic}:{partition}"
            if det.already_applied(tp, offset):
                res.skipped += 1
                continue
            try:
                summary = Summary.decode(value)
            except (ValueError, KeyError, TypeError) as exc:
                # Written by our own shard stage: a bad one is a bug, kept for a post-mortem.
                error = MalformedRecord("$", f"not a summary: {exc}")
                letter = dead_letter(
                    source_topic=topic, value=value or b"", error=error, key=key,
                    source="shockwatch:merge", partition=partition, offset=offset,
                    ts_ms=now_ms,
                )  # fmt: skip
                res.dead.append((self.names.dlq(topic), key, letter))
            else:
                det.apply(summary)
                res.processed += 1
            det.offsets[tp] = offset + 1
        res.outputs = det.advance()
        return self._done(res, now_ms)


class CheckpointUnreadable(RuntimeError):
    """The state topic could not be read to its end: not the same as "no checkpoint"."""


async def read_checkpoint(
    settings: Settings, names: TopicNames, scope: str, timeout_s: float = READ_STATE_TIMEOUT_S
) -> bytes | None:
    """The newest checkpoint for ``scope`` on the state topic; None only when it holds none.

    Reads the tail (then further back if the scope's newest is not there) always up to the end
    offset. A read that cannot get there in ``timeout_s`` raises ``CheckpointUnreadable``: a
    slow fetch taken for "no checkpoint" would start an empty detector at the committed offsets
    and lose the history (it did, under load: the standby fault test scored differently)."""
    consumer = AIOKafkaConsumer(**aiokafka_config(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(names.state, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        key = scope.encode()
        deadline = time.monotonic() + timeout_s
        for window in (50, 5000, None):
            start = 0 if window is None else max(0, end - window)
            consumer.seek(tp, start)
            latest: bytes | None = None
            while await consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise CheckpointUnreadable(
                        f"{names.state} not read to its end ({end}) within {timeout_s:.0f} s"
                    )
                batch = await consumer.getmany(tp, timeout_ms=500)
                for msg in batch.get(tp, []):
                    if msg.key == key and msg.offset < end:
                        latest = msg.value
            if latest is not None or start == 0:
                return latest
        return None
    finally:
        await consumer.stop()


class ActiveStandbyAssignor(AbstractPartitionAssignor):
    """Every input partition to one member of the group; the others stand by.

    Detection is global (the watermark is the minimum over all input partitions), so one
    worker must see every partition. A second worker in the same group is a hot standby: when
    the active one dies, its session expires, the group rebalances and the standby restores
    the last checkpoint and carries on from the committed offsets. The member that already
    holds the work keeps it (it says so in its join metadata), so a standby joining does not
    move the work."""

    name = "shockwatch-active-standby"
    version = 0

    def __init__(self) -> None:
        self.active = False

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(
            self.version, sorted(topics), b"active" if self.active else b""
        )

    def assign(
        self, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        ids = sorted(members)
        holders = [m for m in ids if members[m].user_data == b"active"]
        chosen = (holders or ids)[0]
        topics: set[str] = set()
        for meta in members.values():
            topics.update(meta.subscription)
        everything = sorted(
            (t, sorted(cluster.partitions_for_topic(t) or ()))
            for t in topics
            if cluster.partitions_for_topic(t)
        )
        return {
            m: ConsumerProtocolMemberAssignment(
                self.version, everything if m == chosen else [], b""
            )
            for m in ids
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        self.active = bool(assignment.partitions())


def output_producer(settings: Settings) -> AIOKafkaProducer:
    """A stage's producer: idempotent, every output acknowledged by the in-sync replicas."""
    return AIOKafkaProducer(
        **aiokafka_config(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=OUTPUT_LINGER_MS,
        max_batch_size=OUTPUT_BATCH_BYTES,
    )


def input_consumer(settings: Settings, group_id: str, assignor: Any) -> AIOKafkaConsumer:
    """A stage's consumer: offsets committed by the stage only, big batches and fetches."""
    return AIOKafkaConsumer(
        **aiokafka_config(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH_MAX,
        fetch_max_bytes=64 * 2**20,
        # big fetches: fewer round trips in which the loop only waits (a backlog, a replay)
        max_partition_fetch_bytes=8 * 2**20,
        fetch_max_wait_ms=100,  # an idle partition's fetch is renewed every 100 ms
        session_timeout_ms=10_000,  # a dead member's partitions move on in ~10 s
        heartbeat_interval_ms=3_000,
        partition_assignment_strategy=(assignor,),
    )


class Stage(ConsumerRebalanceListener):
    """A consumer loop with its own producer: fetch a batch, handle it whole under the lock,
    until ``stop`` (then ``settle`` what is pending and leave the group)."""

    consumer: AIOKafkaConsumer | None = None
    producer: AIOKafkaProducer | None = None
    runtime: DetectorRuntime

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.stopped = asyncio.Event()

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        raise NotImplementedError

    async def process(self, batch: dict[TopicPartition, list[Any]]) -> BatchResult:
        """The batch through the runtime in one pass, its dead letters enqueued (``send``
        only enqueues: delivery is confirmed by the flush before each checkpoint or commit)."""
        assert self.producer is not None
        result = self.runtime.process(
            (m.topic, m.partition, m.offset, m.key, m.value)
            for msgs in batch.values()
            for m in msgs
        )
        for dlq_topic, key, letter in result.dead:
            try:
                await self.producer.send(dlq_topic, key=key, value=letter.encode())
            except Exception as exc:  # a letter the producer refuses: counted, logged, skipped
                retry_log.warning(
                    "dead letter for %s[%s]@%s not written (%s: %s); skipped",
                    letter.source_topic, letter.partition, letter.offset,
                    type(exc).__name__, exc,
                )  # fmt: skip
        return result

    def due(self) -> bool:
        """Work that an empty poll must still do now (handed an empty batch)."""
        return False

    async def settle(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        assert self.consumer is not None
        try:
            while not self.stopping.is_set():
                batch = await self.consumer.getmany(timeout_ms=POLL_TIMEOUT_MS)
                if batch or self.due():
                    async with self.lock:
                        await self.handle(batch)
        finally:
            self.stopped.set()

    async def stop(self) -> None:
        self.stopping.set()
        if self.consumer is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopped.wait(), POLL_TIMEOUT_MS / 1000 + 5)
            await self.settle()
            await self.consumer.stop()  # leaves the group: its partitions move on at once
        if self.producer is not None:
            await self.producer.stop()


class Topology(Stage):
    """The worker's input stage: a consumer loop over the three input topics.

    Why not a faust agent: measured on this machine, faust's stream delivery costs several
    event-loop turns per message (pipeline/bare 0.05 even with frames) and, under load, it
    sometimes advanced a partition past records it never delivered to the agent (the worker
    then stalled; reproduced in the throughput benchmark). Here an aiokafka consumer hands each
    ``getmany`` batch straight to the detector: one synchronous pass, no per-event await, and
    the offsets it commits are the detector's own. faust still hosts it (worker lifecycle,
    signals, logging, the checkpoint timer); docs/architecture.md has the numbers."""

    def __init__(
        self,
        settings: Settings,
        names: TopicNames,
        runtime: DetectorRuntime,
        app_id: str,
        on_output: Callable[[TickOutput], None] | None,
        *,
        topics: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.settings, self.names, self.runtime, self.app_id = settings, names, runtime, app_id
        self.on_output = on_output
        # The three input topics; scaled out, the merging detector reads the summaries instead
        # (and keeps its checkpoint under its own key: its state is not a single worker's).
        self.topics = list(topics or names.inputs)
        merging = self.topics != list(names.inputs)
        scope = settings.detection.scope
        self.scope_key = (f"{scope}:merge" if merging else scope).encode()
        self.assignor = ActiveStandbyAssignor()
        # ``lock``: held while a batch is handled or a checkpoint written, so a checkpoint
        # never lands between a tick's state change and the sending of what that tick emitted.
        self.assigned: list[TopicPartition] = []
        self.last_checkpoint = time.monotonic()
        self.writing: asyncio.Future[None] | None = None  # the checkpoint being written
        # Liveness (``Settings.idle_partition_s``): when each input partition last delivered.
        self.idle_after_s = settings.idle_partition_s if not merging else 0.0
        self.last_seen: dict[TopicPartition, float] = {}
        self.last_idle_check = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.producer = output_producer(self.settings)
        await self.producer.start()
        # Metadata of the output topics now, not on the first tick's send.
        for topic in (self.names.signals, self.names.alerts, self.names.state):
            await self.producer.partitions_for(topic)
        if isinstance(self.runtime, MergeRuntime):
            self.runtime.input_partitions = [
                f"{t}:{p}" for t in self.names.inputs for p in await self.producer.partitions_for(t)
            ]
        self.consumer = input_consumer(self.settings, self.app_id, self.assignor)
        self.consumer.subscribe(self.topics, listener=self)
        await self.consumer.start()

    # -- rebalance ---------------------------------------------------------------------------
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.settle()  # hand over a checkpoint covering every offset applied so far

    async def settle(self) -> None:
        """Checkpoint what is not yet checkpointed and wait until every write is done."""
        async with self.lock:
            if self.runtime.dirty and self.assigned:
                await self.checkpoint(wait=True)
            elif self.writing is not None:
                await self.writing

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self.lock:
            self.assigned = sorted(assigned)
            if not self.assigned:
                log.warning("standing by: another worker of group %s holds the inputs", self.app_id)
                return
            # Whoever held the work before (this worker or another) left its newest state on
            # the state topic: start from it, then from the committed offsets.
            await self.restore()
            self.runtime.assign((tp.topic, tp.partition) for tp in self.assigned)
            # Read on from where the checkpoint stops, not from the group's committed offsets:
            # the checkpoint is the truth (commits follow it, so they are never ahead of it; if
            # they were, starting there would skip events the restored state never saw).
            assert self.consumer is not None
            held = self.runtime.detector.offsets
            for tp in self.assigned:
                offset = held.get(f"{tp.topic}:{tp.partition}")
                if offset is not None:
                    self.consumer.seek(tp, offset)
            # Re-state the restored checkpoint at once: it also opens the commit path to the
            # group coordinator, so the first checkpoint under load does not pay for that.
            await self.checkpoint(wait=True)
            if isinstance(self.runtime, MergeRuntime):
                log.warning(
                    "merge stage active: %d input partitions", len(self.runtime.input_partitions)
                )
            else:
                log.warning("active: %d input partitions", len(self.assigned))

    async def restore(self) -> None:
        """The newest checkpoint into the runtime (an empty detector only when there is none).
        Retried until it can be read: nothing is processed without the state it belongs to."""
        from aiokafka.errors import KafkaError

        attempt = 0
        while True:
            try:
                blob = await read_checkpoint(self.settings, self.names, self.scope_key.decode())
                break
            except (CheckpointUnreadable, KafkaError, OSError) as exc:
                attempt += 1
                retry_log.warning("cannot read the checkpoint yet (%s); retrying", exc)
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
        if blob is not None:
            self.runtime.restore_checkpoint(blob)
        else:
            self.runtime.detector = Detector(self.settings.detection)
        self.runtime.dirty = False

    # -- the hot path ------------------------------------------------------------------------
    def due(self) -> bool:
        """An idle check is due (once a second) even when nothing arrives."""
        return self.idle_after_s > 0 and time.monotonic() - self.last_idle_check >= 1.0

    def mark_idle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Which assigned input partitions are idle now: nothing from them for
        ``idle_after_s`` while the consumer has read everything they hold (high watermark)."""
        now = time.monotonic()
        for tp in batch:
            self.last_seen[tp] = now
        self.last_idle_check = now
        assert self.consumer is not None
        idle = set()
        for tp in self.assigned:
            seen = self.last_seen.setdefault(tp, now)  # the clock starts at the assignment
            if now - seen < self.idle_after_s:
                continue
            high = self.consumer.highwater(tp)
            position = self.runtime.detector.offsets.get(f"{tp.topic}:{tp.partition}", 0)
            if high is not None and position >= high:
                idle.add(f"{tp.topic}:{tp.partition}")
        det = self.runtime.detector
        if idle != det.idle:
            woke, slept = det.idle - idle, idle - det.idle
            det.idle = frozenset(idle)
            if slept:
                log.warning(
                    "idle input partitions (nothing for %.0f s, caught up): %s; ticks go on "
                    "without them", self.idle_after_s, ", ".join(sorted(slept)),
                )  # fmt: skip
            if woke:
                log.warning("input partitions active again: %s", ", ".join(sorted(woke)))
        if self.runtime.metrics is not None:
            self.runtime.metrics.observe_idle(sorted(det.idle))

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self.producer is not None
        runtime, send = self.runtime, self.producer.send
        if self.idle_after_s > 0:
            self.mark_idle(batch)
        result = await self.process(batch)
        for out in result.outputs:
            await send(self.names.signals, key=out.signal.scope.encode(), value=out.signal.encode())
            for alert in out.alerts:
                log.warning("ALERT %s: %s", alert.state, alert.headline)
                await send(self.names.alerts, key=alert.alert_id.encode(), value=alert.encode())
            if self.on_output is not None:
                self.on_output(out)
        # At most once a second: a checkpoint costs a flush, a ~50 KB write and a commit.
        if runtime.dirty and time.monotonic() - self.last_checkpoint >= CHECKPOINT_EVERY_S:
            await self.checkpoint()

    async def checkpoint(self, wait: bool = False) -> None:
        """Snapshot the detector and the offsets it covers, and write them in the background.

        The snapshot is taken here, under the caller's lock; the writing (flush the outputs
        sent so far, write the checkpoint, then commit its offsets) runs as a task so input
        keeps flowing meanwhile. Outputs first, then the checkpoint, then the offsets: a crash
        anywhere in between re-does work (deduplicated downstream by alert id), it never skips
        any. One write at a time; ``wait`` returns only once this one is done."""
        blob = self.runtime.encode_checkpoint()
        offsets = self.runtime.detector.offsets
        commit = {
            tp: offsets[f"{tp.topic}:{tp.partition}"]
            for tp in self.assigned
            if f"{tp.topic}:{tp.partition}" in offsets
        }
        self.runtime.dirty = False
        self.last_checkpoint = time.monotonic()
        if self.writing is not None:
            await self.writing
        self.writing = asyncio.ensure_future(self._write_checkpoint(blob, commit))
        if wait:
            await self.writing

    async def _write_checkpoint(self, blob: bytes, commit: dict[TopicPartition, int]) -> None:
        assert self.producer is not None and self.consumer is not None
        try:
            await self.producer.flush()
            await self.producer.send_and_wait(self.names.state, key=self.scope_key, value=blob)
            if commit:
                await self.consumer.commit(commit)
        except Exception as exc:  # broker away, group rebalancing: the next one retries
            self.runtime.dirty = True
            retry_log.warning("checkpoint not written (%s: %s); retrying", type(exc).__name__, exc)

    async def idle_checkpoint(self) -> None:
        """A quiet stream still gets its last batch checkpointed and committed."""
        if self.runtime.dirty and self.assigned and not self.lock.locked():
            async with self.lock:
                await self.checkpoint()


class ShardStage(Stage):
    """Scale-out, stage one: this worker's share of the input partitions.

    The group's members split the input partitions between them (round robin). Each message
    is decoded, validated (rejects -> DLQ, one by one) and filed into its partition's shard;
    each batch ends with a ``Summary`` per partition that moved, sent to ``shock.summaries``
    for the merging detector. State is only the open minutes: the committed offset of a
    partition is where its oldest open minute began, with the partition's event time at that
    point as the commit's metadata, so a partition that moves to another worker (a rebalance,
    a crash) is rebuilt from there. Minutes it seals again are already merged and skipped."""

    def __init__(
        self, settings: Settings, names: TopicNames, runtime: DetectorRuntime, app_id: str
    ) -> None:
        super().__init__()
        self.settings, self.names, self.runtime = settings, names, runtime
        self.group_id = f"{app_id}.shards"
        self.lateness_ms = settings.detection.alerts.allowed_lateness_s * 1000
        self.last_commit = time.monotonic()

    async def start(self) -> None:
        from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

        self.producer = output_producer(self.settings)
        await self.producer.start()
        await self.producer.partitions_for(self.names.summaries)
        self.consumer = input_consumer(self.settings, self.group_id, RoundRobinPartitionAssignor())
        self.consumer.subscribe(list(self.names.inputs), listener=self)
        await self.consumer.start()

    def due(self) -> bool:
        return time.monotonic() - self.last_commit >= CHECKPOINT_EVERY_S

    async def settle(self) -> None:
        async with self.lock:
            await self.commit()

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Process, send (DLQ letters, summaries), and commit at most once a second."""
        if batch:
            await self.send_results(batch)
        if self.due():
            await self.commit()

    async def send_results(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self.producer is not None
        result = await self.process(batch)
        for summary in result.summaries:
            await self.producer.send(
                self.names.summaries,
                key=summary.tp.encode(),
                value=summary.encode(),
                timestamp_ms=max(summary.through_ms, 0),
            )

    async def commit(self) -> None:
        """Everything sent so far delivered, then each partition's resume point committed."""
        assert self.producer is not None and self.consumer is not None
        points = {}
        for tp in self.consumer.assignment():
            shard = self.runtime.detector.shards.get(f"{tp.topic}:{tp.partition}")
            point = shard.resume() if shard is not None else None
            if point is not None:
                points[tp] = (point[0], orjson.dumps({"ts": point[1]}).decode())
        self.last_commit = time.monotonic()
        try:
            await self.producer.flush()
            if points:
                await self.consumer.commit(points)
        except Exception as exc:  # broker away, group rebalancing: the next one retries
            retry_log.warning(
                "shard offsets not committed (%s: %s); retrying", type(exc).__name__, exc
            )

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.lock:
            await self.commit()
            for tp in revoked:
                key = f"{tp.topic}:{tp.partition}"
                self.runtime.detector.shards.pop(key, None)
                self.runtime.detector.offsets.pop(key, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Each partition from its committed resume point, with its event time there."""
        assert self.consumer is not None
        async with self.lock:
            # aiokafka's public committed() gives the offset only; the metadata (the
            # partition's event time at the resume point) comes with the coordinator's answer.
            committed = await self.consumer._coordinator.fetch_committed_offsets(assigned)
            det = self.runtime.detector
            for tp in assigned:
                key = f"{tp.topic}:{tp.partition}"
                point = committed.get(tp)
                ts = -1
                if point is not None and point.offset >= 0:
                    meta = orjson.loads(point.metadata) if point.metadata else {}
                    ts = int(meta.get("ts", -1))
                    self.consumer.seek(tp, point.offset)
                    det.offsets[key] = point.offset
                det.shards[key] = PartitionShard.resumed(
                    self.lateness_ms, ts, det.max_jump_ms, det.jump_confirm
                )
            log.warning("shard stage: %d input partitions", len(assigned))


class HostApp(faust.App):
    """A faust app whose own Kafka clients stay off: it hosts the input stage, which brings
    its consumer and producer (``Topology``), so faust does not join the group itself."""

    class BootStrategy(BootStrategy):
        enable_kafka = False


def base_app(settings: Settings, app_id: str, *, host_only: bool = False) -> faust.App:
    """A faust app configured for shockwatch's broker, serializers and commit policy
    (``host_only``: without faust's own consumer and producer, see ``HostApp``)."""
    datadir = settings.state_dir / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return (HostApp if host_only else faust.App)(
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
        # faust's own commit timer off: a consumer commits what its checkpoint covers, no more.
        broker_commit_every=10**9,
        broker_commit_interval=10**6,
    )


class InputService(mode.Service):
    """Runs the ``Topology`` inside the faust app's lifecycle (started and stopped with it)."""

    def __init__(self, topo: Topology | ShardStage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topo = topo

    async def on_start(self) -> None:
        await self.topo.start()
        self.add_future(self.topo.run())

    async def on_stop(self) -> None:
        await self.topo.stop()


def trace_gc(threshold_ms: float) -> None:
    """Log every collector pass of at least ``threshold_ms`` with its generation: the worker's
    own pauses, for the bench to line up with slow ticks (``SHOCKWATCH_GC_TRACE_MS``)."""
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= threshold_ms:
            log.warning("gc pass: generation %d took %.1f ms", info["generation"], ms)

    gc.callbacks.append(on_gc)


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
    app_id = app_id or settings.app_id
    app = base_app(settings, app_id, host_only=True)
    stages: list[Topology | ShardStage] = []
    if settings.scale_out:
        # Stage one on every worker (the partitions shared out), the merge on one of them.
        shard = ShardStage(
            settings, names, DetectorRuntime(settings, names, metrics, shard_only=True), app_id
        )
        runtime: DetectorRuntime = MergeRuntime(settings, names, metrics)
        topo = Topology(
            settings, names, runtime, f"{app_id}.merge", on_output, topics=[names.summaries]
        )
        stages = [shard, topo]
        app.shards = shard  # type: ignore[attr-defined]
    else:
        topo = Topology(
            settings, names, DetectorRuntime(settings, names, metrics), app_id, on_output
        )
        stages = [topo]
    app.shockwatch = topo  # type: ignore[attr-defined]

    @app.task
    async def start_input() -> None:
        # What startup built (faust, aiokafka, the modules: ~90k objects) lives as long as the
        # worker: frozen, the collector's full passes skip it. Measured: the first full pass
        # under load took 63 ms (an alert waits for it); frozen, 32 ms (docs/benchmarks.md).
        gc.freeze()
        if settings.gc_trace_ms > 0:
            trace_gc(settings.gc_trace_ms)
        for stage in stages:
            await app.add_runtime_dependency(InputService(stage, loop=app.loop, beacon=app.beacon))

    @app.timer(interval=CHECKPOINT_EVERY_S)
    async def idle_checkpoint() -> None:
        await topo.idle_checkpoint()

    return app


def run_worker(app: faust.App, loglevel: str = "WARNING") -> None:
    """Run the app as a faust worker in this process until SIGINT/SIGTERM."""
    from faust.worker import Worker

    from common.log import RateLimitFilter, RedactingFilter

    class RedactingWorker(Worker):
        """faust's worker installs its own root handlers; give each the redacting filter.
        No terminal spinner: a worker's output goes to log files and collectors, where the
        spinner wrote every log line a second time, wrapped in cursor escape codes."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.spinner = None

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            for handler in logging.getLogger().handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())
                if not any(isinstance(f, RateLimitFilter) for f in handler.filters):
                    handler.addFilter(RateLimitFilter())

    worker = RedactingWorker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
