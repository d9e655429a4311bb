"""Replay in place and the topic lifecycle, the pure parts: clipping a message to the range,
and which prefixes ``topics prune`` may touch."""

from __future__ import annotations

import orjson
import pytest

from shockwatch.replay import EDGE_MS, clip_message
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
