"""Every producer metric, declared once; ``create_metrics(registry)`` for a fresh set in tests.

Labels are bounded sets: ``feed`` (liquidations, prices, funding), ``venue`` (an exchange or a
data provider of the tables in this package), ``reason`` (a ``RecordError.reason`` or one of
the named skip/reconnect reasons), ``topic`` (the few topics of this deployment).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

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
    poll_errors: Counter
    sent: Counter
    send_failures: Counter
    heartbeats: Counter
    buffered: Gauge
    reorder_held: Gauge
    reorder_released_early: Counter


def create_metrics(registry: CollectorRegistry | None = REGISTRY) -> ProducerMetrics:
    kw = {"registry": registry}
    fv = ("feed", "venue")
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
