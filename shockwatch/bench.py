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
import re
import resource
import statistics
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
    "IXIC": "equity_index",
    "NVDA": "ai_equity",
    "PLTR": "ai_equity",
    "XAU": "gold",
    "BTC": "crypto",
    "ETH": "crypto",
}
VENUES = ("binanceusdm", "bybit", "okx")
WARMUP_TICKS = 3
ROUNDS = 3


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
        max_partition_fetch_bytes=8 * 2**20,  # the worker's fetch size: the same footing
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
    """The real worker app (create_app, metrics on) in this process, as a fresh group with a
    fresh detector scope (so no earlier round's checkpoint applies): events/s from the start of
    its first batch to the end of the batch that completed ``n`` records."""
    from alerts.metrics import Metrics
    from streams.app import create_app

    tag = uuid.uuid4().hex[:6]
    scoped = settings.model_copy(
        update={"detection": settings.detection.model_copy(update={"scope": f"bench-{tag}"})}
    )
    app = create_app(scoped, app_id=f"bench-{tag}", prefix=prefix, metrics=Metrics())
    runtime = app.shockwatch.runtime  # type: ignore[attr-defined]
    await app.start()
    try:
        deadline = time.monotonic() + 600
        while runtime.seen_total < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        took = runtime.last_batch_done - (runtime.first_batch_at or runtime.last_batch_done)
        return {
            "events_per_s": runtime.seen_total / took if took > 0 else math.nan,
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
        shown = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        console.print(f"  {figure}: {shown} {unit} {target} {verdict}")

    def fresh(self, label: str) -> tuple[Settings, TopicNames]:
        prefix = f"bench-{label}-{uuid.uuid4().hex[:6]}."
        settings = self.settings.model_copy(update={"topic_prefix": prefix, "input_partitions": 1})
        create_topics(settings, prefix, keep_all=True)
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
            step_latency,
            step_slack,
            step_producer,
            step_scenario_replay,
            step_replay,
            step_scale_out,
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
    b.add("load producer (kafka-python, acks=all, idempotent)", rate, "events/s")
    pipeline_vs_bare(b, settings, names, len(prices) + len(liqs), total, "")


def pipeline_vs_bare(
    b: Bench, settings: Settings, names: TopicNames, events: int, total: int, label: str
) -> None:
    """Bare consumer and pipeline over the same filled topics, in alternating rounds (medians:
    on a 2-core machine shared with the broker one round of either side varies by +-25%)."""
    bares, pipes = [], []
    for _ in range(ROUNDS):
        bares.append(asyncio.run(bare_consumer(settings, names.inputs, events)))
        pipes.append(asyncio.run(faust_pipeline(settings, names.prefix, total))["events_per_s"])
    bare, pipe = statistics.median(bares), statistics.median(pipes)
    b.add(f"bare aiokafka consumer (getmany + json.loads){label}, median of {ROUNDS}", bare,
          "events/s", rounds=bares)  # fmt: skip
    b.add(f"pipeline: broker -> detection worker -> metrics{label}, median of {ROUNDS}", pipe,
          "events/s", rounds=pipes)  # fmt: skip
    ratio = pipe / bare
    b.add(f"pipeline / bare ratio{label}", ratio, "x", ">= 0.50", ratio >= 0.5)


def day_frames(names: TopicNames, prices: list, liqs: list, frame_max: int) -> list:
    """The day as ready-to-send (topic, key, ts, value) messages, framed as ``produce_day``
    frames it (so the sending costs the client and the broker, not the framing)."""
    import heapq

    from shockwatch.scenario import _Framer
    from streams.records import encode_frame

    frames: list[tuple[str, bytes, int, bytes]] = []

    class Collect:
        def send_frame(self, topic: str, raws: list[bytes], key: str, ts_ms: int) -> None:
            frames.append((topic, key.encode(), ts_ms, encode_frame(raws)))

    framer = _Framer(Collect(), frame_max)
    for ts, topic, key, value in heapq.merge(
        ((ts, names.prices, k, v) for ts, k, v in prices),
        ((ts, names.liquidations, k, v) for ts, k, v in liqs),
    ):
        framer.add(topic, key, ts, value)
    framer.flush()
    return frames


async def send_day(settings: Settings, frames: list, end_ms: int, names: TopicNames) -> None:
    """Send the prepared day as fast as the client goes (acks=all), then heartbeats."""
    from aiokafka import AIOKafkaProducer

    from shockwatch.kafka import aiokafka_config

    producer = AIOKafkaProducer(**aiokafka_config(settings), acks="all", linger_ms=5,
                                max_batch_size=1 << 20, max_request_size=32 << 20)  # fmt: skip
    await producer.start()
    try:
        for topic, key, ts, value in frames:
            await producer.send(topic, value, key=key, timestamp_ms=ts)
        beat = orjson.dumps(
            {"kind": "heartbeat", "schema_version": 1, "ts_ms": end_ms + MIN_MS, "source": "bench"}
        )
        for topic in names.inputs:
            for partition in sorted(await producer.partitions_for(topic)):
                await producer.send(topic, beat, key=b"heartbeat", partition=partition,
                                    timestamp_ms=end_ms + MIN_MS)  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()


def end_to_end(  # noqa: C901 - one measured run, start to end
    b: Bench, workers: int, scale_out: bool | None, day: tuple[list, list, int]
) -> dict[str, Any]:
    """A fresh set of topics; ``workers`` worker processes (``scale_out`` None: a bare
    consumer instead) started and holding their partitions; then the day is sent: seconds
    from the first message sent to the day's last signal (bare: to its last event)."""
    from aiokafka import AIOKafkaConsumer

    from shockwatch.kafka import aiokafka_config
    from shockwatch.runner import WorkerProcess

    prices, liqs, end = day
    settings = b.settings.model_copy(update={"input_partitions": 3})
    tag = uuid.uuid4().hex[:6]
    prefix = f"bench-e2e-{tag}."
    create_topics(settings, prefix, keep_all=True)
    names = TopicNames(prefix)
    frames = day_frames(names, prices, liqs, settings.frame_max_events)
    events = len(prices) + len(liqs)
    run = settings.model_copy(update={"scale_out": bool(scale_out)})
    procs = [
        WorkerProcess(run, prefix, f"bench-e2e-{tag}", settings.state_dir / f"e2e-{tag}-{i}.log")
        for i in range(workers if scale_out is not None else 0)
    ]

    def ready() -> bool:
        logs = [p.log_path.read_text() if p.log_path.exists() else "" for p in procs]
        if not scale_out:
            return all("active: 7 input partitions" in x for x in logs)
        shares = [re.findall(r"shard stage: (\d+)", x) for x in logs]
        held = [int(s[-1]) if s else 0 for s in shares]
        return sum(held) == 7 and all(held) and any("merge stage active" in x for x in logs)

    async def measure() -> float:
        topics = [names.signals] if scale_out is not None else list(names.inputs)
        consumer = AIOKafkaConsumer(*topics, **aiokafka_config(settings),
                                    auto_offset_reset="earliest", fetch_max_bytes=64 * 2**20,
                                    max_partition_fetch_bytes=8 * 2**20)  # fmt: skip
        await consumer.start()
        try:
            deadline = time.monotonic() + 120
            while not ready():
                if time.monotonic() > deadline:
                    raise RuntimeError("workers not ready: " + procs[0].log_tail())
                await asyncio.sleep(0.1)
            await consumer.getmany(timeout_ms=200)  # joined, positioned
            start = time.monotonic()
            sender = asyncio.ensure_future(send_day(settings, frames, end, names))
            seen = 0
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                if not batch and time.monotonic() - start > 300:
                    raise RuntimeError("the day never came through")
                for msgs in batch.values():
                    for msg in msgs:
                        obj = orjson.loads(msg.value)
                        if scale_out is None:
                            seen += len(obj) if isinstance(obj, list) else 1
                        elif obj["ts_ms"] >= end:
                            seen = events
                if seen >= events:
                    took = time.monotonic() - start
                    await sender
                    return took
        finally:
            await consumer.stop()

    try:
        for proc in procs:
            proc.start()
        took = asyncio.run(measure())
        rss = max((worker_peak_rss_mb(p.proc.pid) for p in procs if p.proc), default=math.nan)
    finally:
        for proc in procs:
            proc.stop()
    return {"events_per_s": events / took, "seconds": took, "rss_mb": rss}


def step_scale_out(b: Bench) -> None:
    """end to end, 7 partitions: producer -> broker -> one worker, two workers sharing"""
    n_liq = 150_000 if b.quick else 1_000_000
    prices, liqs, end = synthetic_day(n_liq)
    day = (prices, liqs, end)
    events = len(prices) + len(liqs)
    runs = {}
    for label, workers, scale_out in (
        ("bare aiokafka consumer (getmany + json.loads)", 0, None),
        ("single worker (one process does it all)", 1, False),
        ("scale-out, 1 worker", 1, True),
        ("scale-out, 2 workers sharing the partitions", 2, True),
    ):
        r = runs[label] = end_to_end(b, workers, scale_out, day)
        b.add(f"e2e {events:,} events -> {label}", r["events_per_s"], "events/s",
              seconds=r["seconds"], rss_mb=r["rss_mb"])  # fmt: skip
    bare = runs["bare aiokafka consumer (getmany + json.loads)"]["events_per_s"]
    single = runs["single worker (one process does it all)"]["events_per_s"]
    one = runs["scale-out, 1 worker"]["events_per_s"]
    two = runs["scale-out, 2 workers sharing the partitions"]["events_per_s"]
    # No target here: sending the day is part of the timing, so the bare figure is close to
    # the producer's rate and swings with it (0.44-0.61 for the same code in two runs).
    b.add("e2e single worker / bare consumer", single / bare, "x")
    b.add("e2e scale-out 2 workers / 1 worker", two / one, "x")
    b.add("e2e scale-out 2 workers / bare consumer", two / bare, "x")
    # Memory at full rate: the day arrives as fast as the producer sends it.
    for label, what in (
        ("single worker (one process does it all)", "single worker"),
        ("scale-out, 2 workers sharing the partitions", "scale-out, larger of 2"),
    ):
        b.add(f"worker peak RSS, e2e at full rate ({what})", runs[label]["rss_mb"], "MB")


def step_producer(b: Bench) -> None:
    """liquidation normaliser + producer path (producers/)"""
    try:
        from producers.bench import bench_liquidation_path
    except ImportError:
        console.print("  producers.bench not available: skipped")
        return
    settings, _ = b.fresh("prod")
    r = bench_liquidation_path(n=50_000 if b.quick else 200_000, settings=settings)
    eps = float(r["events_per_s"])
    b.add("liquidation normaliser + producer", eps, "events/s", ">= 20,000", eps >= 20_000)


def step_replay(b: Bench) -> None:
    """a synthetic day of >= 1M events: pipeline vs bare on it, replay speed vs real time"""
    from shockwatch.replay import replay

    settings, names = b.fresh("replay")
    n_liq = 150_000 if b.quick else 1_000_000
    prices, liqs, end = synthetic_day(n_liq)
    produce_day(settings, names, prices, liqs, end)
    # The same comparison as step_throughput on this bigger day: a day's 1,440 ticks and the
    # first fetches are fixed costs, spread here over five times the events.
    events = len(prices) + len(liqs)
    total = events + 2 * settings.input_partitions + 1
    pipeline_vs_bare(b, settings, names, events, total, f", {events:,}-event day")
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def worker_peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process: its peak resident set so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def step_latency(b: Bench) -> None:  # noqa: C901 - one measured scenario, start to end
    """tick -> signal/alert latency at a sustained 5,000 events/s (real worker process)"""
    import threading

    from shockwatch.runner import OutputReader, WorkerProcess

    settings, names = b.fresh("lat")
    rate, seconds = 5000, 20 if b.quick else 60
    # Event time runs at 60x the clock, so every wall second closes one event-time minute; the
    # data is a selloff across every class with a liquidation wave, so alerts fire too.
    t0_wall, t0_event = time.time(), DAY0_MS + 14 * 3600_000
    closing: dict[int, float] = {}  # tick ms -> wall time its closing event was sent
    lateness = settings.detection.alerts.allowed_lateness_s * 1000
    worker = WorkerProcess(
        settings,
        names.prefix,
        f"bench-lat-{uuid.uuid4().hex[:6]}",
        settings.state_dir / "bench-lat.log",
    )
    worker.start()
    # Steady state, not start-up: produce once the worker holds its partitions.
    deadline = time.monotonic() + 60
    while "active:" not in worker.log_tail(200) and time.monotonic() < deadline:
        time.sleep(0.1)

    def produce() -> None:
        from kafka import KafkaProducer

        from shockwatch.kafka import kafka_python_config

        prod = KafkaProducer(**kafka_python_config(settings), acks="all", linger_ms=2)
        for topic in (names.prices, names.liquidations):  # connected before the clock starts
            prod.partitions_for(topic)
        sent, level, next_tick = 0, dict.fromkeys(SYMBOLS, 100.0), t0_event + MIN_MS
        while sent < rate * seconds:
            wall = time.time()
            ts = t0_event + int((wall - t0_wall) * 60_000)
            while ts >= next_tick + lateness:
                closing.setdefault(next_tick, wall)
                next_tick += MIN_MS
            minute = (ts - t0_event) // MIN_MS
            if sent % 50 == 0:
                for sym, cls in SYMBOLS.items():
                    level[sym] *= math.exp(-0.0004)
                    prod.send(
                        names.prices,
                        key=sym.encode(),
                        timestamp_ms=ts,
                        value=orjson.dumps(
                            {
                                "schema_version": 1,
                                "ts_ms": ts,
                                "source": "bench",
                                "symbol": sym,
                                "asset_class": cls,
                                "price_usd": level[sym],
                            }
                        ),
                    )
            usd = 20_000.0 if minute > 10 else 2_000.0
            prod.send(
                names.liquidations,
                key=b"bybit:BTC/USDT:USDT",
                timestamp_ms=ts,
                value=orjson.dumps(
                    {
                        "schema_version": 1,
                        "ts_ms": ts,
                        "source": "bench",
                        "exchange": "bybit",
                        "symbol": "BTC/USDT:USDT",
                        "base": "BTC",
                        "side_liquidated": "long",
                        "qty_base": usd / 1e5,
                        "price_usd": 1e5,
                        "notional_usd": usd,
                        "event_id": f"b{sent}",
                        "lower_bound": False,
                    }
                ),
            )
            sent += 1
            ahead = t0_wall + sent / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        prod.flush()
        prod.close()

    from shockwatch.publish import Publisher

    with Publisher(settings) as pub:  # heartbeat funding so its partition joins the watermark
        pub.heartbeat(names.funding, t0_event + 10 * 24 * 3600_000, "bench")
    thread = threading.Thread(target=produce, daemon=True)
    reader = OutputReader(settings, names)
    lat_signal: list[float] = []
    lat_alert: list[float] = []
    reader.consumer.poll(timeout_ms=1000)  # the reader is assigned and positioned first
    thread.start()
    try:
        deadline = time.monotonic() + seconds + 30
        seen_ticks: set[int] = set()
        while time.monotonic() < deadline and (thread.is_alive() or len(seen_ticks) < 5):
            for records in reader.consumer.poll(timeout_ms=100).values():
                now = time.time()
                for msg in records:
                    obj = orjson.loads(msg.value)
                    tick = obj["ts_ms"]
                    if tick not in closing:
                        continue
                    if msg.topic == names.signals and tick not in seen_ticks:
                        seen_ticks.add(tick)
                        lat_signal.append(now - closing[tick])
                    elif msg.topic == names.alerts:
                        lat_alert.append(now - closing[tick])
            if not thread.is_alive() and len(seen_ticks) >= len(closing) - 1:
                break
        rss = worker_peak_rss_mb(worker.proc.pid) if worker.proc else math.nan
    finally:
        reader.close()
        worker.stop()
    # The first ticks after start include connection and fetch set-up on both sides (measured
    # 0.3-0.9 s here): reported on their own, the targets are for the steady state after them.
    warm, lat_signal = lat_signal[:WARMUP_TICKS], lat_signal[WARMUP_TICKS:]
    p50, p99 = percentile(lat_signal, 0.5) * 1000, percentile(lat_signal, 0.99) * 1000
    b.add("sustained input rate", rate, "events/s", seconds=seconds)
    if warm:
        b.add(f"first {len(warm)} ticks after start (warm-up), max", max(warm) * 1000, "ms")
    b.add("closing event -> signal latency p50", p50, "ms", ticks=len(lat_signal))
    b.add("closing event -> signal latency p99", p99, "ms", "< 250 ms", p99 < 250)
    if lat_alert:
        worst = max(lat_alert) * 1000
        b.add(
            "closing event -> alert latency (max)",
            worst,
            "ms",
            "< 250 ms",
            worst < 250,
            alerts=len(lat_alert),
        )
    b.add("worker peak RSS at 5,000 events/s", rss, "MB")


def step_slack(b: Bench) -> None:
    """alert -> Slack POST latency (notifier process -> local webhook stand-in)"""
    from alerts.standin import start_slack_stand_in
    from shockwatch.runner import NotifierProcess
    from streams.records import AlertEvent

    settings, names = b.fresh("slack")
    standin, url = start_slack_stand_in(port=0)
    notifier = NotifierProcess(
        settings,
        names.prefix,
        url,
        f"bench-slack-{uuid.uuid4().hex[:6]}",
        settings.state_dir / "bench-notifier.log",
        {
            "SHOCKWATCH_STATE_DIR": str(settings.state_dir / "bench-slack"),
            "SHOCKWATCH_SLACK_MAX_PER_MINUTE": "100000",
        },
    )
    n = 20 if b.quick else 100
    sent_at: dict[str, float] = {}
    try:
        time.sleep(4)
        with Publisher(settings) as pub:
            for i in range(n):
                alert = AlertEvent(
                    ts_ms=DAY0_MS + i * MIN_MS,
                    alert_id=f"sw-bench-{i}",
                    state="firing",
                    severity="critical",
                    regime="plumbing",  # type: ignore[arg-type]
                    score=80.0,
                    started_ts_ms=DAY0_MS,
                    headline=f"bench alert {i}",
                    evidence={},
                )
                sent_at[alert.alert_id] = time.time()
                pub.send(names.alerts, alert.encode(), alert.alert_id, alert.ts_ms)
                pub.flush()
                time.sleep(0.05)
        got = standin.wait_for(n, timeout_s=120)
    finally:
        notifier.stop()
        standin.stop()
    lat = []
    for msg in got:
        # the whole id: "sw-bench-1" is also a prefix of "sw-bench-10".."sw-bench-19"
        found = re.search(r"sw-bench-\d+", orjson.dumps(msg.payload).decode())
        if found and found.group(0) in sent_at:
            lat.append(msg.received_s - sent_at[found.group(0)])
    p99 = percentile(lat, 0.99) * 1000
    b.add("alert -> Slack POST latency p50", percentile(lat, 0.5) * 1000, "ms", alerts=len(lat))
    b.add("alert -> Slack POST latency p99", p99, "ms", "< 1,000 ms", p99 < 1000)


def step_scenario_replay(b: Bench) -> None:
    """replay of the bundled 2025-11-04 scenario from Kafka"""
    from shockwatch.replay import replay
    from shockwatch.scenario import first_event_ms, load_scenario, read_scenario
    from shockwatch.settings import PROJECT_ROOT

    settings, names = b.fresh("scn")
    scenario = read_scenario(PROJECT_ROOT / "data/scenarios/2025-11-04-everything-sells")
    with Publisher(settings) as pub:
        load_scenario(scenario, pub, names, frame_max=settings.frame_max_events)
    r = replay(
        settings,
        first_event_ms(scenario),
        scenario.end_ms,
        source_prefix=names.prefix,
        run_id=f"bench-scn-{uuid.uuid4().hex[:6]}",
        out_root=settings.state_dir / "r",
    )
    b.add("2025-11-04 replay", r.events_per_s, "events/s", events=r.events, seconds=r.run.elapsed_s)
    mult = r.realtime_multiple
    b.add("2025-11-04 replay / real time", mult, "x", ">= 1,000x", mult >= 1000)


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
