"""Replay in place and the topic lifecycle, the pure parts: clipping a message to the range,
and which prefixes ``topics prune`` may touch."""

from __future__ import annotations

import zlib

import orjson
import pytest

from shockwatch.runs.replay import EDGE_MS, clip_message
from shockwatch.runs.replay_plan import (
    Checkpoint,
    ReplayError,
    ReplayStart,
    Span,
    checkpoint_unusable,
    from_checkpoint,
    parse_duration,
)
from streams.topics import TopicNames, group_prefixes, prunable, run_prefix, split_prefix

T1, T2 = 1_000_000_000_000, 1_000_000_000_000 + 3_600_000


def rec(ts: int, kind: str = "price") -> dict:
    return {"kind": kind, "ts_ms": ts, "symbol": "SPX"}


def test_a_message_well_inside_is_passed_whole_without_decoding() -> None:
    value = orjson.dumps([rec(T1 + EDGE_MS), rec(T1 + EDGE_MS + 5)])
    assert clip_message(value, T1 + EDGE_MS + 5, T1, T2) is value


@pytest.mark.parametrize(
    ("stamps", "msg_ts", "kept"),
    [
        ([T1 - 10, T1, T1 + 10], T1 + 10, [T1, T1 + 10]),  # the low edge, mid-frame
        ([T2 - 10, T2, T2 + 10], T2 + 10, [T2 - 10, T2]),  # the high edge, mid-frame
        ([T1 - 20, T1 - 10], T1 + EDGE_MS - 1, []),  # stamped late, all before T1
    ],
)
def test_edge_frames_keep_only_the_records_inside(stamps: list, msg_ts: int, kept: list) -> None:
    out = clip_message(orjson.dumps([rec(t) for t in stamps]), msg_ts, T1, T2)
    if not kept:
        assert out is None
    else:
        assert out is not None
        assert [r["ts_ms"] for r in orjson.loads(out)] == kept


def test_heartbeats_inside_are_kept_and_funding_has_no_low_edge() -> None:
    """A heartbeat inside the range moves its partition's watermark (a heartbeat-only funding
    partition would otherwise hold every tick to the end); past T2 the run adds its own."""
    beat = orjson.dumps({"kind": "heartbeat", "ts_ms": T1 + 2 * EDGE_MS, "source": "x"})
    assert clip_message(beat, T1 + 2 * EDGE_MS, T1, T2) == beat
    assert clip_message(beat, T1 + 2 * EDGE_MS, None, T2) == beat
    late = orjson.dumps({"kind": "heartbeat", "ts_ms": T2 + 60_000, "source": "x"})
    assert clip_message(late, T2 + 60_000, None, T2) is None
    edge = orjson.dumps(
        [{"kind": "heartbeat", "ts_ms": T1 - 1}, {"kind": "heartbeat", "ts_ms": T1}]
    )
    kept = orjson.loads(clip_message(edge, T1, T1, T2) or b"[]")
    assert kept == [{"kind": "heartbeat", "ts_ms": T1}]


def test_unreadable_messages_in_range_are_kept_for_the_detector_to_dead_letter() -> None:
    assert clip_message(b"{not json", T1, T1, T2) == b"{not json"


def test_prefixes_are_read_back_from_topic_names() -> None:
    assert split_prefix("demo-20261129T070000-ab12.shock.alerts") == "demo-20261129T070000-ab12."
    assert split_prefix("x.market.prices.dlq") == "x."
    assert split_prefix("shock.signals") == ""
    assert split_prefix("__consumer_offsets") is None
    assert split_prefix("other.app.topic") is None
    assert split_prefix("xmarket.prices") is None  # a prefix ends with a dot


def test_prune_takes_run_prefixes_only_never_the_live_one() -> None:
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    made = [
        *TopicNames("").all(),  # live, unprefixed
        *TopicNames("prod.").all(),  # live, prefixed
        *TopicNames("scn-20270115T070000-aa.").all(),  # an hour before `now`
        *TopicNames("replay-20200101T000000Z-x.").all(),  # years old
        *TopicNames("bench-lat.").all(),  # no stamp: made before stamps, counts as old
        "__consumer_offsets",
    ]
    infos = group_prefixes(made)
    assert {i.prefix for i in infos} == {
        "", "prod.", "scn-20270115T070000-aa.", "replay-20200101T000000Z-x.", "bench-lat."
    }  # fmt: skip
    assert all(len(i.topics) == len(TopicNames("").all()) for i in infos)
    chosen = {i.prefix for i in prunable(infos, "prod.", now_s=now)}
    assert chosen == {"scn-20270115T070000-aa.", "replay-20200101T000000Z-x.", "bench-lat."}
    day = {i.prefix for i in prunable(infos, "prod.", older_than_s=86_400, now_s=now)}
    assert day == {"replay-20200101T000000Z-x.", "bench-lat."}
    assert {i.prefix for i in prunable(infos, "prod.", prefix="replay-", now_s=now)} == {
        "replay-20200101T000000Z-x."
    }
    # a run prefix that is the live one is never pruned
    assert prunable(infos, "bench-lat.", prefix="bench-", now_s=now) == []


def test_run_prefixes_carry_their_creation_stamp() -> None:
    assert run_prefix("replay", "20251104T150000Z-abc").startswith("replay-20251104T150000Z-abc.")
    made = run_prefix("scn", "mine")
    assert made.startswith("scn-2") and made.endswith("-mine.")
    info = group_prefixes(TopicNames(made).all())[0]
    assert info.kind == "scn" and info.created_s is not None


# -- where a replay's detector starts ----------------------------------------------------------


def test_a_checkpoints_position_is_read_off_its_tail_and_agrees_with_the_snapshot() -> None:
    from common.settings import DetectionSettings
    from streams.app import checkpoint_position, decode_checkpoint
    from streams.detection.detector import Detector

    det = Detector(DetectionSettings())
    det.next_tick_ms, det.ticks = T1, 42
    blob = zlib.compress(orjson.dumps(det.snapshot()), 3)  # the runtime's codec
    assert checkpoint_position(blob) == (T1, 42)
    assert decode_checkpoint(blob)["next_tick_ms"] == T1
    # Another key order still reads (the whole snapshot), and garbage is no checkpoint.
    reordered = {"ticks": 7, "next_tick_ms": None, "version": 2}
    assert checkpoint_position(zlib.compress(orjson.dumps(reordered))) == (None, 7)
    assert checkpoint_position(b"not zlib") is None
    assert checkpoint_position(zlib.compress(b"[1, 2]")) is None


def span(feed: str, partition: int, earliest: int = 0) -> Span:
    return Span(feed, f"x.{feed}", partition, 10, 20, earliest=earliest)


def checkpoint(offsets: dict[str, int], partitions: set[str] | None) -> Checkpoint:
    return Checkpoint(b"", T1, offsets, frozenset(partitions) if partitions else None, 0)


def test_a_checkpoint_serves_only_these_partitions_with_what_followed_it_still_held() -> None:
    plan = [span("prices", 0), span("prices", 1, earliest=5), span("funding", 0)]
    tps = {s.tp for s in plan}
    good = checkpoint({"x.prices:0": 3, "x.prices:1": 7}, tps)
    assert checkpoint_unusable(good, plan) is None
    reads = {s.tp: s.read_from for s in from_checkpoint(plan, good)}
    assert reads == {"x.prices:0": 3, "x.prices:1": 7, "x.funding:0": 0}
    gone = checkpoint({"x.prices:0": 3, "x.prices:1": 4}, tps)  # 4 < earliest 5: deleted
    assert "retention" in (checkpoint_unusable(gone, plan) or "")
    other = checkpoint({"x.prices:0": 3}, {"x.prices:0", "x.prices:9"})
    assert checkpoint_unusable(other, plan) == "its input partitions are not these"


def test_the_start_is_said_and_a_cold_one_warns() -> None:
    warm = ReplayStart("warmup", T1, 7 * 86_400_000, events={"prices": 1200, "funding": 3},
                       ticks=10, carried=("sw-1", "warning"))  # fmt: skip
    assert warm.describe().startswith("warmed up on 2001-09-02T01:46:40Z .. 2001-09-09T01:46:40Z")
    assert "1,203 events" in warm.describe() and "alert sw-1 already warning" in warm.describe()
    cold = ReplayStart("cold", T1, note="no input before 2001-09-09T01:46:40Z")
    assert cold.cold and cold.describe().startswith("cold: no input before")
    assert "alerts may differ from what paged" in cold.describe()
    ck = ReplayStart("checkpoint", T1, checkpoint=checkpoint({"x.prices:0": 3}, None),
                     feed_of={"x.prices": "prices"})  # fmt: skip
    assert ck.describe().startswith(
        "started from checkpoint of 2001-09-09T01:46:40Z (offsets prices[0]=3)"
    )


@pytest.mark.parametrize(("text", "seconds"), [("7d", 604_800), ("36h", 129_600), ("0", 0),
                                               ("90 min", 5_400), ("1w", 604_800)])  # fmt: skip
def test_warmup_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_warmup_duration_is_refused() -> None:
    with pytest.raises(ReplayError, match="duration"):
        parse_duration("a week")
