"""backtest --rehearse offline: calendar days in live arrival order give the plain outcomes."""

from __future__ import annotations

import pytest

from common.settings import PROJECT_ROOT, Settings
from shockwatch.runs.rehearse import rehearse_day
from streams.scenario import read_scenario

CALENDAR = PROJECT_ROOT / "data" / "calendar"


@pytest.mark.parametrize("day", ["2022-09-13-hot-cpi", "2025-12-16-calm"])
def test_a_calendar_day_rehearsed_offline_is_the_plain_day(day: str) -> None:
    result = rehearse_day(read_scenario(CALENDAR / day), Settings())
    assert result.ok, result.problems
    assert (result.rehearsed.fired, result.rehearsed.regime) == (
        result.plain.fired,
        result.plain.regime,
    )
    assert sum(result.dead.values()) == 0  # gold and VIX come late, as-of: never dead
    if result.delay_s is not None:
        assert result.slowest is not None and 0 <= result.delay_s <= result.slowest[1]
