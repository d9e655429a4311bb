"""Prometheus and Alertmanager from Debian, run locally with the project's own files.

Used by the lab's alert path (``shockwatch.lab.alert_path``, for ``make demo-ops`` and
``tests/integration/test_alert_path_live.py``), by ``tests/fixtures_alerts.py`` and, for the
rule file, by the deployment (``python -m shockwatch.local.ops rules``). Two layers:

* child processes: ``start_prometheus`` / ``start_alertmanager`` run the real binaries on free
  loopback ports with a configuration written into a work folder, wait for ``/-/ready`` and
  stop them again (``stop()``, also on failure);
* rendering: ``render_prometheus_config`` / ``render_alertmanager_config`` take
  ``deploy/prometheus/prometheus.yml`` and ``deploy/alertmanager/alertmanager.yml`` as they are
  and change only what a local run must: the scrape and evaluation interval, the ports actually
  used, the rule file's absolute path (the real ``shockwatch.rules.yml``, ``for:`` untouched,
  rendered by ``render_rules`` with the one runbook setting: every ``runbook_url`` is
  ``SHOCKWATCH_RUNBOOK_BASE_URL``/runbooks.md#<alert>; ``python -m shockwatch.local.ops rules``
  prints it),
  and the file Alertmanager reads the Slack webhook URL from (the URL stays a secret in a
  file, never in a configuration, a command line or a log).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

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
    from common.ports import free_port

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
    from common.ports import free_port

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


def main(argv: list[str] | None = None) -> int:
    """``python -m shockwatch.local.ops rules``: the rule file rendered with the runbook setting."""
    import sys

    from common.settings import load_settings

    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["rules"] or len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--out"):
        print("usage: python -m shockwatch.local.ops rules [--out FILE]  (default: stdout)",
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
