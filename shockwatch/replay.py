"""Replay a time range of the input topics into an isolated run, for post-mortems.

1. **Export**: for each input topic, find the start offsets with ``offsets_for_times(T1)`` (the
   funding topic is read whole: the as-of join needs the history published before T1), read
   every partition up to T2 with a group-less consumer (the live consumer group and its offsets
   are never touched), drop heartbeats, and merge the partitions in event-time order into a
   scenario folder (``reports/<run-id>/inputs``): a replay's inputs are a scenario like any other.
2. **Run**: the same topology (``streams.app.create_app``) runs over that folder under its own
   app id and topic prefix ``replay-<run-id>.``, at full speed or paced (``--speed 60x``).
3. **Save** the signals and alerts next to the inputs (``run.json``, ``signals.jsonl``,
   ``alerts.jsonl``) for ``shockwatch report``.

The same range replayed twice gives identical signals and alerts (event-time ticks).
"""

from __future__ import annotations

import heapq
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from shockwatch.kafka import kafka_python_config, partitions_for
from shockwatch.runner import RunResult, run_scenario, save_run
from shockwatch.scenario import FEEDS, Scenario, read_scenario
from shockwatch.settings import Settings
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


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_message(value: bytes, fallback_ts: int) -> list[tuple[int, bytes]]:
    """(ts, raw record) for every record in a message (a frame holds several); heartbeats are
    dropped (the export adds its own). Unparseable messages are kept whole (the replay's load
    dead-letters them again, with the reason)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return [(fallback_ts, value)]
    framed = isinstance(obj, list)
    out: list[tuple[int, bytes]] = []
    for item in obj if framed else [obj]:
        if isinstance(item, dict) and item.get("kind") == "heartbeat":
            continue
        ts = item.get("ts_ms") if isinstance(item, dict) else None
        ts = ts if isinstance(ts, int) and not isinstance(ts, bool) else fallback_ts
        out.append((ts, orjson.dumps(item) if framed else value))
    return out


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
    source: TopicNames,
    t1: int,
    t2: int,
    out_dir: Path,
    feeds: tuple[str, ...] = tuple(FEEDS),
    progress: Callable[[int, int], None] | None = None,
    name: str = "replay",
) -> ExportResult:
    """Copy the input topics' range [t1, t2] into a scenario folder (see module docstring)."""
    from kafka import KafkaConsumer, TopicPartition

    if t2 <= t1:
        raise ReplayError("--to must be after --from")
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    topics = {
        f: {
            "prices": source.prices,
            "liquidations": source.liquidations,
            "funding": source.funding,
        }[f]
        for f in feeds
    }
    parts = partitions_for(settings, list(topics.values()))
    missing = [t for t in topics.values() if t not in parts]
    if missing:
        raise ReplayError(f"topics not found on the cluster: {', '.join(missing)}")
    consumer = KafkaConsumer(
        **kafka_python_config(settings),
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=5000,
    )
    counts: dict[str, int] = {}
    try:
        plan: list[tuple[str, TopicPartition, int, int]] = []
        for feed, topic in topics.items():
            tps = [TopicPartition(topic, p) for p in range(parts[topic])]
            ends = consumer.end_offsets(tps)
            begins = consumer.beginning_offsets(tps)
            after_t2 = consumer.offsets_for_times({tp: t2 + 1 for tp in tps})
            if feed == "funding":
                starts = begins
            else:
                found = consumer.offsets_for_times({tp: t1 for tp in tps})
                starts = {tp: (found[tp].offset if found[tp] else ends[tp]) for tp in tps}
            for tp in tps:
                # The first message stamped after T2 may be a frame that still holds records
                # <= T2 (a frame is stamped with its newest record): read it too, then filter.
                stop = min(after_t2[tp].offset + 1, ends[tp]) if after_t2[tp] else ends[tp]
                plan.append((feed, tp, starts[tp], max(stop, starts[tp])))
        total = sum(stop - start for *_, start, stop in plan)
        done = 0
        per_feed: dict[str, list[list[tuple[int, bytes]]]] = {f: [] for f in feeds}
        for feed, tp, start, stop in plan:
            rows = _read_partition(consumer, tp, start, stop, t2, None if feed == "funding" else t1)
            per_feed[feed].append(rows)
            done += stop - start
            if progress:
                progress(done, total)
    finally:
        consumer.close()
    for feed, partitions in per_feed.items():
        merged: Iterator[tuple[int, bytes]] = heapq.merge(*partitions, key=lambda r: r[0])
        n = 0
        with open(out_dir / f"{feed}.jsonl", "wb") as f:
            for _, raw in merged:
                f.write(raw + b"\n")
                n += 1
        counts[feed] = n
    (out_dir / "scenario.toml").write_text(
        f'name = "{name}"\n'
        f'description = "replay of {", ".join(topics.values())} from {iso(t1)} to {iso(t2)}"\n'
        f'start = "{iso(t1)}"\nend = "{iso(t2)}"\nsynthesized = false\n'
    )
    return ExportResult(read_scenario(out_dir), counts, time.monotonic() - started)


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


@dataclass
class ReplayResult:
    run_id: str
    run_dir: Path
    export: ExportResult
    run: RunResult

    @property
    def events(self) -> int:
        return sum(self.export.counts.values())

    @property
    def events_per_s(self) -> float:
        return self.events / max(self.run.elapsed_s, 1e-9)

    @property
    def realtime_multiple(self) -> float:
        span_s = (self.export.scenario.end_ms - self.export.scenario.start_ms) / 1000
        return span_s / max(self.run.elapsed_s, 1e-9)


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
    export_progress: Callable[[int, int], None] | None = None,
    run_progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
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
    exported = export_range(
        settings,
        source,
        t1,
        t2,
        run_dir / "inputs",
        feeds,
        export_progress,
        name=f"replay-{run_id}",
    )
    result = run_scenario(
        settings,
        exported.scenario,
        prefix=f"replay-{run_id}.",
        app_id=f"shockwatch-replay-{run_id}",
        progress=run_progress,
        keep_signals=True,
        speed=speed,
        feeds=feeds,
        run_id=run_id,
    )
    save_run(result, exported.scenario, run_dir, run_id)
    return ReplayResult(run_id, run_dir, exported, result)
