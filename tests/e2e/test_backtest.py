"""`shockwatch backtest --kafka`: a calendar day through the real worker, as offline."""

from __future__ import annotations

import pytest

from common.settings import PROJECT_ROOT
from shockwatch.runs.backtest import run_day

pytestmark = pytest.mark.e2e
DAY = PROJECT_ROOT / "data" / "calendar" / "2022-09-13-hot-cpi"


def test_a_calendar_day_through_the_worker_matches_offline(kafka) -> None:  # type: ignore[no-untyped-def]
    settings = kafka.settings()
    live = run_day(DAY, settings, kafka=True)
    offline = run_day(DAY, settings)
    assert live.mode == "kafka" and live.ok, live.reason
    assert live.fired == offline.fired == "warning"
    assert live.first_fire_ms == offline.first_fire_ms
    assert (live.peak_score, live.peak_ms) == (offline.peak_score, offline.peak_ms)
    assert live.reason == offline.reason
