"""Fixtures for the alerting tests: the Slack stand-in, metrics, scenario signals, Prometheus.

Pulled in by tests/conftest.py (``pytest_plugins``). External binaries (prometheus, promtool,
amtool) come from Debian packages; a test skips when one is missing on a developer machine, and
fails when it is missing under CI (env CI set), where the Makefile installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from alerts.metrics import Metrics
from shockwatch.settings import PROJECT_ROOT, Settings
from tests.slack_server import SlackStandIn, start_slack_stand_in

EVERYTHING_SELLS = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"
PROMETHEUS_READY_TIMEOUT_S = 30
PROMETHEUS_STOP_GRACE_S = 10


def require_tool(name: str) -> str:
    """Path of an external tool; skip if absent on a dev machine, fail if absent under CI."""
    path = shutil.which(name)
    if path:
        return path
    message = (
        f"{name} is not installed (Debian: apt-get install prometheus prometheus-alertmanager)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{message}; CI must run this test")
    pytest.skip(message)


@pytest.fixture
def slack_stand_in() -> Iterator[SlackStandIn]:
    server, _ = start_slack_stand_in()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def metrics() -> Metrics:
    """Metrics on a fresh registry (never the global one)."""
    return Metrics(CollectorRegistry())


@dataclass(frozen=True)
class ScenarioRun:
    """The real detector's outputs over a scenario, and the records it read."""

    name: str
    outputs: tuple[Any, ...]
    records: tuple[tuple[str, Any], ...]

    @property
    def alerts(self) -> list[Any]:
        return [a for out in self.outputs for a in out.alerts]


def _run_scenario() -> ScenarioRun:
    from shockwatch.scenario import read_scenario
    from streams.detection.offline import merged_records, run_offline

    scenario = read_scenario(EVERYTHING_SELLS)
    outputs, _late = run_offline(scenario, Settings().detection)
    return ScenarioRun(scenario.name, tuple(outputs), tuple(merged_records(scenario)))


_SCENARIO: list[ScenarioRun] = []


@pytest.fixture(scope="session")
def everything_sells() -> ScenarioRun:
    """The bundled 2025-11-04 scenario through the real detector (computed once a session)."""
    if not _SCENARIO:
        _SCENARIO.append(_run_scenario())
    return _SCENARIO[0]


# -- Prometheus ---------------------------------------------------------------------------------


class PrometheusProcess:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
            body = orjson.loads(resp.read())
        assert body.get("status") == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("/api/v1/query", query=expr)["result"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("/api/v1/alerts")["alerts"]

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

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(PROMETHEUS_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(PROMETHEUS_STOP_GRACE_S)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[str], PrometheusProcess]]:
    """Start a real ``prometheus`` on a free loopback port with the given config text; every
    process started is killed at the end, even when the test fails."""
    from shockwatch.broker import free_port

    binary = require_tool("prometheus")
    started: list[PrometheusProcess] = []

    def start(config_text: str) -> PrometheusProcess:
        n = len(started)
        config = tmp_path / f"prometheus-{n}.yml"
        config.write_text(config_text)
        port = free_port()
        log_path = tmp_path / f"prometheus-{n}.log"
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / f'tsdb-{n}'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_path.open("wb"),
        )
        prom = PrometheusProcess(proc, port, log_path)
        started.append(prom)
        deadline = time.monotonic() + PROMETHEUS_READY_TIMEOUT_S
        while not _ready(prom.url):
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited ({proc.returncode}):\n{prom.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready in time:\n{prom.log()}")
            time.sleep(0.1)
        return prom

    try:
        yield start
    finally:
        for prom in started:
            prom.stop()


# -- the dashboard's query list -----------------------------------------------------------------

DASHBOARD_SCRIPT = PROJECT_ROOT / "deploy" / "grafana" / "build_dashboard.py"


def load_dashboard_module() -> Any:
    """deploy/grafana/build_dashboard.py as a module (deploy/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("shockwatch_build_dashboard", DASHBOARD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords left out)."""
    import re

    e = re.sub(r'"[^"]*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names
