"""Scenarios: replayable days in the project's own topic format (a public contract).

A scenario is a folder with ``scenario.toml`` (name, description, start/end, what it is expected
to show) and one JSON Lines file per input topic: ``prices.jsonl``, ``liquidations.jsonl``,
``funding.jsonl`` (each optionally ``.gz``), each line one record exactly as it travels on its
topic. See data/scenarios/README.md.
"""

from __future__ import annotations

import gzip
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from streams.records import (
    FundingObservation,
    Heartbeat,
    InvalidValue,
    Liquidation,
    PriceTick,
    RecordError,
    decode,
)
from streams.topics import TopicNames

# The input feeds and the record each carries: the one feed list (the worker, metrics and the
# tools over recorded runs read it from here).
FEEDS: dict[str, type[Any]] = {
    "prices": PriceTick,
    "liquidations": Liquidation,
    "funding": FundingObservation,
}


def feed_topics(names: TopicNames) -> dict[str, str]:
    """Each feed's input topic under ``names``: feed -> topic, in ``FEEDS`` order."""
    return dict(zip(FEEDS, names.inputs, strict=True))


class ScenarioError(ValueError):
    """The scenario folder itself is unusable (missing file, bad scenario.toml)."""


def parse_time_ms(value: str | datetime, what: str = "time") -> int:
    """Epoch ms of an ISO-8601 time ("2025-11-04T15:00:00Z"; no zone = UTC), or of a TOML
    datetime; ``ScenarioError`` naming ``what`` when it is neither."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(
                f"{what} {value!r} is not an ISO-8601 time (e.g. 2025-11-04T15:00:00Z)"
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    description: str
    start_ms: int
    end_ms: int
    synthesized: bool
    expect: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # what kind of day (calm, crypto-only, broad-tight-funding, ...); optional
    # Share of the day's market-wide liquidations on the venues shockwatch subscribes (the part
    # the liquidation file holds); optional, written by the synthesizers.
    observed_share: float | None = None

    def feed_file(self, feed: str) -> Path | None:
        for suffix in (".jsonl", ".jsonl.gz"):
            candidate = self.path / f"{feed}{suffix}"
            if candidate.exists():
                return candidate
        return None

    def topic_for(self, feed: str, names: TopicNames) -> str:
        return feed_topics(names)[feed]


def read_scenario(path: str | Path) -> Scenario:
    folder = Path(path)
    toml_path = folder / "scenario.toml"
    if not toml_path.exists():
        raise ScenarioError(f"{folder} is not a scenario: no scenario.toml")
    try:
        meta = tomllib.loads(toml_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{toml_path}: {exc}") from None
    for key in ("name", "start", "end"):
        if key not in meta:
            raise ScenarioError(f"{toml_path}: missing '{key}'")
    try:
        start = parse_time_ms(meta["start"], "start")
        end = parse_time_ms(meta["end"], "end")
        validate_expect(dict(meta.get("expect", {})))
    except ScenarioError as exc:
        raise ScenarioError(f"{toml_path}: {exc}") from None
    if end <= start:
        raise ScenarioError(f"{toml_path}: end must be after start")
    scenario = Scenario(
        path=folder,
        name=str(meta["name"]),
        description=str(meta.get("description", "")),
        start_ms=start,
        end_ms=end,
        synthesized=bool(meta.get("synthesized", False)),
        expect=dict(meta.get("expect", {})),
        kind=str(meta.get("kind", "")),
        observed_share=observed_share(meta, toml_path),
    )
    if not any(scenario.feed_file(f) for f in FEEDS):
        raise ScenarioError(f"{folder}: no prices/liquidations/funding .jsonl(.gz) file")
    return scenario


def observed_share(meta: dict[str, Any], toml_path: Path) -> float | None:
    value = meta.get("observed_share")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ScenarioError(f"{toml_path}: observed_share must be a number in (0, 1]")
    return float(value)


def _open(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def iter_raw(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line bytes) for every non-blank line of a JSON Lines file.

    A truncated gzip member raises ``EOFError`` from the gzip reader; it is turned into a
    ScenarioError naming the file so the loader reports it instead of crashing half-way.
    """
    try:
        with _open(path) as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if line:
                    yield lineno, line
    except (EOFError, gzip.BadGzipFile) as exc:
        raise ScenarioError(f"{path}: truncated or corrupt ({exc})") from None


@dataclass
class FeedResult:
    feed: str
    topic: str
    valid: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class Parsed:
    """A validated line: the record, its raw bytes (sent unchanged) and its Kafka key."""

    record: Any
    raw: bytes
    key: str


def parse_feed(
    scenario: Scenario, feed: str, now_ms: int | None = None
) -> Iterator[tuple[int, Parsed | RecordError, bytes]]:
    """Validate each line of one feed: (lineno, Parsed or the error, raw)."""
    path = scenario.feed_file(feed)
    if path is None:
        return
    record_type = FEEDS[feed]
    for lineno, raw in iter_raw(path):
        try:
            record = decode(record_type, raw, now_ms=now_ms)
            if isinstance(record, Heartbeat):
                raise InvalidValue("kind", "heartbeats are added by the loader, not scenarios")
        except RecordError as exc:
            yield lineno, exc, raw
            continue
        yield lineno, Parsed(record, raw, record.key), raw


def merged_lines(
    scenario: Scenario, feeds: tuple[str, ...] = tuple(FEEDS), now_ms: int | None = None
) -> Iterator[tuple[str, Parsed | RecordError, bytes]]:
    """Every line of the chosen feeds, merged in event-time order across feeds (file order for
    lines that do not parse, which keep their place)."""
    import heapq

    def keyed(feed: str) -> Iterator[tuple[int, int, str, Parsed | RecordError, bytes]]:
        last = 0
        for i, (_, parsed, raw) in enumerate(parse_feed(scenario, feed, now_ms)):
            if isinstance(parsed, Parsed):
                last = parsed.record.ts_ms
            yield last, i, feed, parsed, raw

    for _, _, feed, parsed, raw in heapq.merge(*(keyed(f) for f in feeds)):
        yield feed, parsed, raw


class _Framer:
    """Groups records per (topic, key) within one event-time minute into frames.

    All open frames are sent when event time enters a new minute, so on every partition the
    frames of minute m precede those of minute m+1 (the detector's watermark relies on that),
    and a frame's Kafka timestamp (its newest record) never runs ahead of a later frame's
    records by more than the minute being filled."""

    def __init__(self, publisher: Any, frame_max: int) -> None:
        self.publisher = publisher
        self.frame_max = frame_max
        self.open: dict[tuple[str, str], list[Any]] = {}  # (topic, key) -> [ts, [raw...]]
        self.minute: int | None = None

    def add(self, topic: str, key: str, ts_ms: int, raw: bytes) -> None:
        if self.frame_max <= 1:
            self.publisher.send(topic, raw, key, ts_ms)
            return
        minute = ts_ms // 60_000
        if self.minute is not None and minute != self.minute:
            self.flush()
        self.minute = minute
        frame = self.open.setdefault((topic, key), [ts_ms, []])
        frame[0] = max(frame[0], ts_ms)
        frame[1].append(raw)
        if len(frame[1]) >= self.frame_max:
            self.publisher.send_frame(topic, frame[1], key, frame[0])
            del self.open[(topic, key)]

    def flush(self) -> None:
        for (topic, key), (ts_ms, raws) in self.open.items():
            self.publisher.send_frame(topic, raws, key, ts_ms)
        self.open.clear()


def load_scenario(
    scenario: Scenario,
    publisher: Any,
    names: TopicNames,
    progress: Callable[[int], None] | None = None,
    heartbeat: bool = True,
    end_pad_ms: int = 0,
    speed: float | None = None,
    feeds: tuple[str, ...] = tuple(FEEDS),
    frame_max: int = 1,
    hold: tuple[int, Callable[[], None]] | None = None,
) -> dict[str, FeedResult]:
    """Produce every valid line to its topic (Kafka timestamp = ``ts_ms``); rejects to the DLQ.

    Lines go out in event-time order across feeds; with ``speed`` (e.g. 60.0 = 60x real time)
    they are paced so event time advances that many times faster than the clock. With
    ``frame_max`` > 1, records of one key and minute travel as frames of up to that many
    (message timestamp = the frame's newest record). Each input topic ends with a heartbeat at
    the scenario's end (plus ``end_pad_ms``, the detector's allowed lateness) on every
    partition, so the detector knows the day is over without waiting on the clock.

    ``hold`` = ``(ts_ms, wait)`` pauses the day at ``ts_ms``: everything before it is sent, each
    input topic gets a heartbeat at ``ts_ms`` on every partition (true: nothing older follows;
    without it the watermark would wait on partitions whose next record is after the pause, and
    the worker would stop short of it), all is flushed, then ``wait()`` is called (it blocks for
    as long as the caller wants the worker to rest there, e.g. while Prometheus watches its
    gauges), then loading goes on.
    """
    import time

    results = {f: FeedResult(f, scenario.topic_for(f, names)) for f in feeds}
    source = f"scenario:{scenario.name}"
    framer = _Framer(publisher, frame_max)
    wall0: float | None = None
    event0 = 0
    for feed, parsed, raw in merged_lines(scenario, feeds):
        result = results[feed]
        if isinstance(parsed, RecordError):
            result.rejected += 1
            result.reasons[parsed.reason] = result.reasons.get(parsed.reason, 0) + 1
            publisher.send_dead_letter(result.topic, raw, parsed, source=source)
        else:
            ts = parsed.record.ts_ms
            if hold is not None and ts >= hold[0]:
                framer.flush()
                if heartbeat:
                    for hb_feed in FEEDS:
                        topic = scenario.topic_for(hb_feed, names)
                        publisher.heartbeat(topic, hold[0], source=source)
                publisher.flush()
                hold[1]()
                hold, wall0 = None, None  # pacing restarts after the pause
            if speed and ts >= scenario.start_ms:
                if wall0 is None:
                    wall0, event0 = time.monotonic(), ts
                ahead = (ts - event0) / 1000 / speed - (time.monotonic() - wall0)
                if ahead > 0.005:
                    framer.flush()
                    publisher.flush()
                    time.sleep(ahead)
            result.valid += 1
            framer.add(result.topic, parsed.key, ts, parsed.raw)
        if progress is not None:
            progress(1)
    framer.flush()
    if heartbeat:
        # Every input topic, loaded or not: the detector's watermark waits on all of them.
        for feed in FEEDS:
            topic = scenario.topic_for(feed, names)
            publisher.heartbeat(topic, scenario.end_ms + end_pad_ms, source=source)
    publisher.flush()
    return results


def first_event_ms(scenario: Scenario, feeds: tuple[str, ...] = ("prices", "liquidations")) -> int:
    """The earliest event time in the given feeds (files may hold warm-up data before start)."""
    first = scenario.start_ms
    for feed in feeds:
        for _, parsed, _ in parse_feed(scenario, feed, now_ms=scenario.end_ms):
            if isinstance(parsed, Parsed):
                first = min(first, parsed.record.ts_ms)
                break  # files are in event-time order
    return first


def count_lines(scenario: Scenario) -> int:
    total = 0
    for feed in FEEDS:
        path = scenario.feed_file(feed)
        if path is not None:
            total += sum(1 for _ in iter_raw(path))
    return total


SEVERITY_RANK = {"none": 0, "warning": 1, "critical": 2}
EXPECT_KEYS = frozenset(
    {
        "max_severity",
        "min_severity",
        "allow_lower",
        "regimes",
        "first_fire_after",
        "first_fire_before",
        "funding_stress",
    }
)


def severity_bounds(expect: dict[str, Any]) -> tuple[str, str]:
    """The (lowest, highest) severity ``[expect]`` accepts as the highest one fired:
    ``max_severity`` alone is exact; ``allow_lower`` makes it a ceiling (lowest "none");
    ``min_severity`` sets the floor explicitly."""
    high = str(expect.get("max_severity", "none"))
    low = "none" if expect.get("allow_lower", False) else high
    low = str(expect.get("min_severity", low))
    for name in (low, high):
        if name not in SEVERITY_RANK:
            raise ScenarioError(f"[expect] severity {name!r}: use one of {list(SEVERITY_RANK)}")
    if SEVERITY_RANK[low] > SEVERITY_RANK[high]:
        raise ScenarioError(f"[expect] min_severity {low} is above max_severity {high}")
    return low, high


def validate_expect(expect: dict[str, Any]) -> None:
    """``ScenarioError`` for an ``[expect]`` no run could be checked against (an unknown key or
    severity, a time that is not one), so a scenario fails when read, not after its run."""
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise ScenarioError(f"[expect] has unknown keys {sorted(unknown)}")
    severity_bounds(expect)
    for key in ("first_fire_after", "first_fire_before"):
        if key in expect:
            parse_time_ms(expect[key], f"[expect] {key}")
    if expect.get("funding_stress", "high") not in ("high", "low"):
        raise ScenarioError(
            f"[expect] funding_stress {expect['funding_stress']!r}: use 'high' or 'low'"
        )


def check_outcome(
    expect: dict[str, Any], alerts: list[Any], max_funding_stress: float | None
) -> list[str]:
    """Compare what a run fired (its alert events) with ``[expect]``; returns the mismatches
    (empty = as expected). The regime and first-fire checks apply to the first alert of the
    highest severity fired, when that severity is within the expected bounds."""
    validate_expect(expect)
    problems: list[str] = []
    low, high = severity_bounds(expect)
    firing = [a for a in alerts if a.state == "firing"]
    got = max((SEVERITY_RANK[a.severity] for a in firing), default=0)
    got_name = next(k for k, v in SEVERITY_RANK.items() if v == got)
    if not SEVERITY_RANK[low] <= got <= SEVERITY_RANK[high]:
        want = high if low == high else f"{low} to {high}"
        problems.append(f"max severity {got_name}, expected {want}")
    top = [a for a in firing if SEVERITY_RANK[a.severity] == got] if got else []
    if top and not problems and expect.get("regimes"):
        regimes = set(expect["regimes"])
        if top[0].regime not in regimes:
            problems.append(f"regime {top[0].regime}, expected one of {sorted(regimes)}")
    if top and not problems and "first_fire_after" in expect:
        after = parse_time_ms(expect["first_fire_after"])
        before = parse_time_ms(expect.get("first_fire_before", "2100-01-01T00:00:00Z"))
        if not after <= top[0].ts_ms <= before:
            problems.append(f"first {got_name} alert at {top[0].ts_ms} outside the window")
    fexp = expect.get("funding_stress")
    if fexp == "high" and (max_funding_stress or 0.0) < 0.5:
        problems.append(f"funding stress peaked at {max_funding_stress}, expected high")
    if fexp == "low" and (max_funding_stress or 0.0) >= 0.5:
        problems.append(f"funding stress peaked at {max_funding_stress}, expected low")
    return problems
