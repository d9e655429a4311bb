"""``shockwatch rehearse`` and ``backtest --rehearse``: a recorded day under live timing.

The arrival model (``shockwatch.runs.rehearsal``) gives the Kafka writes the live producers would
make over a recorded day, in arrival order. A rehearsal feeds them to detection:

* offline, to the worker's own ``DetectorRuntime`` (decoding, the shards, dead letters, the
  detector) with each write on the partition Kafka would give it: every partition sees the
  same messages in the same order as on the broker, which is all the worker's output depends
  on (docs/architecture.md, "Event time and determinism");
* or through the real worker over the broker (``runner.run_scenario`` with an arrival-ordered
  loader), its dead letters read back from the run's DLQ topics.

``rehearse_day`` sets a rehearsal against the plain run of the same day: the same highest
severity and regime, and a first fire later by no more than the worst delay of the slowest
input the deciding tick needed (``needed_inputs``).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from common.settings import Settings
from shockwatch.runs.backtest import DayOutcome, outcome_of, run_day_signals
from shockwatch.runs.rehearsal import Arrivals, InputDelay, arrivals, timing_for
from streams.records import AlertEvent, DeadLetter, ShockSignal
from streams.scenario import FEEDS, FeedResult, Scenario, feed_topics
from streams.timing import TIMINGS, SourceTiming
from streams.topics import TopicNames

BATCH = 1_000  # writes per worker batch offline (the output does not depend on it)
DEAD_IDLE_MS = 1_500


@dataclass
class RehearsalRun:
    """What detection gave over the arrival-ordered writes."""

    alerts: list[AlertEvent]
    signals: list[ShockSignal]
    dead: dict[tuple[str, str, str], int]  # (feed, reason, input) -> dead letters
    mode: str = "offline"


def count_dead(
    letters: Iterable[DeadLetter], feed_of: dict[str, str]
) -> dict[tuple[str, str, str], int]:
    """Dead letters counted by (feed, reason, input)."""
    return dict(Counter(dead_key(letter, feed_of) for letter in letters))


def dead_key(letter: DeadLetter, feed_of: dict[str, str]) -> tuple[str, str, str]:
    """(feed, reason, input) of a dead letter: the input is the record's price symbol,
    liquidation venue or funding series ("?" when the value is not a record)."""
    feed = feed_of.get(letter.source_topic, letter.source_topic)
    try:
        value = orjson.loads(base64.b64decode(letter.value_b64))
    except (orjson.JSONDecodeError, ValueError):
        value = None
    item = "?"
    if isinstance(value, dict):
        item = str(value.get("symbol") if feed == "prices" else
                   value.get("exchange") or value.get("series") or "?")  # fmt: skip
    return feed, letter.reason, item


def rehearse_offline(settings: Settings, arr: Arrivals) -> RehearsalRun:
    """The worker's runtime over the writes, one partition per Kafka partition (in-process)."""
    from streams.app import DetectorRuntime

    names = TopicNames("rehearsal.")
    topics = feed_topics(names)
    feed_of = {t: f for f, t in topics.items()}
    runtime = DetectorRuntime(settings, names)
    parts = {(topics[w.feed], w.partition) for w in arr.writes}
    runtime.assign(sorted(parts))
    offsets: dict[tuple[str, int], int] = {}
    alerts: list[AlertEvent] = []
    signals: list[ShockSignal] = []
    letters: list[DeadLetter] = []
    for start in range(0, len(arr.writes), BATCH):
        batch = []
        for w in arr.writes[start : start + BATCH]:
            tp = (topics[w.feed], w.partition)
            offset = offsets.get(tp, 0)
            offsets[tp] = offset + 1
            batch.append((tp[0], tp[1], offset, w.key, w.value))
        result = runtime.process(batch)
        for out in result.outputs:
            signals.append(out.signal)
            alerts.extend(out.alerts)
        letters.extend(letter for _, _, letter in result.dead)
    return RehearsalRun(alerts, signals, count_dead(letters, feed_of))


def arrival_loader(
    arr: Arrivals,
) -> Callable[[Any, TopicNames], dict[str, FeedResult]]:
    """A ``run_scenario`` loader that writes the rehearsal's messages in arrival order, each on
    the partition the model gave it, with its event time as the Kafka timestamp."""

    def load(publisher: Any, names: TopicNames) -> dict[str, FeedResult]:
        topics = feed_topics(names)
        results = {feed: FeedResult(feed, topics[feed]) for feed in FEEDS}
        for w in arr.writes:
            publisher.send(topics[w.feed], w.value, w.key, w.ts_ms, partition=w.partition)
            if not w.heartbeat:
                results[w.feed].valid += 1
        publisher.flush()
        return results

    return load


def read_dead_letters(settings: Settings, names: TopicNames) -> list[DeadLetter]:
    """Every dead letter of the run's input DLQs, read from the beginning until idle."""
    from kafka import KafkaConsumer

    from common.kafka import kafka_python_config

    consumer = KafkaConsumer(
        *(names.dlq(t) for t in names.inputs),
        **kafka_python_config(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=DEAD_IDLE_MS,
    )
    try:
        return [DeadLetter.from_dict(orjson.loads(m.value)) for m in consumer]
    finally:
        consumer.close()


def rehearse_kafka(
    settings: Settings,
    scenario: Scenario,
    arr: Arrivals,
    progress: Callable[[int, int], None] | None = None,
) -> RehearsalRun:
    """The real worker over the writes, loaded in arrival order under a fresh run prefix."""
    import uuid

    from shockwatch.runs.runner import run_scenario
    from streams.topics import run_prefix

    prefix = run_prefix("scn", f"reh{uuid.uuid4().hex[:6]}")
    names = TopicNames(prefix)
    letters: list[DeadLetter] = []
    result = run_scenario(
        settings,
        scenario,
        prefix=prefix,
        progress=progress,
        keep_signals=True,
        loader=arrival_loader(arr),
        before_stop=lambda _: letters.extend(read_dead_letters(settings, names)),
    )
    feed_of = {t: f for f, t in feed_topics(names).items()}
    signals = [ShockSignal.from_dict(s) for s in result.signal_log]
    return RehearsalRun(result.alerts, signals, count_dead(letters, feed_of), mode="kafka")


# -- rehearsal against the plain run -----------------------------------------------------------
def needed_inputs(
    signal: ShockSignal | None,
    settings: Settings,
    arr: Arrivals,
    signals: dict[int, ShockSignal] | None = None,
    timings: tuple[SourceTiming, ...] = TIMINGS,
) -> list[tuple[str, float]]:
    """(input, its worst model delay in s) of what the deciding tick needed: the instruments
    of the core classes it saw (breadth, depth, market stress, regime), the liquidation venues
    when liquidations scored, and when funding scored, the funding series published by the
    tick but not yet sent by then under live timing, if the stress moved since (``signals``:
    the plain run's ticks by time; older observations were known long before)."""
    if signal is None:
        return []
    members = {c for cs in settings.detection.breadth.core_classes.values() for c in cs}
    needed = {("prices", s) for s, view in signal.assets.items() if view.asset_class in members}
    points = signal.components
    if (points.get("liquidations_points") or 0) > 0:
        needed |= {("liquidations", d.item) for d in arr.delays.values()
                   if d.feed == "liquidations"}  # fmt: skip
    if (points.get("funding_points") or 0) > 0:
        needed |= _funding_needed(signal, arr, signals or {})
    rows = [(item, timing_for(feed, item, timings).max_delay_s) for feed, item in needed]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def _funding_needed(
    signal: ShockSignal, arr: Arrivals, signals: dict[int, ShockSignal]
) -> set[tuple[str, str]]:
    """The funding series with an observation published by the tick that the rehearsal had
    not yet sent by then (the plain run knew it, live would not have yet) — unless the
    funding stress at the tick is what it was before the first of them was published (then
    the decision did not need them)."""
    late = [
        w
        for w in arr.writes
        if w.feed == "funding" and not w.heartbeat and w.ts_ms <= signal.ts_ms < w.at_ms
    ]
    if not late:
        return set()
    before = signals.get(min(w.ts_ms for w in late) // 60_000 * 60_000)
    if before is not None and before.funding.stress == signal.funding.stress:
        return set()
    return {("funding", w.item) for w in late}


@dataclass
class RehearsedDay:
    name: str
    expected: str
    plain: DayOutcome
    rehearsed: DayOutcome
    dead: dict[tuple[str, str, str], int]
    delays: dict[str, InputDelay]
    needed: list[tuple[str, float]]  # (input, worst model delay s), slowest first
    writes: int
    heartbeats: int
    problems: list[str] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)  # the rehearsal's

    @property
    def ok(self) -> bool:
        return not self.problems

    def dead_of(self, item: str) -> int:
        """Dead letters of one input (a price symbol, venue or funding series)."""
        return sum(n for (_, _, i), n in self.dead.items() if i == item)

    @property
    def delay_s(self) -> float | None:
        """How much later the rehearsal's first fire came (its highest severity's)."""
        p, r = self.plain.first_fire_ms, self.rehearsed.first_fire_ms
        if p is None or r is None or self.plain.fired != self.rehearsed.fired:
            return None
        return (r - p) / 1000

    @property
    def slowest(self) -> tuple[str, float] | None:
        return self.needed[0] if self.needed else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "plain": self.plain.to_json(),
            "rehearsed": self.rehearsed.to_json(),
            "first_fire_delay_s": self.delay_s,
            "slowest_needed": (
                {"input": self.slowest[0], "max_delay_s": self.slowest[1]} if self.slowest else None
            ),
            "dead_letters": [
                {"feed": f, "reason": r, "input": i, "count": n}
                for (f, r, i), n in sorted(self.dead.items())
            ],
            "input_delays": [vars(d) for d in self.delays.values()],
            "writes": self.writes,
            "heartbeats": self.heartbeats,
            "ok": self.ok,
            "problems": self.problems,
            "alerts": [a.to_dict() for a in self.alerts],
        }


def compare(
    plain: DayOutcome, rehearsed: DayOutcome, slowest: tuple[str, float] | None
) -> list[str]:
    """Why a rehearsal is not the plain run under live timing (empty: it is)."""
    problems = []
    if rehearsed.fired != plain.fired:
        problems.append(f"fired {rehearsed.fired}, plain {plain.fired}")
    elif rehearsed.regime != plain.regime:
        problems.append(f"regime {rehearsed.regime}, plain {plain.regime}")
    elif plain.first_fire_ms is not None and rehearsed.first_fire_ms is not None:
        delay_s = (rehearsed.first_fire_ms - plain.first_fire_ms) / 1000
        bound = slowest[1] if slowest else 0.0
        if delay_s > bound:
            who = f"{slowest[0]}'s {bound:.0f} s" if slowest else "no delayed input"
            problems.append(f"first fire {delay_s:.0f} s later, beyond {who}")
    return problems


def rehearse_day(
    scenario: Scenario,
    settings: Settings,
    *,
    kafka: bool = False,
    seed: int = 22,
    worst: bool = False,
    progress: Callable[[int, int], None] | None = None,
    plain_kafka: bool | None = None,
) -> RehearsedDay:
    """The day plain and rehearsed, set against each other; the plain run in the same mode
    unless ``plain_kafka`` says otherwise."""
    plain_mode = kafka if plain_kafka is None else plain_kafka
    plain, plain_signals = run_day_signals(scenario, settings, plain_mode)
    arr = arrivals(scenario, settings, seed=seed, worst=worst)
    run = (
        rehearse_kafka(settings, scenario, arr, progress)
        if kafka
        else rehearse_offline(settings, arr)
    )
    rehearsed = outcome_of(scenario, run.alerts, run.signals, settings, run.mode)
    by_ts = {s.ts_ms: s for s in plain_signals}
    deciding = by_ts.get(plain.first_fire_ms) if plain.first_fire_ms is not None else None
    needed = needed_inputs(deciding, settings, arr, by_ts)
    return RehearsedDay(
        name=scenario.name,
        expected=plain.expected,
        plain=plain,
        rehearsed=rehearsed,
        dead=run.dead,
        delays=arr.delays,
        needed=needed,
        writes=len(arr.writes),
        heartbeats=sum(arr.heartbeats.values()),
        problems=compare(plain, rehearsed, needed[0] if needed else None),
        alerts=run.alerts,
    )


def rehearse_all(
    scenarios: Sequence[Scenario],
    settings: Settings,
    *,
    kafka: bool = False,
    seed: int = 22,
    worst: bool = False,
    progress: Callable[[RehearsedDay], None] | None = None,
) -> list[RehearsedDay]:
    days = []
    for scenario in scenarios:
        day = rehearse_day(scenario, settings, kafka=kafka, seed=seed, worst=worst)
        days.append(day)
        if progress is not None:
            progress(day)
    return days


# -- text --------------------------------------------------------------------------------------
SEV = {"none": "none", "warning": "warn", "critical": "crit"}
REGIME = {"plumbing": "plumb", "repricing": "repr", "mixed": "mixed", "calm": "calm"}
REGIME_CODE = {"plumbing": "pl", "repricing": "rp", "mixed": "mx", "calm": "ca"}


def fired_cell(o: DayOutcome) -> str:
    """``crit plumb 15:15``: severity, regime, first fire (UTC)."""
    if o.fired == "none":
        return "none"
    from shockwatch.runs.backtest import utc_hm

    regime = REGIME.get(o.regime or "-", o.regime or "-")
    return f"{SEV[o.fired]} {regime} {utc_hm(o.first_fire_ms)[6:]}"


def delay_cell(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:+.0f}m" if seconds % 60 == 0 else f"{seconds:+.0f}s"


def duration(seconds: float) -> str:
    """``30m``, ``10s``: a model delay, short."""
    return f"{seconds / 60:.0f}m" if seconds >= 60 else f"{seconds:.0f}s"


def table_rows(days: Iterable[RehearsedDay], wide: bool = False) -> list[list[str]]:
    """day, expected, plain, rehearsed, delay, slowest needed (worst delay), dead letters, ok;
    ``wide`` adds each dead-letter reason and input, and the problem."""
    rows = []
    for d in days:
        slow = d.slowest
        row = [
            d.name if wide else d.name[:18],
            short_expected(d.plain),
            fired_cell(d.plain),
            fired_cell(d.rehearsed),
            delay_cell(d.delay_s),
            f"{slow[0]} {duration(slow[1])}" if slow else "-",
            str(sum(d.dead.values())),
            "yes" if d.ok else "NO",
        ]
        if wide:
            row.append(dead_detail(d.dead))
            row.append("; ".join(d.problems))
        rows.append(row)
    return rows


HEADERS = ["day", "expected", "plain", "rehearsed", "delay", "slowest", "DLQ", "ok"]


def short_expected(o: DayOutcome) -> str:
    """``warn..crit pl|mx``: the expected severities and regimes, short."""
    text = o.expected.split(",")[0].replace(" (", " ").replace(")", "")
    for long, short in SEV.items():
        text = text.replace(long, short)
    for long, code in REGIME_CODE.items():
        text = text.replace(long, code)
    return text


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns as wide as their widest cell, two spaces apart (no wrapping, no truncation)."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def dead_detail(dead: dict[tuple[str, str, str], int]) -> str:
    """``late_event XAU 1498, late_event VIX 450``: dead letters by reason and input."""
    rows = sorted(dead.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{reason} {item} {n}" for (_, reason, item), n in rows) or "-"
