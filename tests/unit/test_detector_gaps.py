"""Event-time gaps: a recorded day followed by data 30 days later costs a bounded number of
signals, and the alerts and the state after the gap are those of ticking every minute."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from common.settings import DetectionSettings, Settings
from streams.detection.detector import Detector, TickOutput, settled
from streams.detection.offline import merged_records
from streams.records import Heartbeat, PriceTick
from streams.scenario import FEEDS, read_scenario

CFG = Settings().detection
DAY = Path(__file__).resolve().parents[2] / "data/scenarios/2025-11-04-everything-sells"
MIN_MS = 60_000
GAP_MS = 30 * 86_400_000
AFTER_MIN = 10  # minutes of data after the gap


def with_gap(folder: Path) -> tuple[dict[str, list[Any]], int, int]:
    """Per feed (a partition each): the day's records, then, 30 days after its end, a heartbeat
    and ``AFTER_MIN`` minutes of bars of every symbol, closed by heartbeats. Returns the queues,
    the day's end and the time the data resumes."""
    scenario = read_scenario(folder)
    queues: dict[str, list[Any]] = {feed: [] for feed in FEEDS}
    last: dict[str, PriceTick] = {}
    for feed, record in merged_records(scenario):
        queues[feed].append(record)
        if isinstance(record, PriceTick):
            last[record.symbol] = record
    resume = (scenario.end_ms + GAP_MS) // MIN_MS * MIN_MS
    for feed in FEEDS:
        queues[feed].append(Heartbeat(ts_ms=resume, source="t"))
    for i in range(AFTER_MIN):
        for symbol, bar in sorted(last.items()):
            queues["prices"].append(
                PriceTick(
                    ts_ms=resume + i * MIN_MS + 30_000,
                    source="t",
                    symbol=symbol,
                    asset_class=bar.asset_class,
                    price_usd=bar.price_usd * (1 + 0.0001 * i),
                )
            )
    end = resume + (AFTER_MIN + 1) * MIN_MS + CFG.alerts.allowed_lateness_s * 1000
    for feed in FEEDS:
        queues[feed].append(Heartbeat(ts_ms=end, source="t"))
    return queues, scenario.end_ms, resume


def run(
    queues: dict[str, list[Any]], cfg: DetectionSettings, seed: int | None = None
) -> tuple[list[TickOutput], Detector]:
    """Feed the partitions in event-time order (``seed`` None) or in a random interleaving,
    advancing after each chunk, as the worker does after each batch."""
    det = Detector(cfg)
    det.set_partitions(queues)
    pos = dict.fromkeys(queues, 0)
    rng = random.Random(seed)
    outputs: list[TickOutput] = []
    if seed is None:
        merged = sorted(
            ((r.ts_ms, i, feed, r) for feed, q in queues.items() for i, r in enumerate(q)),
            key=lambda x: (x[0], x[1]),
        )
        for n, (_, i, feed, record) in enumerate(merged):
            det.ingest(record, feed, i)
            if n % 256 == 0:
                outputs.extend(det.advance())
    else:
        while any(pos[f] < len(q) for f, q in queues.items()):
            feed = rng.choice([f for f, q in queues.items() if pos[f] < len(q)])
            for _ in range(rng.randint(1, 2000)):
                if pos[feed] >= len(queues[feed]):
                    break
                det.ingest(queues[feed][pos[feed]], feed, pos[feed])
                pos[feed] += 1
            outputs.extend(det.advance())
    outputs.extend(det.advance())
    return outputs, det


def alerts_of(outputs: list[TickOutput]) -> list[tuple[Any, ...]]:
    return [(a.ts_ms, a.alert_id, a.state, a.severity) for o in outputs for a in o.alerts]


@pytest.fixture(scope="module")
def gap() -> tuple[dict[str, list[Any]], int, int]:
    return with_gap(DAY)


@pytest.fixture(scope="module")
def every_minute(gap: tuple[dict[str, list[Any]], int, int]) -> tuple[list[TickOutput], Detector]:
    """The reference: every empty minute of the 30 days ticked (``max_gap_ticks`` 0)."""
    alerts = CFG.alerts.model_copy(update={"max_gap_ticks": 0})
    return run(gap[0], CFG.model_copy(update={"alerts": alerts}))


def test_a_30_day_gap_costs_a_bounded_number_of_signals(
    gap: tuple[dict[str, list[Any]], int, int],
    every_minute: tuple[list[TickOutput], Detector],
) -> None:
    queues, day_end, resume = gap
    outputs, det = run(queues, CFG)
    reference, ref_det = every_minute
    in_gap = [o for o in outputs if day_end < o.signal.ts_ms <= resume]
    ref_in_gap = [o for o in reference if day_end < o.signal.ts_ms <= resume]
    assert len(ref_in_gap) > 40_000  # what the worker emitted before: a signal a minute
    assert 0 < len(in_gap) <= CFG.alerts.max_gap_ticks
    assert det.skipped_minutes > 40_000
    assert det.ticks + det.skipped_minutes == ref_det.ticks
    # The day ended in a critical episode: it resolves inside the gap, at the same minute,
    # with the same id, and nothing else fires.
    alerts = alerts_of(outputs)
    assert alerts == alerts_of(reference)
    assert [a[2:] for a in alerts] == [
        ("firing", "warning"),
        ("firing", "critical"),
        ("resolved", "critical"),
    ]
    assert day_end < alerts[-1][0] < resume
    # Every signal emitted is the one ticking every minute gives; after the gap, all of them.
    by_ts = {o.signal.ts_ms: o.signal for o in reference}
    assert all(o.signal == by_ts[o.signal.ts_ms] for o in outputs)
    after = [o.signal for o in outputs if o.signal.ts_ms > resume]
    assert len(after) == AFTER_MIN + 1  # and the empty minute the closing heartbeats end
    assert after == [o.signal for o in reference if o.signal.ts_ms > resume]
    # The state is the same but for the count of ticks evaluated.
    snap, ref_snap = det.snapshot(), ref_det.snapshot()
    snap.pop("ticks"), ref_snap.pop("ticks")
    assert snap == ref_snap


def test_the_gap_is_the_same_whatever_the_interleaving(
    gap: tuple[dict[str, list[Any]], int, int],
) -> None:
    """Which minutes are skipped depends on the input only, not on how far the watermark
    moved in one batch: random interleavings give the same signals."""
    reference, _ = run(gap[0], CFG)
    for seed in (1, 2):
        outputs, _ = run(gap[0], CFG, seed)
        assert [o.signal for o in outputs] == [o.signal for o in reference]
        assert alerts_of(outputs) == alerts_of(reference)


def test_over_the_bound_a_detector_that_cannot_settle_stops_ticking(
    gap: tuple[dict[str, list[Any]], int, int],
) -> None:
    """Funding alone able to fire (its weight above the warning score): the detector never
    settles, and the bound caps the gap at ``max_gap_ticks`` signals after the newest data."""
    queues, day_end, resume = gap
    weights = {**CFG.score.weights, "funding": 60.0}
    cfg = CFG.model_copy(
        update={
            "score": CFG.score.model_copy(update={"weights": weights}),
            "alerts": CFG.alerts.model_copy(update={"max_gap_ticks": 120}),
        }
    )
    outputs, det = run(queues, cfg)
    assert not settled(det, resume // MIN_MS)
    in_gap = [o for o in outputs if day_end < o.signal.ts_ms <= resume]
    assert len(in_gap) <= 120 + 1  # the bound, after the newest bar (a minute before the end)
    assert len([o for o in outputs if o.signal.ts_ms > resume]) == AFTER_MIN + 1
