"""Fixtures for the alerting tests: the Slack stand-in, metrics, scenario signals, Prometheus.

Pulled in by tests/conftest.py (``pytest_plugins``). External binaries (prometheus, promtool,
amtool, chromium) come from Debian packages; a test skips when one is missing on a developer
machine, and fails when it is missing under CI (env CI set), where the Makefile installs them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerts.metrics import Metrics
from common.settings import PROJECT_ROOT, Settings
from shockwatch.local.ops import PrometheusProcess, start_prometheus
from tests.slack_server import SlackStandIn, start_slack_stand_in

EVERYTHING_SELLS = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"


def require_tool(*names: str, debian: str = "prometheus prometheus-alertmanager") -> str:
    """Path of an external tool (the first of ``names`` found); skip if absent on a dev
    machine, fail if absent under CI (where `make tools` installs the ``debian`` packages)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    message = (
        f"{' or '.join(names)} is not installed "
        f"(Debian: apt-get install {debian}; `make tools` does it)"
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
    from streams.detection.offline import merged_records, run_offline
    from streams.scenario import read_scenario

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


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[str], PrometheusProcess]]:
    """Start a real ``prometheus`` on a free loopback port with the given config text
    (``shockwatch.local.ops.start_prometheus``); every process started is stopped at the end, even
    when the test fails."""
    binary = require_tool("prometheus")
    started: list[PrometheusProcess] = []

    def start(config_text: str) -> PrometheusProcess:
        try:
            prom = start_prometheus(config_text, tmp_path / f"prometheus-{len(started)}", binary)
        except RuntimeError as exc:
            raise AssertionError(str(exc)) from exc
        started.append(prom)
        return prom

    try:
        yield start
    finally:
        for prom in started:
            prom.stop()


# -- run reports -------------------------------------------------------------------------------

# Lines a live test wants in the session's summary (its timeline and run time), printed by the
# hook below at the end of the run, even when output is captured (as in `make test`).
RUN_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RUN_REPORT:
        terminalreporter.section("alert path, live")
        for line in RUN_REPORT:
            terminalreporter.write_line(line)


# -- the dashboard's query list -----------------------------------------------------------------

DASHBOARD_SCRIPT = PROJECT_ROOT / "deploy" / "grafana" / "build_dashboard.py"


def load_dashboard_module() -> Any:
    """deploy/grafana/build_dashboard.py as a module (deploy/ is not a package), its directory on
    the path as when it runs as a script: it imports its siblings dashboard_panels and
    dashboard_style."""
    import importlib.util
    import sys

    if str(DASHBOARD_SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(DASHBOARD_SCRIPT.parent))

    spec = importlib.util.spec_from_file_location("shockwatch_build_dashboard", DASHBOARD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
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
