"""Every producer metric, declared once; ``create_metrics(registry)`` for a fresh set in tests.

Labels are bounded sets: ``feed`` (liquidations, prices, funding), ``venue`` (an exchange or a
data provider of the tables in this package), ``reason`` (a ``RecordError.reason`` or one of
the named skip/reconnect reasons), ``topic`` (the few topics of this deployment).

Feed health, per ``(feed, venue)`` (docs/alerts.md, "Feed and venue health"):
``shockwatch_producer_connected`` (1 while a venue's stream is open or a source's last request
succeeded), ``shockwatch_producer_last_message_timestamp_seconds`` (wall clock of the newest
provider message or response) and its age at scrape time,
``shockwatch_producer_last_message_age_seconds``; ``shockwatch_producer_records_total`` (rate it
for events per minute) and ``shockwatch_producer_notional_usd_total`` (liquidations).

Each producer process serves these on its own port (``SHOCKWATCH_<FEED>_METRICS_PORT``), which
deploy/prometheus/prometheus.yml scrapes as the job ``shockwatch-producers``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

NS = "shockwatch_producer"


@dataclass(frozen=True, slots=True)
class ProducerMetrics:
    messages: Counter
    records: Counter
    rejects: Counter
    duplicates: Counter
    skipped: Counter
    reconnects: Counter
    gaps: Counter
    gap_seconds: Counter
    last_event: Gauge
    connected: Gauge
    last_message: Gauge
    notional: Counter
    poll_errors: Counter
    sent: Counter
    send_failures: Counter
    heartbeats: Counter
    buffered: Gauge
    reorder_held: Gauge
    reorder_released_early: Counter

    def message_seen(self, feed: str, venue: str, now_s: float | None = None) -> None:
        """A provider message or response arrived: it is connected and not silent."""
        self.last_message.labels(feed, venue).set(time.time() if now_s is None else now_s)
        self.connected.labels(feed, venue).set(1)

    def poll_failed(self, feed: str, venue: str, error: str) -> None:
        """A poll of a provider failed with ``error``: counted, and it is not connected."""
        self.poll_errors.labels(feed, venue, error).inc()
        self.connected.labels(feed, venue).set(0)


class _AgeCollector(Collector):
    """``<name>_age_seconds``: now minus each sample of a timestamp gauge, at scrape time."""

    def __init__(self, name: str, doc: str, source: Gauge, clock: Callable[[], float]) -> None:
        self.name, self.doc, self.source, self.clock = name, doc, source, clock

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.name, self.doc, labels=["feed", "venue"])

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.name, self.doc, labels=["feed", "venue"])
        now = self.clock()
        for metric in self.source.collect():
            for sample in metric.samples:
                labels = [sample.labels["feed"], sample.labels["venue"]]
                family.add_metric(labels, max(0.0, now - sample.value))
        yield family


def create_metrics(
    registry: CollectorRegistry | None = REGISTRY, clock: Callable[[], float] = time.time
) -> ProducerMetrics:
    kw = {"registry": registry}
    fv = ("feed", "venue")
    last_message = Gauge(
        f"{NS}_last_message_timestamp_seconds",
        "Wall-clock time of the newest provider message (a push or a poll's response).",
        fv,
        **kw,
    )
    if registry is not None:
        registry.register(
            _AgeCollector(
                f"{NS}_last_message_age_seconds",
                "Seconds since the newest provider message, at scrape time.",
                last_message,
                clock,
            )
        )
    return ProducerMetrics(
        messages=Counter(f"{NS}_messages", "Provider messages received.", fv, **kw),
        records=Counter(f"{NS}_records", "Normalised records handed to the sink.", fv, **kw),
        rejects=Counter(
            f"{NS}_rejects", "Invalid provider data sent to the DLQ.", (*fv, "reason"), **kw
        ),
        duplicates=Counter(f"{NS}_duplicates", "Events dropped as already sent.", fv, **kw),
        skipped=Counter(
            f"{NS}_skipped",
            "Provider values not sent, by reason (missing, incomplete bar, already sent, ...).",
            (*fv, "reason"),
            **kw,
        ),
        reconnects=Counter(
            f"{NS}_reconnects", "Stream reconnections, by cause.", (*fv, "reason"), **kw
        ),
        gaps=Counter(
            f"{NS}_gaps", "Periods when a stream was down (events may be missing).", fv, **kw
        ),
        gap_seconds=Counter(
            f"{NS}_gap_seconds", "Seconds from a stream drop to its next message.", fv, **kw
        ),
        last_event=Gauge(
            f"{NS}_last_event_timestamp_seconds", "Event time of the newest record.", fv, **kw
        ),
        connected=Gauge(
            f"{NS}_connected",
            "1 while a venue's stream is open or a source's last request succeeded, else 0.",
            fv,
            **kw,
        ),
        last_message=last_message,
        notional=Counter(
            f"{NS}_notional_usd", "USD notional of the records sent (liquidations).", fv, **kw
        ),
        poll_errors=Counter(
            f"{NS}_poll_errors", "Failed provider requests (after retries).", (*fv, "error"), **kw
        ),
        sent=Counter(f"{NS}_sent", "Records acknowledged by Kafka.", ("topic",), **kw),
        send_failures=Counter(
            f"{NS}_send_failures",
            "Send attempts that failed (records are re-sent).",
            ("topic",),
            **kw,
        ),
        heartbeats=Counter(f"{NS}_heartbeats", "Heartbeats sent per partition.", ("topic",), **kw),
        buffered=Gauge(f"{NS}_buffered_records", "Records queued for Kafka.", **kw),
        reorder_held=Gauge(
            f"{NS}_reorder_held_records", "Liquidations held for event-time order.", **kw
        ),
        reorder_released_early=Counter(
            f"{NS}_reorder_released_early",
            "Liquidations released before their hold because the hold was full.",
            **kw,
        ),
    )


_default: ProducerMetrics | None = None


def default_metrics() -> ProducerMetrics:
    """The process-wide set on the default registry (created once)."""
    global _default
    if _default is None:
        _default = create_metrics(REGISTRY)
    return _default
