"""The local Apache Kafka broker: fetched from Maven Central, run as one KRaft node.

``LocalBroker(settings).up()`` makes sure the jars are there (``mvn`` copies them into
``<state>/kafka/lib``), renders ``server.properties`` from ``deploy/kafka``, formats the storage
once, starts ``kafka.Kafka`` with a small heap and waits, in a bounded loop, for the server log's
"Kafka Server started" line and an admin probe that lists topics. Data stays in
``<state>/kafka/data``, so a restart keeps topics and committed offsets. ``up`` twice is one
broker; ``down`` stops it (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from string import Template
from typing import Any

from shockwatch.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 30.0
READY_LINE = "Kafka Server started"


class BrokerError(RuntimeError):
    """The local broker cannot be fetched, started or reached; the message says why."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return True
    return state != "Z"


class LocalBroker:
    def __init__(self, settings: Settings, state_dir: Path | None = None) -> None:
        self.settings = settings
        self.root = (state_dir or settings.state_dir) / "kafka"
        # Jars are shared by every broker of this checkout (tests run their own data dirs).
        self.lib = settings.state_dir / "kafka" / "lib"
        self.data = self.root / "data"
        self.logs = self.root / "logs"
        self.config = self.root / "server.properties"
        self.info_file = self.root / "broker.json"

    # -- jars -------------------------------------------------------------------------------
    def jars_present(self) -> bool:
        return any(self.lib.glob("kafka_2.13-*.jar")) and any(self.lib.glob("reload4j-*.jar"))

    def fetch_jars(self) -> None:
        """Copy Kafka and its runtime dependencies from Maven Central into ``lib/``."""
        if self.jars_present():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                "Maven (mvn) is not installed: it fetches Kafka from Maven Central. "
                "Install it (apt-get install maven) or set SHOCKWATCH_KAFKA_BOOTSTRAP to a cluster."
            )
        self.lib.mkdir(parents=True, exist_ok=True)
        log.info("fetching Apache Kafka jars from Maven Central into %s", self.lib)
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(DEPLOY_DIR / "pom.xml"),
            "package",
            f"-Dkafka.lib.dir={self.lib}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not self.jars_present():
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise BrokerError(f"mvn could not fetch Kafka (exit {proc.returncode}):\n{tail}")

    # -- state ------------------------------------------------------------------------------
    def info(self) -> dict[str, Any] | None:
        """The running broker's {pid, port, controller_port, bootstrap}, or None."""
        try:
            info = json.loads(self.info_file.read_text())
        except (OSError, ValueError):
            return None
        if not _pid_alive(int(info.get("pid", -1))):
            return None
        return info

    def _previous_ports(self) -> tuple[int | None, int | None]:
        try:
            info = json.loads(self.info_file.read_text())
            return int(info["port"]), int(info["controller_port"])
        except (OSError, ValueError, KeyError):
            return None, None

    def _choose_ports(self, port: int | None, controller_port: int | None) -> tuple[int, int]:
        for p in (port, controller_port):
            if p is not None and port_in_use(p):
                raise BrokerError(f"port {p} on 127.0.0.1 is already taken by another process")
        if port is None or controller_port is None:
            prev_port, prev_ctl = self._previous_ports()
            # Reuse last run's ports when free, so clients configured with them keep working.
            if port is None:
                port = prev_port if prev_port and not port_in_use(prev_port) else free_port()
            if controller_port is None:
                ok = prev_ctl and prev_ctl != port and not port_in_use(prev_ctl)
                controller_port = prev_ctl if ok else free_port()
                while controller_port == port:
                    controller_port = free_port()
        return port, controller_port  # type: ignore[return-value]

    def _render_config(self, port: int, controller_port: int) -> None:
        template = Template((DEPLOY_DIR / "server.properties.template").read_text())
        text = template.substitute(
            port=port, controller_port=controller_port, data_dir=str(self.data)
        )
        self.config.write_text(text)

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java is not installed: the Kafka broker needs Java 17+ (`java`).")
        return java

    def _format_storage(self, java: str) -> None:
        if (self.data / "meta.properties").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cmd = [
            java,
            "-Xmx256m",
            f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            f"{self.lib}/*",
            "kafka.tools.StorageTool",
            "format",
            # --cluster-id=: a random id may start with '-', which "-t ID" reads as an option
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.config),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BrokerError(f"formatting Kafka storage failed:\n{proc.stdout}{proc.stderr}")

    # -- lifecycle --------------------------------------------------------------------------
    def up(self, port: int | None = None, controller_port: int | None = None) -> dict[str, Any]:
        """Start the broker (or find it running) and wait until it serves requests."""
        running = self.info()
        if running is not None:
            if port is not None and port != running["port"]:
                raise BrokerError(
                    f"the local broker already runs on port {running['port']}; "
                    f"run `shockwatch kafka down` first to move it to {port}"
                )
            log.info("local broker already running at %s", running["bootstrap"])
            return {**running, "already_running": True, "ready_s": 0.0}
        java = self._java()
        self.fetch_jars()
        for d in (self.data, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        port, controller_port = self._choose_ports(port, controller_port)
        self._render_config(port, controller_port)
        self._format_storage(java)

        started = time.monotonic()
        log_path = self.logs / "server.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        heap = self.settings.kafka_heap.split()
        cmd = [
            java,
            *heap,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # Pauses with wall time: the bench lines them up with slow ticks.
            f"-Xlog:gc:file={self.logs / 'gc.log'}:time:filecount=2,filesize=10m",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            f"{self.lib}/*",
            "kafka.Kafka",
            str(self.config),
        ]
        with open(self.logs / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        bootstrap = f"127.0.0.1:{port}"
        info = {
            "pid": proc.pid,
            "port": port,
            "controller_port": controller_port,
            "bootstrap": bootstrap,
        }
        self.info_file.write_text(json.dumps(info))
        try:
            self._wait_ready(proc, log_path, log_offset, bootstrap)
        except BrokerError:
            self._stop_pid(proc.pid)
            raise
        ready_s = time.monotonic() - started
        log.info("local Kafka broker ready at %s in %.1f s", bootstrap, ready_s)
        return {**info, "already_running": False, "ready_s": ready_s}

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], log_path: Path, offset: int, bootstrap: str
    ) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        logged = False
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with code {proc.returncode} during start-up; last log lines:\n"
                    + self.log_tail()
                )
            if not logged and log_path.exists():
                with open(log_path, "rb") as f:
                    f.seek(offset)
                    logged = READY_LINE.encode() in f.read()
            if logged and self._probe(bootstrap):
                return
            time.sleep(0.2)
        raise BrokerError(
            f"Kafka did not become ready within {READY_TIMEOUT_S:.0f} s; last log lines:\n"
            + self.log_tail()
        )

    @staticmethod
    def _probe(bootstrap: str) -> bool:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            client = KafkaAdminClient(
                bootstrap_servers=bootstrap, request_timeout_ms=3000, client_id="shockwatch-probe"
            )
        except (KafkaError, OSError):
            return False
        try:
            client.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            client.close()

    def log_tail(self, lines: int = 20) -> str:
        path = self.logs / "server.log"
        if not path.exists():
            path = self.logs / "stdout.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _stop_pid(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and _pid_alive(pid):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if _pid_alive(pid):
            log.warning("broker pid %d ignored SIGTERM for %.0f s; killing it", pid, STOP_GRACE_S)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def down(self) -> bool:
        """Stop the broker if it runs. Returns whether one was running."""
        info = self.info()
        if info is None:
            return False
        self._stop_pid(int(info["pid"]))
        return True

    def kill(self) -> None:
        """SIGKILL the broker (fault tests): no clean shutdown, data stays."""
        info = self.info()
        if info is not None:
            os.killpg(int(info["pid"]), signal.SIGKILL)

    def status(self) -> dict[str, Any]:
        info = self.info()
        if info is None:
            return {"running": False, "state_dir": str(self.root)}
        topics: list[str] | None
        try:
            from kafka import KafkaAdminClient

            client = KafkaAdminClient(bootstrap_servers=info["bootstrap"], request_timeout_ms=5000)
            try:
                topics = sorted(client.list_topics())
            finally:
                client.close()
        except Exception:
            topics = None
        return {
            "running": True,
            "reachable": topics is not None,
            "topics": topics,
            "state_dir": str(self.root),
            **info,
        }
