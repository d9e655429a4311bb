"""The topic contracts: names (with a configurable prefix), keys, partitions, retention, and
the consumer groups beside them.

Every client (producers, the faust app, the notifier, replay, tests) gets its names from
``TopicNames`` and its consumer group from ``GroupNames``; ``topic_specs`` is what
``shockwatch topics create`` creates. Below them, the contract on a cluster: ``create_topics``
(replicated as ``common.kafka.replication`` says), and the run prefixes under which scenario
runs, replays, demos and benchmarks create their own topics (``run_prefix``, ``list_prefixes``,
``prunable``, ``delete_prefix``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from common.kafka import (
    KafkaNotAuthorized,
    admin,
    delete_topics,
    is_authorization_error,
    not_authorized,
    replication,
)
from common.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class TopicNames:
    prefix: str = ""

    def _n(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def prices(self) -> str:
        return self._n("market.prices")

    @property
    def liquidations(self) -> str:
        return self._n("crypto.liquidations")

    @property
    def funding(self) -> str:
        return self._n("funding.daily")

    @property
    def signals(self) -> str:
        return self._n("shock.signals")

    @property
    def alerts(self) -> str:
        return self._n("shock.alerts")

    @property
    def state(self) -> str:
        """Compacted checkpoint of the detector (its changelog), keyed by scope."""
        return self._n("shock.state")

    @property
    def summaries(self) -> str:
        """Scale-out: each input partition's sealed minutes, from the shard group to the
        merging detector (``streams.detection.shard.Summary``), keyed by topic:partition."""
        return self._n("shock.summaries")

    @property
    def inputs(self) -> tuple[str, str, str]:
        return (self.prices, self.liquidations, self.funding)

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    def all(self) -> list[str]:
        base = [*self.inputs, self.signals, self.alerts, self.state, self.summaries]
        return base + [self.dlq(t) for t in (*self.inputs, self.alerts)]


@dataclass(frozen=True, slots=True)
class GroupNames:
    """The consumer groups of an app id, beside the topics they read: the worker's detector
    (the app id itself), scale-out's shard and merge stages, and the notifier."""

    app_id: str

    @property
    def detector(self) -> str:
        return self.app_id

    @property
    def shards(self) -> str:
        return f"{self.app_id}.shards"

    @property
    def merge(self) -> str:
        return f"{self.app_id}.merge"

    @property
    def notifier(self) -> str:
        return f"{self.app_id}-notifier"

    def worker(self) -> list[str]:
        return [self.detector, self.shards, self.merge]


def topic_specs(
    settings: Settings, prefix: str | None = None, *, keep_all: bool = False
) -> list[TopicSpec]:
    """The contract's topics. Retention is by Kafka timestamp, which is the event time (replay
    seeks by it): live topics keep ``retention_days`` of event time. A past day loaded for a
    scenario run, a replay, a benchmark or a test is older than that, and the broker would
    delete it at its next retention check (every 5 minutes); its topics are created with
    ``keep_all`` (no time limit) instead."""
    names = TopicNames(settings.topic_prefix if prefix is None else prefix)
    retention = "-1" if keep_all else str(settings.retention_days * DAY_MS)
    delete = {"cleanup.policy": "delete", "retention.ms": retention}
    # Kafka message timestamp = event time (replay seeks by it), so the broker must keep ours.
    timed = {**delete, "message.timestamp.type": "CreateTime"}
    parts = settings.input_partitions
    specs = [
        TopicSpec(names.prices, parts, timed, "symbol", "PriceTick"),
        TopicSpec(names.liquidations, parts, timed, "exchange:symbol", "Liquidation"),
        TopicSpec(
            names.funding,
            1,
            {"cleanup.policy": "compact", "message.timestamp.type": "CreateTime"},
            "series:observation_date",
            "FundingObservation",
        ),
        TopicSpec(names.signals, 1, timed, "scope", "ShockSignal"),
        TopicSpec(names.summaries, 1, timed, "topic:partition", "Summary"),
        TopicSpec(names.alerts, 1, timed, "alert_id", "AlertEvent"),
        TopicSpec(
            names.state,
            1,
            {"cleanup.policy": "compact", "segment.ms": str(3600 * 1000)},
            "scope",
            "detector checkpoint",
        ),
    ]
    for topic in (*names.inputs, names.alerts):
        specs.append(TopicSpec(names.dlq(topic), 1, delete, "original key", "DeadLetter"))
    return specs


# -- the contract on a cluster -----------------------------------------------------------------
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
        if not is_authorization_error(exc):
            raise
        # e.g. a component's principal on an authenticated cluster: an admin creates topics
        what = not_authorized(settings, missing[0].name if missing else "?", "CREATE", exc)
        raise KafkaNotAuthorized(f"{what}; or create the topics first as an admin "
                                 "(`shockwatch topics create`)") from None  # fmt: skip
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


def is_live_prefix(settings: Settings, prefix: str) -> bool:
    """The topics a live worker reads: this environment's prefix, or the unprefixed ones."""
    return prefix == settings.topic_prefix or not prefix


def delete_prefix(settings: Settings, prefix: str) -> list[str]:
    """Delete a run's topics (every contract topic under ``prefix``). Refuses the live prefix."""
    if is_live_prefix(settings, prefix):
        raise ValueError(f"refusing to delete the live prefix {prefix!r}")
    return delete_topics(settings, TopicNames(prefix).all())
