"""Kafka client settings for every client library, from one place, and the topic admin.

kafka-python, aiokafka and faust name the same security settings differently; these helpers
map ``Settings`` onto each so SASL/SSL reaches every client the same way.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from shockwatch.settings import Settings
from streams.topics import TopicSpec, topic_specs

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

    cfg = kafka_python_config(settings)
    try:
        return KafkaAdminClient(
            **cfg, request_timeout_ms=int(timeout_s * 1000), client_id="shockwatch-admin"
        )
    except (KafkaError, OSError) as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {cfg['bootstrap_servers']}: {exc.__class__.__name__}"
        ) from exc


def create_topics(
    settings: Settings, prefix: str | None = None, *, keep_all: bool = False
) -> dict[str, str]:
    """Create every topic of the contract; idempotent. Returns {topic: 'created'|'exists'}.
    ``keep_all``: no time retention, for topics holding a past day (see ``topic_specs``)."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    specs: list[TopicSpec] = topic_specs(settings, prefix, keep_all=keep_all)
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        result: dict[str, str] = {}
        missing = [s for s in specs if s.name not in existing]
        for spec in specs:
            result[spec.name] = "exists" if spec.name in existing else "created"
        if missing:
            new = [NewTopic(s.name, s.partitions, 1, topic_configs=dict(s.config)) for s in missing]
            try:
                client.create_topics(new, timeout_ms=30_000)
            except TopicAlreadyExistsError:
                # Raced with another creator: fine, that is what idempotent means.
                pass
        return result
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
