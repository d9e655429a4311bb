"""The topic contracts: names (with a configurable prefix), keys, partitions, retention.

Every client (producers, the faust app, the notifier, replay, tests) gets its names from
``TopicNames``; ``topic_specs`` is what ``shockwatch topics create`` creates.
"""

from __future__ import annotations

from dataclasses import dataclass

from shockwatch.settings import Settings

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
