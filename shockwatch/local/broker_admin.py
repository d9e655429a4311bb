"""What the local broker asks the running cluster, over an admin client: is it up, who is in
it, which topics, and how healthy its partitions are.

``LocalBroker`` (``shockwatch.local.broker``) starts and stops the nodes; it hands these
functions its own ``admin(bootstrap, timeout_ms)`` factory, which knows whether the deployment
is secured (SASL_SSL as the admin user) or plain. Every question answers None (or False) when
no node answers, never raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

# (bootstrap servers, request timeout in ms) -> a kafka-python KafkaAdminClient
AdminFactory = Callable[[str, int], Any]


def quorum_leader(quorum: Any) -> int | None:
    """The leader id of a DescribeQuorum answer (kafka-python gives nested dicts)."""
    if isinstance(quorum, dict):
        for topic in quorum.get("topics", []):
            for part in topic.get("partitions", []):
                return int(part["leader_id"])
    return None


def probe(admin: AdminFactory, bootstrap: str) -> bool:
    from kafka.errors import KafkaError

    try:
        client = admin(bootstrap, 3000)
    except (KafkaError, OSError):
        return False
    try:
        client.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        client.close()


def list_topics(admin: AdminFactory, bootstrap: str) -> list[str] | None:
    try:
        client = admin(bootstrap, 5000)
        try:
            return sorted(client.list_topics())
        finally:
            client.close()
    except Exception:
        return None


def describe_cluster(admin: AdminFactory, bootstrap: str) -> dict[str, Any] | None:
    """The cluster's metadata as a broker answers it: {brokers: [{broker_id, host, port}],
    controller_id, cluster_id, active_controller}; None when no node answers."""
    from kafka.errors import KafkaError

    try:
        client = admin(bootstrap, 5000)
    except (KafkaError, OSError):
        return None
    try:
        cluster = dict(client.describe_cluster())
        # In KRaft the "controller" of the metadata answer is any broker (clients never talk
        # to the controllers); the active controller is the metadata quorum's leader.
        with contextlib.suppress(KafkaError, OSError, KeyError, TypeError):
            quorum = client.describe_metadata_quorum()
            cluster["active_controller"] = quorum_leader(quorum)
        return cluster
    except (KafkaError, OSError):
        return None
    finally:
        client.close()


def replica_health(admin: AdminFactory, info: dict[str, Any]) -> dict[str, Any] | None:
    """Per node the partitions it leads (``leads``), and the partitions whose ISR is short
    of their replicas (``under_replicated``) or that have no leader (``offline``)."""
    from kafka.errors import KafkaError

    try:
        client = admin(info["bootstrap"], 5000)
    except (KafkaError, OSError):
        return None
    try:
        partitions = [p for t in client.describe_topics() for p in t["partitions"]]
    except (KafkaError, OSError):
        return None
    finally:
        client.close()
    for node in info["nodes"]:
        node["leads"] = sum(1 for p in partitions if p["leader_id"] == node["id"])
    return {
        "partitions": len(partitions),
        "under_replicated": sum(
            1 for p in partitions if len(p["isr_nodes"]) < len(p["replica_nodes"])
        ),
        "offline": sum(1 for p in partitions if p["leader_id"] < 0),
    }
