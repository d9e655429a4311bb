"""Scale-out detection: partition shards -> summaries -> one merging detector.

The merged result must equal the single detector's exactly, whatever the order summaries
arrive in across partitions, and when shards crash and are rebuilt from their committed resume
points (so sealed minutes are summarized again, from part of their events)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from common.settings import Settings
from streams.detection.detector import Detector
from streams.detection.offline import merged_records, run_offline
from streams.detection.shard import PartitionShard, Summary
from streams.records import FundingObservation, Heartbeat, LateEvent, Liquidation, PriceTick
from streams.scenario import read_scenario
from tests.scenario_factory import selloff_session

CFG = Settings().detection
LATENESS = CFG.alerts.allowed_lateness_s * 1000
MIN = 60_000
T0 = 1_762_266_600_000  # 2025-11-04 14:30 UTC


@pytest.fixture(scope="module")
def selloff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return selloff_session(tmp_path_factory.mktemp("scn") / "selloff", minutes=240)


def price(ts: int, symbol: str = "SPX", usd: float = 100.0) -> PriceTick:
    return PriceTick(ts_ms=ts, source="t", symbol=symbol, asset_class="equity_index",  # type: ignore[arg-type]
                     price_usd=usd)  # fmt: skip


def liquidation(ts: int, usd: float) -> Liquidation:
    return Liquidation(ts_ms=ts, source="t", exchange="okx", symbol="BTC/USDT:USDT", base="BTC",
                       side_liquidated="long", qty_base=usd / 1e5, price_usd=1e5,  # type: ignore[arg-type]
                       notional_usd=usd, event_id=f"e{ts}")  # fmt: skip


def partitions_of(folder: Path) -> tuple[dict[str, list], int]:
    """Each feed as one partition, in file order, with a closing heartbeat."""
    scenario = read_scenario(folder)
    queues: dict[str, list] = {}
    for feed, record in merged_records(scenario):
        queues.setdefault(feed, []).append(record)
    end = scenario.end_ms + LATENESS
    for queue in queues.values():
        queue.append(Heartbeat(ts_ms=end, source="t"))
    return queues, end


def scaled_out(queues: dict[str, list], seed: int, crash_every: int | None) -> list:
    """Shards fed in random chunks, their summaries (encoded, as on the wire) merged in arrival
    order; shards crash now and then and restart from the resume point committed last."""
    rng = random.Random(seed)
    shards = {tp: PartitionShard(LATENESS) for tp in queues}
    pos = dict.fromkeys(queues, 0)
    committed: dict[str, tuple[int, int]] = {}
    wire: list[bytes] = []
    merge = Detector(CFG)
    merge.set_partitions(queues)
    outputs: list = []
    steps = 0
    while any(pos[tp] < len(q) for tp, q in queues.items()):
        tp = rng.choice([t for t, q in queues.items() if pos[t] < len(q)])
        shard = shards[tp]
        for _ in range(rng.randint(1, 300)):
            if pos[tp] >= len(queues[tp]):
                break
            shard.begin(pos[tp])
            shard.add(queues[tp][pos[tp]])
            pos[tp] += 1
        summary = shard.seal(tp)
        if summary is not None:
            wire.append(summary.encode())
        if rng.random() < 0.3:  # a commit: the summaries so far are delivered
            point = shard.resume()
            if point is not None:
                committed[tp] = point
        steps += 1
        if crash_every and steps % crash_every == 0:
            # kill -9 of the shard: its open minutes are gone; rebuilt from the commit.
            offset, ts = committed.get(tp, (0, -1))
            shards[tp] = PartitionShard.resumed(LATENESS, ts)
            pos[tp] = offset
        # the merging side reads what has arrived, at its own pace
        while wire and rng.random() < 0.7:
            merge.apply(Summary.decode(wire.pop(0)))
        outputs.extend(merge.advance())
    for raw in wire:
        merge.apply(Summary.decode(raw))
    outputs.extend(merge.advance())
    assert merge.late_minutes == 0
    return outputs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scaled_out_detection_equals_the_single_detector(selloff: Path, seed: int) -> None:
    reference, late = run_offline(read_scenario(selloff), CFG)
    assert late == 0 and any(a.severity == "critical" for o in reference for a in o.alerts)
    queues, _ = partitions_of(selloff)
    outputs = scaled_out(queues, seed, crash_every=None)
    assert [o.signal for o in outputs] == [o.signal for o in reference]
    assert [o.alerts for o in outputs] == [o.alerts for o in reference]


@pytest.mark.parametrize("seed", [4, 5])
def test_crashed_shards_rebuilt_from_their_commits_change_nothing(selloff: Path, seed: int) -> None:
    reference, _ = run_offline(read_scenario(selloff), CFG)
    queues, _ = partitions_of(selloff)
    outputs = scaled_out(queues, seed, crash_every=7)
    assert [o.signal for o in outputs] == [o.signal for o in reference]


def test_resume_point_is_where_the_oldest_open_minute_began() -> None:
    shard = PartitionShard(LATENESS)
    assert shard.resume() is None
    shard.begin(0)
    shard.add(price(T0 + 10_000))  # minute 0 opens at offset 0, partition time -1 before it
    shard.begin(1)
    shard.add(price(T0 + MIN + 1_000))  # minute 1 opens at offset 1
    assert shard.resume() == (0, -1)
    shard.begin(2)
    shard.add(Heartbeat(ts_ms=T0 + MIN + LATENESS, source="t"))  # seals minute 0
    summary = shard.seal("p:0")
    assert summary is not None and [m for m, _, _ in summary.minutes] == [T0 // MIN]
    assert summary.sealed_before == T0 // MIN + 1 and summary.through_ms == T0 + MIN + LATENESS
    assert shard.resume() == (1, T0 + 10_000)  # minute 1's first message, time before it
    shard.begin(3)
    shard.add(FundingObservation(ts_ms=T0, source="t", series="SOFR", observation_date="2025-11-03",
                                 value=4.22, unit="percent"))  # type: ignore[arg-type]  # fmt: skip
    assert shard.resume() == (1, T0 + 10_000)
    shard.begin(4)
    shard.add(Heartbeat(ts_ms=T0 + 5 * MIN, source="t"))
    summary = shard.seal("p:0")
    assert summary is not None and summary.funding == [["SOFR", "2025-11-03", T0, 4.22, 0]]
    assert shard.resume() == (5, T0 + 5 * MIN)  # nothing open: after the last message
    assert shard.seal("p:0") is None  # nothing moved


def test_late_means_behind_the_partitions_own_sealed_minutes() -> None:
    shard = PartitionShard(LATENESS)
    shard.add(price(T0 + MIN + LATENESS - 1))  # minute 0 not sealed yet: lateness left
    shard.add(price(T0 + 59_000))  # minute 0: still taken
    shard.add(liquidation(T0 + MIN + LATENESS, 1_000.0))  # partition time passes 0's end + 2 s
    with pytest.raises(LateEvent) as info:
        shard.add(price(T0 + 59_999))
    assert info.value.reason == "late_event" and info.value.field == "ts_ms"
    shard.add(FundingObservation(ts_ms=T0 - 86_400_000, source="t", series="SOFR",
                                 observation_date="2025-11-02", value=4.2, unit="percent"))  # type: ignore[arg-type]  # fmt: skip
    other = PartitionShard(LATENESS)
    other.add(price(T0 + 59_999))  # another partition, not sealed there: taken
    other.close(T0 // MIN + 1)  # ... until the detector has ticked its minute
    with pytest.raises(LateEvent):
        other.add(price(T0 + 30_000))


def test_the_merge_skips_minutes_a_partition_already_sealed() -> None:
    merge = Detector(CFG)
    merge.set_partitions(["p:0"])
    first = PartitionShard(LATENESS)
    for i, usd in enumerate([100.0, 250.0]):
        first.begin(i)
        first.add(liquidation(T0 + i * 1000, usd))
    first.begin(2)
    first.add(Heartbeat(ts_ms=T0 + MIN + LATENESS, source="t"))
    sent = first.seal("p:0")
    assert sent is not None
    merge.apply(Summary.decode(sent.encode()))
    # a restarted shard re-reads from offset 1 and seals minute 0 again with part of it
    again = PartitionShard.resumed(LATENESS, T0)
    again.begin(1)
    again.add(liquidation(T0 + 1000, 250.0))
    again.begin(2)
    again.add(Heartbeat(ts_ms=T0 + MIN + LATENESS, source="t"))
    resent = again.seal("p:0")
    assert resent is not None and resent.minutes
    merge.apply(resent)
    assert merge.pending_liq[T0 // MIN].notional_usd == 35_000  # cents: 100 + 250, once
    (out,) = merge.advance()
    assert out.signal.liquidations.day_total_usd == 350.0
