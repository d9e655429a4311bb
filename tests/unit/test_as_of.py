"""Delayed instruments are as-of inputs: a late bar is used, labelled with its age, not lost.

Yahoo serves COMEX gold at least 10 minutes late (streams/timing.py). A gold bar that reaches
its partition after the partition has sealed the bar's minute is filed into the earliest open
minute with its own event time; the tick folds it in at its own minute, and its one-minute
return joins the co-movement row of that minute. A real-time instrument's late bar is still a
``late_event``. In event order nothing changes (the calendar's signals are equal with and
without the rule: the backtest and the scale-out tests hold that)."""

from __future__ import annotations

import pytest

from common.settings import Settings
from streams.detection.detector import Detector
from streams.detection.shard import AS_OF, PartitionShard
from streams.instruments import CLASS_OF
from streams.records import Heartbeat, LateEvent, PriceTick
from streams.timing import as_of_symbols, price_timing

CFG = Settings().detection
LATENESS = CFG.alerts.allowed_lateness_s * 1000
MIN = 60_000
T0 = 1_762_266_600_000  # 2025-11-04 14:30 UTC


def bar(minute: int, symbol: str, usd: float) -> PriceTick:
    return PriceTick(ts_ms=T0 + minute * MIN, source="t", symbol=symbol,
                     asset_class=CLASS_OF[symbol], price_usd=usd)  # fmt: skip


def test_the_timing_model_makes_yahoo_gold_and_vix_as_of_and_nothing_real_time() -> None:
    assert {"XAU", "VIX"} <= AS_OF
    assert not {"BTC", "ETH", "SPX"} & AS_OF
    gold = price_timing("XAU")
    assert gold is not None and gold.max_delay_s >= 600  # "delayed at least 10 minutes"
    assert as_of_symbols()["XAU"] >= 11


def test_a_late_gold_bar_is_filed_into_the_open_minute_and_a_late_btc_bar_is_late() -> None:
    shard = PartitionShard(LATENESS)
    for m in range(15):
        shard.add(bar(m, "BTC", 100.0 + m))
    m0 = T0 // MIN
    assert shard.open_from == m0 + 13  # BTC at minute 14 has sealed minutes 0..12
    shard.add(bar(2, "XAU", 4000.0))  # twelve minutes late: not late, as of now
    assert shard.prices[m0 + 13]["XAU"] == [T0 + 2 * MIN, 4000.0, "gold"]  # its own time
    assert shard.ts == T0 + 14 * MIN  # the partition did not move back
    with pytest.raises(LateEvent):
        shard.add(bar(2, "BTC", 99.0))


def test_a_late_as_of_bar_does_not_refute_records_held_far_ahead() -> None:
    shard = PartitionShard(LATENESS, jump_confirm=3)
    shard.add(bar(0, "BTC", 100.0))
    shard.add(bar(30, "BTC", 101.0))  # far ahead: held until confirmed
    shard.add(bar(1, "SPX", 6800.0))  # not ahead of the partition either: but not as-of
    assert shard.take_implausible()  # a real-time record back at the old time refutes them
    shard.add(bar(40, "BTC", 102.0))
    shard.add(Heartbeat(ts_ms=T0 + 40 * MIN, source="t"))
    shard.add(bar(5, "XAU", 4000.0))  # a delayed gold bar while nothing is held
    assert not shard.take_implausible()


def run(order: list[PriceTick]) -> Detector:
    det = Detector(CFG)
    det.set_partitions(["p"])
    for record in order:
        det.ingest(record, "p")
        det.advance()
    return det


def test_gold_ten_minutes_late_gives_the_same_gold_history_and_co_movement_rows() -> None:
    minutes = range(50)  # inside the 60-row co-movement window: every row is still there
    paths = {"BTC": (100.0, 7), "SPX": (6800.0, 5), "XAU": (4000.0, 3)}
    on_time = [bar(m, s, base + m % k) for m in minutes for s, (base, k) in paths.items()]
    # Live: the gold bar of minute m arrives just before the other instruments' bars of
    # m + 10, when the partition has sealed up to m + 8: the tick of m + 9 uses it.
    delayed = sorted(on_time, key=lambda r: r.ts_ms + (10 * MIN if r.symbol == "XAU" else 0))
    plain, live = run(on_time), run(delayed)
    assert list(plain.assets["XAU"].minutes)[:40] == list(live.assets["XAU"].minutes)[:40]
    assert list(plain.assets["XAU"].closes)[:40] == list(live.assets["XAU"].closes)[:40]
    assert live.lag_min["XAU"] == 8 and plain.lag_min["XAU"] == 0
    # The rows still waiting for gold are its last minutes; the ones in are the same rows.
    held_back = len(live.comove_rows)
    assert 1 <= held_back <= 10
    # Once the detector has seen gold's lag (its first late bar), rows wait for gold's return:
    # from then on they are the rows of the day played in event order.
    rows = list(live.comove.rows)
    assert len(rows) >= 35
    assert rows[7:] == list(plain.comove.rows)[7 : len(rows)]
    assert all(r[1] is None for r in rows[:7])  # before that, gold's returns came too late


def test_the_tick_labels_a_delayed_bar_with_its_age_and_keeps_it_fresh() -> None:
    records = [bar(m, "BTC", 100.0) for m in range(40)]
    records += [bar(m, "XAU", 4000.0) for m in range(28)]  # gold 12 minutes behind
    det = Detector(CFG)
    det.set_partitions(["p"])
    outputs = []
    for record in sorted(records, key=lambda r: r.ts_ms + (12 * MIN if r.symbol == "XAU" else 0)):
        det.ingest(record, "p")
        outputs += det.advance()
    view = outputs[-1].signal.assets["XAU"]
    assert view.age_min >= 10 and view.fresh
    assert outputs[-1].signal.assets["BTC"].age_min == 0


def test_a_checkpoint_keeps_the_lag_and_the_waiting_rows() -> None:
    on_time = [bar(m, s, 100.0 + (m % 4) + (s == "XAU")) for m in range(60) for s in ("BTC", "XAU")]
    live = run(sorted(on_time, key=lambda r: r.ts_ms + (10 * MIN if r.symbol == "XAU" else 0)))
    back = Detector.restore(CFG, live.snapshot())
    assert back.lag_min == live.lag_min and back.comove_rows == live.comove_rows
