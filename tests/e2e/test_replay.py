"""Replay by time range against the real broker: in place (the detector reads the input topics
themselves), exact ranges, determinism (twice in place, and in place vs the exported folder run
by the real worker), no disturbance of a live consumer group, and topics that do not pile up.

The day is loaded once while the real worker runs over it (the "live" run: what paged), paused
at ``HOLD`` until the worker's checkpoint of that point is on the state topic. Replays that
start later in the day then reproduce the live run's alert transitions whether they start from
that checkpoint or warm up on the input before their start."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from common.kafka import kafka_python_config, partitions_for
from common.settings import Settings
from shockwatch.runs.replay import iso, parse_when, replay
from shockwatch.runs.replay_plan import find_checkpoint
from shockwatch.runs.runner import RunResult, WorkerProcess, run_scenario, save_run
from streams.detection.offline import run_offline
from streams.scenario import iter_raw, read_scenario
from streams.topics import TopicNames, list_prefixes, prunable

pytestmark = pytest.mark.e2e
SCENARIO = Path(__file__).resolve().parents[2] / "data/scenarios/2025-11-04-everything-sells"
T1 = parse_when("2025-11-03T20:30:00Z")  # mid-way through the warm-up hour before start
T2 = parse_when("2025-11-04T19:30:00Z")
HOLD = parse_when("2025-11-04T12:00:00Z")  # the live load pauses here until it is checkpointed
CHECKPOINT_TIMEOUT_S = 120.0
COLD = {"warmup_s": 0, "checkpoints": False}  # the detector starts empty at T1
END = parse_when("2025-11-04T21:00:00Z")  # the README's example: --to "2025-11-04T21:00Z"


@pytest.fixture(scope="module")
def live_day(  # type: ignore[no-untyped-def]
    kafka, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, RunResult]:
    """The scenario loaded once into 'live' topics (framed, as the runner does) while the real
    worker runs over them: its signals and alerts are what paged. The load pauses at ``HOLD``
    until the worker's checkpoint of every tick before it is on the state topic."""
    prefix = f"live{int(time.time() * 1000) % 10**8}."
    settings = kafka.settings(
        topic_prefix=prefix,
        state_dir=tmp_path_factory.mktemp("state"),
        reports_dir=tmp_path_factory.mktemp("reports"),
    )

    def checkpointed() -> None:
        deadline = time.monotonic() + CHECKPOINT_TIMEOUT_S
        while time.monotonic() < deadline:
            found = find_checkpoint(settings, TopicNames(prefix), HOLD)
            if found is not None and found.next_tick_ms == HOLD:
                return
            time.sleep(0.5)
        raise AssertionError(f"no checkpoint of {iso(HOLD)} within {CHECKPOINT_TIMEOUT_S:.0f} s")

    run = run_scenario(
        settings,
        read_scenario(SCENARIO),
        prefix=prefix,
        keep_topics=True,
        keep_signals=True,
        hold=(HOLD, checkpointed),
    )
    return settings, run


@pytest.fixture(scope="module")
def live(live_day: tuple[Settings, RunResult]) -> Settings:
    return live_day[0]


@pytest.fixture(scope="module")
def paged(live_day: tuple[Settings, RunResult]) -> RunResult:
    """The live run: its alert transitions (de-duplicated) and every signal."""
    return live_day[1]


def expected_inputs(tmp: Path) -> Path:
    """The scenario's lines inside [T1, T2] (funding: everything published by T2)."""
    out = tmp / "expected"
    out.mkdir()
    for feed in ("prices", "liquidations", "funding"):
        src = next(SCENARIO.glob(f"{feed}.jsonl*"))
        keep = []
        for _, raw in iter_raw(src):
            ts = orjson.loads(raw)["ts_ms"]
            if ts <= T2 and (feed == "funding" or ts >= T1):
                keep.append(raw)
        (out / f"{feed}.jsonl").write_bytes(b"".join(x + b"\n" for x in keep))
    (out / "scenario.toml").write_text(
        'name = "expected"\nstart = "2025-11-03T20:30:00Z"\nend = "2025-11-04T19:30:00Z"\n'
    )
    return out


def alert_tuples(alerts: list) -> list[tuple]:
    return [(a.ts_ms, a.alert_id, a.state, a.severity, a.regime, a.score) for a in alerts]


def test_mid_range_replay_is_exact_and_deterministic(live: Settings, tmp_path: Path) -> None:
    """Cold (no warm-up, no checkpoint): exactly the range's records, as its exported folder."""
    first = replay(live, T1, T2, run_id="mid-a", save_inputs=True, **COLD)
    assert first.start.kind == "cold"
    exp_dir = expected_inputs(tmp_path)
    assert first.inputs is not None
    for feed in ("prices", "liquidations", "funding"):
        expected = sum(1 for _ in iter_raw(exp_dir / f"{feed}.jsonl"))
        # in place: the records the detector took from the range; saved: the folder's lines
        assert first.counts[feed] == expected, feed
        assert first.inputs.counts[feed] == expected, feed
    assert first.events > 10_000
    implied, _ = run_offline(read_scenario(exp_dir), live.detection)
    assert alert_tuples(first.run.alerts) == alert_tuples([a for o in implied for a in o.alerts])
    assert any(a.severity == "critical" for a in first.run.alerts)
    second = replay(live, T1, T2, run_id="mid-b", **COLD)
    for name in ("signals.jsonl", "alerts.jsonl"):
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes()
    assert (first.run_dir / "signals.jsonl").stat().st_size > 0
    # The saved inputs through the real worker process (loaded under a fresh prefix): the very
    # same signals and alerts as the replay in place.
    folder = first.inputs.scenario
    run = run_scenario(live, folder, keep_signals=True)
    save_run(run, folder, tmp_path / "from-folder", "from-folder")
    for name in ("signals.jsonl", "alerts.jsonl"):
        in_place = (first.run_dir / name).read_bytes()
        assert (tmp_path / "from-folder" / name).read_bytes() == in_place, name
    # Nothing of the three runs is left on the broker: each deleted its topics.
    ours = {first.run.prefix, second.run.prefix, run.prefix}
    assert len(ours) == 3 and all(p.startswith(("replay-", "scn-")) for p in ours)
    assert ours.isdisjoint(p.prefix for p in list_prefixes(live))


def test_replay_in_place_clips_the_range_edges(live: Settings) -> None:
    """A range whose ends fall inside frames: only the records inside count, and the ticks stop
    at T2 (the range's own heartbeat closes the last one)."""
    t1, t2 = parse_when("2025-11-04T14:30:30Z"), parse_when("2025-11-04T15:10:30Z")
    r = replay(live, t1, t2, run_id="edges", feeds=("prices", "liquidations"), **COLD)
    expected = {"prices": 0, "liquidations": 0}
    for feed in expected:
        src = next(SCENARIO.glob(f"{feed}.jsonl*"))
        expected[feed] = sum(
            1 for _, raw in iter_raw(src) if t1 <= orjson.loads(raw)["ts_ms"] <= t2
        )
    assert {f: r.counts.get(f, 0) for f in expected} == expected
    assert r.counts.get("funding", 0) == 0  # not selected: its partitions only heartbeat
    ticks = [
        orjson.loads(line)["ts_ms"]
        for line in (r.run_dir / "signals.jsonl").read_bytes().splitlines()
    ]
    assert ticks and ticks == sorted(ticks) and max(ticks) <= t2
    assert r.run.last_tick_ms == (t2 // 60_000) * 60_000


def test_kept_replay_topics_are_pruned_and_the_live_prefix_never(live: Settings) -> None:
    from typer.testing import CliRunner

    from shockwatch.cli.main import app

    kept = replay(live, T1, T1 + 3_600_000, run_id="kept", keep_topics=True)
    names = TopicNames(kept.run.prefix)
    parts = partitions_for(live, [names.signals, names.alerts])
    assert set(parts) == {names.signals, names.alerts}
    prefixes = list_prefixes(live)
    chosen = [p.prefix for p in prunable(prefixes, live.topic_prefix)]
    assert kept.run.prefix in chosen and live.topic_prefix not in chosen
    # nothing is that old yet: --older-than keeps it
    assert kept.run.prefix not in [p.prefix for p in prunable(prefixes, "", older_than_s=3600)]
    env = {"SHOCKWATCH_KAFKA_BOOTSTRAP": live.kafka_bootstrap or "",
           "SHOCKWATCH_TOPIC_PREFIX": live.topic_prefix}  # fmt: skip
    runner = CliRunner()
    dry = runner.invoke(app, ["topics", "prune", "--prefix", kept.run.prefix, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would delete" in dry.output and kept.run.prefix in dry.output
    assert names.signals in partitions_for(live, [names.signals])
    done = runner.invoke(app, ["topics", "prune", "--prefix", kept.run.prefix], env=env)
    assert done.exit_code == 0, done.output
    assert partitions_for(live, [names.signals, names.alerts]) == {}
    live_inputs = partitions_for(live, list(TopicNames(live.topic_prefix).inputs))
    assert len(live_inputs) == 3  # the live topics are all still there


def end_offsets(settings: Settings, topics: tuple[str, ...]) -> dict:
    from kafka import KafkaConsumer, TopicPartition

    from common.kafka import partitions_for

    consumer = KafkaConsumer(**kafka_python_config(settings))
    try:
        parts = partitions_for(settings, list(topics))
        tps = [TopicPartition(t, p) for t in topics for p in range(parts[t])]
        return {(tp.topic, tp.partition): off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def committed(settings: Settings, group: str) -> dict:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        except KafkaError:  # the group's coordinator is still being set up
            return {}
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        admin.close()


def consumer_groups(settings: Settings) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka_python_config(settings))
    try:
        return {g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()}
    finally:
        admin.close()


def test_replay_leaves_a_running_live_group_untouched(live: Settings, tmp_path: Path) -> None:
    group = f"{live.topic_prefix}live-worker"
    worker = WorkerProcess(live, live.topic_prefix, group, tmp_path / "worker.log")
    worker.start()
    try:
        # Wait until the live worker's committed offsets are settled (no change for 5 s): from
        # then on they only move if something else (a replay) disturbed its group.
        deadline = time.monotonic() + 180
        before: dict = {}
        while time.monotonic() < deadline:
            now = committed(live, group)
            if now and now == before:
                break
            before = now
            time.sleep(5)
        assert before and now == before, f"live offsets never settled:\n{worker.log_tail()}"
        groups_before = consumer_groups(live)
        result = replay(live, T1, T2, run_id="while-live")
        assert result.run.alerts
        assert worker.alive()
        assert committed(live, group) == before
        assert consumer_groups(live) == groups_before  # group-less: the replay made no group
    finally:
        worker.stop()


def transitions(alerts: list) -> list[tuple]:
    return [
        (iso(a.ts_ms), a.state, a.severity, a.regime, a.score, a.alert_id, iso(a.started_ts_ms))
        for a in alerts
    ]


@pytest.mark.parametrize(
    ("start", "checkpoints", "how"),  # how the detector got its state as of ``start``
    [
        ("2025-11-04T00:00:00Z", False, "warmup"),  # the README's example, --from 2025-11-04
        ("2025-11-04T13:30:00Z", False, "warmup"),
        ("2025-11-04T13:30:00Z", True, "checkpoint"),
        ("2025-11-04T15:00:00Z", False, "warmup"),  # mid-episode: a warning since 14:3x
        ("2025-11-04T15:00:00Z", True, "checkpoint"),
    ],
)
def test_a_replay_reproduces_what_paged(
    live: Settings, paged: RunResult, start: str, checkpoints: bool, how: str
) -> None:
    """A replay of [T, 21:00] gives the live run's alert transitions at ticks T..21:00, the
    same bytes (state, severity, regime, score, episode id and start, headline, evidence), and
    its signals are the live run's: the detector started from its state as of T. An episode
    already firing at T is not fired again; it carries on with live's id and start."""
    t = parse_when(start)
    r = replay(live, t, END, run_id=f"paged-{start[11:13]}{start[14:16]}-{checkpoints}",
               checkpoints=checkpoints)  # fmt: skip
    assert r.start.kind == how, r.start.describe()
    if r.start.kind == "checkpoint":
        assert r.start.checkpoint is not None and HOLD <= r.start.checkpoint.next_tick_ms <= t
    else:
        assert r.start.events["prices"] > 0 and r.start.ticks > 0
    expected = [a for a in paged.alerts if t <= a.ts_ms <= END]
    assert transitions(r.run.alerts) == transitions(expected)
    assert [a.encode() for a in r.run.alerts] == [a.encode() for a in expected]
    live_signals = [x for x in paged.signal_log if t <= x["ts_ms"] <= END]
    ours = [orjson.loads(x) for x in (r.run_dir / "signals.jsonl").read_bytes().splitlines()]
    assert ours[0]["ts_ms"] == t and ours == live_signals
    critical = [a for a in r.run.alerts if a.severity == "critical" and a.state == "firing"]
    assert critical and iso(critical[0].ts_ms) == "2025-11-04T15:15:00Z"
    assert critical[0].regime == "plumbing"
    if start.startswith("2025-11-04T15"):
        # The episode (pending and its warning fired before 15:00) is live's, not the
        # replay's: not fired again, it carries on under live's id and start.
        first_fired = next(a for a in paged.alerts if a.state == "firing")
        assert first_fired.started_ts_ms <= first_fired.ts_ms < t
        assert r.start.carried == (first_fired.alert_id, "warning")
        assert ours[0]["alert_state"] == "warning" and ours[0]["alert_id"] == first_fired.alert_id
        assert critical[0].alert_id == first_fired.alert_id
        assert critical[0].started_ts_ms == first_fired.started_ts_ms


def test_the_readme_example_says_how_it_started_and_matches_live(
    live: Settings, paged: RunResult
) -> None:
    """`shockwatch replay --from 2025-11-04 --to "2025-11-04T21:00Z"`, as the README has it
    (checkpoints on: one at or before 00:00 is used if the live worker happened to write one)."""
    from typer.testing import CliRunner

    from shockwatch.cli.main import app

    env = {"SHOCKWATCH_KAFKA_BOOTSTRAP": live.kafka_bootstrap or "",
           "SHOCKWATCH_TOPIC_PREFIX": live.topic_prefix,
           "SHOCKWATCH_REPORTS_DIR": str(live.reports_dir)}  # fmt: skip
    args = ["replay", "--from", "2025-11-04", "--to", "2025-11-04T21:00Z", "--run-id", "readme"]
    done = CliRunner().invoke(app, args, env=env)
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())  # rich wraps long lines
    assert ("warmed up on 2025-10-28T00:00:00Z .. 2025-11-04T00:00:00Z" in said
            or "started from checkpoint of" in said), said  # fmt: skip
    assert "cold" not in said
    t = parse_when("2025-11-04")
    lines = (live.reports_dir / "readme" / "alerts.jsonl").read_bytes().splitlines()
    expected = [a.encode() for a in paged.alerts if t <= a.ts_ms <= END]
    assert [orjson.dumps(orjson.loads(x)) for x in lines] == [
        orjson.dumps(orjson.loads(x)) for x in expected
    ]


def test_a_cold_replay_is_the_postmortem_that_disagreed(live: Settings, paged: RunResult) -> None:
    """What the issue measured, and why the replays above start warm: from 00:00 with nothing
    before it the detector has no previous session close and pages later, as another regime;
    the replay says it started cold."""
    t = parse_when("2025-11-04T00:00:00Z")
    r = replay(live, t, END, run_id="paged-cold", **COLD)
    assert r.start.cold and "starts empty" in r.start.describe()
    expected = [a for a in paged.alerts if t <= a.ts_ms <= END]
    assert transitions(r.run.alerts) != transitions(expected)
