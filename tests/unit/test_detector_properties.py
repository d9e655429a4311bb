"""Properties of detection through the worker (streams/detection/detector.py): the outputs for
a fixed set of good events do not depend on arrival order within a minute, on batching or on how
partitions interleave; extreme values never crash a tick."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.app import DetectorRuntime
from tests.strategies import (
    MIN,
    NAMES,
    RT_SETTINGS,
    SERIES,
    SLOW,
    SYMBOLS,
    T0,
    fund_doc,
    hb_doc,
    liq_doc,
    price_doc,
)


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
# Bugs these properties found (fixed ones stay as regression tests)


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
