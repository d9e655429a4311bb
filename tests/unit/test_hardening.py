"""Hostile input: nothing crashes or blinds the worker's runtime, nothing is counted twice."""

from __future__ import annotations

import base64
import hashlib
import logging

import orjson
import pytest

from common.log import RateLimitFilter
from common.settings import PROJECT_ROOT, Settings
from streams.app import DetectorRuntime
from streams.detection.detector import Detector
from streams.detection.offline import merged_records, run_offline
from streams.dlq import MAX_VALUE_BYTES
from streams.records import (
    MAX_MESSAGE_BYTES,
    MAX_TEXT_LEN,
    Heartbeat,
    Liquidation,
    PriceTick,
    RecordError,
    decode_frame,
    wire_items,
)
from streams.scenario import read_scenario
from streams.topics import TopicNames

NAMES = TopicNames("h.")
T = 1_762_268_400_000
NOW = T + 60_000


def liq(n: int, symbol: str = "BTC/USDT:USDT", ts: int = T) -> dict:
    return {
        "schema_version": 1, "ts_ms": ts, "source": "ccxt:okx", "exchange": "okx",
        "symbol": symbol, "base": "BTC", "side_liquidated": "long", "qty_base": 0.01,
        "price_usd": 100_000.0, "notional_usd": 1_000.0, "event_id": f"okx:{n}",
        "lower_bound": True,
    }  # fmt: skip


def run(*values: bytes) -> tuple[DetectorRuntime, object]:
    rt = DetectorRuntime(Settings(), NAMES)
    msgs = [(NAMES.liquidations, 0, i, b"k", v) for i, v in enumerate(values)]
    return rt, rt.process(msgs)


def test_an_item_nested_past_the_serialiser_is_dead_lettered_not_a_crash() -> None:
    nested = b"[" * 300 + b"]" * 300  # orjson reads 1024 levels, writes only 255
    frame = b"[" + orjson.dumps(liq(1)) + b"," + nested + b"]"
    _, res = run(frame)
    assert res.processed == 1  # the valid item of the frame is filed
    [(topic, _, letter)] = res.dead
    assert topic == NAMES.dlq(NAMES.liquidations) and letter.frame_index == 1
    assert base64.b64decode(letter.value_b64) == frame  # kept as the whole message


def test_a_huge_message_gets_a_bounded_letter_with_its_length_and_digest() -> None:
    big = b"[" + b",".join([orjson.dumps(liq(0))] * 5_000) + b"]"
    assert len(big) > MAX_MESSAGE_BYTES
    _, res = run(big)
    [(_, _, letter)] = res.dead
    assert letter.reason == "too_large" and letter.truncated
    assert letter.value_len == len(big)
    assert letter.value_sha256 == hashlib.sha256(big).hexdigest()
    assert len(base64.b64decode(letter.value_b64)) == MAX_VALUE_BYTES
    assert len(letter.encode()) < 100_000  # far under the broker's 1 MB message limit


@pytest.mark.parametrize("field", ["symbol", "exchange", "event_id", "source"])
def test_overlong_strings_are_rejected_by_both_validation_paths(field: str) -> None:
    doc = liq(1)
    doc[field] = "X" * 200_000
    raw = orjson.dumps(doc)
    assert wire_items(Liquidation, raw, NOW, 300_000) is None  # the wire pass declines
    [(_, err)] = decode_frame(Liquidation, raw, NOW)
    assert isinstance(err, RecordError) and err.reason == "too_long" and err.field == field
    ok = liq(1)
    ok[field] = "X" * MAX_TEXT_LEN
    assert wire_items(Liquidation, orjson.dumps(ok), NOW, 300_000) is not None


def test_too_many_items_in_a_frame_is_one_named_reject() -> None:
    frame = b"[" + b",".join([orjson.dumps(liq(0, ts=T))] * 10_001) + b"]"
    if len(frame) <= MAX_MESSAGE_BYTES:  # the item count alone decides
        [(_, err)] = decode_frame(Liquidation, frame, NOW)
        assert err.reason == "too_large"
    assert wire_items(Liquidation, frame, NOW, 300_000) is None


def test_a_resent_liquidation_is_dropped_and_counted_once() -> None:
    one = orjson.dumps(liq(7))
    _, res = run(one, one, b"[" + one + b"," + orjson.dumps(liq(8)) + b"]")
    assert res.processed == 2 and res.dead == []
    assert res.stats.rejects == {("liquidations", "duplicate"): 2}


def test_resent_frames_give_the_alerts_of_a_clean_run() -> None:
    """Every 40th liquidation sent twice (a producer re-sending a batch): the day's alerts,
    their ids, times and liquidation figures are those of the clean day."""
    scenario = read_scenario(PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells")
    cfg = Settings().detection
    clean, _ = run_offline(scenario, cfg)
    det = Detector(cfg)
    det.set_partitions(("prices", "liquidations", "funding"))
    outputs, dups, n_liq = [], 0, 0
    for n, (feed, record) in enumerate(merged_records(scenario)):
        copies = 1
        if feed == "liquidations":
            n_liq += 1
            copies = 2 if n_liq % 40 == 0 else 1
        for _ in range(copies):
            try:
                det.ingest(record, feed)
            except RecordError as exc:
                assert exc.reason == "duplicate"
                dups += 1
        if n % 256 == 0:
            outputs.extend(det.advance())
    for feed in ("prices", "liquidations", "funding"):
        det.ingest(Heartbeat(ts_ms=scenario.end_ms + 2_000, source="t"), feed)
    outputs.extend(det.advance())
    # A re-sent record that arrives while the first copy is held far ahead of its partition
    # (a quiet stretch longer than max_jump_s) is dropped when the hold is released, without a
    # DuplicateEvent: so nearly all, never more, of the re-sends are counted.
    assert n_liq // 40 * 0.98 <= dups <= n_liq // 40 and dups > 500
    key = lambda outs: [(a.ts_ms, a.alert_id, a.state, a.severity, a.headline)  # noqa: E731
                        for o in outs for a in o.alerts]  # fmt: skip
    assert key(outputs) == key(clean) != []


def test_a_price_bar_sent_twice_changes_nothing() -> None:
    tick = PriceTick(ts_ms=T + 60_000, source="t", symbol="SPX", asset_class="equity_index",  # type: ignore[arg-type]
                     price_usd=6_800.0, interval_s=60)  # fmt: skip
    det = Detector(Settings().detection)
    det.ingest(tick, "prices")
    before = orjson.dumps(det.snapshot())
    det.ingest(tick, "prices")
    assert orjson.dumps(det.snapshot()) == before


def test_repeated_warnings_are_rate_limited_with_a_count() -> None:
    now = [0.0]
    limiter = RateLimitFilter(window_s=30.0, clock=lambda: now[0])

    def record(
        msg: str = "Unable connect to node with id %s", logger: str = "aiokafka", **extra: object
    ) -> bool:
        rec = logging.LogRecord(logger, logging.ERROR, __file__, 1, msg, (1,), None)
        rec.__dict__.update(extra)
        return limiter.filter(rec) and rec.getMessage() is not None and rec

    shown = []
    for i in range(1_000):  # 25 s of a client retrying every 25 ms
        now[0] = i * 0.025
        if rec := record():
            shown.append(rec.getMessage())
    assert len(shown) == 1
    now[0] = 31.0
    rec = record()
    assert rec and "[999 more like this in the last 30 s]" in rec.getMessage()
    # the project's own lines (an alert, an assignment) are never held; its retry loggers are
    assert record("ALERT %s", "streams.app") and record("ALERT %s", "streams.app")
    assert record("checkpoint not written %s", "streams.app.retry")
    assert not record("checkpoint not written %s", "streams.app.retry")


# -- liveness: a silent feed cannot stop detection --------------------------------------------


def test_an_idle_partition_is_left_out_of_the_watermark() -> None:
    det = Detector(Settings().detection)
    det.set_partitions(("prices", "funding"))
    for minute in range(10):
        tick = PriceTick(ts_ms=T + minute * 60_000, source="t", symbol="BTC",
                         asset_class="crypto", price_usd=100_000.0 + minute)  # type: ignore[arg-type]  # fmt: skip
        det.ingest(tick, "prices")
    assert det.advance() == []  # funding has shown nothing: no watermark, no tick
    det.idle = frozenset({"funding"})
    outputs = det.advance()
    assert len(outputs) >= 7 and outputs[-1].signal.idle_partitions == ["funding"]
    det.idle = frozenset()
    det.ingest(Heartbeat(ts_ms=T + 20 * 60_000, source="t"), "funding")  # back, and current
    assert len(det.advance()) == 0  # prices now hold the watermark; nothing lost or repeated


async def test_the_input_stage_marks_a_silent_caught_up_partition_idle() -> None:
    import asyncio

    from aiokafka import TopicPartition

    from streams.app import Topology

    settings = Settings(idle_partition_s=0.05)
    rt = DetectorRuntime(settings, NAMES)
    topo = Topology(settings, NAMES, rt, "t", None)
    prices, funding = TopicPartition(NAMES.prices, 0), TopicPartition(NAMES.funding, 0)
    topo.assigned = [prices, funding]
    rt.assign([(NAMES.prices, 0), (NAMES.funding, 0)])
    highwater = {prices: 10, funding: 5}

    class Consumer:
        def highwater(self, tp: TopicPartition) -> int:
            return highwater[tp]

    topo.consumer = Consumer()  # type: ignore[assignment]
    rt.detector.offsets = {f"{NAMES.prices}:0": 10, f"{NAMES.funding}:0": 3}
    topo.mark_idle({})
    await asyncio.sleep(0.06)
    topo.mark_idle({prices: []})  # prices delivered; funding silent but NOT caught up (3 < 5)
    assert rt.detector.idle == frozenset()
    rt.detector.offsets[f"{NAMES.funding}:0"] = 5  # now read to its end, and still silent
    topo.mark_idle({prices: []})
    assert rt.detector.idle == frozenset({f"{NAMES.funding}:0"})
    topo.mark_idle({funding: []})  # it speaks again
    assert rt.detector.idle == frozenset()


# -- one far-ahead record cannot blind a partition -------------------------------------------


def shard_liq(ts: int, n: int) -> Liquidation:
    return Liquidation.from_dict(liq(n, ts=ts), now_ms=2**62)


def test_a_far_ahead_record_is_held_then_found_implausible() -> None:
    from streams.detection.shard import PartitionShard

    shard = PartitionShard(2_000, max_jump_ms=120_000, jump_confirm=3)
    assert shard.file([shard_liq(T, 1)]) == []
    outlier = shard_liq(T + 86_400_000, 2)  # a day ahead: a bad clock
    assert shard.file([outlier]) == []
    assert shard.ts == T and shard.sealed_before() < T // 60_000  # the seal did not move
    assert shard.file([shard_liq(T + 30_000, 3)]) == []  # the real stream goes on, not late
    assert shard.take_implausible() == [(outlier, None)]
    assert shard.ts == T + 30_000


def test_far_ahead_records_confirmed_by_the_next_ones_or_a_heartbeat() -> None:
    from streams.detection.shard import PartitionShard

    shard = PartitionShard(2_000, max_jump_ms=120_000, jump_confirm=3)
    shard.file([shard_liq(T, 1)])
    gap = T + 17 * 3_600_000  # the next session
    for n in range(3):
        assert shard.file([shard_liq(gap + n * 60_000, 10 + n)]) == []
    assert shard.ts == gap + 120_000 and not shard.held and not shard.implausible
    again = PartitionShard.from_dict(2_000, shard.to_dict())
    assert again.to_dict() == shard.to_dict()
    shard.file([shard_liq(gap + 3 * 3_600_000, 20)])  # held ...
    snap = PartitionShard.from_dict(2_000, shard.to_dict())  # ... and checkpointed
    assert [r.event_id for r, _ in snap.held] == ["okx:20"]
    shard.add(Heartbeat(ts_ms=gap + 3 * 3_600_000 + 5_000, source="producer"))  # confirms it
    assert not shard.held and shard.liq  # filed


def test_one_far_ahead_record_does_not_change_the_days_alerts() -> None:
    """The 2025-11-04 day with one liquidation stamped three days ahead early in the day: the
    same alerts as the clean day, and that record alone is implausible."""
    scenario = read_scenario(PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells")
    cfg = Settings().detection
    clean, _ = run_offline(scenario, cfg)
    det = Detector(cfg)
    det.set_partitions(("prices", "liquidations", "funding"))
    outputs, injected, seen = [], False, 0
    for n, (feed, record) in enumerate(merged_records(scenario)):
        seen += feed == "liquidations"
        if feed == "liquidations" and not injected and seen > 100:
            bad = Liquidation.from_dict({**orjson.loads(record.encode()),
                                         "ts_ms": scenario.end_ms + 3 * 86_400_000,
                                         "event_id": "bad-clock"}, now_ms=2**62)  # fmt: skip
            det.ingest(bad, "liquidations")
            injected = True
        det.ingest(record, feed)
        if n % 256 == 0:
            outputs.extend(det.advance())
    for feed in ("prices", "liquidations", "funding"):
        det.ingest(Heartbeat(ts_ms=scenario.end_ms + 2_000, source="t"), feed)
    outputs.extend(det.advance())
    key = lambda outs: [(a.ts_ms, a.alert_id, a.state, a.severity)  # noqa: E731
                        for o in outs for a in o.alerts]  # fmt: skip
    assert key(outputs) == key(clean) != []
    gone = det.shards["liquidations"].take_implausible()
    assert [r.event_id for r, _ in gone] == ["bad-clock"]


def test_the_worker_dead_letters_the_implausible_record_with_its_offset() -> None:
    _, res = run(
        orjson.dumps(liq(1, ts=T)),
        orjson.dumps(liq(2, ts=T + 86_400_000)),
        orjson.dumps(liq(3, ts=T + 30_000)),
    )
    [(_, _, letter)] = res.dead
    assert (letter.reason, letter.offset) == ("implausible_time", 1)
    assert orjson.loads(base64.b64decode(letter.value_b64))["event_id"] == "okx:2"
