"""Properties of the record codec (streams/records: ``decode``, ``decode_frame``,
``from_obj``, ``from_dict``'s fast path and the wire fast path ``wire_items``): any input is a
valid record or ``Heartbeat``, or a ``RecordError`` whose ``reason`` is in ``REJECT_REASONS`` and
whose ``field`` is named; the fast paths judge exactly as the field readers do."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from producers.liquidations import binance
from streams.records import (
    MIN_TS_MS,
    FundingObservation,
    Heartbeat,
    Liquidation,
    PriceTick,
    RecordError,
    decode,
    decode_frame,
    from_obj,
)
from tests.strategies import (
    HEARTBEAT,
    NOW,
    QUICK,
    check_accepted,
    check_reject,
    json_values,
    leaves,
    outcome,
)
from tests.unit.test_records import FUND, LIQ
from tests.unit.test_records import PRICE as RECORDS_PRICE

PRICE: dict[str, Any] = {**RECORDS_PRICE, "volume": 1234.0}  # every optional field present
VALID: dict[type, dict[str, Any]] = {PriceTick: PRICE, Liquidation: LIQ, FundingObservation: FUND}
RECORD_TYPES = (PriceTick, Liquidation, FundingObservation)
OPTIONAL = {
    PriceTick: {"interval_s", "open_usd", "high_usd", "low_usd", "volume"},
    Liquidation: set(),
    FundingObservation: {"revision"},
}


def check_decoded(record_type: type, value: Any) -> None:
    if not isinstance(value, RecordError):
        check_accepted(record_type, value)


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
# Decoders


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


def known_bug_float_overflow(obj: Any) -> bool:
    """An int too large for a float (Python's json, or a dict handed in directly)."""
    return any(
        isinstance(v, int) and not isinstance(v, bool) and abs(v) > 1.7e308 for v in leaves(obj)
    )


# ---------------------------------------------------------------------------------------------
# The fast paths: from_dict on a plain dict, wire_items over a whole message


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


# ---------------------------------------------------------------------------------------------
# Bugs these properties found (fixed ones stay as regression tests)


def test_fixed_bug_int_beyond_float_range() -> None:
    outcome(lambda: binance.extract({"o": {"ap": 10**400, "p": "1"}}))
    outcome(lambda: from_obj(PriceTick, {**PRICE, "price_usd": 10**400}))
