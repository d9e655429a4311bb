"""Property-based tests: malformed, truncated, wrong-typed, NaN/inf/negative, huge, far-future and
out-of-order input never crashes anything; it is accepted, or rejected by the named rule.

* The codec (``decode``/``decode_frame``/``from_obj``): a valid record or ``Heartbeat``, or a
  ``RecordError`` whose ``reason`` is in ``REJECT_REASONS`` and whose ``field`` is named.
* The worker's path (``DetectorRuntime.process``): never raises; each bad item is exactly one
  dead letter; late items come back as ``late_event``; re-delivered offsets are skipped; the
  outputs for a fixed set of good events do not depend on arrival order within a minute or on
  how partitions interleave.
* The producers' normalisers: a venue push or a provider document never raises anything but
  the module's reject path (``RecordError`` / ``Parsed.rejects``).

Known bugs in code this file does not own are pinned by ``xfail(strict=True)`` regression tests
at the end (each names the file, the input and the fix). The properties keep testing everything
else: the producers' properties skip exactly those inputs with a named predicate
(``known_bug_*``); the worker-path streams keep good values in realistic ranges (no 1e307 USD
notional) and put the oldest event first (the detector's cold-start rule). When a fix lands, the
regression test XPASSes (a failure, as strict): remove its marker and widen the property.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from common.settings import AlertSettings, DetectionSettings, Settings
from producers.funding import parse as fparse
from producers.liquidations import binance, bybit
from producers.liquidations.feed import ADAPTERS, VenueFeed
from producers.liquidations.markets import MarketIndex, load_snapshot
from producers.liquidations.normalise import normalise
from producers.liquidations.venues import VENUES, Venue
from producers.metrics import create_metrics
from streams.app import DetectorRuntime
from streams.detection.shard import AS_OF
from streams.records import (
    MIN_TS_MS,
    REJECT_REASONS,
    FundingObservation,
    Heartbeat,
    Liquidation,
    PriceTick,
    RecordError,
    decode,
    decode_frame,
    from_obj,
)
from streams.topics import TopicNames
from tests.unit.test_records import FUND, LIQ
from tests.unit.test_records import PRICE as RECORDS_PRICE

# Deterministic in CI (no flaky red builds); exploring with fresh seeds on developers' machines.
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
QUICK = settings(FAST, max_examples=120)
SLOW = settings(FAST, max_examples=25)

NOW = 1_762_300_000_000  # 2025-11-04 23:46 UTC: the codec's "now" for decoder tests
EVENT_IDS = itertools.count()
T0 = 1_762_268_400_000  # 2025-11-04 15:00 UTC: start of the worker-path event streams
MIN = 60_000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
NAMES = TopicNames("p.")
# These properties model lateness and rejects over arbitrarily ordered streams, where jumps of
# many minutes are the norm: the hold of far-ahead records (``max_jump_s``) is tested apart.
RT_SETTINGS = Settings(detection=DetectionSettings(alerts=AlertSettings(max_jump_s=10**8)))
FEED_TOPIC = {"prices": NAMES.prices, "liquidations": NAMES.liquidations, "funding": NAMES.funding}

PRICE: dict[str, Any] = {**RECORDS_PRICE, "volume": 1234.0}  # every optional field present
HEARTBEAT: dict[str, Any] = {
    "kind": "heartbeat",
    "schema_version": 1,
    "ts_ms": 1_762_268_460_000,
    "source": "t",
}
VALID: dict[type, dict[str, Any]] = {PriceTick: PRICE, Liquidation: LIQ, FundingObservation: FUND}
RECORD_TYPES = (PriceTick, Liquidation, FundingObservation)
OPTIONAL = {
    PriceTick: {"interval_s", "open_usd", "high_usd", "low_usd", "volume"},
    Liquidation: set(),
    FundingObservation: {"revision"},
}


# ---------------------------------------------------------------------------------------------
# Checks shared by every property


def check_reject(exc: BaseException) -> RecordError:
    """Only a ``RecordError`` with a reason from the closed set and a named field is allowed."""
    assert isinstance(exc, RecordError), f"{type(exc).__name__}: {exc}"
    assert exc.reason in REJECT_REASONS, exc.reason
    assert isinstance(exc.field, str), exc.field
    assert exc.field, "a reject must name its field"
    return exc


def outcome(fn: Callable[[], Any]) -> Any:
    """``fn()``'s value, or the ``RecordError`` it raised; any other exception fails the test."""
    try:
        return fn()
    except RecordError as exc:
        return check_reject(exc)


def check_accepted(record_type: type, value: Any) -> None:
    """An accepted record is a fully validated instance that round-trips through the codec."""
    assert isinstance(value, record_type | Heartbeat), type(value)
    assert value.ts_ms >= MIN_TS_MS
    for name in ("price_usd", "qty_base", "notional_usd", "value", "open_usd", "volume"):
        x = getattr(value, name, None)
        if x is not None:
            assert math.isfinite(x) and x >= 0, (name, x)
    again = decode(type(value), value.encode(), now_ms=NOW)
    assert again == value


def check_decoded(record_type: type, value: Any) -> None:
    if not isinstance(value, RecordError):
        check_accepted(record_type, value)


# ---------------------------------------------------------------------------------------------
# Strategies

# Values as JSON (orjson, the wire codec) can carry them, and then some Python can only hand in.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# What replaces one field of a valid record: wrong types, NaN/inf (only via Python or a non-strict
# encoder), negatives, zero, huge and tiny magnitudes, far-future and pre-2000 timestamps, dates.
odd_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            float("nan"),
            float("inf"),
            float("-inf"),
            -1,
            -1.5,
            0,
            0.0,
            -0.0,
            1e308,
            -1e308,
            5e-324,
            2**63 - 1,
            2**64 - 1,
            -(2**63),
            1_762_268_460,  # seconds, not ms
            NOW + 10 * 24 * 3600 * 1000,  # ten days ahead
            NOW + 301_000,  # just past the tolerance
            "",
            "nan",
            "1e400",
            "2025-11-04",
            "2025-13-01",
            "20251104",
            "heartbeat",
            "long",
            "pct",
            [],
            {},
            [1, 2],
            {"a": 1},
            True,
            False,
        ]
    ),
)


def encoders() -> st.SearchStrategy[Callable[[Any], bytes]]:
    """orjson (the wire codec: NaN/inf become null) or the stdlib (NaN/Infinity literals, which
    orjson refuses to parse: the whole message is then malformed)."""
    return st.sampled_from(
        [
            orjson.dumps,
            lambda obj: json.dumps(obj, allow_nan=True).encode(),
        ]
    )


def safe_encode(enc: Callable[[Any], bytes], obj: Any) -> bytes:
    try:
        return enc(obj)
    except (TypeError, ValueError, OverflowError):  # e.g. orjson and an int beyond 64 bits
        return json.dumps(obj, allow_nan=True).encode()


# ---------------------------------------------------------------------------------------------
# 1. Decoders


@QUICK
@given(raw=st.binary(max_size=200), record_type=st.sampled_from(RECORD_TYPES))
def test_decoders_survive_arbitrary_bytes(raw: bytes, record_type: type) -> None:
    check_decoded(record_type, outcome(lambda: decode(record_type, raw, now_ms=NOW)))
    items = decode_frame(record_type, raw, now_ms=NOW)
    for _, value in items:
        if isinstance(value, RecordError):
            check_reject(value)
        else:
            check_accepted(record_type, value)


@QUICK
@given(text=st.text(max_size=80), record_type=st.sampled_from(RECORD_TYPES))
def test_decoders_survive_arbitrary_text(text: str, record_type: type) -> None:
    # ``decode`` also takes str; lone surrogates must be a reject, not a UnicodeError.
    check_decoded(record_type, outcome(lambda: decode(record_type, text, now_ms=NOW)))
    for candidate in (text, "{" + text, "[" + text, '{"kind":' + text):
        raw = candidate.encode("utf-8", "surrogatepass")
        for _, value in decode_frame(record_type, raw, now_ms=NOW):
            check_decoded(record_type, value)
            if isinstance(value, RecordError):
                check_reject(value)


@pytest.mark.parametrize("record_type", [*RECORD_TYPES, Heartbeat])
def test_every_prefix_of_a_valid_record_is_malformed(record_type: type) -> None:
    """Truncation anywhere: every strict prefix is a ``malformed`` reject, the whole is valid."""
    doc = HEARTBEAT if record_type is Heartbeat else VALID[record_type]
    target = PriceTick if record_type is Heartbeat else record_type
    raw = orjson.dumps(doc)
    whole = decode(target, raw, now_ms=NOW)
    check_accepted(target, whole)
    frame = b"[" + raw + b"," + raw + b"]"
    assert [type(v) for _, v in decode_frame(target, frame, now_ms=NOW)] == [type(whole)] * 2
    for cut in range(len(raw)):
        err = outcome(lambda cut=cut: decode(target, raw[:cut], now_ms=NOW))
        assert isinstance(err, RecordError) and err.reason == "malformed", (cut, err)
    for cut in range(len(frame)):
        items = decode_frame(target, frame[:cut], now_ms=NOW)
        assert len(items) == 1 and items[0][0] is None, cut
        assert check_reject(items[0][1]).reason == "malformed"


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[type, dict[str, Any], str, Any, bool]:
    record_type = draw(st.sampled_from(RECORD_TYPES))
    doc = dict(VALID[record_type])
    name = draw(st.sampled_from([*doc, "kind", "extra"]))
    removed = draw(st.booleans()) and name in doc
    value: Any = None
    if removed:
        del doc[name]
    else:
        value = draw(odd_values)
        doc[name] = value
    return record_type, doc, name, value, removed


@QUICK
@given(case=mutated_records(), enc=encoders())
def test_one_field_wrong_is_a_named_reject_or_a_valid_record(
    case: tuple[type, dict[str, Any], str, Any, bool], enc: Callable[[Any], bytes]
) -> None:
    record_type, doc, name, _, _ = case
    raw = safe_encode(enc, doc)
    got = outcome(lambda: decode(record_type, raw, now_ms=NOW))
    check_decoded(record_type, got)
    # The frame path judges each item exactly as the single-message path.
    frame_items = decode_frame(record_type, b"[" + raw + b"]", now_ms=NOW)
    assert len(frame_items) == 1
    if isinstance(got, RecordError) and got.field != "$":
        assert type(frame_items[0][1]) is type(got)
    # What must be rejected, and which field it must name (judged on the value as it arrives:
    # orjson turns NaN/inf into null; the stdlib's NaN literal makes the whole message malformed).
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        assert isinstance(got, RecordError) and got.reason == "malformed"
        return
    present = name in parsed
    value = parsed.get(name)
    required = name in VALID[record_type] and name not in OPTIONAL[record_type]
    if required and (not present or value is None):
        assert isinstance(got, RecordError), got
        if name != "kind":
            assert (got.reason, got.field) == ("missing_field", name)
    if name == "kind" and value is not None:
        if value == "heartbeat":
            assert isinstance(got, Heartbeat | RecordError)
        else:
            assert isinstance(got, RecordError)
            assert (got.reason, got.field) == ("unknown_kind", "kind")
    positive = ("price_usd", "qty_base", "notional_usd")
    if name in positive and name in VALID[record_type] and parsed.get("kind") is None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        if not ok:
            assert isinstance(got, RecordError) and got.field == name, got
    if name == "ts_ms" and isinstance(got, record_type | Heartbeat):
        assert MIN_TS_MS <= got.ts_ms <= NOW + 300_000


@QUICK
@given(case=mutated_records())
def test_from_obj_rejects_python_values_by_rule(
    case: tuple[type, dict[str, Any], str, Any, bool],
) -> None:
    """Parsed values handed over directly (NaN, inf, -0.0 stay floats here)."""
    record_type, doc, name, value, _ = case
    assume(not known_bug_float_overflow(doc))
    got = outcome(lambda: from_obj(record_type, doc, now_ms=NOW))
    check_decoded(record_type, got)
    if isinstance(value, float) and not math.isfinite(value) and name in VALID[record_type]:
        assert isinstance(got, RecordError) and got.field == name


@st.composite
def frame_items(draw: st.DrawFn, record_type: type) -> Any:
    kind = draw(st.sampled_from(["valid", "heartbeat", "mutated", "junk"]))
    if kind == "valid":
        return dict(VALID[record_type])
    if kind == "heartbeat":
        return dict(HEARTBEAT)
    if kind == "mutated":
        doc = dict(VALID[record_type])
        doc[draw(st.sampled_from(sorted(doc)))] = draw(json_values)
        return doc
    return draw(json_values)


@QUICK
@given(data=st.data(), record_type=st.sampled_from(RECORD_TYPES))
def test_frames_judge_every_item_on_its_own(data: st.DataObject, record_type: type) -> None:
    items = data.draw(st.lists(frame_items(record_type), max_size=8))
    raw = orjson.dumps(items)
    got = decode_frame(record_type, raw, now_ms=NOW)
    assert len(got) == len(items)
    for (parsed, value), item in zip(got, items, strict=True):
        assert parsed == item
        single = outcome(lambda item=item: from_obj(record_type, item, now_ms=NOW))
        assert type(single) is type(value)
        if isinstance(value, RecordError):
            check_reject(value)
        else:
            check_accepted(record_type, value)
            assert value == single
    if items and orjson.dumps(items[0]) == orjson.dumps(VALID[record_type]):  # True == 1
        assert isinstance(got[0][1], record_type)


# ---------------------------------------------------------------------------------------------
# 2. The worker's path: DetectorRuntime.process


SYMBOLS = {
    "SPX": "equity_index",
    "NVDA": "ai_equity",
    "XAU": "gold",
    "BTC": "crypto",
    "ETH": "crypto",
    "VIX": "volatility",
}
SERIES = {
    "SOFR": "pct",
    "IORB": "pct",
    "SRF_TAKEUP": "usd_bn",
    "ON_RRP_AMOUNT": "usd_bn",
    "RESERVES": "usd_bn",
    "TGA": "usd_bn",
}


def price_doc(ts: int, symbol: str, price: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ts_ms": ts,
        "source": "t",
        "symbol": symbol,
        "asset_class": SYMBOLS[symbol],
        "price_usd": price,
    }


def liq_doc(ts: int, venue: str, long: bool, notional: float, n: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ts_ms": ts,
        "source": "t",
        "exchange": venue,
        "symbol": "BTC/USDT:USDT",
        "base": "BTC",
        "side_liquidated": "long" if long else "short",
        "qty_base": notional / 100_000.0,
        "price_usd": 100_000.0,
        "notional_usd": notional,
        "event_id": f"{venue}:{n}",
        "lower_bound": venue == "binanceusdm",
    }


def fund_doc(ts: int, series: str, day: int, value: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ts_ms": ts,
        "source": "t",
        "series": series,
        "observation_date": f"2025-11-{day:02d}",
        "value": value,
        "unit": SERIES[series],
    }


def hb_doc(ts: int) -> dict[str, Any]:
    return {**HEARTBEAT, "ts_ms": ts}


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
    # detector's cold-start rule; see test_known_bug_late_before_any_tick_depends_on_batching).
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


@st.composite
def minute_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A fixed set of good events over 15 minutes: several per minute, ties included."""
    events: list[dict[str, Any]] = [price_doc(T0, "SPX", 100.0)]
    n = 0
    for minute in range(15):
        base = T0 + minute * MIN
        for symbol in draw(st.lists(st.sampled_from(sorted(SYMBOLS)), max_size=6)):
            ms = draw(st.sampled_from([0, 1, 30_000, 59_999]))  # equal stamps happen
            price = draw(st.sampled_from([95.0, 100.0, 100.5, 104.0, 60.0, 180.0]))
            events.append(price_doc(base + ms, symbol, price))
        for _ in range(draw(st.integers(0, 4))):
            n += 1
            venue = draw(st.sampled_from(["binanceusdm", "bybit", "okx"]))
            notional = draw(st.sampled_from([1_234.56, 2.5e6, 8e7, 3.3e8]))
            events.append(
                liq_doc(base + draw(st.integers(0, MIN - 1)), venue, n % 3 > 0, notional, n)
            )
    for i, series in enumerate(sorted(SERIES)):
        events.append(fund_doc(T0 + (3 * i + 1) * MIN + 7, series, 3, 1.5 + i))
    return events


def run_in_order(
    events: list[dict[str, Any]], batch_size: int, partitions: int = 1
) -> list[tuple[bytes, list[bytes]]]:
    """Feed events (already in arrival order) and return every output, encoded."""
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    rt.assign((t, p) for t in NAMES.inputs for p in range(partitions))
    offsets: Counter[tuple[str, int]] = Counter()
    msgs = []
    for doc in events:
        topic = (
            NAMES.funding
            if "series" in doc
            else NAMES.liquidations
            if "exchange" in doc
            else NAMES.prices
        )
        key = doc.get("symbol", doc.get("series", "x"))
        part = 0 if topic == NAMES.funding else sum(key.encode()) % partitions
        msgs.append((topic, part, offsets[(topic, part)], key.encode(), orjson.dumps(doc)))
        offsets[(topic, part)] += 1
    end = hb_doc(T0 + 20 * MIN)
    for topic in NAMES.inputs:
        for part in range(partitions):
            msgs.append((topic, part, offsets[(topic, part)], None, orjson.dumps(end)))
    outs: list[tuple[bytes, list[bytes]]] = []
    for start in range(0, len(msgs), batch_size):
        res = rt.process(msgs[start : start + batch_size])
        assert res.dead == []
        outs.extend((o.signal.encode(), [a.encode() for a in o.alerts]) for o in res.outputs)
    return outs


@SLOW
@given(events=minute_sets(), data=st.data())
def test_outputs_do_not_depend_on_arrival_order_within_a_minute(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    canonical = sorted(events, key=lambda d: (d["ts_ms"], orjson.dumps(d)))
    expected = run_in_order(canonical, batch_size=10_000)
    assert len(expected) == 19  # one signal per closed minute, T0+1 .. T0+19
    rnd = data.draw(st.randoms(use_true_random=False))
    by_minute: dict[int, list[dict[str, Any]]] = {}
    for doc in events:
        by_minute.setdefault(doc["ts_ms"] // MIN, []).append(doc)
    shuffled: list[dict[str, Any]] = []
    for minute in sorted(by_minute):
        bucket = by_minute[minute]
        rnd.shuffle(bucket)
        shuffled.extend(bucket)
    batch = data.draw(st.integers(1, 40))
    assert run_in_order(shuffled, batch_size=batch) == expected
    # And spread over partitions (each in event-time order), interleaved at random.
    assert run_in_order(shuffled, batch_size=batch, partitions=3) == expected


# ---------------------------------------------------------------------------------------------
# 3. Producers: venue liquidation pushes and funding documents


DOCUMENTED = FIXTURES / "documented"
PUSHES = {
    Venue.BINANCE: FIXTURES / "binanceusdm" / "forceOrder.jsonl",
    Venue.BYBIT: FIXTURES / "bybit" / "allLiquidation.jsonl",
    Venue.OKX: FIXTURES / "okx" / "liquidation-orders.jsonl",
    # no generated fixtures for these: their documented samples, one push a file
    Venue.GATE: DOCUMENTED / "gate" / "public_liquidates.doc.json",
    Venue.HTX: DOCUMENTED / "htx" / "liquidation_orders.doc.json",
    Venue.DERIBIT: DOCUMENTED / "deribit" / "trades.maker-both-linear.derived.json",
}


def _first_lines(path: Path, n: int = 5) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        return [orjson.loads(path.read_bytes())]
    return [orjson.loads(line) for line in path.read_text().splitlines()[:n] if line.strip()]


def _markets_file(venue: Venue) -> Path:
    generated = FIXTURES / VENUES[venue].ccxt_id / "markets.json"
    return generated if generated.exists() else DOCUMENTED / VENUES[venue].ccxt_id / "markets.json"


SAMPLE_PUSHES = {venue: _first_lines(path) for venue, path in PUSHES.items()}
MARKETS = {venue: MarketIndex(load_snapshot(_markets_file(venue))) for venue in VENUES}


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(obj) if isinstance(obj, dict) else list(obj)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(copy[head], rest, value, delete)
    return copy


venue_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "0",
            "-1",
            "1e999",
            "nan",
            "NaN",
            "inf",
            "",
            " ",
            "0x10",
            "1_000",
            "٣",
            "²",
            "①",
            "Sell",
            "net",
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def venue_pushes(draw: st.DrawFn) -> tuple[Venue, Any]:
    venue = draw(st.sampled_from(list(VENUES)))
    push: Any = draw(st.sampled_from(SAMPLE_PUSHES[venue]))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(push)))
        delete = bool(path) and draw(st.booleans())
        push = _replace(push, path, draw(venue_values), delete)
    if draw(st.integers(0, 9)) == 0:
        push = draw(json_values)  # something else entirely
    # As ccxt hands it over: parsed by orjson from the socket's text.
    return venue, orjson.loads(orjson.dumps(push))


def known_bug_unicode_digits(push: Any) -> bool:
    """normalise._ts: ``str.isdigit`` is true for '²', '①' ... which ``int()`` refuses."""
    return any(isinstance(v, str) and v.isdigit() and not v.isdecimal() for v in _leaves(push))


def known_bug_float_overflow(obj: Any) -> bool:
    """An int too large for a float (Python's json, or a dict handed in directly)."""
    return any(
        isinstance(v, int) and not isinstance(v, bool) and abs(v) > 1.7e308 for v in _leaves(obj)
    )


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _leaves(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _leaves(v)]
    return [obj]


@QUICK
@given(case=venue_pushes())
def test_venue_adapters_and_normalise_only_reject_by_rule(case: tuple[Venue, Any]) -> None:
    venue, push = case
    assume(not known_bug_unicode_digits(push))
    adapter = ADAPTERS[venue]
    if not isinstance(push, dict):
        return  # the feed rejects non-objects before the adapter (checked below)
    raws = outcome(lambda: adapter.extract(push))
    if isinstance(raws, RecordError):
        return
    for raw in raws:
        got = outcome(lambda raw=raw: normalise(VENUES[venue], MARKETS[venue], raw, now_ms=NOW))
        if not isinstance(got, RecordError):
            check_accepted(Liquidation, got)
            assert got.exchange == venue.value
            assert got.notional_usd > 0


@QUICK
@given(case=venue_pushes())
def test_venue_feed_capture_never_raises(case: tuple[Venue, Any]) -> None:
    """The synchronous capture path ccxt calls: a bad push is a counted reject (a DLQ entry),
    never an exception into ccxt's socket handler."""
    venue, push = case
    assume(not known_bug_unicode_digits(push))
    feed = VenueFeed(
        VENUES[venue],
        sink=None,  # type: ignore[arg-type]  # on_message only queues
        topic="t",
        metrics=create_metrics(CollectorRegistry()),
    )
    feed.markets = MARKETS[venue]
    feed.snapshot = []  # no market reloads from a test
    feed.on_message(push)
    for record, raw, error in feed._pending:
        if record is None:
            assert isinstance(raw, bytes)
            check_reject(error)
        else:
            check_accepted(Liquidation, record)
    assert feed.stats.rejects == sum(1 for r, _, _ in feed._pending if r is None)


def check_parsed(parsed: fparse.Parsed) -> None:
    assert isinstance(parsed, fparse.Parsed)
    for obs in parsed.observations:
        assert math.isfinite(obs.value) and obs.value >= 0
        assert len(obs.observation_date) == 10
        assert isinstance(obs.published_ms, int)
    for raw, exc in parsed.rejects:
        assert isinstance(raw, bytes)
        check_reject(exc)
    assert all(n > 0 for n in parsed.skipped.values())


def known_bug_funding_doc(doc: Any) -> bool:
    """parse_nyfed_repo: a non-object ``repo``; any parser: a date in year 9999 (the estimated
    publication day overflows ``date``)."""
    repo = doc.get("repo") if isinstance(doc, dict) else None
    return (bool(repo) and not isinstance(repo, dict)) or any(
        isinstance(v, str) and v.startswith("9999-") for v in _leaves(doc)
    )


NYFED_SOFR = orjson.loads((FIXTURES / "nyfed" / "sofr.json").read_bytes())
NYFED_REPO = orjson.loads((FIXTURES / "nyfed" / "repo_results.json").read_bytes())
DTS = orjson.loads((FIXTURES / "treasury" / "operating_cash_balance.json").read_bytes())
FUNDING_DOCS: dict[str, tuple[Any, Callable[[Any], fparse.Parsed]]] = {
    "sofr": (NYFED_SOFR, fparse.parse_nyfed_sofr),
    "repo": (NYFED_REPO, lambda d: fparse.parse_nyfed_repo(d, window=30)),
    "dts": (DTS, fparse.parse_dts),
}
funding_values = st.one_of(
    venue_values,
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2025-11-04", "2025-02-30", ".", "NA", "null", "-0.01", "1e308"]),
)


def _small(doc: Any) -> Any:
    """The fixture documents, cut to a few rows so mutations hit the rows often."""
    if isinstance(doc, dict):
        return {
            k: (_small(v) if isinstance(v, dict) else v[:4] if isinstance(v, list) else v)
            for k, v in doc.items()
        }
    return doc


@QUICK
@given(data=st.data(), which=st.sampled_from(sorted(FUNDING_DOCS)))
def test_funding_parsers_only_reject_by_rule(data: st.DataObject, which: str) -> None:
    doc, parse = FUNDING_DOCS[which]
    doc = _small(doc)
    for _ in range(data.draw(st.integers(0, 4))):
        path = data.draw(st.sampled_from(_paths(doc)))
        delete = bool(path) and data.draw(st.booleans())
        doc = _replace(doc, path, data.draw(funding_values), delete)
    if data.draw(st.integers(0, 9)) == 0:
        doc = data.draw(json_values)
    doc = orjson.loads(orjson.dumps(doc))  # as fetched: orjson-parsed
    assume(not known_bug_funding_doc(doc))
    check_parsed(parse(doc))


# Provider text as aiohttp's strict decoding gives it: never a lone surrogate (category Cs).
FRED_HEADERS = st.sampled_from(["observation_date,SOFR", "DATE,SOFR", "date,value", "", "x"])
fred_cells = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from([".", "", "4.31", "-1", "nan", "inf", "1e400", "4,3", '"4.1"', "２"]),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
        max_size=12,
    ),
)


@QUICK
@given(
    header=FRED_HEADERS,
    rows=st.lists(st.lists(fred_cells, max_size=3), max_size=8),
    fred_id=st.sampled_from(sorted(fparse.FRED_IDS)),
    crlf=st.booleans(),
)
def test_fred_csv_only_rejects_by_rule(
    header: str, rows: list[list[str]], fred_id: str, crlf: bool
) -> None:
    end = "\r\n" if crlf else "\n"
    text = end.join([header, *(",".join(r) for r in rows)]) + end
    assume(not any(c.startswith("9999-") for r in rows for c in r))
    check_parsed(fparse.parse_fred_csv(text, fred_id))


@QUICK
@given(
    text=st.text(
        alphabet=st.characters(blacklist_characters="\r", blacklist_categories=("Cs",)),
        max_size=200,
    )
)
def test_fred_csv_survives_arbitrary_text(text: str) -> None:
    assume("9999-" not in text)
    check_parsed(fparse.parse_fred_csv("observation_date,SOFR\n" + text, "SOFR"))


# ---------------------------------------------------------------------------------------------
# Bugs these properties found: fixed ones stay as regression tests (test_fixed_bug_*); any
# still open are strict xfails with the exact failing input.


def _raises_only_record_errors(fn: Callable[[], Any]) -> None:
    outcome(fn)


def test_fixed_bug_huge_notional_crashes_the_worker() -> None:
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    doc = liq_doc(T0, "okx", True, 1e307, 1)
    res = rt.process([(NAMES.liquidations, 0, 0, None, orjson.dumps(doc))])
    assert [d.reason for _, _, d in res.dead] == ["invalid_value"]  # dead-lettered, no crash


def test_fixed_bug_extreme_price_ratio_crashes_the_tick() -> None:
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    msgs = [
        (NAMES.prices, 0, i, None, orjson.dumps(price_doc(T0 + i * MIN, "BTC", p)))
        for i, p in enumerate([1e308, 5e-324])
    ]
    msgs.append((NAMES.prices, 0, 2, None, orjson.dumps(hb_doc(T0 + 5 * MIN))))
    rt.process(msgs)


def test_fixed_bug_late_before_any_tick_depends_on_batching() -> None:
    msgs = [
        (NAMES.prices, 0, 0, b"SPX", orjson.dumps(price_doc(T0 + 10 * MIN, "SPX", 100.0))),
        (NAMES.prices, 1, 0, b"IXIC", orjson.dumps(hb_doc(T0 + 3 * MIN))),
        (NAMES.prices, 1, 1, b"IXIC", orjson.dumps(price_doc(T0 + 5 * MIN, "NVDA", 100.0))),
    ]
    one = DetectorRuntime(RT_SETTINGS, NAMES).process(msgs)
    rt = DetectorRuntime(RT_SETTINGS, NAMES)
    rt.process(msgs[:2])
    two = rt.process(msgs[2:])
    assert rt.detector.ticks == 0
    assert (one.dead, two.dead) == ([], [])


def test_fixed_bug_unicode_digit_timestamp() -> None:
    push = {
        "topic": "allLiquidation.BTCUSDT",
        "data": [{"T": "²", "s": "BTCUSDT", "S": "Buy", "v": "0.003", "p": "43511.70"}],
    }
    for raw in bybit.extract(push):
        _raises_only_record_errors(
            lambda raw=raw: normalise(VENUES[Venue.BYBIT], MARKETS[Venue.BYBIT], raw, now_ms=NOW)
        )


def test_fixed_bug_int_beyond_float_range() -> None:
    _raises_only_record_errors(lambda: binance.extract({"o": {"ap": 10**400, "p": "1"}}))
    _raises_only_record_errors(lambda: from_obj(PriceTick, {**PRICE, "price_usd": 10**400}))


def test_fixed_bug_nyfed_repo_not_an_object() -> None:
    fparse.parse_nyfed_repo({"repo": [1]})


def test_fixed_bug_funding_date_at_the_end_of_time() -> None:
    doc = {"refRates": [{"type": "SOFR", "effectiveDate": "9999-12-31", "percentRate": 4.0}]}
    fparse.parse_nyfed_sofr(doc)


def test_fixed_bug_fred_csv_bare_carriage_return() -> None:
    fparse.parse_fred_csv("observation_date,SOFR\n2025-01-01,4\r1\n", "SOFR")


@st.composite
def fast_path_candidates(draw: st.DrawFn) -> tuple[type, dict[str, Any]]:
    """Valid records (prices with and without their optional fields), one field then changed."""
    record_type = draw(st.sampled_from((PriceTick, Liquidation)))
    doc = dict(VALID[record_type])
    if draw(st.booleans()):
        for name in OPTIONAL[record_type] - {"interval_s"}:
            doc.pop(name, None)
    name = draw(st.sampled_from([*doc, "kind", "extra"]))
    if draw(st.booleans()) and name in doc:
        del doc[name]
    else:
        doc[name] = draw(odd_values | st.floats() | st.integers() | st.sampled_from(["long", ""]))
    return record_type, doc


@QUICK
@given(case=fast_path_candidates(), now=st.sampled_from([NOW, None]))
def test_the_decoders_fast_path_agrees_with_the_field_readers(
    case: tuple[type, dict[str, Any]], now: int | None
) -> None:
    """``from_dict`` checks a plain dict in one pass and falls back to the field readers for
    anything else; a read-only mapping always takes the readers. Both must judge alike."""
    from types import MappingProxyType

    record_type, doc = case
    fast = outcome(lambda: record_type.from_dict(doc, now_ms=now))
    slow = outcome(lambda: record_type.from_dict(MappingProxyType(doc), now_ms=now))
    if isinstance(slow, RecordError):
        assert isinstance(fast, RecordError) and (type(fast), fast.field) == (
            type(slow),
            slow.field,
        )
    else:
        assert fast == slow
        assert [type(getattr(fast, f)) for f in fast.__dataclass_fields__] == [
            type(getattr(slow, f)) for f in slow.__dataclass_fields__
        ]


# Values at the edges of the records' rules (types, ranges, enums, emptiness).
EDGES = ["", "long", "LONG", "equity_index", None, True, False, 0, 0.0, -0.0, 1, 1.0, -1.0,
         1e-12, 1e-13, 1e9, 1e9 + 1e-3, 1e15, 1.5e15, MIN_TS_MS, MIN_TS_MS - 1, NOW, NOW + 1,
         2**63, [], {}, "heartbeat"]  # fmt: skip


@st.composite
def wire_messages(draw: st.DrawFn) -> tuple[type, bytes]:
    """Input messages as they reach the worker: one record or a frame of a few, each item a
    valid record, one with a field changed, or a heartbeat; sometimes cut short."""
    record_type = draw(st.sampled_from((PriceTick, Liquidation)))
    items: list[Any] = []
    for _ in range(draw(st.integers(1, 4))):
        pick = draw(st.sampled_from(("valid", "valid", "changed", "heartbeat")))
        if pick == "valid":
            items.append(VALID[record_type])
        elif pick == "heartbeat":
            items.append(HEARTBEAT)
        else:  # one field changed, often to a value just past one of the rules
            doc = dict(VALID[record_type])
            name = draw(st.sampled_from([*doc, "kind"]))
            doc[name] = draw(st.sampled_from(EDGES) | odd_values)
            if draw(st.integers(0, 4)) == 0:
                doc.pop(name)
            items.append(doc)
    raws = [orjson.dumps(x, option=orjson.OPT_NON_STR_KEYS) for x in items]
    raw = raws[0] if len(raws) == 1 and draw(st.booleans()) else b"[" + b",".join(raws) + b"]"
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return record_type, raw


def check_wire_agrees(record_type: type, raw: bytes) -> str:
    """``wire_items`` (msgspec, one pass over a whole message) may decline any message, but
    what it accepts the per-item readers (``decode_frame``, the worker's fallback) accept too,
    as equal records of equal field types."""
    from streams.records import wire_items

    fast = wire_items(record_type, raw, NOW, 5 * 60_000)
    slow = [verdict for _, verdict in decode_frame(record_type, raw, NOW, 5 * 60_000)]
    refused = [check_reject(v) for v in slow if isinstance(v, RecordError)]
    if refused:
        assert fast is None, f"the fast path took a message the readers refuse ({refused[0]})"
        return "refused"
    if fast is None:
        return "declined"
    assert fast == slow
    for a, b in zip(fast, slow, strict=True):
        assert type(a) is type(b) is record_type
        assert [type(getattr(a, f)) for f in a.__dataclass_fields__] == [
            type(getattr(b, f)) for f in b.__dataclass_fields__
        ]
    return "fast path"


@QUICK
@given(case=wire_messages())
def test_the_wire_fast_path_accepts_only_what_the_readers_accept(
    case: tuple[type, bytes],
) -> None:
    event(check_wire_agrees(*case))


@pytest.mark.parametrize("record_type", [PriceTick, Liquidation], ids=lambda t: t.__name__)
def test_the_wire_fast_path_at_every_rules_edge(record_type: type) -> None:
    """Every field of a valid record set to every edge value in turn, or left out."""
    seen: Counter[str] = Counter()
    for name in [*VALID[record_type], "kind"]:
        for value in [*EDGES, "absent"]:
            doc = dict(VALID[record_type])
            if value == "absent":
                doc.pop(name, None)
            else:
                doc[name] = value
            raw = orjson.dumps(doc)
            seen[check_wire_agrees(record_type, raw)] += 1
            seen[check_wire_agrees(record_type, b"[" + raw + b"," + raw + b"]")] += 1
    assert seen["fast path"] and seen["refused"], seen


@pytest.mark.parametrize(
    "raw",
    [
        b'{"x":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",  # deep in an unknown field
        b"[" * 100_000 + b"]" * 100_000,
        b'{"source":"\xff"}',  # not UTF-8 inside a string
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b"",
        b"null",
        b"[]",
    ],
    ids=["deep-object", "deep-array", "bad-utf8", "bom", "empty", "null", "empty-frame"],
)
def test_the_wire_fast_path_survives_odd_bytes(raw: bytes) -> None:
    for record_type in (PriceTick, Liquidation):
        check_wire_agrees(record_type, raw)


def test_the_wire_fast_path_takes_plain_valid_frames() -> None:
    """The point of it: the bulk of a feed (plain valid frames, single records) goes through."""
    from streams.records import wire_items

    for record_type in (PriceTick, Liquidation):
        one = orjson.dumps(VALID[record_type])
        assert wire_items(record_type, one, NOW, 0) == [from_obj(record_type, VALID[record_type])]
        assert wire_items(record_type, b"[" + b",".join([one] * 3) + b"]", NOW, 0) is not None
        # a heartbeat in the frame, a later event than now allows, a null: the readers decide
        assert wire_items(record_type, b"[" + one + b"," + orjson.dumps(HEARTBEAT) + b"]",
                          NOW, 0) is None  # fmt: skip
        late = orjson.dumps({**VALID[record_type], "ts_ms": NOW + 1})
        assert wire_items(record_type, late, NOW, 0) is None
        assert wire_items(record_type, late, NOW, 1) is not None
        assert wire_items(record_type, orjson.dumps({**VALID[record_type], "source": None}),
                          NOW, 0) is None  # fmt: skip
    assert wire_items(FundingObservation, orjson.dumps(FUND), NOW, 0) is None  # no schema: rare
