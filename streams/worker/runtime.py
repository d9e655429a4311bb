"""The detector runtime: the detector plus what the input stage needs around it.

Decoding and validating each message (the per-event hot path, ``DetectorRuntime.process``),
dead letters, per-batch metrics (``BatchStats``), and the compressed checkpoint codec;
``MergeRuntime`` is the merging detector of a scaled-out worker. Plain Python: tests and the
in-process replay drive it without faust or Kafka.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from common.settings import Settings
from streams.detection.detector import Detector, TickOutput
from streams.detection.shard import PartitionShard, Summary
from streams.dlq import dead_letter
from streams.records import (
    DeadLetter,
    DuplicateEvent,
    Heartbeat,
    ImplausibleTime,
    Liquidation,
    MalformedRecord,
    RecordError,
    decode_frame,
    frame_items,
    is_frame,
    wire_items,
)
from streams.scenario import FEEDS, feed_topics
from streams.topics import TopicNames
from streams.worker import LOGGER

log = logging.getLogger(LOGGER)

# A snapshot's last two keys (``Detector.snapshot``): read off the decompressed tail, so a scan
# of the state topic (a replay looking for the state as of its start) need not parse each one.
_CHECKPOINT_TAIL = re.compile(rb'"next_tick_ms":(null|-?\d+),"ticks":(\d+)\}$')


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
        self.feed_of = {topic: feed for feed, topic in feed_topics(names).items()}
        # Where an input topic's rejects go: its own DLQ, or (a replay reading the live topics
        # in place) the DLQ of the same feed under the replay's prefix.
        out = dead_letters or names
        out_topics = feed_topics(out)
        self.dlq_of = {t: out.dlq(out_topics[feed]) for t, feed in self.feed_of.items()}
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
            record_type = FEEDS[feed]
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
        snap = decode_checkpoint(blob)
        self.detector = Detector.restore(self.settings.detection, snap)
        log.info(
            "restored detector checkpoint: %d ticks, next tick %s, %d partitions",
            self.detector.ticks,
            self.detector.next_tick_ms,
            len(self.detector.offsets),
        )

    def restart(self) -> None:
        """No checkpoint to restore: start from an empty detector."""
        self.detector = Detector(self.settings.detection)

    # -- what the stage reads and sets (it never reaches into the detector) ------------------
    def offsets(self) -> dict[str, int]:
        """Per input partition ("topic:partition"): the next offset the state is missing."""
        return dict(self.detector.offsets)

    def set_idle(self, idle: frozenset[str]) -> frozenset[str]:
        """Leave ``idle`` partitions out of the watermark; returns those idle before."""
        before, self.detector.idle = self.detector.idle, idle
        return before

    def shard_resume(self, tp: str) -> tuple[int, int] | None:
        """Where a partition's shard resumes (offset, event time), None: nothing filed yet."""
        shard = self.detector.shards.get(tp)
        return shard.resume() if shard is not None else None

    def resume_shard(self, tp: str, offset: int | None, ts_ms: int, lateness_ms: int) -> None:
        """A shard for ``tp`` resumed at its committed ``offset`` with its event time there."""
        det = self.detector
        if offset is not None:
            det.offsets[tp] = offset
        det.shards[tp] = PartitionShard.resumed(
            lateness_ms, ts_ms, det.max_jump_ms, det.jump_confirm
        )

    def drop_shard(self, tp: str) -> None:
        """A revoked partition: its shard and its offset go (another worker holds it now)."""
        self.detector.shards.pop(tp, None)
        self.detector.offsets.pop(tp, None)


def decode_checkpoint(blob: bytes) -> dict[str, Any]:
    """The detector snapshot a checkpoint holds (``DetectorRuntime.encode_checkpoint``)."""
    snap: dict[str, Any] = orjson.loads(zlib.decompress(blob))
    return snap


def checkpoint_position(blob: bytes) -> tuple[int | None, int] | None:
    """(next tick in ms, ticks run) of an encoded checkpoint: its state is the detector's after
    every tick before the next one. None when the blob is not a checkpoint."""
    try:
        raw = zlib.decompress(blob)
    except zlib.error:
        return None
    m = _CHECKPOINT_TAIL.search(raw[-64:])
    if m is not None:
        return (None if m.group(1) == b"null" else int(m.group(1))), int(m.group(2))
    try:  # another key order: the whole snapshot
        snap = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(snap, dict) or not isinstance(snap.get("ticks"), int):
        return None
    return snap.get("next_tick_ms"), snap["ticks"]


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
