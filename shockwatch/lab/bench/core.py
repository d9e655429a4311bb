"""The pure detection core's cost per event: decode + validate + ingest + ticks over a
synthetic day, in this process, no Kafka."""

from __future__ import annotations

import time

from common.settings import Settings
from shockwatch.lab.bench.data import MIN_MS, synthetic_day
from shockwatch.lab.bench.table import Bench
from streams.records import Heartbeat


def bench_detection_core(n_liq: int = 200_000) -> dict[str, float]:
    """Detector cost per event (decode + validate + ingest + ticks), no Kafka."""
    from streams.detection.detector import Detector
    from streams.records import Liquidation, PriceTick, decode

    prices, liqs, end = synthetic_day(n_liq)
    rows = sorted([(ts, 0, v) for ts, _, v in prices] + [(ts, 1, v) for ts, _, v in liqs])
    det = Detector(Settings().detection)
    det.set_partitions(["p", "l"])
    types = (PriceTick, Liquidation)
    now = end + MIN_MS
    start = time.perf_counter()
    for i, (_, kind, raw) in enumerate(rows):
        det.ingest(decode(types[kind], raw, now_ms=now), "pl"[kind], i)
        if i % 512 == 0:
            det.advance()
    for tp in ("p", "l"):
        det.ingest(Heartbeat(ts_ms=end + MIN_MS, source="b"), tp)
    det.advance()
    took = time.perf_counter() - start
    return {
        "events": len(rows),
        "us_per_event": took / len(rows) * 1e6,
        "events_per_s": len(rows) / took,
        "ticks": det.ticks,
    }


def step_core(b: Bench) -> None:
    """detection core micro-benchmark (no Kafka)"""
    r = bench_detection_core(50_000 if b.quick else 200_000)
    b.add(
        "detection core cost per event",
        r["us_per_event"],
        "µs/event",
        events=r["events"],
        events_per_s=r["events_per_s"],
    )
