"""The local Apache Kafka broker: fetched from Maven Central, run as KRaft node(s).

``LocalBroker(settings).up()`` makes sure the jars are there (``mvn`` copies them into
``<state>/kafka/lib``), renders ``server.properties`` from ``deploy/kafka``, formats the storage
once, starts ``kafka.Kafka`` with a small heap and waits, in a bounded loop, for the server log's
"Kafka Server started" line and an admin probe that lists topics. Data stays in
``<state>/kafka/data``, so a restart keeps topics and committed offsets. ``up`` twice is one
broker; ``down`` stops it (SIGTERM, then SIGKILL after a grace period).

``LocalBroker(settings, brokers=3)`` runs three combined broker+controller nodes instead (a
3-voter quorum, replication factor 3 and ``min.insync.replicas=2`` everywhere), each in its own
folder ``<state>/kafka/cluster/node-<id>`` (data, logs, server.properties) on its own loopback
ports. One deployment runs per state folder: ``<state>/kafka/broker.json`` describes it (its
nodes, their pids and ports, the bootstrap servers), so ``down``/``status`` and the clients'
``bootstrap`` find it whatever its shape.

``LocalBroker(settings, secure=True)`` serves SASL_SSL (SCRAM-SHA-512) with TLS from a local CA
and enforces ACLs (``shockwatch.local.secure``, which this module calls at a few hooks); its data is
kept apart, in ``<state>/kafka/secure``, as its SCRAM users are stored when it is formatted.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Any

from common.kafka import broker_info_file, pid_alive, read_broker_info, running_nodes
from common.log import redact
from common.ports import free_port
from common.settings import PROJECT_ROOT, Settings
from shockwatch.local import broker_admin as admin
from shockwatch.local import secure as security

log = logging.getLogger(__name__)

DEPLOY_DIR = PROJECT_ROOT / "deploy" / "kafka"
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 30.0
CLUSTER_STOP_GRACE_S = 10.0
READY_LINE = "Kafka Server started"
# A cluster node that stops heartbeating is fenced (its partitions move) after this long;
# Kafka's 9 s default is for real networks, loopback can be quicker.
CLUSTER_TIMINGS = """
# Cluster: a node that stops heartbeating is fenced, and its partitions get new leaders, after
# broker.session.timeout.ms (Kafka's default 9 s is for real networks).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
"""


class BrokerError(RuntimeError):
    """The local broker cannot be fetched, started or reached; the message says why."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


@dataclass
class Node:
    """One KRaft node (broker + controller in one JVM): its id and loopback ports."""

    id: int
    port: int
    controller_port: int
    pid: int = -1

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


class LocalBroker:
    def __init__(
        self,
        settings: Settings,
        state_dir: Path | None = None,
        *,
        brokers: int | None = None,
        secure: bool | None = None,
    ) -> None:
        """``brokers``: 1 or 3; None is the deployment running in this state folder, else 1
        (so ``kafka up``, the demo and ``make run`` reuse a running cluster as it is).
        ``secure``: SASL_SSL + ACLs (``shockwatch.local.secure``); None likewise follows the running
        deployment, else plaintext."""
        self.settings = settings
        self.root = (state_dir or settings.state_dir) / "kafka"
        self.info_file = broker_info_file(state_dir or settings.state_dir)
        running = self.info() if brokers is None or secure is None else None
        if brokers is None:
            brokers = int(running["brokers"]) if running is not None else 1
        if brokers not in (1, 3):
            raise BrokerError(f"--brokers must be 1 or 3 (a 3-voter quorum), not {brokers}")
        self.brokers = brokers
        # Jars are shared by every broker of this checkout (tests run their own data dirs).
        self.lib = settings.state_dir / "kafka" / "lib"
        # One node keeps the original layout (<state>/kafka/data, logs, server.properties).
        self.home = self.root if brokers == 1 else self.root / "cluster"
        # --secure (None: as the deployment running here, else plaintext) keeps its own data:
        # its SCRAM users are written when the storage is formatted.
        if secure is None:
            secure = bool(running is not None and running.get("secure"))
        if secure and brokers != 1:
            raise BrokerError("--secure runs one node (three secure nodes are not tested yet)")
        self.secure = secure
        self.tls = security.SecureLayout(self.root / "secure")
        if secure:
            self.home = self.tls.root

    # -- layout -----------------------------------------------------------------------------
    def node_dir(self, node_id: int) -> Path:
        return self.home if self.brokers == 1 else self.home / f"node-{node_id}"

    def data_dir(self, node_id: int = 1) -> Path:
        return self.node_dir(node_id) / "data"

    def logs_dir(self, node_id: int = 1) -> Path:
        return self.node_dir(node_id) / "logs"

    def config_file(self, node_id: int = 1) -> Path:
        return self.node_dir(node_id) / "server.properties"

    @property
    def data(self) -> Path:
        return self.data_dir(1) if self.brokers == 1 else self.home

    @property
    def logs(self) -> Path:
        return self.logs_dir(1)

    @property
    def config(self) -> Path:
        return self.config_file(1)

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
    def _read_info(self) -> dict[str, Any] | None:
        return read_broker_info(self.info_file)

    def info(self) -> dict[str, Any] | None:
        """The running deployment: {brokers, bootstrap, nodes: [{id, port, controller_port,
        pid, alive}], and node 1's pid, port, controller_port}; None when no node runs."""
        return running_nodes(self._read_info())

    def _write_info(self, nodes: list[Node]) -> dict[str, Any]:
        first = nodes[0]
        info = {
            "brokers": len(nodes),
            "pid": first.pid,
            "port": first.port,
            "controller_port": first.controller_port,
            "bootstrap": ",".join(n.bootstrap for n in nodes),
            "nodes": [asdict(n) for n in nodes],
            "secure": self.secure,
        }
        self.info_file.parent.mkdir(parents=True, exist_ok=True)
        self.info_file.write_text(json.dumps(info))
        return info

    def _previous_nodes(self) -> dict[int, Node]:
        info = self._read_info()
        if info is None or int(info.get("brokers", 1)) != self.brokers:
            return {}
        if bool(info.get("secure")) != self.secure:
            return {}
        return {
            int(n["id"]): Node(int(n["id"]), int(n["port"]), int(n["controller_port"]))
            for n in info["nodes"]
        }

    def _plan(self, port: int | None, controller_port: int | None) -> list[Node]:
        """Each node's ports: given ones (one node), else last run's when free, else free ones."""
        for p in (port, controller_port):
            if p is not None and port_in_use(p):
                raise BrokerError(f"port {p} on 127.0.0.1 is already taken by another process")
        if self.brokers > 1 and (port is not None or controller_port is not None):
            raise BrokerError("--port/--controller-port set one node's ports: not with --brokers")
        previous = self._previous_nodes()
        taken: set[int] = {p for p in (port, controller_port) if p is not None}

        def pick(prev: int | None) -> int:
            # Reuse last run's ports when free, so clients configured with them keep working.
            p = prev if prev and prev not in taken and not port_in_use(prev) else free_port()
            while p in taken:
                p = free_port()
            taken.add(p)
            return p

        nodes = []
        for node_id in range(1, self.brokers + 1):
            prev = previous.get(node_id)
            p = port if node_id == 1 and port is not None else pick(prev and prev.port)
            c = (
                controller_port
                if node_id == 1 and controller_port is not None
                else pick(prev and prev.controller_port)
            )
            nodes.append(Node(node_id, p, c))
        return nodes

    def _render_config(self, node: Node, nodes: list[Node]) -> None:
        n = len(nodes)
        template = Template((DEPLOY_DIR / "server.properties.template").read_text())
        listeners = dict(
            listeners=f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            advertised_listeners=f"PLAINTEXT://127.0.0.1:{node.port}",
            inter_broker_listener="PLAINTEXT",
            protocol_map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        )
        extra = CLUSTER_TIMINGS if n > 1 else ""
        if self.secure:
            listeners = security.listener_placeholders(node.port, node.controller_port)
            extra += security.server_properties(self.tls)
        text = template.substitute(
            node_id=node.id,
            voters=",".join(f"{x.id}@127.0.0.1:{x.controller_port}" for x in nodes),
            **listeners,
            data_dir=str(self.data_dir(node.id)),
            replication=min(n, 3),
            min_isr=2 if n >= 3 else 1,
            extra=extra,
        )
        self.config_file(node.id).write_text(text)
        if self.secure:  # it holds the broker's own password
            security.protect_config(self.config_file(node.id))

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java is not installed: the Kafka broker needs Java 17+ (`java`).")
        return java

    def _cluster_id(self, nodes: list[Node]) -> str:
        """The id of a node already formatted (every node of a cluster shares it), else new."""
        for node in nodes:
            meta = self.data_dir(node.id) / "meta.properties"
            if meta.exists():
                for line in meta.read_text().splitlines():
                    if line.startswith("cluster.id="):
                        return line.split("=", 1)[1].strip()
        return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    def _format_storage(self, java: str, node: Node, cluster_id: str) -> None:
        data = self.data_dir(node.id)
        if (data / "meta.properties").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        cmd = [
            java,
            "-Xmx256m",
            f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.logs_dir(node.id)}",
            "-cp",
            f"{self.lib}/*",
            "kafka.tools.StorageTool",
            "format",
            # --cluster-id=: a random id may start with '-', which "-t ID" reads as an option
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.config_file(node.id)),
            # --secure: every principal's SCRAM credentials, stored in the metadata log
            *(security.format_args(self.tls) if self.secure else []),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            output = redact(proc.stdout + proc.stderr)
            raise BrokerError(f"formatting Kafka storage failed:\n{output}")

    # -- lifecycle --------------------------------------------------------------------------
    def up(self, port: int | None = None, controller_port: int | None = None) -> dict[str, Any]:
        """Start the broker (or find it running) and wait until it serves requests."""
        running = self.info()
        if running is not None:
            return self._already_running(running, port)
        java = self._java()
        self.fetch_jars()
        if self.secure:
            security.ensure_material(self.tls)
        nodes = self._plan(port, controller_port)
        for node in nodes:
            for d in (self.data_dir(node.id), self.logs_dir(node.id)):
                d.mkdir(parents=True, exist_ok=True)
            self._render_config(node, nodes)
        cluster_id = self._cluster_id(nodes)
        for node in nodes:
            self._format_storage(java, node, cluster_id)

        started = time.monotonic()
        waits = [self._launch(java, node) for node in nodes]
        info = self._write_info(nodes)
        try:
            for node, (proc, offset) in zip(nodes, waits, strict=True):
                self._wait_ready(node, proc, offset)
            self._wait_registered(nodes)
        except BaseException:  # nothing half-started is left behind
            for node in nodes:
                self._stop_pid(node.pid)
            raise
        ready_s = time.monotonic() - started
        what = "broker" if len(nodes) == 1 else f"cluster of {len(nodes)} nodes"
        log.info("local Kafka %s ready at %s in %.1f s", what, info["bootstrap"], ready_s)
        return {**info, "already_running": False, "ready_s": ready_s}

    def _already_running(self, running: dict[str, Any], port: int | None) -> dict[str, Any]:
        if bool(running.get("secure")) != self.secure:
            kind = "secure (SASL_SSL)" if running.get("secure") else "plaintext"
            raise BrokerError(
                f"a {kind} local Kafka already runs at {running['bootstrap']}; "
                "run `shockwatch kafka down` first"
            )
        if int(running.get("brokers", 1)) != self.brokers:
            raise BrokerError(
                f"a local Kafka of {running['brokers']} node(s) already runs at "
                f"{running['bootstrap']}; run `shockwatch kafka down` first"
            )
        if port is not None and port != running["port"]:
            raise BrokerError(
                f"the local broker already runs on port {running['port']}; "
                f"run `shockwatch kafka down` first to move it to {port}"
            )
        for node in running["nodes"]:
            if not node["alive"]:  # a node of the cluster died: bring it back
                self.start_node(int(node["id"]))
        log.info("local broker already running at %s", running["bootstrap"])
        return {**running, "already_running": True, "ready_s": 0.0}

    def _launch(self, java: str, node: Node) -> tuple[subprocess.Popen[bytes], int]:
        """Start one node's JVM; returns it and where its server log stood before."""
        logs = self.logs_dir(node.id)
        log_path = logs / "server.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        cmd = [
            java,
            *self.settings.kafka_heap.split(),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # Pauses with wall time: the bench lines them up with slow ticks.
            f"-Xlog:gc:file={logs / 'gc.log'}:time:filecount=2,filesize=10m",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'log4j.properties'}",
            f"-Dkafka.logs.dir={logs}",
            "-cp",
            f"{self.lib}/*",
            "kafka.Kafka",
            str(self.config_file(node.id)),
        ]
        with open(logs / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        node.pid = proc.pid
        return proc, offset

    def _wait_ready(self, node: Node, proc: subprocess.Popen[bytes], offset: int) -> None:
        log_path = self.logs_dir(node.id) / "server.log"
        deadline = time.monotonic() + READY_TIMEOUT_S
        logged = False
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(
                    f"Kafka node {node.id} exited with code {proc.returncode} during start-up; "
                    "last log lines:\n" + self.log_tail(node_id=node.id)
                )
            if not logged and log_path.exists():
                with open(log_path, "rb") as f:
                    f.seek(offset)
                    logged = READY_LINE.encode() in f.read()
            if logged and self._probe(node.bootstrap):
                return
            time.sleep(0.2)
        raise BrokerError(
            f"Kafka node {node.id} did not become ready within {READY_TIMEOUT_S:.0f} s; "
            "last log lines:\n" + self.log_tail(node_id=node.id)
        )

    def _wait_registered(self, nodes: list[Node]) -> None:
        """A cluster is ready once every node's metadata lists every node (a client may
        bootstrap from any of them and must find each broker it is sent to)."""
        if len(nodes) == 1:
            return
        deadline = time.monotonic() + READY_TIMEOUT_S
        for node in nodes:
            seen: set[int] = set()
            while len(seen) < len(nodes):
                if time.monotonic() > deadline:
                    raise BrokerError(
                        f"node {node.id} sees brokers {sorted(seen)} of {len(nodes)} after "
                        f"{READY_TIMEOUT_S:.0f} s"
                    )
                cluster = self.describe_cluster(node.bootstrap) or {}
                seen = {b["broker_id"] for b in cluster.get("brokers", [])}
                if len(seen) < len(nodes):
                    time.sleep(0.2)

    def _admin(self, bootstrap: str, timeout_ms: int = 3000) -> Any:
        from kafka import KafkaAdminClient

        # A secure deployment (this one, or the one broker.json describes) is asked as admin.
        running_secure = self.secure or bool((self._read_info() or {}).get("secure"))
        auth = security.admin_client_config(self.tls) if running_secure else {}
        return KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=timeout_ms,
            client_id="shockwatch-probe",
            **auth,
        )

    def _probe(self, bootstrap: str) -> bool:
        return admin.probe(self._admin, bootstrap)

    def describe_cluster(self, bootstrap: str | None = None) -> dict[str, Any] | None:
        """The cluster's metadata as a broker answers it: {brokers: [{broker_id, host, port}],
        controller_id, cluster_id, active_controller}; None when no node answers."""
        if bootstrap is None:
            info = self.info()
            if info is None:
                return None
            bootstrap = info["bootstrap"]
        return admin.describe_cluster(self._admin, bootstrap)

    def log_tail(self, lines: int = 20, node_id: int = 1) -> str:
        path = self.logs_dir(node_id) / "server.log"
        if not path.exists():
            path = self.logs_dir(node_id) / "stdout.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _stop_pid(self, pid: int, grace_s: float = STOP_GRACE_S) -> None:
        if pid <= 0:  # a node that was never launched
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and pid_alive(pid):
            _reap(pid)
            time.sleep(0.1)
        if pid_alive(pid):
            level = logging.INFO if grace_s < STOP_GRACE_S else logging.WARNING
            log.log(level, "broker pid %d still running %.0f s after SIGTERM; killing it", pid,
                    grace_s)  # fmt: skip
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(pid)

    def down(self) -> bool:
        """Stop every node that runs. Returns whether one was running."""
        info = self.info()
        if info is None:
            return False
        # Signal all, then wait: the nodes of a cluster shut down together, not one by one.
        # The last of them may wait for ever for a quorum that is gone (its controlled
        # shutdown needs one): it gets a shorter grace, then SIGKILL (its data is safe: every
        # write is in its log, which Kafka recovers at the next start).
        alive = [int(n["pid"]) for n in info["nodes"] if n["alive"]]
        for pid in alive:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        grace = STOP_GRACE_S if len(info["nodes"]) == 1 else CLUSTER_STOP_GRACE_S
        for pid in alive:
            self._stop_pid(pid, grace)
        return True

    def kill(self, node_id: int | None = None) -> None:
        """SIGKILL one node (or all): no clean shutdown, data stays (fault tests)."""
        info = self.info()
        if info is None:
            return
        for node in info["nodes"]:
            if node["alive"] and node_id in (None, int(node["id"])):
                try:
                    os.killpg(int(node["pid"]), signal.SIGKILL)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + 10
                while pid_alive(int(node["pid"])) and time.monotonic() < deadline:
                    _reap(int(node["pid"]))
                    time.sleep(0.05)

    def start_node(self, node_id: int) -> dict[str, Any]:
        """Start one node of the running deployment again (same ports, same data): after a
        ``kill``. Returns the deployment's info."""
        info = self._read_info()
        if info is None:
            raise BrokerError("no local Kafka has run here: `shockwatch kafka up` first")
        nodes = [
            Node(int(n["id"]), int(n["port"]), int(n["controller_port"]), int(n["pid"]))
            for n in info["nodes"]
        ]
        node = next((n for n in nodes if n.id == node_id), None)
        if node is None:
            raise BrokerError(f"no node {node_id} in {[n.id for n in nodes]}")
        if pid_alive(node.pid):
            return info
        proc, offset = self._launch(self._java(), node)
        info = self._write_info(nodes)
        try:
            self._wait_ready(node, proc, offset)
        except BrokerError:
            self._stop_pid(node.pid)
            raise
        return info

    def status(self) -> dict[str, Any]:
        info = self.info()
        if info is None:
            return {"running": False, "state_dir": str(self.root)}
        topics = admin.list_topics(self._admin, info["bootstrap"])
        cluster = self.describe_cluster(info["bootstrap"]) if topics is not None else None
        registered = {b["broker_id"] for b in (cluster or {}).get("brokers", [])}
        for node in info["nodes"]:
            node["registered"] = node["id"] in registered
        replicas = (
            admin.replica_health(self._admin, info) if topics and len(info["nodes"]) > 1 else None
        )
        return {
            "running": True,
            "reachable": topics is not None,
            "topics": topics,
            "active_controller": (cluster or {}).get("active_controller"),
            "state_dir": str(self.root),
            **info,
            **(replicas or {}),
        }
