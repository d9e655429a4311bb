"""Gathering what `shockwatch status`/`watch` show: each job's /metrics, the worker's consumer
lag and the newest alert, with short timeouts; whatever cannot be read becomes a reason string
("connection refused", "Kafka at ...: unreachable"), never an exception.

Endpoints: the ports the running processes recorded (``common.ports``), else each job's port
setting. Kafka: the configured cluster (or the local broker), via kafka-python.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request
from typing import Any

from common.kafka import KafkaUnavailable, admin, kafka_python_config
from common.ports import PORT_SETTINGS, Endpoint, recorded_ports
from common.settings import Settings
from shockwatch.local.status import Lag, LatestAlert, Scrape, StatusView, build_view, parse_metrics
from streams.topics import TopicNames

HTTP_TIMEOUT_S = 1.5
KAFKA_TIMEOUT_S = 3.0


def endpoints(settings: Settings) -> dict[str, Endpoint]:
    """Each job's metrics endpoint: as its process recorded it, else from its setting."""
    found = recorded_ports(settings.state_dir, settings.topic_prefix)
    out: dict[str, Endpoint] = {}
    for job, setting in PORT_SETTINGS.items():
        port = int(getattr(settings, setting))
        out[job] = found.get(job) or Endpoint(job, settings.metrics_host, port)
    return out


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__


def scrape(endpoint: Endpoint, timeout_s: float = HTTP_TIMEOUT_S) -> Scrape:
    """One GET of the endpoint's /metrics."""
    at = time.time()
    if endpoint.port <= 0:
        return Scrape(endpoint.job, endpoint.url, at, error="port 0 and no recorded port")
    try:
        with urllib.request.urlopen(endpoint.url, timeout=timeout_s) as resp:
            text = resp.read().decode("utf-8", errors="replace")
        return Scrape(endpoint.job, endpoint.url, at, samples=parse_metrics(text))
    except (OSError, ValueError) as exc:
        return Scrape(endpoint.job, endpoint.url, at, error=_reason(exc))


def _consumer(settings: Settings) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        **kafka_python_config(settings),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(KAFKA_TIMEOUT_S * 1000) + 1000,
        client_id="shockwatch-status",
    )


def consumer_lag(settings: Settings, client: Any, consumer: Any) -> Lag:
    """Committed offsets of the worker's group (the app id) against the input topics' ends."""
    from kafka import TopicPartition

    group = settings.app_id
    committed = client.list_group_offsets(group).get(group, {})
    inputs = sorted(TopicNames(settings.topic_prefix).inputs)
    tps = [TopicPartition(t, p) for t in inputs for p in consumer.partitions_for_topic(t) or ()]
    ends = consumer.end_offsets(tps) if tps else {}
    by_topic: dict[str, int] = {}
    for tp, end in ends.items():
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(end - done, 0)
    if not committed:
        return Lag(group, None, by_topic, "the group has committed nothing yet")
    return Lag(group, sum(by_topic.values()), by_topic)


def latest_alert(settings: Settings, consumer: Any) -> LatestAlert | None:
    """The newest record on shock.alerts (by event time), read from each partition's end."""
    from kafka import TopicPartition

    from streams.records import AlertEvent, RecordError, loads

    topic = TopicNames(settings.topic_prefix).alerts
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    if not tps:
        return None
    consumer.assign(tps)
    ends = consumer.end_offsets(tps)
    begins = consumer.beginning_offsets(tps)
    for tp in tps:
        consumer.seek(tp, max(ends[tp] - 1, begins[tp]))
    newest: AlertEvent | None = None
    wanted = sum(1 for tp in tps if ends[tp] > begins[tp])
    seen = 0
    deadline = time.monotonic() + KAFKA_TIMEOUT_S
    while seen < wanted and time.monotonic() < deadline:
        for msgs in consumer.poll(timeout_ms=500).values():
            for msg in msgs:
                seen += 1
                try:
                    event = AlertEvent.from_dict(loads(msg.value or b""))
                except (RecordError, TypeError, ValueError):
                    continue
                if newest is None or event.ts_ms > newest.ts_ms:
                    newest = event
    if newest is None:
        return None
    return LatestAlert(
        str(newest.state),
        str(newest.severity),
        newest.ts_ms,
        newest.started_ts_ms,
        str(newest.regime),
        newest.headline,
    )


def read_kafka(settings: Settings) -> tuple[Lag | None, LatestAlert | None, str | None]:
    """(lag, newest alert, why Kafka could not be read)."""
    # kafka-python logs every failed connection attempt; the reason is returned instead.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        client = admin(settings, timeout_s=KAFKA_TIMEOUT_S)
    except KafkaUnavailable as exc:
        return None, None, str(exc)
    try:
        consumer = _consumer(settings)
        try:
            lag = consumer_lag(settings, client, consumer)
            alert = latest_alert(settings, consumer)
        finally:
            consumer.close()
    except Exception as exc:  # any client failure is shown as a reason
        return None, None, f"Kafka: {exc.__class__.__name__}: {exc}"
    finally:
        client.close()
    return lag, alert, None


def links(settings: Settings) -> dict[str, str]:
    return {
        "dashboard": settings.dashboard_url or "not set (SHOCKWATCH_GRAFANA_URL)",
        "runbook": settings.runbook_url,
    }


class Watcher:
    """Rounds of reads; each view's rates are over the time since the round before."""

    def __init__(self, settings: Settings, kafka: bool = True) -> None:
        self.settings = settings
        self.kafka = kafka
        self.previous: dict[str, Scrape] = {}

    def scrapes(self) -> dict[str, Scrape]:
        return {job: scrape(ep) for job, ep in endpoints(self.settings).items()}

    def view(self) -> StatusView:
        current = self.scrapes()
        lag: Lag | None = None
        alert: LatestAlert | None = None
        error: str | None = "not read (--no-kafka)"
        if self.kafka:
            lag, alert, error = read_kafka(self.settings)
        view = build_view(
            current, self.previous, lag, alert, error, links(self.settings), time.time()
        )
        self.previous = current
        return view


__all__ = ["Watcher", "endpoints", "read_kafka", "scrape"]
