"""The alert path, live: the bundled scenario through the real worker while Prometheus scrapes
it, evaluates the rules and sends to Alertmanager, which posts to an ops channel of the local
Slack stand-in, while the real notifier posts to a desk channel of the same stand-in. What each
part showed, and when, is recorded for the caller to check or print.

Used by ``make demo-ops`` (``shockwatch.lab.demo_ops``) and the tests
(``tests/integration/test_alert_path_live.py``). Prometheus and Alertmanager themselves, their
configurations and the rule file are local infrastructure (``shockwatch.local.ops``); what runs
them against the Slack stand-in is the lab's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.settings import Settings
from shockwatch.lab.standin import Accepted, SlackStandIn
from shockwatch.local.ops import (
    AlertmanagerProcess,
    PrometheusProcess,
    render_alertmanager_config,
    render_prometheus_config,
    start_alertmanager,
    start_prometheus,
    write_rules,
    write_secret,
)

# The channels of docs/alerts.md ("Which channel pages for what").
DESK_CHANNEL = "#shockwatch-desk"
OPS_CHANNEL = "#shockwatch-ops"
SHOCK_ALERTS = ("ShockwatchWarning", "EverythingSells")
POLL_S = 0.5
# The load pauses this long (event time) after the first firing transition, so the gauges rest
# in the warning state while Prometheus's `for: 1m` runs; the rest of the day then follows.
HOLD_AFTER_MS = 2 * 60_000
HOLD_TIMEOUT_S = 240.0
FIRE_TIMEOUT_S = 300.0


# -- watching the path ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """Something one part of the path showed for the first time."""

    t_s: float  # seconds since the run started
    source: str  # prometheus | alertmanager | slack | worker
    what: str
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.t_s:7.1f} s  {self.source:<12} {self.what}"


def message_title(message: Accepted) -> str:
    """The header of a Block Kit message or the title of an attachment."""
    for block in message.payload.get("blocks") or []:
        if block.get("type") == "header":
            return str(block["text"]["text"])
    for att in message.payload.get("attachments") or []:
        if att.get("title"):
            return str(att["title"])
    return str(message.payload.get("text", ""))[:80]


class Observer:
    """Polls Prometheus's ``ALERTS``, Alertmanager's ``/api/v2/alerts`` and the stand-in from a
    thread; records each state the first time it shows (``timeline``)."""

    def __init__(
        self,
        prometheus: PrometheusProcess,
        alertmanager: AlertmanagerProcess,
        slack: SlackStandIn,
        on_seen: Callable[[Seen], None] | None = None,
    ) -> None:
        self.prometheus, self.alertmanager, self.slack = prometheus, alertmanager, slack
        self.on_seen = on_seen
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.timeline: list[Seen] = []
        self.keys: set[tuple[str, str]] = set()
        self.prom_state: dict[str, str] = {}  # alertname -> pending | firing (ALERTS now)
        self.am_alerts: list[dict[str, Any]] = []  # the latest /api/v2/alerts
        self.messages = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-path-observer", daemon=True)

    def start(self) -> Observer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def note(self, source: str, what: str, detail: dict[str, Any] | None = None) -> None:
        seen = Seen(round(time.monotonic() - self.started, 1), source, what, detail or {})
        with self.lock:
            self.timeline.append(seen)
        if self.on_seen is not None:
            self.on_seen(seen)

    def _first(self, source: str, what: str, detail: dict[str, Any]) -> None:
        with self.lock:
            if (source, what) in self.keys:
                return
            self.keys.add((source, what))
        self.note(source, what, detail)

    def _run(self) -> None:
        while not self._stop.is_set():
            for poll in (self._poll_prometheus, self._poll_alertmanager, self._poll_slack):
                try:
                    poll()
                except (OSError, RuntimeError, ValueError) as exc:
                    self._first("observer", f"{poll.__name__} failed: {type(exc).__name__}", {})
            self._stop.wait(POLL_S)

    def _poll_prometheus(self) -> None:
        names = "|".join(SHOCK_ALERTS)
        series = self.prometheus.query(f'ALERTS{{alertname=~"{names}"}}')
        state = {s["metric"]["alertname"]: s["metric"]["alertstate"] for s in series}
        with self.lock:
            self.prom_state = state
        for s in series:
            labels = s["metric"]
            self._first("prometheus", f"{labels['alertname']} {labels['alertstate']}", labels)

    def _poll_alertmanager(self) -> None:
        alerts = self.alertmanager.alerts()
        with self.lock:
            self.am_alerts = alerts
        for a in alerts:
            status = a["status"]
            what = f"{a['labels']['alertname']} {status['state']}"
            if status.get("inhibitedBy"):
                what += " (inhibited)"
            self._first("alertmanager", what, a)

    def _poll_slack(self) -> None:
        with self.slack.lock:
            new = self.slack.messages[self.messages :]
        for m in new:
            self.messages += 1
            self.note(
                "slack",
                f"{m.channel}: {m.format} message {message_title(m)!r}",
                {"channel": m.channel, "format": m.format, "user_agent": m.user_agent},
            )

    # -- questions ------------------------------------------------------------------------
    def prometheus_state(self, alertname: str) -> str | None:
        with self.lock:
            return self.prom_state.get(alertname)

    def am_alert(self, alertname: str) -> dict[str, Any] | None:
        with self.lock:
            return next(
                (a for a in self.am_alerts if a["labels"].get("alertname") == alertname), None
            )

    def seen(self, source: str, what: str) -> Seen | None:
        with self.lock:
            return next((s for s in self.timeline if (s.source, s.what) == (source, what)), None)

    def wait(self, what: str, check: Callable[[], Any], timeout_s: float) -> bool:
        """Wait until ``check()`` holds; noted in the timeline either way."""
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                self.note("run", f"gave up waiting for {what} after {timeout_s:.0f} s")
                return False
            time.sleep(POLL_S / 2)
        self.note("run", f"saw {what}")
        return True


# -- the live run ------------------------------------------------------------------------------


@dataclass
class AlertPathRun:
    """What the live alert path showed (``run_alert_path``)."""

    run: Any  # shockwatch.runs.runner.RunResult
    expected: list[Any]  # the offline detector's alert transitions over the same scenario
    hold_ms: int
    timeline: list[Seen]
    prometheus_alerts: list[dict[str, Any]]  # /api/v1/alerts, once the shock alerts fired
    am_alerts: list[dict[str, Any]]  # /api/v2/alerts, then
    am_groups: list[dict[str, Any]]  # /api/v2/alerts/groups, then
    slack: SlackStandIn  # stopped; its messages and hooks stay readable
    desk_url: str
    ops_url: str
    prometheus_url: str
    alertmanager_url: str
    logs: dict[str, Path]
    elapsed_s: float

    @property
    def desk(self) -> list[Accepted]:
        return self.slack.in_channel(DESK_CHANNEL)

    @property
    def ops(self) -> list[Accepted]:
        return self.slack.in_channel(OPS_CHANNEL)

    def first(self, source: str, what: str) -> Seen | None:
        return next((s for s in self.timeline if (s.source, s.what) == (source, what)), None)


def _inhibited(observer: Observer) -> bool:
    warning = observer.am_alert("ShockwatchWarning")
    critical = observer.am_alert("EverythingSells")
    return bool(
        warning
        and critical
        and critical["status"]["state"] == "active"
        and warning["status"]["state"] == "suppressed"
        and warning["status"].get("inhibitedBy")
    )


def _ops_got(slack: SlackStandIn, alertname: str) -> bool:
    return any(alertname in message_title(m) for m in slack.in_channel(OPS_CHANNEL))


def run_alert_path(
    settings: Settings,
    scenario: Any,
    workdir: Path,
    *,
    on_seen: Callable[[Seen], None] | None = None,
    hold_timeout_s: float = HOLD_TIMEOUT_S,
    fire_timeout_s: float = FIRE_TIMEOUT_S,
) -> AlertPathRun:
    """``scenario`` through the real worker with Prometheus, Alertmanager, the notifier and the
    Slack stand-in (desk + ops channels) all running; see docs/alerts.md, "The alert path, live".

    The load pauses ``HOLD_AFTER_MS`` of event time after the detector's first firing
    transition (known from the offline detector) until Prometheus shows that alert firing and
    Alertmanager holds it, then runs to the end; before the worker stops, it waits for the
    critical to fire, the inhibition, both Slack paths, and snapshots the APIs. Nothing raises
    on a timeout: it is noted in the timeline and the snapshots show what was there.
    """
    from common.ports import free_port
    from shockwatch.runs.runner import NotifierProcess, WorkerProcess, run_scenario
    from streams.detection.offline import run_offline
    from streams.topics import create_topics, run_prefix

    started = time.monotonic()
    outputs, _late = run_offline(scenario, settings.detection)
    expected = [a for out in outputs for a in out.alerts]
    first = next((a for a in expected if a.state == "firing"), None)
    if first is None:
        raise ValueError(f"{scenario.name} never pages: nothing to show on the alert path")
    hold_ms = first.ts_ms + HOLD_AFTER_MS
    run_id = f"ops-{uuid.uuid4().hex[:8]}"
    prefix = run_prefix("scn", run_id)  # deleted by run_scenario at the end (topics prune too)
    app_id = f"shockwatch-{prefix.rstrip('.')}"
    create_topics(settings, prefix, keep_all=True)

    slack = SlackStandIn().start()
    desk_url = slack.add_webhook(DESK_CHANNEL)
    ops_url = slack.add_webhook(OPS_CHANNEL)
    secret = write_secret(workdir / "secrets" / "slack-ops-webhook-url", ops_url)
    worker_port, notifier_port = free_port(), free_port()
    logs = {"worker": settings.state_dir / "runs" / f"{run_id}.worker.log"}
    snapshots: dict[str, list[dict[str, Any]]] = {}
    stack: list[Any] = [slack]
    observer: Observer | None = None
    try:
        am = start_alertmanager(render_alertmanager_config(secret), workdir / "alertmanager")
        stack.append(am)
        logs["alertmanager"] = am.log_path
        prom_config = render_prometheus_config(
            worker=f"127.0.0.1:{worker_port}",
            notifier=f"127.0.0.1:{notifier_port}",
            alertmanager=f"127.0.0.1:{am.port}",
            rules=write_rules(settings, workdir / "rules"),
        )
        prom = start_prometheus(prom_config, workdir / "prometheus")
        stack.append(prom)
        logs["prometheus"] = prom.log_path
        logs["notifier"] = workdir / "notifier.log"
        notifier = NotifierProcess(
            settings,
            prefix,
            desk_url,
            app_id,
            logs["notifier"],
            {"SHOCKWATCH_STATE_DIR": str(workdir / "notifier-state")},
            metrics_port=notifier_port,
        )
        stack.append(notifier)
        observer = Observer(prom, am, slack, on_seen).start()
        obs = observer

        def hold() -> None:
            name = SHOCK_ALERTS[0] if first.severity == "warning" else SHOCK_ALERTS[1]
            obs.note("worker", f"load paused at event time {_iso(hold_ms)}")
            obs.wait(
                f"{name} firing in Prometheus and active in Alertmanager",
                lambda: obs.prometheus_state(name) == "firing" and obs.am_alert(name),
                hold_timeout_s,
            )
            obs.note("worker", "load resumed: the rest of the day")

        def before_stop(_worker: WorkerProcess) -> None:
            obs.note("worker", "the day's last tick is out; the worker keeps serving metrics")
            deadline = time.monotonic() + fire_timeout_s
            checks: list[tuple[str, Callable[[], Any]]] = [
                (
                    "EverythingSells firing in Prometheus",
                    lambda: obs.prometheus_state("EverythingSells") == "firing",
                ),
                ("the warning inhibited by the critical in Alertmanager", lambda: _inhibited(obs)),
                *(
                    (f"ops: Alertmanager's {name} message", lambda n=name: _ops_got(slack, n))
                    for name in SHOCK_ALERTS
                ),
                (
                    "desk: the notifier's message for every transition",
                    lambda: len(slack.in_channel(DESK_CHANNEL)) >= len(expected),
                ),
            ]
            for what, check in checks:
                obs.wait(what, check, max(1.0, deadline - time.monotonic()))
            snapshots["prometheus"] = prom.alerts()
            snapshots["am_alerts"] = am.alerts()
            snapshots["am_groups"] = am.groups()

        result = run_scenario(
            settings,
            scenario,
            prefix=prefix,
            app_id=app_id,
            metrics_port=worker_port,
            hold=(hold_ms, hold),
            before_stop=before_stop,
            run_id=run_id,
        )
    finally:
        if observer is not None:
            observer.stop()
        for part in reversed(stack):
            part.stop()
    return AlertPathRun(
        run=result,
        expected=expected,
        hold_ms=hold_ms,
        timeline=list(observer.timeline),
        prometheus_alerts=snapshots.get("prometheus", []),
        am_alerts=snapshots.get("am_alerts", []),
        am_groups=snapshots.get("am_groups", []),
        slack=slack,
        desk_url=desk_url,
        ops_url=ops_url,
        prometheus_url=prom.url,
        alertmanager_url=am.url,
        logs=logs,
        elapsed_s=time.monotonic() - started,
    )


def _iso(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts_ms / 1000))
