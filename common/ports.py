"""Each process's /metrics port: bound from its setting, refused in one line, recorded.

Every long-running process (the worker, the notifier, each producer) serves Prometheus metrics
on the port of its own setting (``common.settings``: ``metrics_port``, ``notifier_metrics_port``,
``<feed>_metrics_port``); 0 means any free port. Once bound, the process writes
``<state>/ports/<topic prefix><job>.json`` (``{"job", "host", "port", "pid"}``; the live
deployment's prefix is empty, a scenario run's worker records under its run prefix) so
``shockwatch status`` and ``watch`` find it even on a port chosen at random, and so nobody
reads another instance's metrics off a fixed port. A port in use is ``PortInUse``, whose
message names the port and the setting to change (the commands print it as one error line).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.kafka import pid_alive

# The jobs `make run` starts, with the setting that gives each its metrics port.
PORT_SETTINGS: dict[str, str] = {
    "worker": "metrics_port",
    "notifier": "notifier_metrics_port",
    "liquidations": "liquidations_metrics_port",
    "prices": "prices_metrics_port",
    "funding": "funding_metrics_port",
}


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (the kernel's pick): for the local broker, Prometheus and the
    runs' metrics, which must not collide with another instance's."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class PortInUse(RuntimeError):
    """The metrics port is taken; the message says which and what to set instead."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    job: str
    host: str
    port: int
    pid: int | None = None  # None: from the settings, not from a running process's record

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"


def env_name(setting: str) -> str:
    return f"SHOCKWATCH_{setting.upper()}"


def ports_dir(state_dir: Path) -> Path:
    return state_dir / "ports"


def serve_metrics(
    registry: Any, host: str, port: int, *, job: str, state_dir: Path | None, prefix: str = ""
) -> tuple[Any, threading.Thread]:
    """Serve ``registry`` on host:port (0: a free port) and record it for ``job``.

    Raises ``PortInUse`` (one line: the port, the setting) when the port is taken; other bind
    errors (a bad address) as ``OSError``.
    """
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        setting = env_name(PORT_SETTINGS.get(job, "metrics_port"))
        raise PortInUse(
            f"metrics port {host}:{port} is in use by another process: set {setting} "
            "to a free port, or to 0 for any free one"
        ) from None
    if state_dir is not None:
        endpoint = Endpoint(job, host, int(server.server_port), os.getpid())
        record_port(state_dir, endpoint, prefix)
    return server, thread


def record_port(state_dir: Path, endpoint: Endpoint, prefix: str = "") -> Path:
    path = ports_dir(state_dir) / f"{prefix}{endpoint.job}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    record = {"job": endpoint.job, "host": endpoint.host, "port": endpoint.port}
    tmp.write_text(json.dumps({**record, "pid": endpoint.pid}))
    tmp.replace(path)
    return path


def recorded_ports(state_dir: Path, prefix: str = "") -> dict[str, Endpoint]:
    """The endpoints the running processes of ``prefix`` recorded (a dead one's is left out)."""
    found: dict[str, Endpoint] = {}
    directory = ports_dir(state_dir)
    for job in PORT_SETTINGS:
        path = directory / f"{prefix}{job}.json"
        try:
            raw = json.loads(path.read_text())
            endpoint = Endpoint(str(raw["job"]), str(raw["host"]), int(raw["port"]), raw["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if endpoint.pid is not None and pid_alive(int(endpoint.pid)):
            found[endpoint.job] = endpoint
    return found


__all__ = ["PORT_SETTINGS", "Endpoint", "PortInUse", "recorded_ports", "serve_metrics"]
