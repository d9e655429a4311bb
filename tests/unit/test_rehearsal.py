"""The rehearsal's arrival model: a recorded day as the live producers would write it."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from common.settings import PROJECT_ROOT, Settings
from producers.config import ProducerSettings
from shockwatch.runs.rehearsal import (
    Send,
    arrivals,
    heartbeats,
    liquidation_sends,
    partition_of,
    price_sends,
    sealed_too_soon,
)
from streams.records import Liquidation, PriceTick
from streams.scenario import FEEDS, Parsed, parse_feed, read_scenario
from streams.timing import TIMINGS, SourceTiming, as_of_symbols

DAY = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"


def ms(hhmmss: str) -> int:
    return int(datetime.fromisoformat(f"2025-11-04T{hhmmss}+00:00").timestamp() * 1000)


def bar(symbol: str, asset_class: str, ts_ms: int, price: float = 100.0) -> Parsed:
    tick = PriceTick(ts_ms=ts_ms, source="t", symbol=symbol, asset_class=asset_class,  # type: ignore[arg-type]
                     price_usd=price, interval_s=60)  # fmt: skip
    return Parsed(tick, tick.encode(), tick.key)


def liquidation(exchange: str, ts_ms: int, n: int) -> Parsed:
    rec = Liquidation(
        ts_ms=ts_ms, source="t", exchange=exchange, symbol="BTC/USDT:USDT", base="BTC",
        side_liquidated="long", qty_base=0.01, price_usd=100_000.0,  # type: ignore[arg-type]
        notional_usd=1_000.0, event_id=f"{exchange}:{n}",
    )  # fmt: skip
    return Parsed(rec, rec.encode(), rec.key)


def test_a_gold_bar_of_14_00_is_sent_at_the_first_poll_after_its_delay() -> None:
    bars = [bar("XAU", "gold", ms("14:00:00")), bar("BTC", "crypto", ms("14:00:00")),
            bar("SPX", "equity_index", ms("14:00:00"))]  # fmt: skip
    sent = {s.item: s.at_ms for s in price_sends(bars, ms("13:00:00"))}
    # a bar's ts_ms is its end (data/scenarios/README.md; the producer's to_tick stamps it)
    # Yahoo's COMEX gold: at least 10 minutes after the bar's end (14:00), polled at :05
    assert sent["XAU"] == ms("14:10:05") >= ms("14:10:00")
    assert sent["BTC"] == ms("14:00:05")  # Binance klines: at the next poll
    assert sent["SPX"] == ms("14:01:05")  # 20 s after 14:00: missed the 14:00:05 poll
    worst = {s.item: s.at_ms for s in price_sends(bars, ms("13:00:00"), worst=True)}
    assert worst["XAU"] == ms("14:30:05")


def test_each_poll_sends_its_bars_in_event_time_order() -> None:
    bars = [bar("BTC", "crypto", ms("14:00:00")), bar("SPX", "equity_index", ms("13:59:00")),
            bar("ETH", "crypto", ms("14:00:00"))]  # fmt: skip
    sends = price_sends(bars, ms("13:00:00"))
    assert [s.at_ms for s in sends] == [ms("14:00:05")] * 3
    assert [(s.ts_ms, s.item) for s in sends] == sorted((s.ts_ms, s.item) for s in sends)


def _okx_day(n: int = 3_000) -> list[Parsed]:
    events = []
    for i in range(n):  # three venues, an event every ~100 ms
        events.append(
            liquidation(("binanceusdm", "bybit", "okx")[i % 3], ms("14:00:00") + i * 97, i)
        )
    return events


def test_okx_disorder_within_the_hold_is_restored() -> None:
    events = _okx_day()
    held = liquidation_sends(events, hold_ms=5_000, seed=1)
    assert [s.ts_ms for s in held] == sorted(s.ts_ms for s in held)
    assert all(0 <= s.at_ms - s.ts_ms - 5_000 < 100 for s in held)  # the hold, on its ticks
    raw = liquidation_sends(events, hold_ms=0, seed=1)
    assert [s.ts_ms for s in raw] != sorted(s.ts_ms for s in raw)  # the disorder is real
    late = [s for s in raw if s.at_ms - s.ts_ms > 5_000]
    assert not late  # OKX's disorder is at most 5 s


def test_disorder_beyond_the_hold_stays_out_of_order() -> None:
    slow = tuple(
        SourceTiming(t.feed, t.source, t.items, t.delay_s, 10.0, t.cadence_s, 10.0, t.hours,
                     t.ref) if t.source == "okx" else t
        for t in TIMINGS
    )  # fmt: skip
    held = liquidation_sends(_okx_day(), hold_ms=5_000, timings=slow, seed=1)
    assert [s.ts_ms for s in held] != sorted(s.ts_ms for s in held)


def test_an_idle_topic_beats_every_heartbeat_s_behind_the_clock_by_its_lag() -> None:
    start = ms("14:00:00")
    beats = heartbeats([], start, until_ms=start + 60_000, lag_ms=90_000, heartbeat_s=5.0)
    assert beats[0] == (start + 5_000, start + 5_000 - 90_000)
    assert all(b[0] - a[0] == 5_000 for a, b in itertools.pairwise(beats))
    assert beats[-1][1] >= start + 60_000


def test_a_busy_topic_does_not_beat_and_its_watermark_follows_its_records() -> None:
    start = ms("14:00:00")
    sends = [Send(start + i * 1_000, start + i * 1_000 - 500, "x", "k", b"") for i in range(60)]
    beats = heartbeats(sends, start, until_ms=start + 59_000, lag_ms=7_000, heartbeat_s=5.0)
    assert beats and beats[0][0] >= sends[-1].at_ms + 5_000  # none while it is busy
    # newest event 59.5 s + idle 5 s - lag 7 s: never ahead of what was sent
    assert beats[0][1] == sends[-1].ts_ms + 5_000 - 7_000


def test_partitions_are_kafkas_default_partitioners() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in (b"XAU", b"SPX", b"okx:BTC/USDT:USDT", b"binanceusdm:ETH/USDT:USDT"):
        assert partition_of(key, 3) == DefaultPartitioner()(key, [0, 1, 2], [0, 1, 2])


@pytest.fixture(scope="module")
def day_writes():  # type: ignore[no-untyped-def]
    return arrivals(read_scenario(DAY), Settings(), ProducerSettings())


def test_heartbeats_never_seal_a_minute_with_a_record_still_to_come(day_writes) -> None:  # type: ignore[no-untyped-def]
    writes = day_writes.writes
    lateness = Settings().detection.alerts.allowed_lateness_s * 1000
    assert sealed_too_soon(writes, lateness, as_of_symbols()) == []
    # the delayed instruments do come after their minute sealed: the as-of inputs
    assert {r.item for _, r in sealed_too_soon(writes, lateness)} == {"XAU", "VIX"}


def test_the_day_arrives_complete_in_send_order_and_deterministic(day_writes) -> None:  # type: ignore[no-untyped-def]
    writes = day_writes.writes
    assert [w.at_ms for w in writes] == sorted(w.at_ms for w in writes)
    records = [w for w in writes if not w.heartbeat]
    scenario = read_scenario(DAY)
    valid = [
        p
        for f in FEEDS
        for _, p, _ in parse_feed(scenario, f, scenario.end_ms)
        if isinstance(p, Parsed)
    ]
    assert len(records) == len(valid)  # every valid record, once
    again = arrivals(read_scenario(DAY), Settings(), ProducerSettings())
    assert again.writes == writes
    assert day_writes.delays["XAU"].lag_min_s == 605.0  # 600 s + the poll's 5 s
    ends = {w.feed: w.ts_ms for w in writes if w.heartbeat}
    assert min(ends.values()) >= scenario.end_ms  # every topic beats past the end
