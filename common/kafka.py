"""Kafka client settings for every client library, from one place; the admin client and
the clear refusals every component reports.

kafka-python, aiokafka and faust name the same security settings differently; these helpers
map ``Settings`` onto each so SASL/SSL reaches every client the same way. When a cluster turns a
client away, ``admin`` and the components say why in one line an operator can act on
(``explain_refusal``, ``not_authorized``). The topic contract's own admin (creating its topics,
run prefixes) is ``streams.topics``; this module knows no topic names.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common.settings import Settings

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The configured Kafka cluster cannot be reached (the message says where and what to do)."""


class KafkaNotAuthorized(KafkaUnavailable):
    """Kafka refused this principal an operation on a topic or group (an ACL is missing): the
    commands report it like an unreachable cluster, one clear line, exit 1."""


def broker_info_file(state_dir: Path) -> Path:
    """Where the local deployment of a state folder is described (written by the broker's own
    module when ``shockwatch kafka up`` starts it, read by it and by every client here)."""
    return state_dir / "kafka" / "broker.json"


def read_broker_info(path: Path) -> dict[str, Any] | None:
    """A local deployment's description (``<state>/kafka/broker.json``, which the broker's own
    module writes when ``shockwatch kafka up`` starts it); None when there is none."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    # Written by an older shockwatch: one node, no list.
    if "nodes" not in info and "pid" in info:
        info["nodes"] = [
            {"id": 1, "port": info["port"], "controller_port": info["controller_port"],
             "pid": info["pid"]}
        ]  # fmt: skip
        info["brokers"] = 1
    return info


def running_nodes(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``info`` with each node's ``alive``; None when no node of it runs."""
    if info is None:
        return None
    for node in info["nodes"]:
        node["alive"] = pid_alive(int(node.get("pid", -1)))
    if not any(n["alive"] for n in info["nodes"]):
        return None
    return info


def local_broker_info(settings: Settings) -> dict[str, Any] | None:
    """The local deployment running in this state folder (``running_nodes``)."""
    return running_nodes(read_broker_info(broker_info_file(settings.state_dir)))


def pid_alive(pid: int) -> bool:
    if pid <= 0:  # never started (-1); os.kill(-1, 0) would ask about every process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bootstrap(settings: Settings) -> str:
    """The bootstrap servers: the configured cluster, else the local broker if it is running."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    info = local_broker_info(settings)
    if info is None:
        raise KafkaUnavailable(
            "no Kafka configured: set SHOCKWATCH_KAFKA_BOOTSTRAP, or start the local broker "
            "with `shockwatch kafka up` (make kafka-up)"
        )
    return str(info["bootstrap"])


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if "SSL" not in settings.kafka_security_protocol:
        return None
    ctx = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        ctx.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return ctx


def _sasl(settings: Settings) -> dict[str, Any]:
    if "SASL" not in settings.kafka_security_protocol:
        return {}
    password = settings.kafka_sasl_password
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism or "PLAIN",
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": password.get_secret_value() if password else None,
    }


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """kwargs for kafka-python's KafkaProducer/KafkaConsumer/KafkaAdminClient."""
    cfg: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "security_protocol": settings.kafka_security_protocol,
        **_sasl(settings),
    }
    ctx = ssl_context(settings)
    if ctx is not None:
        cfg["ssl_context"] = ctx
    return cfg


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """kwargs for aiokafka's AIOKafkaProducer/AIOKafkaConsumer."""
    return kafka_python_config(settings)


# -- client sizes: every bulk reader and the worker's outputs ----------------------------------
# Records per getmany of a bulk reader (the worker's stages, the replay, the benchmarks): one
# detector pass, one lock hold.
BATCH_MAX_RECORDS = 20_000
# Big fetches: fewer round trips in which the loop only waits (a backlog, a replay).
FETCH_MAX_BYTES = 64 * 2**20
PARTITION_FETCH_MAX_BYTES = 8 * 2**20
FETCH_MAX_WAIT_MS = 100  # an idle partition's fetch is renewed every 100 ms
# aiokafka consumer kwargs of a bulk reader.
BULK_FETCH: dict[str, int] = {
    "fetch_max_bytes": FETCH_MAX_BYTES,
    "max_partition_fetch_bytes": PARTITION_FETCH_MAX_BYTES,
    "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
}
OUTPUT_LINGER_MS = 2  # signals and alerts leave within ~2 ms of their tick
# A batch of ticks (a backlog, a replay) sends one signal per minute at once: with aiokafka's
# 16 KB default a partition's batch filled every few signals and the loop waited for the
# broker's ack each time (0.4 s of a 1.2 s benchmark run).
OUTPUT_BATCH_BYTES = 512 * 1024


def faust_config(settings: Settings) -> dict[str, Any]:
    """kwargs for ``faust.App``: broker URL and credentials."""
    import faust

    servers = bootstrap(settings).split(",")
    cfg: dict[str, Any] = {"broker": [f"kafka://{s}" for s in servers]}
    protocol = settings.kafka_security_protocol
    ctx = ssl_context(settings)
    if "SASL" in protocol:
        sasl = _sasl(settings)
        cfg["broker_credentials"] = faust.SASLCredentials(
            username=sasl["sasl_plain_username"],
            password=sasl["sasl_plain_password"],
            mechanism=sasl["sasl_mechanism"],
            ssl_context=ctx,
        )
    elif ctx is not None:
        cfg["broker_credentials"] = faust.SSLCredentials(ctx)
    return cfg


# How long a command waits for a TCP connection to any bootstrap server before it says the
# cluster is unreachable: the client libraries would retry for 30 s, logging each attempt.
PROBE_TIMEOUT_S = 3.0


# ApiVersions v0 (api key 18), correlation id 1, client id "shockwatch-probe": the request
# every Kafka client sends first, answered before any authentication.
_API_VERSIONS = (
    b"\x00\x12\x00\x00\x00\x00\x00\x01" + len(b"shockwatch-probe").to_bytes(2) + b"shockwatch-probe"
)


def _answers_kafka(sock: socket.socket) -> bool:
    """Whether the peer answers ApiVersions as a Kafka broker does (its correlation id back)."""
    sock.sendall(len(_API_VERSIONS).to_bytes(4) + _API_VERSIONS)
    head = b""
    while len(head) < 8:
        chunk = sock.recv(8 - len(head))
        if not chunk:
            return False
        head += chunk
    return head[4:8] == b"\x00\x00\x00\x01"


def _speaks_tls(host: str, port: int, timeout_s: float = 5.0) -> bool:
    """Whether ``host:port`` completes a TLS handshake (any certificate)."""
    anyone = ssl.create_default_context()
    anyone.check_hostname = False
    anyone.verify_mode = ssl.CERT_NONE
    return _tls_handshake(host, port, anyone, timeout_s) == "ok"


def probe(
    servers: str, protocol: str = "PLAINTEXT", timeout_s: float = PROBE_TIMEOUT_S
) -> str | None:
    """Why no server of ``servers`` ("host:port,...") answers within ``timeout_s`` in all, or
    None when one does: a TCP connection, and over plaintext a Kafka ApiVersions answer (a TLS
    listener's handshake and SASL are the clients' to judge)."""
    deadline = time.monotonic() + timeout_s
    reasons: list[str] = []
    for server in (s.strip() for s in servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit():
            reasons.append(f"{server!r} is not host:port")
            continue
        left = max(0.2, deadline - time.monotonic())
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=left) as sock:
                if "SSL" in protocol or _answers_kafka(sock):
                    return None
            if _speaks_tls(host.strip("[]"), int(port), max(0.2, deadline - time.monotonic())):
                return None  # a TLS listener asked in plaintext: the client explains that
            reasons.append(f"{server}: accepts connections but does not answer as Kafka")
        except socket.gaierror as exc:
            reasons.append(f"{host}: unknown host ({exc.strerror})")
        except TimeoutError:
            reasons.append(f"{server}: no answer within {left:.1f} s")
        except OSError as exc:
            reasons.append(f"{server}: {exc.strerror or exc}")
    return "; ".join(reasons) or "no bootstrap server given"


def require_reachable(settings: Settings) -> str:
    """The bootstrap servers, once one of them accepts a connection; else ``KafkaUnavailable``
    in one line naming the address, the cause and where the address came from."""
    servers = bootstrap(settings)
    why = probe(servers, settings.kafka_security_protocol)
    if why is not None:
        source = (
            "SHOCKWATCH_KAFKA_BOOTSTRAP"
            if settings.kafka_bootstrap
            else f"the local broker's {broker_info_file(settings.state_dir)}"
        )
        raise KafkaUnavailable(
            f"cannot reach Kafka at {servers} (from {source}): {why}; is the broker up "
            "(`shockwatch kafka status`) and the address right?"
        )
    return servers


def admin(settings: Settings, timeout_s: float = 10.0) -> Any:
    """A kafka-python admin client, or ``KafkaUnavailable`` with a clear message (within
    ``PROBE_TIMEOUT_S`` when nothing listens at the bootstrap address)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    require_reachable(settings)
    cfg = kafka_python_config(settings)
    try:
        with RefusalWitness() as witness:
            return KafkaAdminClient(
                **cfg, request_timeout_ms=int(timeout_s * 1000), client_id="shockwatch-admin"
            )
    except (KafkaError, OSError) as exc:
        why = explain_refusal(settings, cfg["bootstrap_servers"], witness.causes)
        raise KafkaUnavailable(
            f"cannot reach Kafka at {cfg['bootstrap_servers']}: {exc.__class__.__name__}"
            + (f": {why}" if why else "")
        ) from exc


def replication(settings: Settings, brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for new topics on a cluster of ``brokers``:
    the settings when given, else 3 and 2 from three brokers on (acks=all then needs two
    copies: losing any one broker loses nothing acknowledged), 1 and 1 on one broker."""
    rf = settings.kafka_replication_factor or min(3, max(1, brokers))
    min_isr = settings.kafka_min_insync_replicas or (2 if rf >= 3 else 1)
    if rf > brokers:
        raise KafkaUnavailable(
            f"replication factor {rf} needs {rf} brokers; the cluster has {brokers}"
        )
    if settings.kafka_replication_factor is None and rf == 2:
        # Two brokers answering is a cluster of two, or of three with one down: say so, since
        # the topics keep the factor they are created with.
        log.warning(
            "only 2 brokers answer: new topics get replication factor 2 and "
            "min.insync.replicas 1; set SHOCKWATCH_KAFKA_REPLICATION_FACTOR=3 to require 3"
        )
    return rf, min(min_isr, rf)


def describe_topic_configs(settings: Settings, topics: list[str]) -> dict[str, dict[str, str]]:
    """Read topic configs back from the broker (used by tests and `topics list`)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    client = admin(settings)
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        # kafka-python 3.0: {"topic": {name: {config: {"value": ..., "config_source": ...}}}}
        described = client.describe_configs(resources).get("topic", {})
        return {
            name: {key: entry["value"] for key, entry in entries.items()}
            for name, entries in described.items()
        }
    finally:
        client.close()


def partitions_for(settings: Settings, topics: list[str]) -> dict[str, int]:
    client = admin(settings)
    try:
        meta = client.describe_topics(topics)
        return {m["name"]: len(m["partitions"]) for m in meta if m["error_code"] == 0}
    finally:
        client.close()


def delete_topics(settings: Settings, topics: Iterable[str]) -> list[str]:
    """Delete these topics (those that exist); returns the names deleted."""
    from kafka.errors import UnknownTopicOrPartitionError

    client = admin(settings)
    try:
        existing = set(client.list_topics())
        doomed = sorted(t for t in set(topics) if t in existing)
        if doomed:
            try:
                client.delete_topics(doomed, timeout_ms=30_000)
            except UnknownTopicOrPartitionError:  # raced with another deleter
                pass
        return doomed
    finally:
        client.close()


def partition_leaders(
    settings: Settings, topics: list[str]
) -> dict[tuple[str, int], dict[str, Any]]:
    """{(topic, partition): {"leader": id, "isr": [ids], "replicas": [ids]}} as the cluster's
    metadata says now (leader -1: none, during an election)."""
    client = admin(settings)
    try:
        return {
            (m["name"], p["partition_index"]): {
                "leader": p["leader_id"],
                "isr": sorted(p["isr_nodes"]),
                "replicas": list(p["replica_nodes"]),
            }
            for m in client.describe_topics(topics)
            for p in m["partitions"]
        }
    finally:
        client.close()


# -- clear refusals ---------------------------------------------------------------------------
def _authorization_error(exc: BaseException) -> str | None:
    """The name of the authorization error ``exc`` is or wraps (kafka-python wraps a refused
    InitProducerId, ``ClusterAuthorizationFailedError``, in a plain ``KafkaError``)."""
    if "AuthorizationFailed" in type(exc).__name__:
        return type(exc).__name__
    found = re.search(r"\b(\w+AuthorizationFailedError)\b", str(exc))
    return found.group(1) if found else None


def is_authorization_error(exc: BaseException) -> bool:
    """Kafka refused the principal (an ACL), as kafka-python or aiokafka raise it."""
    return _authorization_error(exc) is not None


def not_authorized(settings: Settings, topic: str, operation: str, exc: BaseException) -> str:
    """The one-line report of a refusal: which principal, what, on which topic, what to do."""
    who = f"User:{settings.kafka_sasl_username}" if settings.kafka_sasl_username else "anonymous"
    error = _authorization_error(exc) or type(exc).__name__
    return (
        f"Kafka refused principal {who} {operation} on topic {topic!r} ({error}): no ACL "
        "allows it; grant one (docs/kafka.md, 'ACLs') or run this component with its own "
        "principal"
    )


# -- why a client was turned away ------------------------------------------------------------
# What kafka-python logs when the broker refuses it (it then retries until its bootstrap
# timeout and raises a bare KafkaTimeoutError): the broker's own words, kept for the message.
_REFUSAL_MARKS = ("Authentication", "Sasl", "SSL", "certificate", "IllegalSaslState")


class RefusalWitness(logging.Handler):
    """Collects the client library's log lines that say why a connection was refused."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.causes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(mark in message for mark in _REFUSAL_MARKS):
            self.causes.append(message)

    def __enter__(self) -> RefusalWitness:
        logging.getLogger("kafka").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("kafka").removeHandler(self)


def _tls_handshake(host: str, port: int, ctx: ssl.SSLContext, timeout_s: float = 5.0) -> str:
    """Why a TLS handshake with ``host:port`` fails under ``ctx``, or "ok"."""
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            ctx.wrap_socket(raw, server_hostname=host),
        ):
            return "ok"
    except ssl.SSLCertVerificationError as exc:
        return f"certificate: {exc.verify_message or exc.reason}"
    except (ssl.SSLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


def explain_refusal(settings: Settings, bootstrap: str, causes: list[str]) -> str:
    """Why the cluster turned this client away, in a sentence an operator can act on: the
    broker's refusal as the client logged it, else a TLS probe of the first bootstrap server."""
    who = settings.kafka_sasl_username
    protocol = settings.kafka_security_protocol
    auth = [c for c in causes if "Authentication" in c or "Sasl" in c]
    if auth:
        reason = auth[-1].rsplit("SaslAuthenticationFailedError: ", 1)[-1]
        reason = reason.split(" (backoff ")[0]  # the client's retry note, not the broker's words
        return (
            f"Kafka refused to authenticate {f'User:{who}' if who else 'this client'} "
            f"({settings.kafka_sasl_mechanism}): {reason}; check SHOCKWATCH_KAFKA_SASL_USERNAME "
            "and the password (SHOCKWATCH_KAFKA_SASL_PASSWORD_FILE)"
        )
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port.isdigit():
        return ""
    if "SSL" in protocol:
        ctx = ssl_context(settings)
        result = _tls_handshake(host, int(port), ctx) if ctx is not None else "ok"
        if result.startswith("certificate"):
            return (
                f"TLS: this client does not trust the broker's {result}; set "
                "SHOCKWATCH_KAFKA_SSL_CAFILE to the CA that signed it"
            )
        if result == "ok" and "SASL" not in protocol:
            return (
                "the broker closed the connection after TLS: it requires SASL authentication "
                "(SHOCKWATCH_KAFKA_SECURITY_PROTOCOL=SASL_SSL and a principal's credentials)"
            )
        if result == "ok":  # the broker's refusal was lost in its closing of the connection
            return (
                f"TLS is fine but the broker closed the connection during SASL authentication "
                f"of {f'User:{who}' if who else 'this client'} "
                f"({settings.kafka_sasl_mechanism}): check SHOCKWATCH_KAFKA_SASL_USERNAME, the "
                "password (SHOCKWATCH_KAFKA_SASL_PASSWORD_FILE) and the mechanism"
            )
        return ""
    if _speaks_tls(host, int(port)):
        return (
            f"the broker at {bootstrap} speaks TLS and this client {protocol}: set "
            "SHOCKWATCH_KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL) and SHOCKWATCH_KAFKA_SSL_CAFILE"
        )
    return ""
