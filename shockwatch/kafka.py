"""Kafka client settings for every client library, from one place, and the topic admin.

kafka-python, aiokafka and faust name the same security settings differently; these helpers
map ``Settings`` onto each so SASL/SSL reaches every client the same way.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shockwatch.settings import Settings
from streams.topics import TopicNames, TopicSpec, topic_specs

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """The configured Kafka cluster cannot be reached (the message says where and what to do)."""


def bootstrap(settings: Settings) -> str:
    """The bootstrap servers: the configured cluster, else the local broker if it is running."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    from shockwatch.broker import LocalBroker

    info = LocalBroker(settings).info()
    if info is None:
        raise KafkaUnavailable(
            "no Kafka configured: set SHOCKWATCH_KAFKA_BOOTSTRAP, or start the local broker "
            "with `shockwatch kafka up` (make kafka-up)"
        )
    return info["bootstrap"]


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


def admin(settings: Settings, timeout_s: float = 10.0) -> Any:
    """A kafka-python admin client, or ``KafkaUnavailable`` with a clear message."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    from shockwatch.secure import RefusalWitness, explain_refusal

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


def create_topics(
    settings: Settings,
    prefix: str | None = None,
    *,
    keep_all: bool = False,
    only: Iterable[str] | None = None,
    leader: int | None = None,
) -> dict[str, str]:
    """Create every topic of the contract; idempotent. Returns {topic: 'created'|'exists'}.
    ``keep_all``: no time retention, for topics holding a past day (see ``topic_specs``);
    ``only``: just these of the contract's names (a replay in place writes outputs only).
    Replicated as ``replication`` says for the brokers the cluster has. ``leader``: put every
    partition's preferred (first) replica on that broker, so it leads them all (fault tests)."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    specs: list[TopicSpec] = topic_specs(settings, prefix, keep_all=keep_all)
    if only is not None:
        wanted = set(only)
        specs = [s for s in specs if s.name in wanted]
    missing: list[TopicSpec] = []
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        result: dict[str, str] = {}
        missing = [s for s in specs if s.name not in existing]
        for spec in specs:
            result[spec.name] = "exists" if spec.name in existing else "created"
        if missing:
            brokers = sorted(b["broker_id"] for b in client.describe_cluster()["brokers"])
            rf, min_isr = replication(settings, len(brokers))
            extra = {"min.insync.replicas": str(min_isr)} if rf > 1 else {}
            new = []
            for s in missing:
                configs = {**s.config, **extra}
                if leader is None:
                    new.append(NewTopic(s.name, s.partitions, rf, topic_configs=configs))
                    continue
                replicas = [leader, *[b for b in brokers if b != leader][: rf - 1]]
                assignments = {p: replicas for p in range(s.partitions)}
                new.append(NewTopic(s.name, replica_assignments=assignments, topic_configs=configs))
            try:
                client.create_topics(new, timeout_ms=30_000)
            except TopicAlreadyExistsError:
                # Raced with another creator: fine, that is what idempotent means.
                pass
        return result
    except Exception as exc:
        from shockwatch.secure import KafkaNotAuthorized, is_authorization_error, not_authorized

        if not is_authorization_error(exc):
            raise
        # e.g. a component's principal on an authenticated cluster: an admin creates topics
        what = not_authorized(settings, missing[0].name if missing else "?", "CREATE", exc)
        raise KafkaNotAuthorized(f"{what}; or create the topics first as an admin "
                                 "(`shockwatch topics create`)") from None  # fmt: skip
    finally:
        client.close()


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


# -- run prefixes: the topics a scenario run, replay, demo or benchmark creates ------------------

# Every command that creates its own topics names them ``<kind>-<UTC stamp>-<id>.``: the kind
# says who made them, the stamp when (Kafka keeps no creation time a client can read).
RUN_KINDS = ("scn", "replay", "demo", "bench")
_STAMP = re.compile(r"(\d{8}T\d{6})Z?")
_CONTRACT = tuple(TopicNames("").all())


def run_stamp(now_s: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if now_s is None else now_s, UTC).strftime(
        "%Y%m%dT%H%M%S"
    )


def run_prefix(kind: str, run_id: str) -> str:
    """``<kind>-<run id>.`` with a creation stamp in it (added when the id has none)."""
    assert kind in RUN_KINDS, kind
    return f"{kind}-{run_id}." if _STAMP.search(run_id) else f"{kind}-{run_stamp()}-{run_id}."


@dataclass(frozen=True)
class PrefixInfo:
    prefix: str  # "" for the unprefixed (default live) topics
    topics: tuple[str, ...]
    kind: str | None  # one of RUN_KINDS, None for any other prefix (a live one)
    created_s: float | None  # from the stamp in the name; None when it has none

    def age_s(self, now_s: float | None = None) -> float | None:
        if self.created_s is None:
            return None
        return (time.time() if now_s is None else now_s) - self.created_s


def split_prefix(topic: str) -> str | None:
    """The prefix of a contract topic's name (``demo-x.shock.alerts`` -> ``demo-x.``); None
    for a topic that is not one of the contract's (Kafka's own, another application's)."""
    for base in _CONTRACT:
        if topic.endswith(base) and (len(topic) == len(base) or topic[-len(base) - 1] == "."):
            return topic[: len(topic) - len(base)]
    return None


def describe_prefix(prefix: str, topics: Iterable[str]) -> PrefixInfo:
    kind = next((k for k in RUN_KINDS if prefix.startswith(f"{k}-")), None)
    created = None
    if kind is not None and (m := _STAMP.search(prefix)):
        created = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
    return PrefixInfo(prefix, tuple(sorted(topics)), kind, created)


def group_prefixes(topics: Iterable[str]) -> list[PrefixInfo]:
    """The contract topics on a cluster, grouped by prefix (sorted by prefix)."""
    by: dict[str, list[str]] = {}
    for topic in topics:
        prefix = split_prefix(topic)
        if prefix is not None:
            by.setdefault(prefix, []).append(topic)
    return [describe_prefix(p, ts) for p, ts in sorted(by.items())]


def list_prefixes(settings: Settings) -> list[PrefixInfo]:
    client = admin(settings)
    try:
        return group_prefixes(client.list_topics())
    finally:
        client.close()


def prunable(
    prefixes: Iterable[PrefixInfo],
    live_prefix: str,
    *,
    prefix: str | None = None,
    older_than_s: float | None = None,
    now_s: float | None = None,
) -> list[PrefixInfo]:
    """The run prefixes ``topics prune`` removes: made by a run (scenario, replay, demo,
    bench), never the live prefix, optionally only ``prefix`` (or those starting with it)
    and only those older than ``older_than_s`` (a prefix without a stamp counts as old: it
    was made before runs stamped their prefixes)."""
    chosen = []
    for info in prefixes:
        if info.kind is None or info.prefix == live_prefix:
            continue
        if prefix is not None and not info.prefix.startswith(prefix):
            continue
        age = info.age_s(now_s)
        if older_than_s is not None and age is not None and age < older_than_s:
            continue
        chosen.append(info)
    return chosen


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


def delete_prefix(settings: Settings, prefix: str) -> list[str]:
    """Delete a run's topics (every contract topic under ``prefix``). Refuses the live prefix."""
    if prefix == settings.topic_prefix or not prefix:
        raise ValueError(f"refusing to delete the live prefix {prefix!r}")
    return delete_topics(settings, TopicNames(prefix).all())


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
