"""`shockwatch rehearse`: 2025-11-04 through the real worker in live arrival order."""

from __future__ import annotations

import pytest

from common.settings import PROJECT_ROOT
from shockwatch.runs.rehearsal import arrivals
from shockwatch.runs.rehearse import rehearse_day, rehearse_offline
from streams.scenario import read_scenario

pytestmark = pytest.mark.e2e
DAY = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"


def test_2025_11_04_rehearsed_through_the_worker_fires_critical_with_gold_delayed(kafka) -> None:  # type: ignore[no-untyped-def]
    settings = kafka.settings()
    scenario = read_scenario(DAY)
    day = rehearse_day(scenario, settings, kafka=True, plain_kafka=False)
    assert day.rehearsed.mode == "kafka"
    assert day.delays["XAU"].lag_min_s is not None and day.delays["XAU"].lag_min_s >= 600
    assert sum(n for (_, _, item), n in day.dead.items() if item == "XAU") == 0
    assert day.rehearsed.fired == "critical" and day.rehearsed.regime == "plumbing"
    assert day.ok, day.problems
    # the offline rehearsal is a faithful stand-in for the broker: the same transitions
    offline = rehearse_offline(settings, arrivals(scenario, settings))

    def key(a):  # type: ignore[no-untyped-def]
        return (a.ts_ms, a.state, a.severity, a.regime)

    assert [key(a) for a in day.alerts] == [key(a) for a in offline.alerts]
    assert day.dead == offline.dead
