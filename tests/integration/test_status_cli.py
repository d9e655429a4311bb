"""`shockwatch status` against a real metrics HTTP server of the exporter, and the one-line
error of a metrics port in use (worker, producer), as subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.exporter import serve, stop_server
from alerts.metrics import Metrics
from common.ports import recorded_ports
from tests.cli import run_shockwatch

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 60


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_shockwatch(args, {**os.environ, "COLUMNS": "200", **env}, CLI_TIMEOUT_S)


@pytest.fixture
def taken_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_status_reads_a_real_exporter_found_by_its_recorded_port(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.score.labels("global").set(57.25)
    metrics.alert_state.labels("global").set(2)
    metrics.breadth.labels("global").set(2 / 3)
    metrics.regime.labels("global", "plumbing").set(1)
    metrics.score_points.labels("funding").set(21.5)
    metrics.last_signal_ts.labels("global").set(1_762_269_840)
    # Port 0: a free port, recorded under the state dir, where status finds it.
    server, thread = serve(metrics, "127.0.0.1", 0, state_dir=tmp_path)
    try:
        assert recorded_ports(tmp_path)["worker"].port == server.server_port
        env = {
            "SHOCKWATCH_STATE_DIR": str(tmp_path),
            "SHOCKWATCH_METRICS_PORT": "0",
            "SHOCKWATCH_LIQUIDATIONS_METRICS_PORT": "0",
            "SHOCKWATCH_PRICES_METRICS_PORT": "0",
            "SHOCKWATCH_FUNDING_METRICS_PORT": "0",
            "SHOCKWATCH_NOTIFIER_METRICS_PORT": "0",
        }
        result = run_cli(["status", "--json", "--no-kafka", "--sample", "0"], env)
        assert result.returncode == 0, result.stderr
        view = json.loads(result.stdout)
        text = run_cli(["status", "--no-kafka", "--sample", "0"], env)
    finally:
        stop_server(server, thread)
    jobs = {j["job"]: j for j in view["jobs"]}
    assert jobs["worker"]["state"] == "up"
    assert jobs["worker"]["url"].endswith(f":{server.server_port}/metrics")
    assert jobs["prices"]["state"] == "down" and jobs["prices"]["reason"]
    assert view["score"]["score"] == 57.25
    assert view["score"]["regime"] == "plumbing"
    assert view["score"]["components"]["funding"][0] == 21.5
    assert view["alert"]["state"] == "warning"
    assert view["worker"]["watermark_s"] == 1_762_269_840
    assert text.returncode == 0 and "Traceback" not in text.stderr + text.stdout
    assert "score 57.2" in text.stdout and "2025-11-04 15:24:00 UTC" in text.stdout


def test_status_with_nothing_running_says_down_not_a_traceback(tmp_path: Path) -> None:
    env = {"SHOCKWATCH_STATE_DIR": str(tmp_path), "SHOCKWATCH_METRICS_PORT": "1"}
    result = run_cli(["status", "--no-kafka", "--sample", "0"], env)
    assert result.returncode == 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "down (connection refused)" in result.stdout


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        (["worker", "--metrics-port", "{port}"], "SHOCKWATCH_METRICS_PORT"),
        (["produce", "prices", "--dry-run", "--metrics-port", "{port}"],
         "SHOCKWATCH_PRICES_METRICS_PORT"),
        (["alerts", "exporter", "--port", "{port}"], "SHOCKWATCH_METRICS_PORT"),
    ],
)  # fmt: skip
def test_a_taken_metrics_port_is_one_line_naming_it_and_its_setting(
    tmp_path: Path, taken_port: int, args: list[str], setting: str
) -> None:
    argv = [a.format(port=taken_port) for a in args]
    result = run_cli(argv, {"SHOCKWATCH_STATE_DIR": str(tmp_path)})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert f":{taken_port}" in errors[0] and setting in errors[0]
