"""Properties of the worker's path (streams/worker/runtime.py, ``DetectorRuntime.process``): it
never raises; each bad item is exactly one dead letter; late items come back as
``late_event``; re-delivered offsets are skipped; the wire fast path changes nothing it does."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from common.settings import Settings
from streams.app import DetectorRuntime
from streams.detection.shard import AS_OF
from streams.records import REJECT_REASONS
from tests.strategies import (
    FAST,
    MIN,
    NAMES,
    NOW,
    QUICK,
    RT_SETTINGS,
    SERIES,
    SYMBOLS,
    T0,
    fund_doc,
    hb_doc,
    liq_doc,
    price_doc,
)

EVENT_IDS = itertools.count()
FEED_TOPIC = {"prices": NAMES.prices, "liquidations": NAMES.liquidations, "funding": NAMES.funding}


@st.composite
def good_events(draw: st.DrawFn, span_min: int = 30) -> tuple[str, dict[str, Any]]:
    """One valid event (feed, document) in [T0, T0 + span_min minutes)."""
    feed = draw(st.sampled_from(["prices", "prices", "liquidations", "funding", "heartbeat"]))
    ts = T0 + draw(st.integers(0, span_min * MIN - 1))
    if feed == "prices":
        symbol = draw(st.sampled_from(sorted(SYMBOLS)))
        return feed, price_doc(ts, symbol, draw(st.floats(50.0, 200.0)))
    if feed == "liquidations":
        venue = draw(st.sampled_from(["binanceusdm", "bybit", "okx"]))
        notional = draw(st.floats(1_000.0, 5e8))
        # distinct events get distinct ids (the worker drops a repeated one: tested apart)
        return feed, liq_doc(ts, venue, draw(st.booleans()), notional, next(EVENT_IDS))
    if feed == "funding":
        series = draw(st.sampled_from(sorted(SERIES)))
        return feed, fund_doc(ts, series, draw(st.integers(1, 3)), draw(st.floats(0.0, 5000.0)))
    return draw(st.sampled_from(["prices", "liquidations", "funding"])), hb_doc(ts)


# A bad item and the reason it must get (None: any reason of the closed set).
BAD_FIELDS: dict[str, list[tuple[Any, str]]] = {
    "ts_ms": [
        (1_762_268_460, "invalid_value"),  # seconds
        (-5, "invalid_value"),
        ("1762268460000", "wrong_type"),
        (1.7e12, "wrong_type"),
        (True, "wrong_type"),
        (None, "missing_field"),
        (int(time.time() * 1000) + 10 * 24 * 3600 * 1000, "far_future"),
    ],
    "schema_version": [(2, "invalid_value"), ("1", "wrong_type")],
    "source": [("", "invalid_value"), (7, "wrong_type")],
    "price_usd": [(-1.0, "invalid_value"), (0, "invalid_value"), ("100", "wrong_type")],
    "symbol": [([], "wrong_type"), ("", "invalid_value")],
    "asset_class": [("bond", "invalid_value")],
    "notional_usd": [(-5e6, "invalid_value"), ({}, "wrong_type")],
    "side_liquidated": [("up", "invalid_value")],
    "lower_bound": [("false", "wrong_type")],
    "value": [(-0.5, "invalid_value"), ("4.1", "wrong_type")],
    "observation_date": [("2025-13-01", "invalid_value"), ("20251104", "invalid_value")],
    "unit": [("bp", "invalid_value")],
    "kind": [("snapshot", "unknown_kind"), (3, "unknown_kind")],
}
FIELDS_OF = {
    "prices": ["ts_ms", "schema_version", "source", "price_usd", "symbol", "asset_class", "kind"],
    "liquidations": ["ts_ms", "source", "notional_usd", "side_liquidated", "lower_bound", "kind"],
    "funding": ["ts_ms", "schema_version", "value", "observation_date", "unit", "kind"],
}


def _not_a_frame(raw: bytes) -> bool:
    """Random bytes that are one bad message: not JSON at all, or JSON but not an array."""
    try:
        return not isinstance(orjson.loads(raw), list)
    except orjson.JSONDecodeError:
        return True


@st.composite
def bad_items(draw: st.DrawFn, feed: str) -> tuple[Any, str | None]:
    """(JSON-able document or raw bytes, expected reason or None)."""
    how = draw(st.sampled_from(["field", "field", "missing", "bytes", "scalar", "nan"]))
    ts = T0 + draw(st.integers(0, 30 * MIN))
    base = {
        "prices": price_doc(ts, "SPX", 100.0),
        "liquidations": liq_doc(ts, "okx", True, 1e6, 1),
        "funding": fund_doc(ts, "SOFR", 3, 4.0),
    }[feed]
    if how == "field":
        name = draw(st.sampled_from(FIELDS_OF[feed]))
        value, reason = draw(st.sampled_from(BAD_FIELDS[name]))
        return {**base, name: value}, reason
    if how == "missing":
        name = draw(st.sampled_from(sorted(base)))
        return {k: v for k, v in base.items() if k != name}, "missing_field"
    if how == "bytes":
        return draw(st.binary(max_size=40).filter(_not_a_frame)), None  # b"{}": missing_field
    if how == "scalar":
        scalar = st.one_of(
            st.integers(-(2**63), 2**63 - 1), st.text(max_size=8), st.none(), st.booleans()
        )
        return draw(scalar), "malformed"
    # NaN through a lenient encoder: orjson refuses the literal, so the message is malformed.
    name = {"prices": "price_usd", "liquidations": "qty_base", "funding": "value"}[feed]
    return json.dumps({**base, name: float("nan")}).encode(), "malformed"


@dataclass
class Item:
    doc: Any  # a JSON document, or raw bytes for an unparseable item
    good: bool
    reason: str | None = None  # expected reason of a bad item (None: any)
    minute: int | None = None  # event minute of a good price/liquidation (can be late)

    def raw(self) -> bytes:
        return self.doc if isinstance(self.doc, bytes) else orjson.dumps(self.doc)


@dataclass
class Message:
    feed: str
    partition: int
    items: list[Item]
    offset: int = -1

    @property
    def topic(self) -> str:
        return FEED_TOPIC[self.feed]

    def value(self) -> bytes:
        if len(self.items) == 1:
            return self.items[0].raw()
        return b"[" + b",".join(i.raw() for i in self.items) + b"]"

    def order_ts(self) -> int:
        stamps = [i.doc["ts_ms"] for i in self.items if i.good]
        return max(stamps) if stamps else -1

    def tuple(self) -> tuple[str, int, int, bytes | None, bytes]:
        return (
            self.topic,
            self.partition,
            self.offset,
            f"k{self.partition}".encode(),
            self.value(),
        )


@dataclass
class Stream:
    batches: list[list[Message]] = field(default_factory=list)

    @property
    def messages(self) -> list[Message]:
        return [m for b in self.batches for m in b]


def good_item(doc: dict[str, Any]) -> Item:
    tickable = "kind" not in doc and ("price_usd" in doc)
    return Item(doc, True, minute=doc["ts_ms"] // MIN if tickable else None)


@st.composite
def mixed_streams(draw: st.DrawFn) -> Stream:
    """Good events on two partitions per input topic (each partition mostly in event-time
    order, a few events delayed), bad items anywhere, some frames mixing both, random
    interleaving of partitions and random batch boundaries."""
    goods = draw(st.lists(good_events(), min_size=1, max_size=40))
    queues: dict[tuple[str, int], list[Message]] = {}
    for feed, doc in goods:
        part = draw(st.integers(0, 1))
        queues.setdefault((feed, part), []).append(Message(feed, part, [good_item(doc)]))
    for key, queue in queues.items():
        queue.sort(key=Message.order_ts)
        # Delay a few events: they arrive after newer ones (out of event-time order).
        for _ in range(draw(st.integers(0, 2))):
            i = draw(st.integers(0, len(queue) - 1))
            queue.append(queue.pop(i))
        queues[key] = queue
    rnd = draw(st.randoms(use_true_random=False))
    merged: list[Message] = []
    while any(queues.values()):
        key = rnd.choice(sorted(k for k, q in queues.items() if q))
        merged.append(queues[key].pop(0))
    # Bad items: single messages, or folded into a frame with good items of the same topic.
    for _ in range(draw(st.integers(0, 12))):
        feed = draw(st.sampled_from(["prices", "liquidations", "funding"]))
        doc, reason = draw(bad_items(feed))
        bad = Item(doc, False, reason)
        # Raw (non-JSON) bytes are a message of their own: they cannot sit inside a frame.
        same = [
            m
            for m in merged
            if m.feed == feed
            and not isinstance(doc, bytes)
            and not any(isinstance(i.doc, bytes) for i in m.items)
        ]
        if same and draw(st.booleans()):
            host = draw(st.sampled_from(same))
            host.items.insert(draw(st.integers(0, len(host.items))), bad)
        else:
            at = draw(st.integers(0, len(merged)))
            merged.insert(at, Message(feed, draw(st.integers(0, 1)), [bad]))
    # The oldest tickable event first: before any tick has run, nothing older may arrive (the
    # detector's cold-start rule; test_detector_properties.py,
    # test_fixed_bug_late_before_any_tick_depends_on_batching).
    tickable = [m for m in merged if any(i.minute is not None for i in m.items)]
    if tickable:
        oldest = min(
            tickable,
            key=lambda m: min(i.doc["ts_ms"] for i in m.items if i.minute is not None),
        )
        merged.remove(oldest)
        merged.insert(0, oldest)
    # Sometimes a wave of heartbeats to every partition mid-stream: ticks close, and whatever
    # older still follows is late.
    if merged and draw(st.booleans()):
        ts = T0 + draw(st.integers(2 * MIN, 31 * MIN))
        wave = [
            Message(feed, part, [Item(hb_doc(ts), True)])
            for feed in ("prices", "liquidations", "funding")
            for part in (0, 1)
        ]
        at = draw(st.integers(1, len(merged)))
        merged[at:at] = wave
        forced = [at + len(wave)]  # the wave ends a batch: its ticks run before what follows
    else:
        forced = []
    offsets: Counter[tuple[str, int]] = Counter()
    for m in merged:
        m.offset = offsets[(m.topic, m.partition)]
        offsets[(m.topic, m.partition)] += 1
    cuts = draw(st.lists(st.integers(1, max(1, len(merged) - 1)), max_size=8))
    cuts = sorted({*cuts, *forced} - {len(merged)})
    bounds = [0, *cuts, len(merged)]
    return Stream([merged[a:b] for a, b in pairwise(bounds) if b > a])


LATENESS_MS = Settings().detection.alerts.allowed_lateness_s * 1000


def late_items(
    msgs: list[tuple[str, int, Item]], newest: dict[tuple[str, int], int], last_closed: int | None
) -> list[Item]:
    """The lateness rule, modelled: a good item is late when its own partition's newest event
    time (``newest``, updated as items arrive) is past its minute's end plus the allowed
    lateness, or when a tick already closed its minute."""
    late = []
    for topic, partition, item in msgs:
        if not item.good:
            continue
        key = (topic, partition)
        if item.minute is not None and item.doc.get("symbol") in AS_OF:
            # An as-of input's bar behind the sealed minutes is filed into the open minute:
            # never late, and it does not move its partition.
            sealed_before = (newest.get(key, -1) - LATENESS_MS) // MIN
            closed = last_closed is not None and item.minute <= last_closed
            if item.minute < sealed_before or closed:
                continue
        newest[key] = max(newest.get(key, -1), item.doc["ts_ms"])
        if item.minute is None:
            continue
        sealed_before = (newest[key] - LATENESS_MS) // MIN
        if item.minute < sealed_before or (last_closed is not None and item.minute <= last_closed):
            late.append(item)
    return late


def check_batch(
    batch: list[Message], res: Any, last_closed: int | None, newest: dict[tuple[str, int], int]
) -> None:
    """The batch's result against the model: bad items and late items are dead letters."""
    bad = [i for m in batch for i in m.items if not i.good]
    late = late_items([(m.topic, m.partition, i) for m in batch for i in m.items], newest,
                      last_closed)  # fmt: skip
    good = [i for m in batch for i in m.items if i.good]
    reasons = Counter(letter.reason for _, _, letter in res.dead)
    assert res.skipped == 0
    assert len(res.dead) == len(bad) + len(late), (reasons, len(bad), len(late))
    assert res.processed == len(good) - len(late)
    assert reasons["late_event"] == len(late)
    expected = Counter(i.reason for i in bad if i.reason is not None)
    for reason, n in expected.items():
        assert reasons[reason] >= n, (reason, reasons, expected)
    assert sum(res.stats.rejects.values()) == len(res.dead)  # every reject is counted
    event(f"batch with late items: {bool(late)}")
    event(f"batch with a frame: {any(len(m.items) > 1 for m in batch)}")
    by_position = {(m.topic, m.partition, m.offset): m for m in batch}
    for dlq, key, letter in res.dead:
        assert letter.reason in REJECT_REASONS
        assert letter.error_field
        assert dlq == f"{letter.source_topic}.dlq"
        msg = by_position[(letter.source_topic, letter.partition, letter.offset)]
        assert key == f"k{msg.partition}".encode()
        raw = base64.b64decode(letter.value_b64)
        if len(msg.items) == 1:
            # A message starting with "[" counts as a frame even when it is not JSON at all.
            assert letter.frame_index == (0 if msg.value()[:1] == b"[" else None)
            assert raw == msg.value()
        else:
            item = msg.items[letter.frame_index]
            # A JSON null item is kept as the whole frame (``item is None`` in process()).
            whole = item.doc is None and raw == msg.value()
            assert whole or orjson.loads(raw) == orjson.loads(item.raw())


@settings(FAST, max_examples=200)
@given(stream=mixed_streams())
def test_runtime_dead_letters_every_bad_item_once_and_skips_replays(stream: Stream) -> None:
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    last_closed: int | None = None
    newest: dict[tuple[str, int], int] = {}
    for batch in stream.batches:
        res = rt.process([m.tuple() for m in batch])
        check_batch(batch, res, last_closed, newest)
        if res.outputs:
            last_closed = res.outputs[-1].signal.ts_ms // MIN - 1
            event("ticks ran")
        for out in res.outputs:
            assert out.signal.encode()  # a signal always encodes (no NaN/inf surprises)
            assert 0.0 <= out.signal.score <= 100.0
    # The same messages again (a restart re-reading from the committed offsets): all skipped.
    again = rt.process([m.tuple() for m in stream.messages])
    assert again.skipped == len(stream.messages)
    assert (again.processed, again.dead, again.outputs) == (0, [], [])


def framed(stream: Stream) -> Stream:
    """The same items with each run of messages of one partition (within a batch) folded into
    one frame, as a source that batches sends them; unparseable raw items stay on their own."""
    out = Stream()
    offsets: Counter[tuple[str, int]] = Counter()
    for batch in stream.batches:
        msgs: list[Message] = []
        for m in batch:
            prev = msgs[-1] if msgs else None
            if (
                prev is not None
                and (prev.feed, prev.partition) == (m.feed, m.partition)
                and not any(isinstance(i.doc, bytes) for i in [*prev.items, *m.items])
            ):
                prev.items = [*prev.items, *m.items]
            else:
                msgs.append(Message(m.feed, m.partition, list(m.items)))
        for m in msgs:
            m.offset = offsets[(m.topic, m.partition)]
            offsets[(m.topic, m.partition)] += 1
        out.batches.append(msgs)
    return out


@settings(FAST, max_examples=150)
@given(stream=mixed_streams())
def test_the_wire_fast_path_changes_nothing_the_worker_does(stream: Stream) -> None:
    """The same streams (as they come and framed) through the worker with and without the
    wire fast path: the same dead letters (late events inside frames included), counts,
    signals, alerts and detector state."""
    import streams.worker.runtime as runtime_module  # where the worker looks wire_items up

    for case in (stream, framed(stream)):
        results = []
        for fast in (True, False):
            rt = DetectorRuntime(RT_SETTINGS, NAMES)
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(time, "time", lambda: NOW / 1000)  # the dead letters' stamps
                if not fast:
                    mp.setattr(runtime_module, "wire_items", lambda *a: None)
                runs = [rt.process([m.tuple() for m in batch]) for batch in case.batches]
            results.append((
                [(r.processed, r.skipped, r.dead, [o.signal for o in r.outputs],
                  [o.alerts for o in r.outputs], r.stats) for r in runs],
                rt.detector.snapshot(),
            ))  # fmt: skip
        assert results[0] == results[1]
        letters = [letter for run in results[0][0] for _, _, letter in run[2]]
        late = [x for x in letters if x.reason == "late_event" and x.frame_index is not None]
        event(f"late in a frame: {bool(late)}")


@st.composite
def late_streams(draw: st.DrawFn) -> tuple[list[Item], int]:
    """After a warm-up that closed ticks up to minute 10, events of any minute 0..20."""
    items = []
    for _ in range(draw(st.integers(1, 25))):
        feed, doc = draw(good_events(span_min=20))
        if "kind" not in doc and feed == "funding":
            items.append(Item(doc, True))
        else:
            items.append(good_item(doc) if "kind" not in doc else Item(doc, True))
    return items, draw(st.integers(1, 4))


@QUICK
@given(case=late_streams())
def test_events_behind_closed_minutes_are_late_event_dead_letters(
    case: tuple[list[Item], int],
) -> None:
    items, per_batch = case
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    warm = [price_doc(T0 + m * MIN, "SPX", 100.0 + m) for m in range(11)]
    warm.append(hb_doc(T0 + 11 * MIN + 5_000))
    res = rt.process([(NAMES.prices, 9, i, b"SPX", orjson.dumps(d)) for i, d in enumerate(warm)])
    assert res.outputs and res.dead == []
    last_closed = res.outputs[-1].signal.ts_ms // MIN - 1
    assert last_closed == T0 // MIN + 10
    topic_of = {"notional_usd": NAMES.liquidations, "price_usd": NAMES.prices}
    offset: Counter[str] = Counter()
    newest: dict[tuple[str, int], int] = {}
    for start in range(0, len(items), per_batch):
        chunk = items[start : start + per_batch]
        msgs = []
        for item in chunk:
            doc = item.doc
            topic = next((t for k, t in topic_of.items() if k in doc), None)
            topic = topic or (NAMES.funding if "series" in doc else NAMES.prices)
            msgs.append((topic, 0, offset[topic], None, orjson.dumps(doc)))
            offset[topic] += 1
        # All on one partition each but in arbitrary event-time order: lateness is judged per
        # item against its partition's sealed minutes and the last closed tick, nothing else.
        res = rt.process(msgs)
        late = late_items([(t, 0, i) for (t, *_), i in zip(msgs, chunk, strict=True)], newest,
                          last_closed)  # fmt: skip
        assert Counter(le.reason for _, _, le in res.dead) == Counter({"late_event": len(late)})
        assert res.processed == len(chunk) - len(late)
        if res.outputs:
            last_closed = res.outputs[-1].signal.ts_ms // MIN - 1


# ---------------------------------------------------------------------------------------------
# Bugs these properties found (fixed ones stay as regression tests)


def test_fixed_bug_huge_notional_crashes_the_worker() -> None:
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    doc = liq_doc(T0, "okx", True, 1e307, 1)
    res = rt.process([(NAMES.liquidations, 0, 0, None, orjson.dumps(doc))])
    assert [d.reason for _, _, d in res.dead] == ["invalid_value"]  # dead-lettered, no crash
