"""Replay's time and speed arguments."""

from __future__ import annotations

import pytest

from shockwatch.runs.replay import ReplayError, parse_speed, parse_when, split_message

NOW = 1_762_300_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-04T14:30:00Z", 1_762_266_600_000),
        ("2025-11-04T09:30:00-05:00", 1_762_266_600_000),
        ("2025-11-04", 1_762_214_400_000),
        ("now", NOW),
        ("2h ago", NOW - 7_200_000),
        ("90 min ago", NOW - 5_400_000),
        ("1d ago", NOW - 86_400_000),
    ],
)
def test_parse_when(text: str, expected: int) -> None:
    assert parse_when(text, now_ms=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2025-11-04T14:30:00", "2025-13-01"])
def test_parse_when_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(ReplayError):
        parse_when(text, now_ms=NOW)


def test_parse_speed() -> None:
    assert parse_speed("max") is None
    assert parse_speed("60x") == 60.0 and parse_speed("1x") == 1.0
    with pytest.raises(ReplayError):
        parse_speed("fast")
    with pytest.raises(ReplayError):
        parse_speed("-2x")


def test_split_message_handles_frames_records_heartbeats_and_garbage() -> None:
    frame = b'[{"ts_ms":1,"a":1},{"ts_ms":3,"a":2},{"kind":"heartbeat","ts_ms":9}]'
    assert split_message(frame, 99) == [(1, b'{"ts_ms":1,"a":1}'), (3, b'{"ts_ms":3,"a":2}')]
    assert split_message(b'{"ts_ms":5}', 99) == [(5, b'{"ts_ms":5}')]
    assert split_message(b"not json", 99) == [(99, b"not json")]
    assert split_message(b'{"kind":"heartbeat","ts_ms":5}', 99) == []
