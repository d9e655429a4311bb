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

FEEDS: dict[str, type[Any]] = {
    "prices": PriceTick,
    "liquidations": Liquidation,
    "funding": FundingObservation,
}


class ScenarioError(ValueError):
    """The scenario folder itself is unusable (missing file, bad scenario.toml)."""


def parse_time_ms(value: str) -> int:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
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

    def feed_file(self, feed: str) -> Path | None:
        for suffix in (".jsonl", ".jsonl.gz"):
            candidate = self.path / f"{feed}{suffix}"
            if candidate.exists():
                return candidate
        return None

    def topic_for(self, feed: str, names: TopicNames) -> str:
        return {
            "prices": names.prices,
            "liquidations": names.liquidations,
            "funding": names.funding,
        }[feed]


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
    start, end = parse_time_ms(meta["start"]), parse_time_ms(meta["end"])
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
    )
    if not any(scenario.feed_file(f) for f in FEEDS):
        raise ScenarioError(f"{folder}: no prices/liquidations/funding .jsonl(.gz) file")
    return scenario


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


def load_scenario(
    scenario: Scenario,
    publisher: Any,
    names: TopicNames,
    progress: Callable[[int], None] | None = None,
    heartbeat: bool = True,
    end_pad_ms: int = 0,
) -> dict[str, FeedResult]:
    """Produce every valid line to its topic (Kafka timestamp = ``ts_ms``); rejects to the DLQ.

    Ends each input topic with a heartbeat at the scenario's end (plus ``end_pad_ms``, the
    detector's allowed lateness) on every partition, so the detector knows the day is over
    without waiting on the clock.
    """
    results: dict[str, FeedResult] = {}
    for feed in FEEDS:
        topic = scenario.topic_for(feed, names)
        result = results[feed] = FeedResult(feed, topic)
        for _lineno, parsed, raw in parse_feed(scenario, feed):
            if isinstance(parsed, RecordError):
                result.rejected += 1
                result.reasons[parsed.reason] = result.reasons.get(parsed.reason, 0) + 1
                publisher.send_dead_letter(topic, raw, parsed, source=f"scenario:{scenario.name}")
            else:
                result.valid += 1
                publisher.send(topic, parsed.raw, parsed.key, parsed.record.ts_ms)
            if progress is not None:
                progress(1)
        if heartbeat:
            publisher.heartbeat(
                topic, scenario.end_ms + end_pad_ms, source=f"scenario:{scenario.name}"
            )
    publisher.flush()
    return results


def count_lines(scenario: Scenario) -> int:
    total = 0
    for feed in FEEDS:
        path = scenario.feed_file(feed)
        if path is not None:
            total += sum(1 for _ in iter_raw(path))
    return total
