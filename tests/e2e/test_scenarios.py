"""Every bundled scenario through the real broker and the real faust worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shockwatch.runner import WorkerProcess, check_expectations, run_scenario
from shockwatch.scenario import read_scenario
from shockwatch.settings import Settings
from streams.detection.offline import run_offline

pytestmark = pytest.mark.e2e
SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
EVERYTHING_SELLS = SCENARIOS / "2025-11-04-everything-sells"
EXPECTING = sorted(p.parent.name for p in SCENARIOS.glob("*/scenario.toml")
                   if "[expect]" in p.read_text())  # fmt: skip


def transitions(alerts: list) -> list[tuple]:
    return [(a.ts_ms, a.alert_id, a.state, a.severity, a.regime, a.score) for a in alerts]


def test_every_expecting_scenario_is_bundled() -> None:
    assert {"2025-11-04-everything-sells", "calm-day", "crypto-only-crash",
            "funding-squeeze"} <= set(EXPECTING)  # fmt: skip


@pytest.mark.parametrize("name", EXPECTING)
def test_scenario_meets_its_expectation(kafka, name: str) -> None:  # type: ignore[no-untyped-def]
    settings = kafka.settings()
    scenario = read_scenario(SCENARIOS / name)
    result = run_scenario(settings, scenario)
    assert check_expectations(result, scenario) == []
    # the worker over Kafka and the detector over the files agree exactly
    offline, late = run_offline(scenario, settings.detection)
    assert late == 0
    assert transitions(result.alerts) == transitions([a for o in offline for a in o.alerts])


def test_everything_sells_fires_critical_with_evidence_and_twice_the_same(kafka) -> None:  # type: ignore[no-untyped-def]
    settings = kafka.settings()
    scenario = read_scenario(EVERYTHING_SELLS)
    first = run_scenario(settings, scenario)
    critical = [a for a in first.alerts if a.state == "firing" and a.severity == "critical"]
    assert len(critical) == 1
    ev = critical[0].evidence
    assert ev["breadth"] == 1.0
    assert ev["liquidations"]["day_total_usd"] > 5e8
    assert ev["funding"]["stress"] > 0.5
    second = run_scenario(settings, scenario)
    assert transitions(second.alerts) == transitions(first.alerts)


@pytest.mark.faults
def test_kill_and_restart_mid_scenario_gives_the_same_alerts(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = kafka.settings(state_dir=tmp_path)
    scenario = read_scenario(EVERYTHING_SELLS)
    reference, _ = run_offline(scenario, settings.detection)
    killed: list[int] = []

    def kill_once(signals: int, worker: WorkerProcess) -> None:
        if not killed and signals >= 600:  # mid-scenario, before the US session's selloff
            worker.kill()
            killed.append(signals)
            worker.start()

    result = run_scenario(settings, scenario, on_signal_count=kill_once)
    assert killed, "the worker was never killed"
    assert transitions(result.alerts) == transitions([a for o in reference for a in o.alerts])


@pytest.mark.faults
def test_standby_takes_over_when_the_active_worker_dies(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two workers in one group: one active, one standing by. kill -9 of the active one mid-
    scenario; the standby restores the checkpoint and the day ends with the same alerts."""
    settings: Settings = kafka.settings(state_dir=tmp_path)
    scenario = read_scenario(EVERYTHING_SELLS)
    reference, _ = run_offline(scenario, settings.detection)
    run = "standby"
    first = WorkerProcess(settings, f"scn-{run}.", f"shockwatch-scn-{run}", tmp_path / "a.log")
    inputs = 2 * settings.input_partitions + 1  # prices, liquidations, funding (one partition)
    events: list[str] = []

    def wait_for_line(path: Path, text: str) -> None:
        deadline = time.monotonic() + 60
        while text not in (path.read_text() if path.exists() else ""):
            assert time.monotonic() < deadline, f"no {text!r} in {path}"
            time.sleep(0.1)

    def fail_over(signals: int, worker: WorkerProcess) -> None:
        if not events and signals >= 600:  # mid-scenario, before the US session's selloff
            wait_for_line(worker.log_path, "standing by")  # the run's worker joined as standby
            first.kill()
            events.append(f"active worker killed at {signals} signals")

    first.start()
    try:
        wait_for_line(first.log_path, f"active: {inputs} input partitions")
        # paced (a day in ~20 s) so the second worker has joined long before the kill
        result = run_scenario(settings, scenario, run_id=run, speed=4000, on_signal_count=fail_over)
    finally:
        first.kill()
    assert events, "the active worker was never killed"
    log = (tmp_path / "runs" / f"{run}.worker.log").read_text()
    assert 0 <= log.index("standing by") < log.index(f"active: {inputs} input partitions")
    assert transitions(result.alerts) == transitions([a for o in reference for a in o.alerts])
