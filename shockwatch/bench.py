"""`make bench`: every performance figure measured in one run, on one broker of its own.

Prints a table (figure, value, target, verdict) and writes the same as JSON to
``reports/bench/bench.json``. The method is documented in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from shockwatch.broker import LocalBroker
from shockwatch.kafka import create_topics
from shockwatch.log import setup_logging
from shockwatch.publish import Publisher
from shockwatch.settings import Settings
from streams.records import Heartbeat
from streams.topics import TopicNames

console = Console()
MIN_MS = 60_000
DAY0_MS = 1_762_214_400_000  # 2025-11-04 00:00 UTC
SYMBOLS = {
    "SPX": "equity_index",
    "NDX": "equity_index",
    "NVDA": "ai_equity",
    "PLTR": "ai_equity",
    "XAU": "gold",
    "BTC": "crypto",
    "ETH": "crypto",
}
VENUES = ("binanceusdm", "bybit", "okx")


# -- synthetic data ---------------------------------------------------------------------------


def synthetic_day(n_liq: int, minutes: int = 1440, seed: int = 7) -> tuple[list, list, int]:
    """(prices, liquidations, end_ms) as encoded rows in event-time order: one bar a minute for
    every symbol, ``n_liq`` liquidations spread over the day (a wave in the afternoon)."""
    rng = random.Random(seed)
    prices: list[tuple[int, str, bytes]] = []
    level = dict.fromkeys(SYMBOLS, 100.0)
    for m in range(1, minutes + 1):
        ts = DAY0_MS + m * MIN_MS
        for sym, cls in SYMBOLS.items():
            level[sym] *= math.exp(rng.gauss(-0.00002, 0.0008))
            prices.append(
                (
                    ts,
                    sym,
                    orjson.dumps(
                        {
                            "schema_version": 1,
                            "ts_ms": ts,
                            "source": "bench",
                            "symbol": sym,
                            "asset_class": cls,
                            "price_usd": round(level[sym], 4),
                            "interval_s": 60,
                        }
                    ),
                )
            )
    liqs: list[tuple[int, str, bytes]] = []
    span = minutes * MIN_MS
    stamps = sorted(DAY0_MS + int(rng.random() * span) for _ in range(n_liq))
    for i, ts in enumerate(stamps):
        venue = VENUES[i % 3]
        usd = round(rng.lognormvariate(8.5, 1.2), 2)
        key = f"{venue}:BTC/USDT:USDT"
        liqs.append(
            (
                ts,
                key,
                orjson.dumps(
                    {
                        "schema_version": 1,
                        "ts_ms": ts,
                        "source": f"bench:{venue}",
                        "exchange": venue,
                        "symbol": "BTC/USDT:USDT",
                        "base": "BTC",
                        "side_liquidated": "long" if rng.random() < 0.7 else "short",
                        "qty_base": round(usd / 100_000, 8),
                        "price_usd": 100_000.0,
                        "notional_usd": usd,
                        "event_id": f"{venue}:{i}",
                        "lower_bound": venue == "binanceusdm",
                    }
                ),
            )
        )
    return prices, liqs, DAY0_MS + span


def produce_day(
    settings: Settings, names: TopicNames, prices: list, liqs: list, end_ms: int
) -> float:
    """Produce the day (event-time order across topics) and end-of-day heartbeats; events/s."""
    import heapq

    from shockwatch.scenario import _Framer

    start = time.monotonic()
    with Publisher(settings, client_id="bench-load") as pub:
        framer = _Framer(pub, settings.frame_max_events)
        merged = heapq.merge(
            ((ts, names.prices, k, v) for ts, k, v in prices),
            ((ts, names.liquidations, k, v) for ts, k, v in liqs),
        )
        for ts, topic, key, value in merged:
            framer.add(topic, key, ts, value)
        framer.flush()
        for topic in names.inputs:
            pub.heartbeat(topic, end_ms + 60_000, "bench")
    return (len(prices) + len(liqs)) / (time.monotonic() - start)


# -- figures ----------------------------------------------------------------------------------


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


async def bare_consumer(settings: Settings, topics: tuple[str, ...], n: int) -> float:
    """A bare aiokafka consumer: getmany + json.loads until n events; events/s (a frame counts
    as the events it holds)."""
    import json

    from aiokafka import AIOKafkaConsumer

    from shockwatch.kafka import aiokafka_config

    consumer = AIOKafkaConsumer(
        *topics,
        **aiokafka_config(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=10_000,
        fetch_max_bytes=64 * 2**20,
    )
    await consumer.start()
    seen = 0
    try:
        first = await consumer.getmany(timeout_ms=10_000, max_records=1)
        start = time.perf_counter()
        for msgs in first.values():
            for msg in msgs:
                obj = json.loads(msg.value)
                seen += len(obj) if isinstance(obj, list) else 1
        while seen < n:
            batch = await consumer.getmany(timeout_ms=5000, max_records=10_000)
            if not batch:
                break
            for msgs in batch.values():
                for msg in msgs:
                    obj = json.loads(msg.value)
                    seen += len(obj) if isinstance(obj, list) else 1
        return seen / (time.perf_counter() - start)
    finally:
        await consumer.stop()


async def faust_pipeline(settings: Settings, prefix: str, n: int) -> dict[str, float]:
    """The real topology (create_app, metrics on) in this process: events/s through it."""
    from alerts.metrics import Metrics
    from streams.app import create_app

    app = create_app(
        settings, app_id=f"bench-{uuid.uuid4().hex[:6]}", prefix=prefix, metrics=Metrics()
    )
    runtime = app.shockwatch.runtime  # type: ignore[attr-defined]
    await app.start()
    try:
        deadline = time.monotonic() + 600
        while runtime.seen_total == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        start, base = time.perf_counter(), runtime.seen_total
        while runtime.seen_total < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        took = time.perf_counter() - start
        return {
            "events_per_s": (runtime.seen_total - base) / took,
            "seconds": took,
            "ticks": runtime.detector.ticks,
        }
    finally:
        await app.stop()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the run ----------------------------------------------------------------------------------


class Bench:
    def __init__(self, settings: Settings, quick: bool) -> None:
        self.settings = settings
        self.quick = quick
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        figure: str,
        value: float,
        unit: str,
        target: str = "",
        ok: bool | None = None,
        **extra: Any,
    ) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append(
            {
                "figure": figure,
                "value": value,
                "unit": unit,
                "target": target,
                "verdict": verdict,
                **extra,
            }
        )
        console.print(f"  {figure}: {value:,.1f} {unit} {target} {verdict}")

    def fresh(self, label: str) -> tuple[Settings, TopicNames]:
        prefix = f"bench-{label}-{uuid.uuid4().hex[:6]}."
        settings = self.settings.model_copy(update={"topic_prefix": prefix, "input_partitions": 1})
        create_topics(settings, prefix)
        return settings, TopicNames(prefix)


def run(quick: bool) -> list[dict[str, Any]]:
    base = Settings()
    state = Path(tempfile.mkdtemp(prefix="shockwatch-bench-"))
    broker = LocalBroker(base, state_dir=state)
    info = broker.up()
    console.print(
        f"[bold]bench broker[/] at {info['bootstrap']} (ready in {info['ready_s']:.1f} s)"
    )
    settings = base.model_copy(update={"kafka_bootstrap": info["bootstrap"], "state_dir": state})
    b = Bench(settings, quick)
    try:
        steps: list[Callable[[Bench], None]] = [
            step_core,
            step_throughput,
            step_producer,
            step_replay,
        ]
        for fn in steps:
            console.print(f"[cyan]{fn.__doc__}[/]")
            fn(b)
    finally:
        broker.down()
    return b.rows


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


def step_throughput(b: Bench) -> None:
    """pipeline throughput vs a bare aiokafka consumer on the same topic and broker"""
    settings, names = b.fresh("tput")
    n_liq = 60_000 if b.quick else 200_000
    prices, liqs, end = synthetic_day(n_liq)
    rate = produce_day(settings, names, prices, liqs, end)
    total = len(prices) + len(liqs) + 2 * settings.input_partitions + 1
    bare = asyncio.run(bare_consumer(settings, names.inputs, len(prices) + len(liqs)))
    pipe = asyncio.run(faust_pipeline(settings, names.prefix, total))
    b.add("load producer (kafka-python, acks=all, idempotent)", rate, "events/s")
    b.add("bare aiokafka consumer (getmany + json.loads)", bare, "events/s")
    ratio = pipe["events_per_s"] / bare
    b.add("pipeline: broker -> faust detection -> metrics", pipe["events_per_s"], "events/s")
    b.add("pipeline / bare ratio", ratio, "x", ">= 0.50", ratio >= 0.5)


def step_producer(b: Bench) -> None:
    """liquidation normaliser + producer path (producers/)"""
    try:
        from producers.bench import bench_liquidation_path
    except ImportError:
        console.print("  producers.bench not available: skipped")
        return
    settings, _ = b.fresh("prod")
    r = bench_liquidation_path(settings, n=50_000 if b.quick else 200_000)
    eps = float(r["events_per_s"])
    b.add("liquidation normaliser + producer", eps, "events/s", ">= 20,000", eps >= 20_000)


def step_replay(b: Bench) -> None:
    """replay of a synthetic day (>= 1M events) as a multiple of real time"""
    from shockwatch.replay import replay

    settings, names = b.fresh("replay")
    n_liq = 150_000 if b.quick else 1_000_000
    prices, liqs, end = synthetic_day(n_liq)
    produce_day(settings, names, prices, liqs, end)
    start_ms = DAY0_MS
    r = replay(
        settings,
        start_ms,
        end,
        source_prefix=names.prefix,
        run_id=f"bench-{uuid.uuid4().hex[:6]}",
        out_root=settings.state_dir / "reports",
    )
    mult = r.realtime_multiple
    b.add("replay: events", r.events, "events")
    b.add("replay speed", r.events_per_s, "events/s", seconds=r.run.elapsed_s)
    b.add("replay speed / real time", mult, "x", ">= 1,000x", mult >= 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench/bench.json"))
    args = parser.parse_args()
    setup_logging("WARNING")
    rows = run(args.quick)
    table = Table("figure", "value", "unit", "target", "verdict", title="shockwatch bench")
    for r in rows:
        table.add_row(r["figure"], f"{r['value']:,.2f}", r["unit"], r["target"], r["verdict"])
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "ts": time.time(),
        "quick": args.quick,
        "peak_rss_mb_bench_process": peak_rss_mb(),
    }
    args.out.write_bytes(orjson.dumps({"meta": meta, "figures": rows}, option=orjson.OPT_INDENT_2))
    console.print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
