"""Where a replay starts and what it reads: its times (``parse_when``, durations, speeds),
its plan of offsets per input partition (``plan_range``: the range, and the warm-up before it),
and the detector's state as of its start (``plan_start``: the nearest checkpoint on the state
topic, else a warm-up on the input before T1, else cold), said in one line (``ReplayStart``).
docs/architecture.md, "Replay in place".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from common.kafka import kafka_python_config, partitions_for
from common.settings import Settings
from shockwatch.runs.runner import MIN_MS
from streams.scenario import feed_topics
from streams.topics import TopicNames

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|w|wk)s?\s+ago\s*$", re.I)
_UNITS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "wk": 604800,
}


class ReplayError(ValueError):
    pass


def parse_when(text: str, now_ms: int | None = None) -> int:
    """UTC epoch ms from ISO-8601 with a zone, a date (midnight UTC), "now" or "2h ago"."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    value = text.strip()
    if value.lower() == "now":
        return now
    m = _RELATIVE.match(value)
    if m:
        return now - int(float(m.group(1)) * _UNITS[m.group(2).lower()] * 1000)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            d = date.fromisoformat(value)
            return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(
            f"cannot read the time {text!r}: use ISO-8601 with a zone "
            "(2025-11-04T14:30:00Z), a date (2025-11-04), 'now' or a relative time ('2h ago')"
        ) from None
    if dt.tzinfo is None:
        raise ReplayError(f"{text!r} has no time zone: add Z or an offset such as -05:00")
    return int(dt.timestamp() * 1000)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|w|wk)?s?\s*$", re.I)


def parse_duration(text: str) -> int:
    """Seconds from "7d", "36h", "90m", "0" (a bare number is seconds)."""
    m = _DURATION.match(text)
    if m is None:
        raise ReplayError(f"cannot read the duration {text!r}: use 7d, 36h, 90m or 0")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()])


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Span:
    """One input partition's share of the range: messages [start, stop).

    ``first`` is the range's first offset (the first message stamped at or after T1; for a
    cold replay, ``start``): messages before it are the warm-up, read into the detector's state
    and not emitted. ``read_from`` is where the detector begins reading (the warm-up's start,
    or a checkpoint's offset); ``earliest`` is the partition's first offset still held."""

    feed: str
    topic: str
    partition: int
    start: int
    stop: int
    first: int = -1
    read_from: int = -1
    earliest: int = 0

    def __post_init__(self) -> None:
        if self.first < 0:
            object.__setattr__(self, "first", self.start)
        if self.read_from < 0:
            object.__setattr__(self, "read_from", self.first)

    @property
    def messages(self) -> int:
        return self.stop - self.start

    @property
    def tp(self) -> str:
        return f"{self.topic}:{self.partition}"


def plan_range(
    settings: Settings,
    source: TopicNames,
    t1: int,
    t2: int,
    feeds: tuple[str, ...],
    warm_from: int | None = None,
) -> list[Span]:
    """Every input partition's span for [t1, t2] (the unselected feeds' partitions too, empty:
    the detector's watermark waits on every input partition, as the worker's does). With
    ``warm_from`` the detector reads from there (prices, liquidations) and from the beginning
    (funding), and what precedes T1 is its warm-up; without, it starts cold at T1."""
    from kafka import KafkaConsumer, TopicPartition

    if t2 <= t1:
        raise ReplayError("--to must be after --from")
    topics = feed_topics(source)
    parts = partitions_for(settings, list(topics.values()))
    missing = [t for t in topics.values() if t not in parts]
    if missing:
        raise ReplayError(f"topics not found on the cluster: {', '.join(missing)}")
    consumer = KafkaConsumer(**kafka_python_config(settings), enable_auto_commit=False)
    plan: list[Span] = []

    def at(tps: list[Any], ts: int, ends: dict[Any, int]) -> dict[Any, int]:
        found = consumer.offsets_for_times({tp: ts for tp in tps})
        return {tp: (found[tp].offset if found[tp] else ends[tp]) for tp in tps}

    try:
        for feed, topic in topics.items():
            tps = [TopicPartition(topic, p) for p in range(parts[topic])]
            if feed not in feeds:
                plan += [Span(feed, topic, tp.partition, 0, 0) for tp in tps]
                continue
            ends = consumer.end_offsets(tps)
            earliest = consumer.beginning_offsets(tps)
            after_t2 = consumer.offsets_for_times({tp: t2 + EDGE_MS for tp in tps})
            at_t1 = at(tps, t1, ends)
            starts = earliest if feed == "funding" else at_t1
            if warm_from is None:
                firsts, reads = starts, starts
            else:
                firsts = at_t1
                reads = earliest if feed == "funding" else at(tps, warm_from, ends)
            for tp in tps:
                # Messages stamped a little after T2 may still hold records <= T2 (a frame is
                # stamped with its newest record; another key's frame of T2's minute may follow
                # it): read up to the first one stamped EDGE_MS past T2, and clip.
                stop = after_t2[tp].offset if after_t2[tp] else ends[tp]
                plan.append(
                    Span(feed, topic, tp.partition, starts[tp], max(stop, starts[tp]),
                         firsts[tp], reads[tp], earliest[tp])
                )  # fmt: skip
    finally:
        consumer.close()
    return plan


@dataclass(frozen=True)
class Checkpoint:
    """A worker's checkpoint on the state topic: the detector after every tick before
    ``next_tick_ms``, with the input offsets it covers ("topic:partition" -> next offset)."""

    blob: bytes
    next_tick_ms: int
    offsets: dict[str, int]
    partitions: frozenset[str] | None
    state_offset: int


def find_checkpoint(
    settings: Settings, source: TopicNames, t1: int, timeout_s: float | None = None
) -> Checkpoint | None:
    """The checkpoint of the detector's scope nearest before T1 on the (compacted) state topic:
    the greatest next tick at or before T1 (the later written on a tie). None when there is
    none (compaction keeps only the newest of a key in cleaned segments; a checkpoint of a
    detector that never ticked holds nothing to start from)."""
    from kafka import KafkaConsumer, TopicPartition

    from streams.app import READ_STATE_TIMEOUT_S, checkpoint_position, decode_checkpoint

    timeout_s = READ_STATE_TIMEOUT_S if timeout_s is None else timeout_s
    if source.state not in partitions_for(settings, [source.state]):
        return None
    key = settings.detection.scope.encode()
    consumer = KafkaConsumer(
        **kafka_python_config(settings), enable_auto_commit=False, group_id=None
    )
    best: tuple[int, int, bytes] | None = None  # (next tick, state offset, blob)
    try:
        tp = TopicPartition(source.state, 0)
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]
        consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise ReplayError(f"{source.state} not read to its end within {timeout_s:.0f} s")
            for msg in consumer.poll(timeout_ms=500, max_records=200).get(tp, []):
                if msg.offset >= end or msg.key != key or not msg.value:
                    continue
                at = checkpoint_position(msg.value)
                if at is None or at[0] is None or not at[1] or at[0] > t1:
                    continue
                if best is None or at[0] >= best[0]:
                    best = (at[0], msg.offset, msg.value)
    finally:
        consumer.close()
    if best is None:
        return None
    snap = decode_checkpoint(best[2])
    parts = snap.get("partitions")
    return Checkpoint(
        best[2], best[0], dict(snap["offsets"]),
        frozenset(parts) if parts is not None else None, best[1],
    )  # fmt: skip


def checkpoint_unusable(checkpoint: Checkpoint, plan: list[Span]) -> str | None:
    """Why the replay cannot go on from ``checkpoint`` over these input partitions (None: it
    can): another partition layout, or input it had not read yet no longer on the topic."""
    ours = {s.tp for s in plan}
    theirs = checkpoint.partitions or set(checkpoint.offsets)
    if not set(theirs) <= ours or (checkpoint.partitions is not None and theirs != ours):
        return "its input partitions are not these"
    for s in plan:
        if checkpoint.offsets.get(s.tp, 0) < s.earliest:
            return f"{s.topic}[{s.partition}] no longer holds what followed it (retention)"
    return None


def from_checkpoint(plan: list[Span], checkpoint: Checkpoint) -> list[Span]:
    """The plan read on from the checkpoint's offsets (whole messages, as the worker read
    them); a partition it holds nothing of, from its beginning."""
    return [replace(s, read_from=checkpoint.offsets.get(s.tp, s.earliest)) for s in plan]


@dataclass
class ReplayStart:
    """How the replay's detector got its state as of T1, and what that took (printed)."""

    kind: str  # "checkpoint" | "warmup" | "cold"
    t1: int
    warmup_ms: int = 0
    checkpoint: Checkpoint | None = None
    note: str = ""  # why not a checkpoint, or why cold
    events: dict[str, int] = field(default_factory=dict)  # records before T1 per feed
    ticks: int = 0  # ticks before T1, not emitted
    dead_letters: int = 0  # rejects before T1, counted, not written
    alerts: int = 0  # transitions before T1, not emitted
    carried: tuple[str, str] | None = None  # (alert id, state) of an episode open at T1
    feed_of: dict[str, str] = field(default_factory=dict)  # input topic -> feed (printing)

    @property
    def cold(self) -> bool:
        return self.kind == "cold"

    def describe(self) -> str:
        n = sum(self.events.values())
        if self.kind == "checkpoint" and self.checkpoint is not None:
            offsets = ", ".join(
                f"{self.feed_of.get(topic, topic)}[{partition}]={o}"
                for (topic, partition), o in sorted(
                    (tuple(tp.rsplit(":", 1)), o) for tp, o in self.checkpoint.offsets.items()
                )
            )
            text = (
                f"started from checkpoint of {iso(self.checkpoint.next_tick_ms)} "
                f"(offsets {offsets or 'none'}); then {n:,} events before {iso(self.t1)}"
            )
        elif self.kind == "warmup":
            text = (
                f"warmed up on {iso(self.t1 - self.warmup_ms)} .. {iso(self.t1)}: {n:,} events, "
                f"{self.ticks:,} ticks, {self.dead_letters:,} dead letters, {self.alerts} "
                "alert transitions, none emitted"
            )
        else:
            text = f"cold: {self.note or f'no input before {iso(self.t1)}'}"
            return text + (
                "; the detector starts empty (no previous session close, the volatility prior "
                "alone, no liquidation baseline): alerts may differ from what paged"
            )
        if self.note:
            text += f" ({self.note})"
        if self.carried is not None:
            text += f"; alert {self.carried[0]} already {self.carried[1]} at {iso(self.t1)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "warmup_s": self.warmup_ms // 1000,
            "checkpoint_tick_ms": self.checkpoint.next_tick_ms if self.checkpoint else None,
            "checkpoint_offsets": self.checkpoint.offsets if self.checkpoint else None,
            "events": self.events,
            "ticks": self.ticks,
            "dead_letters": self.dead_letters,
            "alerts": self.alerts,
            "carried_alert": list(self.carried) if self.carried is not None else None,
            "described": self.describe(),
        }


# A frame holds one key's records of one event-time minute and is stamped with the newest, and
# every frame of a minute precedes the next minute's on its partition. So a message stamped this
# far past T1 holds nothing before T1, and once one stamped this far past T2 is read nothing
# after it is <= T2 (a record this late behind its partition is dead-lettered as late anyway).
EDGE_MS = 2 * MIN_MS


def parse_speed(text: str) -> float | None:
    value = text.strip().lower()
    if value in ("max", "0", ""):
        return None
    try:
        speed = float(value.removesuffix("x"))
    except ValueError:
        raise ReplayError(f"--speed takes max, 1x, 60x ...; got {text!r}") from None
    if speed <= 0:
        raise ReplayError("--speed must be positive")
    return speed


def plan_start(
    settings: Settings,
    source: TopicNames,
    t1: int,
    t2: int,
    feeds: tuple[str, ...],
    warmup_ms: int,
    checkpoints: bool = True,
) -> tuple[list[Span], ReplayStart]:
    """Where the replay's detector gets its state as of T1 (docs/architecture.md, "Replay in
    place"): the nearest checkpoint at or before T1 when there is a usable one, else a warm-up
    on the input from T1 - ``warmup_ms``, else (``warmup_ms`` 0) nothing: cold."""
    feed_of = {topic: feed for feed, topic in feed_topics(source).items()}
    note = "checkpoints not used"
    if checkpoints:
        found = find_checkpoint(settings, source, t1)
        note = f"no checkpoint at or before {iso(t1)} on {source.state}"
        if found is not None:
            plan = plan_range(settings, source, t1, t2, feeds, warm_from=t1)
            why = checkpoint_unusable(found, plan)
            if why is None:
                start = ReplayStart("checkpoint", t1, checkpoint=found, feed_of=feed_of)
                return from_checkpoint(plan, found), start
            note = f"checkpoint of {iso(found.next_tick_ms)} not usable: {why}"
    if warmup_ms <= 0:
        plan = plan_range(settings, source, t1, t2, feeds)
        return plan, ReplayStart("cold", t1, note=f"warm-up off; {note}", feed_of=feed_of)
    plan = plan_range(settings, source, t1, t2, feeds, warm_from=t1 - warmup_ms)
    return plan, ReplayStart("warmup", t1, warmup_ms, note=note, feed_of=feed_of)
