"""The live rehearsal's arrival model: a recorded day as the live producers would write it.

A scenario holds each record with its event time; live, a record reaches Kafka later, and the
feeds interleave in *arrival* order. ``arrivals`` turns a scenario into the Kafka writes the
live producers would make, each with its wall time (``Write.at_ms``) and its partition, in the
order they would make them, following the timing model (``streams.timing``) and the producers'
own sending rules:

* **prices**: a bar becomes readable its source's delay (typical, or with ``worst`` the
  documented worst) after its end; the price producer polls every ``cadence`` at
  ``POLL_OFFSET_S`` past the grid, sends every bar readable by then that it has not sent, and
  sorts each poll's bars by event time (``PriceProducer.poll_once``);
* **liquidations**: an event reaches the producer up to its venue's ``disorder_s`` after its
  event time (uniform, seeded), and passes the producer's reorder hold: the hold's own
  ``ReorderBuffer``, released on its 100 ms ticks (``ReorderingSink``);
* **funding**: an observation is sent at its source's first scheduled poll
  (``producers.funding.series.next_poll``) after its publication time plus the source's
  delay; what was readable before the producers start goes out at the start;
* **heartbeats**: per topic, the producers' own ``EventClock`` with the lag each producer runs
  it with (``producers.run.clock_lag_ms``), sent to every partition when the topic has been
  idle for ``heartbeat_s`` (``producers.watermark.heartbeat_due``), until every topic has beaten
  past the scenario's end plus the detector's allowed lateness.

Records keep their bytes and event times; keys go to partitions as Kafka's default
partitioner puts them (murmur2, ``partition_of``). The model composes the producers' sending
rules with the streams' contracts, so it sits in the roof and reuses the producers' code
(``EventClock``, ``ReorderBuffer``) instead of restating it. It is pure and deterministic: the
same scenario, settings and seed give the same writes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from common.settings import Settings
from producers.config import ProducerSettings
from producers.funding.series import FundingSource, next_poll
from producers.liquidations.order import ReorderBuffer
from producers.prices.producer import POLL_OFFSET_S
from producers.run import clock_lag_ms
from producers.watermark import EventClock, heartbeat_due, heartbeat_tick_s
from streams.records.inputs import heartbeat_messages
from streams.scenario import FEEDS, Parsed, Scenario, feed_topics, parse_feed
from streams.timing import TIMINGS, Hours, SourceTiming
from streams.topics import TopicNames, topic_specs

MIN_MS = 60_000
RELEASE_TICK_MS = 100  # the reorder hold's release loop (``ReorderingSink.tick_s``)
HEARTBEAT_SOURCE = {f: f"producer:{f}" for f in FEEDS}
# A producer that never beats past the end (a topic with a far-future record) gives up here.
MAX_TAIL_MS = 6 * 3600 * 1000


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java client,
    kafka-python and aiokafka compute it)."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Write:
    """One Kafka write: a record or (``heartbeat``) one partition's copy of a heartbeat."""

    at_ms: int  # when the producer sends it (simulated wall clock)
    feed: str  # "prices", "liquidations" or "funding"
    partition: int
    key: bytes
    value: bytes
    ts_ms: int  # its event time; a heartbeat's watermark
    item: str = ""  # the input it carries: price symbol, liquidation venue, funding series
    heartbeat: bool = False


@dataclass(frozen=True, slots=True)
class Send:
    """A record as its producer sends it, before it is given a partition."""

    at_ms: int
    ts_ms: int
    item: str
    key: str
    raw: bytes
    source: str | None = None  # the record's source, where an item has several (funding)


@dataclass
class InputDelay:
    """What the model did to one input (a symbol, venue or funding series) over the day."""

    feed: str
    item: str
    source: str
    delay_s: float  # the timing model's typical delay
    max_delay_s: float  # its documented worst case
    records: int = 0
    lag_min_s: float | None = None  # arrival minus the record's end (prices) or event time
    lag_max_s: float | None = None

    def saw(self, lag_ms: int | None) -> None:
        """One record sent ``lag_ms`` after its end (None: the backlog at the start)."""
        self.records += 1
        if lag_ms is None:
            return
        lag = lag_ms / 1000
        self.lag_min_s = lag if self.lag_min_s is None else min(self.lag_min_s, lag)
        self.lag_max_s = lag if self.lag_max_s is None else max(self.lag_max_s, lag)


@dataclass
class Arrivals:
    writes: list[Write]
    delays: dict[str, InputDelay]  # item -> what the model applied
    start_ms: int  # when the simulated producers start
    heartbeats: dict[str, int] = field(default_factory=dict)  # feed -> heartbeat messages


def timing_for(
    feed: str, item: str, timings: tuple[SourceTiming, ...] = TIMINGS, source: str | None = None
) -> SourceTiming:
    """The source of ``item`` in ``feed`` (the one named ``source`` first, when it lists the
    item); an item the model does not list arrives on time."""
    listed = [t for t in timings if t.feed == feed and item in t.items]
    for t in listed:
        if source is None or t.source == source:
            return t
    if listed:
        return listed[0]
    return SourceTiming(feed, "unlisted", (item,), 0.0, 0.0, 60.0, 0.0, Hours.ALWAYS, "-")


def next_grid(t_ms: int, cadence_ms: int, offset_ms: int = 0) -> int:
    """The first ``k * cadence + offset`` at or after ``t_ms``."""
    k = -((offset_ms - t_ms) // cadence_ms)  # ceil((t - offset) / cadence)
    return k * cadence_ms + offset_ms


# -- prices ------------------------------------------------------------------------------------
def price_sends(
    bars: Iterable[Parsed],
    start_ms: int,
    timings: tuple[SourceTiming, ...] = TIMINGS,
    *,
    worst: bool = False,
) -> list[Send]:
    """When the price producer sends each bar: at the first poll (every source's cadence, at
    ``POLL_OFFSET_S`` past the grid) by which the bar's end plus its source's delay (typical,
    or ``worst``) has passed, each poll's bars in event-time order across symbols. (The
    producer polls an instrument in its hours and its delay past them: every recorded bar.)"""
    queues: dict[SourceTiming, list[Parsed]] = {}  # source -> its bars
    for parsed in bars:
        queues.setdefault(timing_for("prices", parsed.record.symbol, timings), []).append(parsed)
    sends: list[Send] = []
    for t in sorted(queues, key=lambda t: (t.source, t.items)):
        queue = sorted(queues[t], key=lambda p: (p.record.ts_ms, p.record.symbol))
        cadence_ms = int(t.cadence_s * 1000)
        poll = next_grid(start_ms, cadence_ms, int(POLL_OFFSET_S * 1000))
        delay_ms = int((t.max_delay_s if worst else t.delay_s) * 1000)
        i = 0
        while i < len(queue):
            readable_by = poll - delay_ms
            while i < len(queue) and queue[i].record.ts_ms <= readable_by:  # ts_ms: bar's end
                r = queue[i].record
                sends.append(Send(poll, r.ts_ms, r.symbol, queue[i].key, queue[i].raw))
                i += 1
            poll += cadence_ms
    sends.sort(key=lambda s: (s.at_ms, s.ts_ms, s.item))  # one poll: event-time order
    return sends


# -- liquidations ------------------------------------------------------------------------------
def liquidation_sends(
    events: Iterable[Parsed],
    hold_ms: int,
    timings: tuple[SourceTiming, ...] = TIMINGS,
    *,
    seed: int = 0,
) -> list[Send]:
    """When the liquidation producer sends each event: it reaches the producer up to its
    venue's ``disorder_s`` after its event time (uniform, seeded), and the reorder hold
    releases it on the first of its 100 ms ticks at which it is in and ``hold_ms`` old (the
    hold's own buffer, so events released together go out in event-time order). ``hold_ms``
    0: sent on arrival, in arrival order."""
    rng = random.Random(seed)
    arrivals: list[tuple[int, int, Parsed]] = []
    for n, parsed in enumerate(events):
        r = parsed.record
        t = timing_for("liquidations", r.exchange, timings)
        arrivals.append((r.ts_ms + int(rng.uniform(0.0, t.disorder_s) * 1000), n, parsed))
    arrivals.sort(key=lambda a: (a[0], a[1]))
    if hold_ms <= 0:
        return [_liq_send(at, p) for at, _, p in arrivals]
    ticks = sorted(
        {next_grid(max(at, p.record.ts_ms + hold_ms), RELEASE_TICK_MS) for at, _, p in arrivals}
    )
    buffer = ReorderBuffer(hold_ms)
    sends: list[Send] = []
    i = 0
    for tick in ticks:
        while i < len(arrivals) and arrivals[i][0] <= tick:
            buffer.push(arrivals[i][2].record.ts_ms, arrivals[i][2])
            i += 1
        sends.extend(_liq_send(tick, p) for p in buffer.due(tick))
    return sends


def _liq_send(at_ms: int, parsed: Parsed) -> Send:
    r = parsed.record
    return Send(at_ms, r.ts_ms, r.exchange, parsed.key, parsed.raw)


# -- funding -----------------------------------------------------------------------------------
def funding_sends(
    observations: Iterable[Parsed],
    start_ms: int,
    timings: tuple[SourceTiming, ...] = TIMINGS,
    *,
    worst: bool = False,
) -> list[Send]:
    """When the funding producer sends each observation: at its source's first scheduled poll
    (``series.next_poll``) after its publication time plus the source's delay (typical, or
    ``worst``); what was readable before the producers start, at the start."""
    sends: list[Send] = []
    for parsed in observations:
        r = parsed.record
        t = timing_for("funding", r.series, timings, r.source)
        known = r.ts_ms + int((t.max_delay_s if worst else t.delay_s) * 1000)
        at = start_ms if known <= start_ms else _next_funding_poll(r.source, known)
        sends.append(Send(at, r.ts_ms, r.series, parsed.key, parsed.raw, r.source))
    sends.sort(key=lambda s: (s.at_ms, s.ts_ms))
    return sends


def _next_funding_poll(source: str, known_ms: int) -> int:
    try:
        which = FundingSource(source)
    except ValueError:  # a source without a schedule: read as soon as it is public
        return known_ms
    when = next_poll(which, datetime.fromtimestamp((known_ms - 1) / 1000, UTC))
    return int(when.timestamp() * 1000)


# -- heartbeats --------------------------------------------------------------------------------
class _SimClock:
    """The simulated wall clock the producers' ``EventClock`` reads."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def mono(self) -> float:
        return self.now_ms / 1000

    def wall(self) -> int:
        return self.now_ms


def heartbeats(
    sends: list[Send], start_ms: int, until_ms: int, lag_ms: int, heartbeat_s: float
) -> list[tuple[int, int]]:
    """(sent at, watermark) of each heartbeat one producer's sink sends on its topic, given its
    records' sends: the sink's own ``EventClock`` on a simulated clock, checked every
    ``heartbeat_tick_s`` from ``start_ms`` and sent when the topic has been idle
    ``heartbeat_s`` (a watermark not past the last one is not sent), until one reaches
    ``until_ms`` after the last record."""
    sim = _SimClock(start_ms)
    clock = EventClock(lag_ms, wall_clock_start=True, monotonic=sim.mono, wall_ms=sim.wall)
    tick_ms = int(heartbeat_tick_s(heartbeat_s) * 1000)
    out: list[tuple[int, int]] = []
    last_send = start_ms
    tick = start_ms + tick_ms
    i = 0
    while True:
        while i < len(sends) and sends[i].at_ms <= tick:  # a tick sees the sends before it
            sim.now_ms = sends[i].at_ms
            clock.observe(sends[i].ts_ms)
            last_send = sends[i].at_ms
            i += 1
        sim.now_ms = tick
        if heartbeat_due(tick / 1000, last_send / 1000, heartbeat_s):
            wm = clock.watermark()
            if wm is not None:
                clock.mark(wm)
                out.append((tick, wm))
                last_send = tick
        done = i == len(sends)
        if done and (clock.last or -1) >= until_ms:
            return out
        if done and tick > max(until_ms, sends[-1].at_ms if sends else start_ms) + MAX_TAIL_MS:
            return out
        # Skip the ticks that cannot send: none is due before ``last_send + heartbeat_s``.
        due = last_send + int(heartbeat_s * 1000)
        tick = max(tick + tick_ms, tick + -(-(due - tick) // tick_ms) * tick_ms)


# -- the day -----------------------------------------------------------------------------------
def _records(scenario: Scenario, feed: str) -> list[Parsed]:
    return [p for _, p, _ in parse_feed(scenario, feed, scenario.end_ms) if isinstance(p, Parsed)]


def _partitions(settings: Settings) -> dict[str, int]:
    """Each feed's partition count, as the contract creates its topic (``topic_specs``)."""
    names = TopicNames("")
    count = {spec.name: spec.partitions for spec in topic_specs(settings, prefix="")}
    return {feed: count[topic] for feed, topic in feed_topics(names).items()}


def arrivals(
    scenario: Scenario,
    settings: Settings,
    ps: ProducerSettings | None = None,
    timings: tuple[SourceTiming, ...] = TIMINGS,
    *,
    seed: int = 22,
    worst: bool = False,
) -> Arrivals:
    """The day's Kafka writes in the order the live producers would make them (module
    docstring). ``worst``: every price and funding source at its documented worst delay."""
    ps = ps or ProducerSettings()
    records = {feed: _records(scenario, feed) for feed in FEEDS}
    firsts = [records[f][0].record.ts_ms for f in ("prices", "liquidations") if records[f]]
    start_ms = (min(firsts, default=scenario.start_ms) // MIN_MS) * MIN_MS
    sends = {
        "prices": price_sends(records["prices"], start_ms, timings, worst=worst),
        "liquidations": liquidation_sends(
            records["liquidations"], ps.liquidation_reorder_ms, timings, seed=seed
        ),
        "funding": funding_sends(records["funding"], start_ms, timings, worst=worst),
    }  # fmt: skip
    until_ms = scenario.end_ms + settings.detection.alerts.allowed_lateness_s * 1000
    parts = _partitions(settings)
    streams: list[list[Write]] = []
    counts: dict[str, int] = {}
    for feed in FEEDS:
        beats = heartbeats(sends[feed], start_ms, until_ms, clock_lag_ms(ps, feed), ps.heartbeat_s)
        counts[feed] = len(beats) * parts[feed]
        streams.append(list(_topic_writes(feed, sends[feed], beats, parts[feed])))
    writes = list(heapq.merge(*streams, key=lambda w: w.at_ms))
    return Arrivals(writes, applied_delays(sends, start_ms, timings), start_ms, counts)


def _topic_writes(
    feed: str, sends: list[Send], beats: list[tuple[int, int]], partitions: int
) -> Iterator[Write]:
    """One topic's writes in its producer's order: records and heartbeats by send time (a
    record sent at a heartbeat's instant goes first: the sink's loop saw it)."""
    i = 0
    for at, wm in beats:
        while i < len(sends) and sends[i].at_ms <= at:
            yield _record_write(feed, sends[i], partitions)
            i += 1
        for p, key, value in heartbeat_messages(wm, HEARTBEAT_SOURCE[feed], range(partitions)):
            yield Write(at, feed, p, key, value, wm, heartbeat=True)
    for send in sends[i:]:
        yield _record_write(feed, send, partitions)


def _record_write(feed: str, send: Send, partitions: int) -> Write:
    key = send.key.encode()
    return Write(send.at_ms, feed, partition_of(key, partitions), key, send.raw, send.ts_ms,
                 send.item)  # fmt: skip


def applied_delays(
    sends: dict[str, list[Send]], start_ms: int, timings: tuple[SourceTiming, ...] = TIMINGS
) -> dict[str, InputDelay]:
    """Per input: its source's model delays and the lags the model gave its records (prices
    from the bar's end, the rest from the event or publication time; not the backlog sent as
    the producers start)."""
    out: dict[str, InputDelay] = {}
    for feed, feed_sends in sends.items():
        for s in feed_sends:
            d = out.get(s.item)
            if d is None:
                t = timing_for(feed, s.item, timings, s.source)
                d = out[s.item] = InputDelay(feed, s.item, t.source, t.delay_s, t.max_delay_s)
            d.saw(s.at_ms - s.ts_ms if s.ts_ms >= start_ms else None)  # a bar's ts_ms: its end
    return out


def sealed_too_soon(
    writes: list[Write],
    lateness_ms: int,
    as_of: Iterable[str] = (),
    feeds: Iterable[str] = ("prices", "liquidations"),
) -> list[tuple[Write, Write]]:
    """(heartbeat, record) pairs where a heartbeat on a partition of ``feeds`` sealed the
    minute of a record still to be sent there (the worker would find it late). Inputs in
    ``as_of`` are expected to, as funding is: they are joined as of their latest value
    (funding as of its publication time), never late."""
    skip, checked = set(as_of), set(feeds)
    out: list[tuple[Write, Write]] = []
    lowest: dict[tuple[str, int], Write] = {}  # the lowest record still to come, per partition
    for w in reversed(writes):
        if w.feed not in checked:
            continue
        tp = (w.feed, w.partition)
        if w.heartbeat:
            low = lowest.get(tp)
            if low is not None and (w.ts_ms - lateness_ms) // MIN_MS > low.ts_ms // MIN_MS:
                out.append((w, low))
        elif w.item not in skip and (tp not in lowest or w.ts_ms < lowest[tp].ts_ms):
            lowest[tp] = w
    return out


__all__ = [
    "Arrivals",
    "InputDelay",
    "Write",
    "arrivals",
    "funding_sends",
    "heartbeats",
    "liquidation_sends",
    "partition_of",
    "price_sends",
    "sealed_too_soon",
]
