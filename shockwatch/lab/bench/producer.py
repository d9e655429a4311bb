"""The liquidation normaliser + producer path (producers/): events/s from raw exchange
messages to acknowledged records."""

from __future__ import annotations

from shockwatch.lab.bench.table import Bench, console


def step_producer(b: Bench) -> None:
    """liquidation normaliser + producer path (producers/)"""
    try:
        from shockwatch.lab.bench.liquidation_path import bench_liquidation_path
    except ImportError:
        console.print("  shockwatch.lab.bench.liquidation_path not available: skipped")
        return
    settings, _ = b.fresh("prod")
    r = bench_liquidation_path(n=50_000 if b.quick else 200_000, settings=settings)
    eps = float(r["events_per_s"])
    b.add("liquidation normaliser + producer", eps, "events/s", ">= 20,000", eps >= 20_000)
