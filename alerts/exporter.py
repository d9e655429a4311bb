"""Serving the metrics: in-process (``serve``) or as a sidecar reading the output topics.

By default the worker serves everything itself: it already holds each signal when it emits
it, so the signal gauges cost nothing more and are as fresh as the detection (docs/alerts.md).
``run_signal_exporter`` is for workers run without an HTTP port (or several workers behind one
scrape target): it reads ``shock.signals`` and ``shock.alerts`` with a group-less consumer
(every partition assigned, nothing committed) and feeds the same ``Metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from alerts.metrics import Metrics
from common.kafka import aiokafka_config
from common.ports import serve_metrics
from common.settings import Settings
from streams.records import AlertEvent, RecordError, ShockSignal, loads
from streams.topics import TopicNames

log = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 500


def serve(
    metrics: Metrics,
    host: str,
    port: int,
    *,
    job: str = "worker",
    state_dir: Path | None = None,
    prefix: str = "",
) -> tuple[Any, threading.Thread]:
    """Start the /metrics HTTP server for ``metrics`` on host:port (port 0 = a free one).

    Returns (server, thread); ``server.server_port`` is the bound port, ``server.shutdown()``
    stops it. Bind 127.0.0.1 (the default setting) unless the scraper is elsewhere. With a
    ``state_dir`` the bound port is recorded for ``job`` (``common.ports``); a port in use is
    ``common.ports.PortInUse``, naming the port and the setting.
    """
    server, thread = serve_metrics(
        metrics.registry, host, port, job=job, state_dir=state_dir, prefix=prefix
    )
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server, thread


def stop_server(server: Any, thread: threading.Thread | None = None) -> None:
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)


def apply_message(metrics: Metrics, kind: str, value: bytes | None) -> bool:
    """Feed one ``shock.signals``/``shock.alerts`` message to the metrics; False if unreadable."""
    try:
        obj = loads(value or b"")
        if kind == "signals":
            metrics.observe_signal(ShockSignal.from_dict(obj))
        else:
            metrics.observe_alert(AlertEvent.from_dict(obj))
    except (RecordError, TypeError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, RecordError) else "malformed"
        metrics.observe_rejected(kind, reason)
        log.warning("unreadable %s record skipped: %s", kind, exc)
        return False
    return True


async def run_signal_exporter(
    settings: Settings,
    metrics: Metrics,
    stop_event: asyncio.Event,
    from_beginning: bool = False,
) -> int:
    """Consume the output topics into ``metrics`` until ``stop_event``; returns records read.

    From latest by default, except that the newest signal already in each partition is read,
    so the gauges show the current state at once instead of after the next tick.
    """
    from aiokafka import AIOKafkaConsumer

    names = TopicNames(settings.topic_prefix)
    kinds = {names.signals: "signals", names.alerts: "alerts"}
    consumer = AIOKafkaConsumer(
        **aiokafka_config(settings),
        group_id=None,
        enable_auto_commit=False,
        client_id="shockwatch-exporter",
    )
    await consumer.start()
    read = 0
    try:
        tps = await _assign_all(consumer, settings, list(kinds))
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            ends = await consumer.end_offsets(tps)
            begins = await consumer.beginning_offsets(tps)
            for tp in tps:
                last = ends[tp] - 1 if kinds[tp.topic] == "signals" else ends[tp]
                consumer.seek(tp, max(last, begins[tp]))
        log.info(
            "exporter reading %s from %s",
            ", ".join(kinds),
            "the beginning" if from_beginning else "latest",
        )
        while not stop_event.is_set():
            batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=1000)
            for tp, msgs in batches.items():
                for msg in msgs:
                    apply_message(metrics, kinds[tp.topic], msg.value)
                    read += 1
    finally:
        await consumer.stop()
    return read


async def _assign_all(
    consumer: Any, settings: Settings, topics: list[str], timeout_s: float = 30.0
) -> list[Any]:
    """Assign every partition of ``topics`` (waiting until they exist)."""
    from aiokafka import TopicPartition

    from common.kafka import partitions_for

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        counts = await asyncio.to_thread(partitions_for, settings, topics)
        if all(counts.get(t) for t in topics):
            tps = [TopicPartition(t, p) for t in topics for p in range(counts[t])]
            consumer.assign(tps)
            return tps
        if loop.time() > deadline:
            missing = [t for t in topics if not counts.get(t)]
            raise RuntimeError(f"topics not found: {', '.join(missing)} (create them first)")
        await asyncio.sleep(0.5)
