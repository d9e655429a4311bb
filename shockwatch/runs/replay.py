"""Replay a time range of the input topics into an isolated run, for post-mortems.

**In place** (the default): the detector reads the input topics themselves, from the offsets
``offsets_for_times(T1)`` gives (the funding topic from its beginning: the as-of join needs the
history published before T1) up to the end offsets found for T2, with a group-less consumer
(the live consumer group and its offsets are never touched, and no group is created). Records
outside [T1, T2] are clipped off the range's edge messages (heartbeats inside are kept: they
move their partition's watermark); after the last message every input partition gets a
heartbeat at T2 (plus the allowed lateness), as a scenario's end has, so the last tick closes.
The detection is the worker's own
(``streams.app.DetectorRuntime``: decode, validate, file, tick) in this process; its signals,
alerts and dead letters go to topics under the prefix ``replay-<run-id>.`` (deleted at the end
unless kept) and into the run folder (``run.json``, ``signals.jsonl``, ``alerts.jsonl``) for
``shockwatch report``. Memory is bounded by the detector's windows, whatever the range: the
signals stream to the file.

**From the state as of T1**: a replay reproduces what paged only if its detector starts where
live's was at T1 (the previous session close, the volatility, the liquidation baseline, an
alert episode already open). ``shockwatch.runs.replay_plan.plan_start`` finds that state: the
nearest checkpoint at or before T1 on the state topic (restored, then read on from its
offsets), else a warm-up on the input from T1 - ``replay_warmup_s``; the warm-up's messages and
every tick before T1 build the state and are counted (``ReplayStart``), never emitted.

``save_inputs`` also exports the range as a scenario folder (``<run>/inputs``, records in event
time order) for sharing; ``shockwatch scenario run`` of that folder gives the same signals and
alerts (tested), as does the same range replayed twice.
"""

from __future__ import annotations

import asyncio
import heapq
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from common.kafka import BATCH_MAX_RECORDS, BULK_FETCH, kafka_python_config
from common.settings import Settings
from shockwatch.runs.replay_plan import (
    EDGE_MS,
    ReplayError,
    ReplayStart,
    Span,
    iso,
    parse_duration,
    parse_speed,
    parse_when,
    plan_start,
)
from shockwatch.runs.runner import (
    MIN_MS,
    STALL_TIMEOUT_S,
    RunError,
    RunResult,
    end_pad_ms,
    write_run,
)
from streams.scenario import FEEDS, FeedResult, Scenario, feed_topics, read_scenario
from streams.topics import TopicNames, create_topics, delete_prefix, run_prefix

# Re-exported: the CLI, the bench and tests import the replay's times and errors from here.
__all__ = [
    "EDGE_MS",
    "ReplayError",
    "ReplayResult",
    "ReplayStart",
    "clip_message",
    "export_range",
    "iso",
    "parse_duration",
    "parse_speed",
    "parse_when",
    "replay",
    "split_message",
]


def split_message(
    value: bytes, fallback_ts: int, heartbeats: bool = False
) -> list[tuple[int, bytes]]:
    """(ts, raw record) for every record in a message (a frame holds several); heartbeats are
    dropped unless asked for (the export drops them: a scenario's loader adds its own).
    Unparseable messages are kept whole (the replay's load dead-letters them again, with the
    reason)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return [(fallback_ts, value)]
    framed = isinstance(obj, list)
    out: list[tuple[int, bytes]] = []
    for item in obj if framed else [obj]:
        if not heartbeats and isinstance(item, dict) and item.get("kind") == "heartbeat":
            continue
        ts = item.get("ts_ms") if isinstance(item, dict) else None
        ts = ts if isinstance(ts, int) and not isinstance(ts, bool) else fallback_ts
        out.append((ts, orjson.dumps(item) if framed else value))
    return out


def clip_message(value: bytes, msg_ts: int, t1: int | None, t2: int) -> bytes | None:
    """The message as the range [t1, t2] keeps it: whole (nearly every message: no decode),
    clipped to the records inside (an edge message), or None when nothing is left.
    Heartbeats inside the range are kept like records: they are their producer's promise that
    the partition has nothing older to come, and without them a partition that only beats (a
    funding feed between publications) would hold every tick, and every event, to the range's
    end. Unreadable messages are kept whole: the detector dead-letters them with the reason."""
    if msg_ts <= t2 and (t1 is None or msg_ts >= t1 + EDGE_MS):
        return value
    items = split_message(value, msg_ts, heartbeats=True)
    kept = [raw for ts, raw in items if ts <= t2 and (t1 is None or ts >= t1)]
    if not kept:
        return None
    if len(kept) == 1 and not value.lstrip().startswith(b"["):
        return kept[0]
    return b"[" + b",".join(kept) + b"]"


def _read_partition(
    consumer: Any, tp: Any, start: int, stop: int, t2: int, t1: int | None
) -> list[tuple[int, bytes]]:
    """(ts, raw) of the records in one partition's messages [start, stop) with t1 <= ts <= t2,
    sorted by event time (frames of one minute may interleave keys)."""
    consumer.assign([tp])
    consumer.seek(tp, start)
    out: list[tuple[int, bytes]] = []
    position = start
    while position < stop:
        batch = consumer.poll(timeout_ms=2000, max_records=5000)
        msgs = batch.get(tp, [])
        if not msgs:
            break
        for msg in msgs:
            position = msg.offset + 1
            if msg.offset >= stop:
                break
            for ts, raw in split_message(msg.value or b"", msg.timestamp):
                if ts <= t2 and (t1 is None or ts >= t1):
                    out.append((ts, raw))
    out.sort(key=lambda r: r[0])
    return out


@dataclass
class ExportResult:
    scenario: Scenario
    counts: dict[str, int]
    elapsed_s: float


def export_range(
    settings: Settings,
    plan: list[Span],
    t1: int,
    t2: int,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    name: str = "replay",
) -> ExportResult:
    """Copy the planned range into a scenario folder, each feed in event-time order."""
    from kafka import KafkaConsumer, TopicPartition

    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    consumer = KafkaConsumer(
        **kafka_python_config(settings),
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=5000,
    )
    feeds = [f for f in FEEDS if any(s.feed == f and s.messages for s in plan)]
    per_feed: dict[str, list[list[tuple[int, bytes]]]] = {f: [] for f in feeds}
    try:
        total = sum(s.messages for s in plan)
        done = 0
        for s in plan:
            if not s.messages:
                continue
            tp = TopicPartition(s.topic, s.partition)
            low = None if s.feed == "funding" else t1
            per_feed[s.feed].append(_read_partition(consumer, tp, s.start, s.stop, t2, low))
            done += s.messages
            if progress:
                progress(done, total)
    finally:
        consumer.close()
    counts: dict[str, int] = {}
    for feed, partitions in per_feed.items():
        merged: Iterator[tuple[int, bytes]] = heapq.merge(*partitions, key=lambda r: r[0])
        n = 0
        with open(out_dir / f"{feed}.jsonl", "wb") as f:
            for _, raw in merged:
                f.write(raw + b"\n")
                n += 1
        counts[feed] = n
    topics = sorted({s.topic for s in plan if s.feed in feeds})
    (out_dir / "scenario.toml").write_text(
        f'name = "{name}"\n'
        f'description = "replay of {", ".join(topics)} from {iso(t1)} to {iso(t2)}"\n'
        f'start = "{iso(t1)}"\nend = "{iso(t2)}"\nsynthesized = false\n'
    )
    return ExportResult(read_scenario(out_dir), counts, time.monotonic() - started)


@dataclass
class RangeTally:
    """What the in-place run saw, built up batch by batch (nothing per signal is kept)."""

    topic_of: dict[str, str]
    loaded: dict[str, FeedResult] = field(default_factory=dict)
    alerts: list[Any] = field(default_factory=list)
    signals: int = 0
    last_tick_ms: int | None = None
    max_score: float = 0.0
    max_funding: float | None = None

    def batch(self, stats: Any) -> None:
        for feed, stamps in stats.stamps.items():
            self._feed(feed).valid += len(stamps)
        for (feed, reason), n in stats.rejects.items():
            result = self._feed(feed)
            result.rejected += n
            result.reasons[reason] = result.reasons.get(reason, 0) + n

    def signal(self, signal: Any) -> None:
        self.signals += 1
        self.last_tick_ms = signal.ts_ms
        self.max_score = max(self.max_score, signal.score)
        fs = signal.funding.stress
        if fs is not None:
            self.max_funding = fs if self.max_funding is None else max(self.max_funding, fs)

    def _feed(self, feed: str) -> FeedResult:
        result = self.loaded.get(feed)
        if result is None:
            result = self.loaded[feed] = FeedResult(feed, self.topic_of[feed])
        return result


class RangeReader:
    """The planned spans through a group-less aiokafka consumer, each from its ``read_from``
    offset, clipped to [low, t2] (``low`` per topic; None: no low edge): each ``next`` is one
    fetched batch as (topic, partition, offset, key, value), until every span has been read to
    its stop offset."""

    def __init__(
        self,
        settings: Settings,
        plan: list[Span],
        low: dict[str, int | None],
        t2: int,
        max_records: int,
    ) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self.t2 = t2
        self.low = low
        todo = [s for s in plan if s.stop > s.read_from]
        self.starts = {TopicPartition(s.topic, s.partition): s.read_from for s in todo}
        self.stops = {TopicPartition(s.topic, s.partition): s.stop for s in todo}
        self.newest = -1  # the newest message stamp of a price or liquidation so far (pacing)
        self.paced = {s.topic for s in plan if s.feed != "funding"}
        self.quiet_since = time.monotonic()
        self.consumer = AIOKafkaConsumer(
            **kafka_python_config(settings),
            group_id=None,
            enable_auto_commit=False,
            max_poll_records=max_records,
            **BULK_FETCH,
        )

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(list(self.stops))
        for tp, start in self.starts.items():
            self.consumer.seek(tp, start)

    async def stop(self) -> None:
        await self.consumer.stop()

    @property
    def done(self) -> bool:
        return not self.stops

    async def next(self) -> list[tuple[str, int, int, bytes | None, bytes]]:
        batch = await self.consumer.getmany(timeout_ms=500)
        if not batch:
            await self._idle()
            return []
        self.quiet_since = time.monotonic()
        messages: list[tuple[str, int, int, bytes | None, bytes]] = []
        for tp, records in batch.items():
            stop = self.stops.get(tp)
            if stop is None:
                continue
            edge = self.low[tp.topic]
            for m in records:
                if m.offset >= stop:
                    break
                value = clip_message(m.value or b"", m.timestamp, edge, self.t2)
                if value is not None:
                    messages.append((tp.topic, tp.partition, m.offset, m.key, value))
                    if tp.topic in self.paced and m.timestamp > self.newest:
                        self.newest = m.timestamp
            if records and records[-1].offset + 1 >= stop:
                del self.stops[tp]
                self.consumer.pause(tp)
        return messages

    async def _idle(self) -> None:
        """Nothing fetched: a compacted partition may end before its last offset (its last
        messages compacted away); a span no fetch advances for long is an error."""
        for tp in list(self.stops):
            if await self.consumer.position(tp) >= self.stops[tp]:
                del self.stops[tp]
        if self.stops and time.monotonic() - self.quiet_since > STALL_TIMEOUT_S:
            left = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in self.stops)
            raise RunError(f"no input for {STALL_TIMEOUT_S:.0f} s; still to read: {left}")


class Pacer:
    """Event time at ``speed`` x the clock (None: as fast as possible)."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self.wall0: float | None = None
        self.event0 = 0

    async def wait(self, event_ms: int) -> None:
        if self.speed is None or event_ms < 0:
            return
        if self.wall0 is None:
            self.wall0, self.event0 = time.monotonic(), event_ms
        ahead = (event_ms - self.event0) / 1000 / self.speed - (time.monotonic() - self.wall0)
        if ahead > 0:
            await asyncio.sleep(ahead)


@dataclass
class RangeOutput:
    """Where a replay's batches go: the warm-up's (its messages' counts and dead letters, every
    tick before T1) are counted into ``start`` and never sent; the range's are sent to the
    run's topics and the signals file, and tallied."""

    producer: Any
    out: TopicNames
    signals_file: Any
    start: ReplayStart
    tally: RangeTally
    warm: RangeTally
    progress: Callable[[int, int], None] | None = None
    t2: int = 0

    async def emit(self, result: Any, warming: bool = False) -> None:
        start, tally, send = self.start, self.tally, self.producer.send
        if warming:
            self.warm.batch(result.stats)
            start.dead_letters += len(result.dead)
        else:
            tally.batch(result.stats)
            for dlq_topic, key, letter in result.dead:
                await send(dlq_topic, key=key, value=letter.encode())
        for o in result.outputs:
            if o.signal.ts_ms < start.t1:  # a tick of the warm-up: state, not output
                start.ticks += 1
                start.alerts += len(o.alerts)
                sig = o.signal
                start.carried = (sig.alert_id, sig.alert_state) if sig.alert_id else None
                continue
            raw = o.signal.encode()
            await send(self.out.signals, key=o.signal.scope.encode(), value=raw)
            self.signals_file.write(orjson.dumps(orjson.loads(raw)) + b"\n")
            tally.signal(o.signal)
            for alert in o.alerts:
                await send(self.out.alerts, key=alert.alert_id.encode(), value=alert.encode())
                tally.alerts.append(alert)
        if self.progress is not None and tally.last_tick_ms is not None:
            total = max(1, (self.t2 - start.t1) // MIN_MS)
            self.progress(min(total, max(0, (tally.last_tick_ms - start.t1) // MIN_MS)), total)


def low_edges(plan: list[Span], start: ReplayStart) -> dict[str, int | None]:
    """Each input topic's low clipping edge: T1 cold, T1 - warm-up warming up, none after a
    checkpoint (whole messages from its offsets, as the worker read them) nor for funding (the
    as-of join needs what was published before)."""
    edge = start.t1 - start.warmup_ms if start.kind != "cold" else start.t1
    whole = start.checkpoint is not None
    return {s.topic: None if whole or s.feed == "funding" else edge for s in plan}


async def detect_in_place(
    settings: Settings,
    plan: list[Span],
    source: TopicNames,
    out: TopicNames,
    t1: int,
    t2: int,
    signals_file: Any,
    *,
    start: ReplayStart | None = None,
    speed: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RangeTally:
    """The worker's detection over the planned spans of the input topics (module docstring).

    ``start`` says where the detector's state comes from: a checkpoint (restored, then read on
    from its offsets) or a warm-up (read from each span's ``read_from``); either way what
    precedes T1 (messages before a span's ``first`` offset, ticks before T1) builds the state
    and is counted in ``start``, not emitted. None (or a cold start): from T1, empty."""
    from streams.app import DetectorRuntime, output_producer
    from streams.records import Heartbeat
    from streams.records.inputs import HEARTBEAT_KEY

    start = start or ReplayStart("cold", t1)
    runtime = DetectorRuntime(settings, source, dead_letters=out)
    if start.checkpoint is not None:
        runtime.restore_checkpoint(start.checkpoint.blob)
        m = runtime.detector.machine
        if m.alert_id:  # an episode open at the checkpoint (a warm-up tick may close it)
            start.carried = (m.alert_id, "pending" if m.pending else m.level)
    runtime.assign((s.topic, s.partition) for s in plan)
    topic_of = feed_topics(source)
    reader = RangeReader(settings, plan, low_edges(plan, start), t2,
                         BATCH_MAX_RECORDS if speed is None else 500)  # fmt: skip
    first = {(s.topic, s.partition): s.first for s in plan}
    pacer = Pacer(speed)
    producer = output_producer(settings)
    sink = RangeOutput(producer, out, signals_file, start, RangeTally(topic_of),
                       RangeTally(topic_of), progress, t2)  # fmt: skip
    await producer.start()
    await reader.start()
    try:
        while not reader.done:
            messages = await reader.next()
            # Per partition the warm-up's messages precede the range's: the warm-up's part of
            # the batch first, then the range's (across partitions the order changes nothing).
            before = [m for m in messages if m[2] < first[(m[0], m[1])]]
            if before:
                await sink.emit(runtime.process(before), warming=True)
                messages = [m for m in messages if m[2] >= first[(m[0], m[1])]]
            if messages:
                if reader.newest >= t1:
                    await pacer.wait(reader.newest)
                await sink.emit(runtime.process(messages))
        # The range's end: a heartbeat on every input partition, as a scenario's end has.
        beat = Heartbeat(ts_ms=t2 + end_pad_ms(settings), source="replay").encode()
        await sink.emit(
            runtime.process(
                (s.topic, s.partition, max(s.stop, s.read_from), HEARTBEAT_KEY, beat) for s in plan
            )
        )
        await producer.flush()
    finally:
        await reader.stop()
        await producer.stop()
    start.events = {f: r.valid + r.rejected for f, r in sink.warm.loaded.items()}
    return sink.tally


@dataclass
class ReplayResult:
    run_id: str
    run_dir: Path
    t1: int
    t2: int
    run: RunResult
    start: ReplayStart
    inputs: ExportResult | None = None  # the range as a scenario folder (``save_inputs``)

    @property
    def counts(self) -> dict[str, int]:
        """Records replayed per feed (accepted + dead-lettered)."""
        return {f: r.valid + r.rejected for f, r in self.run.loaded.items()}

    @property
    def events(self) -> int:
        return sum(self.counts.values())

    @property
    def events_per_s(self) -> float:
        return self.events / max(self.run.elapsed_s, 1e-9)

    @property
    def realtime_multiple(self) -> float:
        return (self.t2 - self.t1) / 1000 / max(self.run.elapsed_s, 1e-9)


def replay(
    settings: Settings,
    t1: int,
    t2: int,
    *,
    speed: float | None = None,
    feeds: tuple[str, ...] = tuple(FEEDS),
    run_id: str | None = None,
    source_prefix: str | None = None,
    out_root: Path | None = None,
    save_inputs: bool = False,
    keep_topics: bool = False,
    warmup_s: int | None = None,
    checkpoints: bool = True,
    export_progress: Callable[[int, int], None] | None = None,
    run_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Replay [t1, t2] of the input topics in place (module docstring). The detector starts
    from its state as of T1 (``plan_start``: a checkpoint unless ``checkpoints`` is off, else a
    warm-up of ``warmup_s``, default ``Settings.replay_warmup_s``; 0 and no checkpoint: cold).
    ``keep_topics`` keeps the run's output topics (``replay-<run-id>.``) on the cluster; by
    default they are deleted once the run folder holds what they held."""
    run_id = run_id or f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", run_id):
        raise ReplayError(
            "--run-id starts with a letter or digit and may use letters, digits, '.', '_', '-'"
        )
    root = (out_root or settings.reports_dir).resolve()
    run_dir = (root / run_id).resolve()
    if run_dir.parent != root:
        raise ReplayError(f"--run-id {run_id!r} would leave the reports folder")
    source = TopicNames(settings.topic_prefix if source_prefix is None else source_prefix)
    started = time.monotonic()
    warmup_ms = (settings.replay_warmup_s if warmup_s is None else warmup_s) * 1000
    if warmup_ms < 0:
        raise ReplayError("--warmup must not be negative")
    plan, start = plan_start(settings, source, t1, t2, feeds, warmup_ms, checkpoints)
    exported = None
    if save_inputs:  # not part of the replay's own time
        exported = export_range(
            settings, plan, t1, t2, run_dir / "inputs", export_progress, name=f"replay-{run_id}"
        )
        started += exported.elapsed_s
    prefix = run_prefix("replay", run_id)
    out = TopicNames(prefix)
    outputs = [out.signals, out.alerts, *(out.dlq(t) for t in out.inputs)]
    create_topics(settings, prefix, keep_all=True, only=outputs)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with open(run_dir / "signals.jsonl", "wb") as signals_file:
            work = detect_in_place(
                settings,
                plan,
                source,
                out,
                t1,
                t2,
                signals_file,
                start=start,
                speed=speed,
                progress=run_progress,
            )
            tally = asyncio.run(work)
        if start.kind == "warmup" and not (
            start.events.get("prices") or start.events.get("liquidations")
        ):
            start.kind, start.note = "cold", f"no input before {iso(t1)}"
    finally:
        if not keep_topics:
            delete_prefix(settings, prefix)
    result = RunResult(
        scenario=f"replay-{run_id}",
        prefix=prefix,
        app_id=f"shockwatch-replay-{run_id}",
        loaded=tally.loaded,
        alerts=tally.alerts,
        signals=tally.signals,
        last_tick_ms=tally.last_tick_ms,
        max_score=tally.max_score,
        max_funding_stress=tally.max_funding,
        elapsed_s=time.monotonic() - started,
    )
    write_run(
        result,
        run_dir,
        run_id,
        name=f"replay-{run_id}",
        description=f"replay of {source.prefix or '(no prefix)'} from {iso(t1)} to {iso(t2)}",
        inputs=exported.scenario.path if exported else None,
        start_ms=t1,
        end_ms=t2,
        signals=tally.signals,
        detection=settings.detection,
        extra={
            "source_prefix": source.prefix,
            "in_place": True,
            "topics_kept": keep_topics,
            "start": start.to_dict(),
        },
    )
    return ReplayResult(run_id, run_dir, t1, t2, result, start, exported)
