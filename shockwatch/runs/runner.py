"""Run the real faust worker over a scenario and collect what it emits.

``run_scenario`` loads a scenario under a fresh topic prefix and app id, starts the worker as a
subprocess (``shockwatch worker``), reads ``shock.signals``/``shock.alerts`` until the tick at the
scenario's end has been emitted, and stops the worker. ``WorkerProcess`` is reused by tests that
kill and restart the worker mid-scenario.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from common.kafka import bootstrap, kafka_python_config
from common.settings import DetectionSettings, Settings
from shockwatch.runs.publish import Publisher
from streams.records import AlertEvent
from streams.scenario import FeedResult, Scenario, load_scenario
from streams.topics import TopicNames, create_topics, delete_prefix, run_prefix

log = logging.getLogger(__name__)

MIN_MS = 60_000
STALL_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


class RunError(RuntimeError):
    pass


def end_pad_ms(settings: Settings) -> int:
    """The end-of-scenario heartbeat goes this far past the end, so the last tick can close."""
    return settings.detection.alerts.allowed_lateness_s * 1000


class WorkerProcess:
    """``shockwatch worker`` as a child process with its own app id and topic prefix."""

    def __init__(
        self,
        settings: Settings,
        prefix: str,
        app_id: str,
        log_path: Path,
        metrics_port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.settings, self.prefix, self.app_id = settings, prefix, app_id
        self.log_path = log_path
        self.metrics_port = metrics_port
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "SHOCKWATCH_KAFKA_BOOTSTRAP": bootstrap(self.settings),
            "SHOCKWATCH_TOPIC_PREFIX": self.prefix,
            "SHOCKWATCH_APP_ID": self.app_id,
            "SHOCKWATCH_STATE_DIR": str(self.settings.state_dir),
            "SHOCKWATCH_INPUT_PARTITIONS": str(self.settings.input_partitions),
            "SHOCKWATCH_SCALE_OUT": str(self.settings.scale_out).lower(),
            # Recorded data: no partition is ever taken as idle, so the output does not depend
            # on how fast the day is replayed (``extra_env`` may turn it on, e.g. fault tests).
            "SHOCKWATCH_IDLE_PARTITION_S": "0",
            **self.extra_env,
        }
        cmd = [sys.executable, "-m", "shockwatch.cli.main", "worker"]
        if self.metrics_port is None:
            cmd.append("--no-metrics")
        else:
            cmd += ["--metrics-port", str(self.metrics_port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final checkpoint (fault tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no worker log)"


@dataclass
class RunResult:
    scenario: str
    prefix: str
    app_id: str
    loaded: dict[str, FeedResult]
    alerts: list[AlertEvent] = field(default_factory=list)
    signals: int = 0
    last_tick_ms: int | None = None
    max_score: float = 0.0
    max_funding_stress: float | None = None
    elapsed_s: float = 0.0
    signal_log: list[dict[str, Any]] = field(default_factory=list)


def last_tick_ms(scenario: Scenario) -> int:
    return (scenario.end_ms // MIN_MS) * MIN_MS


class OutputReader:
    """Reads the run's signals and alerts from the beginning; de-duplicates alert transitions
    (a restarted worker may re-emit a transition it had sent before its last checkpoint)."""

    def __init__(self, settings: Settings, names: TopicNames, keep_signals: bool = False) -> None:
        from kafka import KafkaConsumer

        self.names = names
        self.keep_signals = keep_signals
        self.consumer = KafkaConsumer(
            names.signals,
            names.alerts,
            **kafka_python_config(settings),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        self.seen: set[str] = set()
        self.alerts: list[AlertEvent] = []
        self.signals = 0
        self.last_tick: int | None = None
        self.max_score = 0.0
        self.max_funding: float | None = None
        self.signal_log: list[dict[str, Any]] = []

    def poll(self, timeout_ms: int = 500) -> int:
        n = 0
        for records in self.consumer.poll(timeout_ms=timeout_ms).values():
            for msg in records:
                n += 1
                obj = orjson.loads(msg.value)
                if msg.topic == self.names.alerts:
                    alert = AlertEvent.from_dict(obj)
                    if alert.delivery_key not in self.seen:
                        self.seen.add(alert.delivery_key)
                        self.alerts.append(alert)
                else:
                    self._signal(obj)
        return n

    def _signal(self, obj: dict[str, Any]) -> None:
        self.signals += 1
        ts = obj["ts_ms"]
        self.last_tick = ts if self.last_tick is None else max(self.last_tick, ts)
        self.max_score = max(self.max_score, obj["score"])
        fs = obj["funding"].get("stress")
        if fs is not None:
            self.max_funding = fs if self.max_funding is None else max(self.max_funding, fs)
        if self.keep_signals:
            self.signal_log.append(obj)

    def close(self) -> None:
        self.consumer.close()


class NotifierProcess:
    """``shockwatch alerts notify`` as a child process for ``prefix``'s alerts, posting to
    ``webhook``; ``extra_env`` for anything else (state folder, rate bound); its metrics on
    ``metrics_port`` (a free port by default)."""

    def __init__(
        self,
        settings: Settings,
        prefix: str,
        webhook: str,
        app_id: str,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        metrics_port: int | None = None,
    ) -> None:
        from common.ports import free_port

        self.metrics_port = metrics_port if metrics_port is not None else free_port()
        env = {
            **os.environ,
            "SHOCKWATCH_KAFKA_BOOTSTRAP": bootstrap(settings),
            "SHOCKWATCH_TOPIC_PREFIX": prefix,
            "SHOCKWATCH_APP_ID": app_id,
            "SHOCKWATCH_SLACK_WEBHOOK_URL": webhook,
            # Runs of recorded days notify their (old) alerts on purpose: no live horizon.
            "SHOCKWATCH_LIVE_HORIZON_S": "0",
            **(extra_env or {}),
        }
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        cmd = [sys.executable, "-m", "shockwatch.cli.main", "alerts", "notify"]
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [*cmd, "--metrics-port", str(self.metrics_port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_scenario(
    settings: Settings,
    scenario: Scenario,
    *,
    prefix: str | None = None,
    app_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_signal_count: Callable[[int, WorkerProcess], None] | None = None,
    keep_signals: bool = False,
    metrics_port: int | None = None,
    speed: float | None = None,
    feeds: tuple[str, ...] | None = None,
    run_id: str | None = None,
    before_stop: Callable[[WorkerProcess], None] | None = None,
    keep_topics: bool = False,
    hold: tuple[int, Callable[[], None]] | None = None,
    loader_settings: Settings | None = None,
    worker_env: dict[str, str] | None = None,
    loader: Callable[[Publisher, TopicNames], dict[str, FeedResult]] | None = None,
) -> RunResult:
    """Load ``scenario`` under a fresh prefix while the worker runs over it; return its output.

    The worker starts first and the scenario is produced from a background thread (paced by
    ``speed``, or as fast as possible), as events would arrive live. The run's topics are
    deleted when it ends (its output is in the result), unless ``keep_topics``. ``hold`` pauses
    the load at an event time (``load_scenario``); ``before_stop`` runs once the last tick is
    out, while the worker (and its metrics) still runs. ``settings`` creates the topics and
    reads the output; on an authenticated cluster the loader may run as another principal
    (``loader_settings``) and the worker with its own (``worker_env``: its ``SHOCKWATCH_KAFKA_*``
    variables). ``loader`` writes the inputs instead of ``load_scenario`` (the rehearsal's
    arrival order: ``shockwatch.runs.rehearse``); it must end every input partition with a
    heartbeat past the scenario's end, as ``load_scenario`` does.
    """
    import threading

    from streams.scenario import FEEDS

    run = run_id or uuid.uuid4().hex[:8]
    prefix = prefix or run_prefix("scn", run)
    app_id = app_id or f"shockwatch-scn-{run}"
    names = TopicNames(prefix)
    started = time.monotonic()
    create_topics(settings, prefix, keep_all=True)
    worker = WorkerProcess(
        settings, prefix, app_id, settings.state_dir / "runs" / f"{run}.worker.log", metrics_port,
        extra_env=worker_env,
    )  # fmt: skip
    loaded: dict[str, FeedResult] = {}
    failure: list[BaseException] = []

    def load() -> None:
        try:
            with Publisher(loader_settings or settings, client_id="shockwatch-scenario") as pub:
                if loader is not None:
                    loaded.update(loader(pub, names))
                    return
                loaded.update(
                    load_scenario(
                        scenario,
                        pub,
                        names,
                        end_pad_ms=end_pad_ms(settings),
                        speed=speed,
                        frame_max=settings.frame_max_events,
                        feeds=feeds or tuple(FEEDS),
                        hold=hold,
                    )
                )
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    loading = threading.Thread(target=load, name="scenario-loader", daemon=True)
    reader = OutputReader(settings, names, keep_signals)
    target = last_tick_ms(scenario)
    worker.start()
    loading.start()
    try:
        _follow(reader, worker, loading, failure, target, scenario.start_ms, progress,
                on_signal_count)  # fmt: skip
        loading.join()
        if before_stop is not None:
            before_stop(worker)
    finally:
        worker.stop()
        reader.close()
        if not keep_topics:
            delete_prefix(settings, prefix)
    return RunResult(
        scenario=scenario.name,
        prefix=prefix,
        app_id=app_id,
        loaded=loaded,
        alerts=reader.alerts,
        signals=reader.signals,
        last_tick_ms=reader.last_tick,
        max_score=reader.max_score,
        max_funding_stress=reader.max_funding,
        elapsed_s=time.monotonic() - started,
        signal_log=reader.signal_log,
    )


def _follow(
    reader: OutputReader,
    worker: WorkerProcess,
    loader: Any,
    failure: list[BaseException],
    target: int,
    start_ms: int,
    progress: Callable[[int, int], None] | None,
    on_signal_count: Callable[[int, WorkerProcess], None] | None,
) -> None:
    """Read the run's output until the tick at ``target``; raise when loading fails, the
    worker dies, or nothing comes for ``STALL_TIMEOUT_S``."""
    total = max(1, (target - start_ms) // MIN_MS)
    last_progress = time.monotonic()
    while reader.last_tick is None or reader.last_tick < target:
        if failure:
            raise RunError(f"loading the scenario failed: {failure[0]}") from failure[0]
        if reader.poll():
            last_progress = time.monotonic()
            if progress and reader.last_tick is not None:
                progress(min(total, (reader.last_tick - start_ms) // MIN_MS), total)
            if on_signal_count is not None:
                on_signal_count(reader.signals, worker)
        elif loader.is_alive():
            last_progress = time.monotonic()  # paced loading: no output yet is normal
        if not worker.alive() and not reader.poll(timeout_ms=2000):
            raise RunError(f"the worker exited early; its log:\n{worker.log_tail()}")
        if time.monotonic() - last_progress > STALL_TIMEOUT_S:
            raise RunError(
                f"no output for {STALL_TIMEOUT_S:.0f} s (last tick {reader.last_tick}, "
                f"waiting for {target}); worker log:\n{worker.log_tail()}"
            )


def save_run(
    result: RunResult,
    scenario: Scenario,
    out_dir: Path,
    run_id: str,
    detection: DetectionSettings | None = None,
) -> Path:
    """Write a run folder for post-mortems: run.json, signals.jsonl, alerts.jsonl.

    ``run.json`` names the scenario folder holding the inputs (the report reads them) and the
    detection settings the run used, when given (the report is drawn with those)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_ts: dict[int, dict[str, Any]] = {s["ts_ms"]: s for s in result.signal_log}
    with open(out_dir / "signals.jsonl", "wb") as f:
        for ts in sorted(by_ts):
            f.write(orjson.dumps(by_ts[ts]) + b"\n")
    return write_run(
        result,
        out_dir,
        run_id,
        name=scenario.name,
        description=scenario.description,
        inputs=scenario.path,
        start_ms=scenario.start_ms,
        end_ms=scenario.end_ms,
        signals=len(by_ts),
        detection=detection,
    )


def write_run(
    result: RunResult,
    out_dir: Path,
    run_id: str,
    *,
    name: str,
    description: str,
    inputs: Path | None,
    start_ms: int,
    end_ms: int,
    signals: int,
    extra: dict[str, Any] | None = None,
    detection: DetectionSettings | None = None,
) -> Path:
    """``alerts.jsonl`` and ``run.json`` of a run folder whose ``signals.jsonl`` is written;
    ``run.json`` keeps ``detection``, the thresholds the run was detected with."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "alerts.jsonl", "wb") as f:
        for alert in result.alerts:
            f.write(alert.encode() + b"\n")
    meta = {
        "run_id": run_id,
        "scenario": name,
        "description": description,
        "inputs": str(inputs.resolve()) if inputs is not None else None,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "prefix": result.prefix,
        "app_id": result.app_id,
        "created_ms": int(time.time() * 1000),
        "loaded": {
            k: {"valid": v.valid, "rejected": v.rejected, "reasons": v.reasons}
            for k, v in result.loaded.items()
        },
        "signals": signals,
        "alerts": len(result.alerts),
        "elapsed_s": round(result.elapsed_s, 3),
        **({"detection": detection.model_dump(mode="json")} if detection is not None else {}),
        **(extra or {}),
    }
    (out_dir / "run.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return out_dir


def check_expectations(result: RunResult, scenario: Scenario) -> list[str]:
    """Compare a run with ``[expect]`` of scenario.toml; returns the mismatches (empty = ok)."""
    from streams.scenario import check_outcome

    return check_outcome(scenario.expect, result.alerts, result.max_funding_stress)
