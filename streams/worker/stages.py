"""The worker's stages: consumer loops, each with its own producer, hosted by the faust app.

``Stage`` (fetch a batch, handle it whole under the lock, settle and leave on stop), the input
stage ``Topology`` (the detector's batches, its outputs, checkpoints and the offsets they
cover, rebalances, idle partitions; also the merge stage of a scaled-out worker) and the
scale-out ``ShardStage`` (a share of the input partitions, summaries out, resume points).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from common.backoff import calculate_backoff
from common.log import retry_logger
from common.settings import Settings
from streams.detection.detector import TickOutput
from streams.topics import TopicNames
from streams.worker import LOGGER
from streams.worker.clients import (
    ActiveStandbyAssignor,
    CheckpointUnreadable,
    input_consumer,
    output_producer,
    read_checkpoint,
)
from streams.worker.runtime import BatchResult, DetectorRuntime, MergeRuntime

log = logging.getLogger(LOGGER)
retry_log = retry_logger(LOGGER)

POLL_TIMEOUT_MS = 200  # an idle getmany returns after this (the stop flag is checked then)
CHECKPOINT_EVERY_S = 1.0


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
        group_id: str,
        on_output: Callable[[TickOutput], None] | None,
        *,
        topics: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.settings, self.names, self.runtime = settings, names, runtime
        self.group_id = group_id  # GroupNames: the detector's, or scaled out the merge's
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
        self.consumer = input_consumer(self.settings, self.group_id, self.assignor)
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
                log.warning(
                    "standing by: another worker of group %s holds the inputs", self.group_id
                )
                return
            # Whoever held the work before (this worker or another) left its newest state on
            # the state topic: start from it, then from the committed offsets.
            await self.restore()
            self.runtime.assign((tp.topic, tp.partition) for tp in self.assigned)
            # Read on from where the checkpoint stops, not from the group's committed offsets:
            # the checkpoint is the truth (commits follow it, so they are never ahead of it; if
            # they were, starting there would skip events the restored state never saw).
            assert self.consumer is not None
            held = self.runtime.offsets()
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
                await asyncio.sleep(calculate_backoff(attempt, cap_s=10.0, jitter=0.0))
        if blob is not None:
            self.runtime.restore_checkpoint(blob)
        else:
            self.runtime.restart()
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
        offsets = self.runtime.offsets()
        for tp in self.assigned:
            seen = self.last_seen.setdefault(tp, now)  # the clock starts at the assignment
            if now - seen < self.idle_after_s:
                continue
            high = self.consumer.highwater(tp)
            position = offsets.get(f"{tp.topic}:{tp.partition}", 0)
            if high is not None and position >= high:
                idle.add(f"{tp.topic}:{tp.partition}")
        before = self.runtime.set_idle(frozenset(idle))
        if idle != before:
            woke, slept = before - idle, idle - before
            if slept:
                log.warning(
                    "idle input partitions (nothing for %.0f s, caught up): %s; ticks go on "
                    "without them", self.idle_after_s, ", ".join(sorted(slept)),
                )  # fmt: skip
            if woke:
                log.warning("input partitions active again: %s", ", ".join(sorted(woke)))
        if self.runtime.metrics is not None:
            self.runtime.metrics.observe_idle(sorted(idle))

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        assert self.producer is not None
        runtime, send = self.runtime, self.producer.send
        if self.idle_after_s > 0:
            self.mark_idle(batch)
        result = await self.process(batch)
        for out in result.outputs:
            await send(self.names.signals, key=out.signal.scope.encode(), value=out.signal.encode())
            for alert in out.alerts:
                log.warning("ALERT %s", alert.line())  # its event time: the log's is now
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
        offsets = self.runtime.offsets()
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
        self, settings: Settings, names: TopicNames, runtime: DetectorRuntime, group_id: str
    ) -> None:
        super().__init__()
        self.settings, self.names, self.runtime = settings, names, runtime
        self.group_id = group_id  # GroupNames.shards
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
            point = self.runtime.shard_resume(f"{tp.topic}:{tp.partition}")
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
                self.runtime.drop_shard(f"{tp.topic}:{tp.partition}")

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Each partition from its committed resume point, with its event time there."""
        assert self.consumer is not None
        async with self.lock:
            # aiokafka's public committed() gives the offset only; the metadata (the
            # partition's event time at the resume point) comes with the coordinator's answer.
            committed = await self.consumer._coordinator.fetch_committed_offsets(assigned)
            for tp in assigned:
                point = committed.get(tp)
                ts, offset = -1, None
                if point is not None and point.offset >= 0:
                    meta = orjson.loads(point.metadata) if point.metadata else {}
                    ts, offset = int(meta.get("ts", -1)), point.offset
                    self.consumer.seek(tp, point.offset)
                self.runtime.resume_shard(
                    f"{tp.topic}:{tp.partition}", offset, ts, self.lateness_ms
                )
            log.warning("shard stage: %d input partitions", len(assigned))
