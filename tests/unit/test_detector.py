"""The event-time detector: deterministic under any interleaving, late events, checkpoints."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from common.settings import Settings
from streams.detection.detector import Detector
from streams.detection.offline import merged_records, run_offline
from streams.records import Heartbeat, LateEvent, PriceTick
from streams.scenario import read_scenario
from tests.scenario_factory import selloff_session

CFG = Settings().detection


@pytest.fixture(scope="module")
def selloff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return selloff_session(tmp_path_factory.mktemp("scn") / "selloff")


def alerts_of(outputs: list) -> list[tuple]:
    return [(a.ts_ms, a.alert_id, a.state, a.severity, a.regime) for o in outputs for a in o.alerts]


def feed_partitioned(folder: Path, order_seed: int, restart_every: int | None = None) -> list:
    """Three 'partitions' (one per feed) interleaved at random, optionally checkpointing and
    restoring the detector every N events, as the worker does across a crash."""
    scenario = read_scenario(folder)
    queues: dict[str, list] = {}
    for feed, record in merged_records(scenario):
        queues.setdefault(feed, []).append(record)
    end = scenario.end_ms + CFG.alerts.allowed_lateness_s * 1000
    for feed in queues:
        queues[feed].append(Heartbeat(ts_ms=end, source="t"))
    det = Detector(CFG)
    det.set_partitions(queues)
    rng = random.Random(order_seed)
    pos = dict.fromkeys(queues, 0)
    outputs = []
    n = 0
    while any(pos[f] < len(q) for f, q in queues.items()):
        feed = rng.choice([f for f, q in queues.items() if pos[f] < len(q)])
        for _ in range(rng.randint(1, 400)):
            if pos[feed] >= len(queues[feed]):
                break
            det.ingest(queues[feed][pos[feed]], feed, pos[feed])
            pos[feed] += 1
            n += 1
        outputs.extend(det.advance())
        if restart_every and n >= restart_every:
            n = 0
            det = Detector.restore(CFG, det.snapshot())
    return outputs


def test_same_alerts_whatever_the_interleaving(selloff: Path) -> None:
    reference, late = run_offline(read_scenario(selloff), CFG)
    assert late == 0
    assert any(a[3] == "critical" for a in alerts_of(reference))
    for seed in (1, 2, 3):
        outputs = feed_partitioned(selloff, seed)
        assert alerts_of(outputs) == alerts_of(reference)
        assert [o.signal for o in outputs] == [o.signal for o in reference]


def test_checkpoint_and_restore_changes_nothing(selloff: Path) -> None:
    reference, _ = run_offline(read_scenario(selloff), CFG)
    outputs = feed_partitioned(selloff, 7, restart_every=500)
    assert [o.signal for o in outputs] == [o.signal for o in reference]


def test_already_applied_offsets_are_skipped(selloff: Path) -> None:
    det = Detector(CFG)
    det.ingest(Heartbeat(ts_ms=1, source="t"), "p:0", 41)
    assert det.already_applied("p:0", 41) and det.already_applied("p:0", 0)
    assert not det.already_applied("p:0", 42)


def test_late_event_is_rejected_with_a_named_rule() -> None:
    det = Detector(CFG)
    det.set_partitions(["p"])
    t0 = 1_762_266_600_000  # 14:30
    for m in range(1, 10):
        det.ingest(
            PriceTick(
                ts_ms=t0 + m * 60_000,
                source="t",
                symbol="SPX",
                asset_class="equity_index",
                price_usd=100.0,
            ),
            "p",
        )  # type: ignore[arg-type]
    assert det.advance()
    with pytest.raises(LateEvent) as info:
        det.ingest(
            PriceTick(
                ts_ms=t0,
                source="t",
                symbol="SPX",
                asset_class="equity_index",  # type: ignore[arg-type]
                price_usd=90.0,
            ),
            "p",
        )
    assert info.value.reason == "late_event" and info.value.field == "ts_ms"


def test_no_watermark_until_every_partition_has_spoken() -> None:
    det = Detector(CFG)
    det.set_partitions(["a", "b"])
    det.ingest(
        PriceTick(
            ts_ms=1_762_266_660_000,
            source="t",
            symbol="SPX",
            asset_class="equity_index",
            price_usd=1.0,
        ),
        "a",
    )  # type: ignore[arg-type]
    assert det.watermark() is None and det.advance() == []
    det.ingest(Heartbeat(ts_ms=1_762_266_900_000, source="t"), "b")
    assert det.watermark() == 1_762_266_660_000
