"""Every bundled scenario through the real broker and the real faust worker."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from common.settings import Settings
from shockwatch.runs.runner import WorkerProcess, check_expectations, run_scenario
from streams.detection.offline import run_offline
from streams.scenario import read_scenario
from streams.topics import create_topics

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
    ev = critical[0].evidence.to_dict()
    assert ev["breadth"] == 1.0
    # Over $500m of the market by the critical fire; the file holds the subscribed venues' share.
    assert ev["liquidations"]["day_total_usd"] > 5e8 * (scenario.observed_share or 1.0)
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

    # The day's topics first, as run_scenario makes them (kept whole: the day is past, and a
    # worker creating them would give them the live retention, which deletes it)
    create_topics(settings, f"scn-{run}.", keep_all=True)
    first.start()
    try:
        wait_for_line(first.log_path, f"active: {inputs} input partitions")
        # paced (a day in ~20 s) so the second worker has joined long before the kill
        result = run_scenario(
            settings, scenario, prefix=f"scn-{run}.", run_id=run, speed=4000,
            on_signal_count=fail_over,
        )  # fmt: skip
    finally:
        first.kill()
    assert events, "the active worker was never killed"
    log = (tmp_path / "runs" / f"{run}.worker.log").read_text()
    assert 0 <= log.index("standing by") < log.index(f"active: {inputs} input partitions")
    assert transitions(result.alerts) == transitions([a for o in reference for a in o.alerts])


def shard_shares(log: str) -> list[int]:
    """The partition counts a scaled-out worker's shard stage was given, in order."""
    return [int(m) for m in re.findall(r"shard stage: (\d+) input partitions", log)]


def test_scaled_out_worker_gives_the_same_alerts(kafka) -> None:  # type: ignore[no-untyped-def]
    """One worker in scale-out mode: its shard stage and its merge stage talk over Kafka
    (shock.summaries), and the day ends with exactly the single detector's alerts."""
    settings = kafka.settings().model_copy(update={"scale_out": True})
    scenario = read_scenario(EVERYTHING_SELLS)
    result = run_scenario(settings, scenario, run_id="scaled")
    offline, _ = run_offline(scenario, settings.detection)
    assert check_expectations(result, scenario) == []
    assert transitions(result.alerts) == transitions([a for o in offline for a in o.alerts])
    log = (settings.state_dir / "runs" / "scaled.worker.log").read_text()
    assert shard_shares(log)[-1] == 2 * settings.input_partitions + 1
    assert "merge stage active" in log


@pytest.mark.faults
def test_two_scaled_out_workers_share_the_work_and_survive_a_kill(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two workers in scale-out mode split the input partitions between their shard stages;
    the first also merges. kill -9 of the first mid-scenario: the second takes its partitions
    (rebuilt from their committed resume points) and the merge (from its checkpoint), and the
    day ends with the same alerts as the detector over the files."""
    settings: Settings = kafka.settings(state_dir=tmp_path).model_copy(update={"scale_out": True})
    scenario = read_scenario(EVERYTHING_SELLS)
    reference, _ = run_offline(scenario, settings.detection)
    run = "shared"
    first = WorkerProcess(settings, f"scn-{run}.", f"shockwatch-scn-{run}", tmp_path / "a.log")
    inputs = 2 * settings.input_partitions + 1
    second_log = tmp_path / "runs" / f"{run}.worker.log"
    shares: dict[str, list[int]] = {}

    def text(path: Path) -> str:
        return path.read_text() if path.exists() else ""

    def kill_first(signals: int, worker: WorkerProcess) -> None:
        if "killed" not in shares and signals >= 600:  # mid-scenario, before the selloff
            shares["first"] = shard_shares(text(first.log_path))
            shares["second"] = shard_shares(text(second_log))
            first.kill()
            shares["killed"] = [signals]

    # The day's topics first, as run_scenario makes them (kept whole: the day is past, and a
    # worker creating them would give them the live retention, which deletes it)
    create_topics(settings, f"scn-{run}.", keep_all=True)
    first.start()
    try:
        deadline = time.monotonic() + 60
        while "merge stage active" not in text(first.log_path):
            assert time.monotonic() < deadline, text(first.log_path)
            time.sleep(0.1)
        # paced (a day in ~20 s) so the second worker has its share long before the kill
        result = run_scenario(
            settings, scenario, prefix=f"scn-{run}.", run_id=run, speed=4000,
            on_signal_count=kill_first,
        )  # fmt: skip
    finally:
        first.kill()
    assert "killed" in shares, "the first worker was never killed"
    # shared: before the kill each worker's shard stage held part of the inputs, all of them
    # between the two; after it the survivor holds all of them and merges.
    first_share, second_share = shares["first"][-1], shares["second"][-1]
    assert 0 < first_share < inputs and 0 < second_share < inputs
    assert first_share + second_share == inputs
    assert shard_shares(text(second_log))[-1] == inputs
    assert "merge stage active" in text(second_log)
    assert transitions(result.alerts) == transitions([a for o in reference for a in o.alerts])
