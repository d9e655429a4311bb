"""The alert path, live: Prometheus and Alertmanager from Debian with the project's own files.

Used by tests (``tests/fixtures_alerts.py``, ``tests/integration/test_alert_path_live.py``) and
``make demo-ops`` (``shockwatch.demo_ops``). Two layers:

* child processes: ``start_prometheus`` / ``start_alertmanager`` run the real binaries on free
  loopback ports with a configuration written into a work folder, wait for ``/-/ready`` and
  stop them again (``stop()``, also on failure);
* rendering: ``render_prometheus_config`` / ``render_alertmanager_config`` take
  ``deploy/prometheus/prometheus.yml`` and ``deploy/alertmanager/alertmanager.yml`` as they are
  and change only what a local run must: the scrape and evaluation interval, the ports actually
  used, the rule file's absolute path (the real ``shockwatch.rules.yml``, ``for:`` untouched,
  rendered by ``render_rules`` with the one runbook setting: every ``runbook_url`` is
  ``SHOCKWATCH_RUNBOOK_BASE_URL``/runbooks.md#<alert>; ``python -m shockwatch.ops rules``
  prints it),
  and the file Alertmanager reads the Slack webhook URL from (the URL stays a secret in a
  file, never in a configuration, a command line or a log);

and ``run_alert_path``: the bundled scenario through the real worker while Prometheus scrapes
it, evaluates the rules and sends to Alertmanager, which posts to an ops channel of the local
Slack stand-in, while the real notifier posts to a desk channel of the same stand-in. What each
part showed, and when, is recorded for the caller to check or print.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from alerts.standin import Accepted, SlackStandIn
from common.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "rules" / "shockwatch.rules.yml"
# What the committed rule file says where the runbook base goes (render_rules fills it in).
RUNBOOK_PLACEHOLDER = "RUNBOOK_BASE_URL"
PRODUCER_TARGETS = '["127.0.0.1:9466", "127.0.0.1:9467", "127.0.0.1:9468"]'
ALERTMANAGER_YML = DEPLOY / "alertmanager" / "alertmanager.yml"
# Upstream calls the binary alertmanager; Debian's package prometheus-alertmanager.
ALERTMANAGER_BINARIES = ("alertmanager", "prometheus-alertmanager")
READY_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
HTTP_TIMEOUT_S = 10.0

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


class ToolMissing(RuntimeError):
    pass


def find_tool(*names: str) -> str:
    """The path of the first of ``names`` on PATH (Debian: apt-get install prometheus
    prometheus-alertmanager; ``make setup`` does it)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ToolMissing(
        f"{' or '.join(names)} is not installed "
        "(Debian: apt-get install prometheus prometheus-alertmanager)"
    )


# -- rendering the deploy files -------------------------------------------------------------------


def _replace_once(text: str, pattern: str, repl: str, what: str) -> str:
    new, n = re.subn(pattern, lambda _m: repl, text, flags=re.M)
    if n != 1:
        raise ValueError(f"expected one {what} in the deploy file, found {n}")
    return new


def render_rules(runbook_base_url: str, text: str | None = None) -> str:
    """The rule file with every ``runbook_url`` at ``<runbook_base_url>/runbooks.md#<anchor>``
    (the one setting the Slack messages' runbook links use too)."""
    text = RULES.read_text() if text is None else text
    base = runbook_base_url.rstrip("/")
    if not base or any(c.isspace() for c in base):
        raise ValueError(f"SHOCKWATCH_RUNBOOK_BASE_URL is not a URL: {runbook_base_url!r}")
    pattern = rf"(?<=runbook_url: ){RUNBOOK_PLACEHOLDER}(?=/runbooks\.md#)"
    rendered, n = re.subn(pattern, lambda _m: base, text)
    if n == 0 or n != len(re.findall(r"^\s*runbook_url: ", text, flags=re.M)):
        raise ValueError(f"the rule file's runbook_url lines do not all use {RUNBOOK_PLACEHOLDER}")
    return rendered


def write_rules(settings: Settings, folder: Path) -> Path:
    """``render_rules`` with the settings' runbook base, written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RULES.name
    path.write_text(render_rules(settings.runbook_base_url))
    return path


def render_prometheus_config(
    *,
    worker: str,
    notifier: str,
    alertmanager: str,
    producers: tuple[str, ...] = (),
    interval: str = "1s",
    rules: Path = RULES,
) -> str:
    """``deploy/prometheus/prometheus.yml`` for a local run: scrape and evaluate every
    ``interval``, the worker, notifier, producers and Alertmanager at the given ``host:port``
    (no producers: an empty target list, as a run of recorded data has none), and the rule
    file by absolute path (a relative one would resolve next to the rendered copy; pass one
    ``write_rules`` wrote)."""
    text = PROMETHEUS_YML.read_text()
    text = _replace_once(
        text, r"^(\s*)scrape_interval: \S+$", f"  scrape_interval: {interval}", "scrape_interval"
    )
    text = _replace_once(
        text,
        r"^(\s*)evaluation_interval: \S+$",
        f"  evaluation_interval: {interval}",
        "evaluation_interval",
    )
    text = _replace_once(text, r"^  - rules/shockwatch\.rules\.yml$", f'  - "{rules}"', "rule file")
    for default, actual, what in (
        ("127.0.0.1:9093", alertmanager, "alertmanager target"),
        ("127.0.0.1:9464", worker, "worker target"),
        ("127.0.0.1:9465", notifier, "notifier target"),
    ):
        text = _replace_once(text, rf'\["{re.escape(default)}"\]', f'["{actual}"]', what)
    targets = "[" + ", ".join(f'"{p}"' for p in producers) + "]"
    return _replace_once(text, re.escape(PRODUCER_TARGETS), targets, "producer targets")


def render_alertmanager_config(api_url_file: Path) -> str:
    """``deploy/alertmanager/alertmanager.yml`` with its Slack receiver reading the webhook URL
    from ``api_url_file`` (routes, grouping, timers and inhibition unchanged)."""
    text = ALERTMANAGER_YML.read_text()
    return _replace_once(text, r"(?<=api_url_file: )\S+$", str(api_url_file), "slack api_url_file")


def write_secret(path: Path, value: str) -> Path:
    """Write a secret readable by this user only (0600), as a mounted secret would be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return path


# -- the processes ----------------------------------------------------------------------------


class ServiceProcess:
    """A child process serving HTTP on 127.0.0.1:``port``; its output goes to ``log_path``."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=HTTP_TIMEOUT_S) as resp:
            return orjson.loads(resp.read())

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_until(
        self, check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.25
    ) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(every_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_GRACE_S)


class PrometheusProcess(ServiceProcess):
    def api(self, path: str, **params: str) -> Any:
        body = self.get(path, **params)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus {path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("/api/v1/query", query=expr)["result"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("/api/v1/alerts")["alerts"])


class AlertmanagerProcess(ServiceProcess):
    def alerts(self) -> list[dict[str, Any]]:
        """``/api/v2/alerts``: active, silenced and inhibited alerts with their status."""
        return list(self.get("/api/v2/alerts"))

    def groups(self) -> list[dict[str, Any]]:
        return list(self.get("/api/v2/alerts/groups"))


P = TypeVar("P", bound=ServiceProcess)


def _start(cls: type[P], cmd: list[str], port: int, log_path: Path, name: str) -> P:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    service = cls(proc, port, log_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not service.ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}):\n{service.log()}")
        if time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"{name} not ready in {READY_TIMEOUT_S:.0f} s:\n{service.log()}")
        time.sleep(0.1)
    return service


def start_prometheus(
    config_text: str, workdir: Path, binary: str | None = None, port: int | None = None
) -> PrometheusProcess:
    """Debian's ``prometheus`` with ``config_text`` on 127.0.0.1 (a free port by default)."""
    from shockwatch.broker import free_port

    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(config_text)
    port = port or free_port()
    cmd = [
        binary or find_tool("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}/",  # the alerts' generator links
        "--log.level=warn",
    ]
    return _start(PrometheusProcess, cmd, port, workdir / "prometheus.log", "prometheus")


def start_alertmanager(
    config_text: str, workdir: Path, binary: str | None = None, port: int | None = None
) -> AlertmanagerProcess:
    """Alertmanager with ``config_text`` on 127.0.0.1 (a free port by default), clustering off
    (a single instance; otherwise it would bind the gossip port 9094)."""
    from shockwatch.broker import free_port

    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(config_text)
    port = port or free_port()
    cmd = [
        binary or find_tool(*ALERTMANAGER_BINARIES),
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url=http://127.0.0.1:{port}/",  # the messages' title links
        "--cluster.listen-address=",
        "--log.level=info",
    ]
    return _start(AlertmanagerProcess, cmd, port, workdir / "alertmanager.log", "alertmanager")


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

    run: Any  # shockwatch.runner.RunResult
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
    from shockwatch.broker import free_port
    from shockwatch.runner import NotifierProcess, WorkerProcess, run_scenario
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


def main(argv: list[str] | None = None) -> int:
    """``python -m shockwatch.ops rules``: the rule file rendered with the runbook setting."""
    import sys

    from common.settings import load_settings

    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["rules"] or len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--out"):
        print("usage: python -m shockwatch.ops rules [--out FILE]  (default: stdout)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        text = render_rules(load_settings().runbook_base_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if len(args) == 3:
        out = Path(args[2])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
