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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from common.log import setup_logging
from common.settings import Settings
from shockwatch.broker import LocalBroker
from shockwatch.publish import Publisher
from streams.records import Heartbeat
from streams.topics import TopicNames, create_topics, run_prefix

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
LATENCY_RUNS = 3
GC_TRACE_MS = 5.0  # the worker logs collector passes at least this long


# -- synthetic data ---------------------------------------------------------------------------


def synthetic_day(
    n_liq: int, minutes: int = 1440, seed: int = 7, start_ms: int = DAY0_MS
) -> tuple[list, list, int]:
    """(prices, liquidations, end_ms) as encoded rows in event-time order: one bar a minute for
    every symbol, ``n_liq`` liquidations spread over the day (a wave in the afternoon)."""
    rng = random.Random(seed)
    prices: list[tuple[int, str, bytes]] = []
    level = dict.fromkeys(SYMBOLS, 100.0)
    for m in range(1, minutes + 1):
        ts = start_ms + m * MIN_MS
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
    stamps = sorted(start_ms + int(rng.random() * span) for _ in range(n_liq))
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
    return prices, liqs, start_ms + span


def produce_day(
    settings: Settings, names: TopicNames, prices: list, liqs: list, end_ms: int
) -> float:
    """Produce the day (event-time order across topics) and end-of-day heartbeats; events/s."""
    import heapq

    from streams.scenario import _Framer

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


ANCHORS = {
    "transport": "transport only (getmany, no decode)",
    "msgspec": "bare consumer (getmany + msgspec decode)",
    "json": "bare consumer (getmany + json.loads)",
}


async def anchor_consumer(
    settings: Settings, topics: tuple[str, ...], n: int, decode: str = "json"
) -> float:
    """A consumer that does nothing but read (and, unless ``decode`` is "transport", decode)
    every message of ``topics``, from the first fetched message to the end offsets; events/s
    for the ``n`` events they hold. The anchors the pipeline is measured against:

    * ``transport``: aiokafka ``getmany`` only: the limit of the client and the broker;
    * ``msgspec``: plus a schema-less ``msgspec.json`` decode, the parser the worker uses;
    * ``json``: plus ``json.loads``, a plain Python consumer."""
    import json

    import msgspec
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from common.kafka import aiokafka_config, partitions_for

    parse: Callable[[bytes], Any] | None = {
        "transport": None,
        "msgspec": msgspec.json.Decoder().decode,
        "json": json.loads,
    }[decode]
    consumer = AIOKafkaConsumer(
        **aiokafka_config(settings),
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=20_000,  # the worker's batch and fetch sizes: the same footing
        fetch_max_bytes=64 * 2**20,
        max_partition_fetch_bytes=8 * 2**20,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        parts = partitions_for(settings, list(topics))
        tps = [TopicPartition(t, p) for t in topics for p in range(parts[t])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        left = {tp for tp in tps if ends[tp] > 0}
        seen = 0
        start: float | None = None
        while left:
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                break
            if start is None:
                start = time.perf_counter()
            for tp, msgs in batch.items():
                if parse is not None:
                    for msg in msgs:
                        obj = parse(msg.value)
                        seen += len(obj) if isinstance(obj, list) else 1
                if msgs and msgs[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
        took = time.perf_counter() - (start or time.perf_counter())
        if parse is not None and seen < n:
            return math.nan  # did not read the whole day
        return n / took if took > 0 else math.nan
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
    def __init__(self, settings: Settings, quick: bool, broker_pid: int = -1) -> None:
        self.settings = settings
        self.broker_pid = broker_pid
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
        prefix = run_prefix("bench", f"{label}-{uuid.uuid4().hex[:6]}")
        settings = self.settings.model_copy(update={"topic_prefix": prefix, "input_partitions": 1})
        create_topics(settings, prefix, keep_all=True)
        return settings, TopicNames(prefix)


def run(quick: bool, only: set[str] | None = None, long: bool = False) -> list[dict[str, Any]]:
    base = Settings()
    state = Path(tempfile.mkdtemp(prefix="shockwatch-bench-"))
    broker = LocalBroker(base, state_dir=state)
    info = broker.up()
    console.print(
        f"[bold]bench broker[/] at {info['bootstrap']} (ready in {info['ready_s']:.1f} s)"
    )
    settings = base.model_copy(update={"kafka_bootstrap": info["bootstrap"], "state_dir": state})
    b = Bench(settings, quick, int(info["pid"]))
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
            *([step_month] if long else []),
        ]
        for fn in steps:
            if only and fn.__name__.removeprefix("step_") not in only:
                continue
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
    pipeline_vs_anchors(b, settings, names, len(prices) + len(liqs), total, "")


def pipeline_vs_anchors(
    b: Bench,
    settings: Settings,
    names: TopicNames,
    events: int,
    total: int,
    label: str,
    target: float | None = None,
) -> float:
    """The three anchors and the pipeline over the same filled topics, in alternating rounds
    (medians: on a 2-core machine shared with the broker one round of either varies by
    +-25%); the pipeline's ratio to each. ``target``: the least pipeline / transport. Returns
    the pipeline's median events/s."""
    rounds: dict[str, list[float]] = {k: [] for k in [*ANCHORS, "pipeline"]}
    for _ in range(ROUNDS):
        for decode in ANCHORS:
            rounds[decode].append(
                asyncio.run(anchor_consumer(settings, names.inputs, events, decode))
            )
        rounds["pipeline"].append(
            asyncio.run(faust_pipeline(settings, names.prefix, total))["events_per_s"]
        )
    medians = {k: statistics.median(v) for k, v in rounds.items()}
    for decode, what in ANCHORS.items():
        b.add(f"{what}{label}, median of {ROUNDS}", medians[decode], "events/s",
              rounds=rounds[decode])  # fmt: skip
    pipe = medians["pipeline"]
    b.add(f"pipeline: broker -> detection worker -> metrics{label}, median of {ROUNDS}", pipe,
          "events/s", rounds=rounds["pipeline"])  # fmt: skip
    for decode in ANCHORS:
        ratio = pipe / medians[decode]
        if decode == "transport" and target is not None:
            b.add(f"pipeline / {decode}{label}", ratio, "x", f">= {target:.2f}", ratio >= target)
        else:
            b.add(f"pipeline / {decode}{label}", ratio, "x")
    return pipe


def day_frames(names: TopicNames, prices: list, liqs: list, frame_max: int) -> list:
    """The day as ready-to-send (topic, key, ts, value) messages, framed as ``produce_day``
    frames it (so the sending costs the client and the broker, not the framing)."""
    import heapq

    from streams.records import encode_frame
    from streams.scenario import _Framer

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

    from common.kafka import aiokafka_config

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

    from common.kafka import aiokafka_config
    from shockwatch.runner import WorkerProcess

    prices, liqs, end = day
    settings = b.settings.model_copy(update={"input_partitions": 3})
    tag = uuid.uuid4().hex[:6]
    prefix = run_prefix("bench", f"e2e-{tag}")
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
    """a synthetic day of >= 1M events: pipeline vs the anchors on it, replay in place"""
    from shockwatch.replay import replay

    settings, names = b.fresh("replay")
    n_liq = 150_000 if b.quick else 1_000_000
    prices, liqs, end = synthetic_day(n_liq)
    produce_day(settings, names, prices, liqs, end)
    # The same comparison as step_throughput on this bigger day: a day's 1,440 ticks and the
    # first fetches are fixed costs, spread here over five times the events.
    events = len(prices) + len(liqs)
    total = events + 2 * settings.input_partitions + 1
    label = f", {events:,}-event day"
    pipe = pipeline_vs_anchors(b, settings, names, events, total, label, target=0.8)
    runs = []
    for _ in range(ROUNDS):
        runs.append(
            replay(
                settings,
                DAY0_MS,
                end,
                source_prefix=names.prefix,
                run_id=f"bench-{uuid.uuid4().hex[:6]}",
                out_root=settings.state_dir / "reports",
            )
        )
    r = sorted(runs, key=lambda x: x.events_per_s)[len(runs) // 2]  # the median run
    mult = r.realtime_multiple
    b.add("replay in place: events", r.events, "events")
    b.add(f"replay in place{label}, median of {ROUNDS}", r.events_per_s, "events/s",
          seconds=r.run.elapsed_s, rounds=[x.events_per_s for x in runs])  # fmt: skip
    b.add("replay in place / real time", mult, "x", ">= 20,000x", mult >= 20_000)
    b.add("replay in place / the worker's own rate (pipeline)", r.events_per_s / pipe, "x")


DAY_MS = 24 * 3600_000
MONTH_DAYS = 30


def step_month(b: Bench) -> None:
    """a synthetic month (30 days at the 1M-event day's rate, generated day by day, not stored)
    replayed in place: wall time, events/s, the replaying process's RSS at day 1 and day 30"""
    import multiprocessing

    settings, names = b.fresh("month")
    days, n_liq = (3, 150_000) if b.quick else (MONTH_DAYS, 1_000_000)
    events, started, end = 0, time.monotonic(), DAY0_MS
    for d in range(days):
        prices, liqs, end = synthetic_day(n_liq, seed=7 + d, start_ms=DAY0_MS + d * DAY_MS)
        # Framed as the loader frames, sent by the end-to-end step's aiokafka producer: the
        # loader's kafka-python producer (12.5k events/s here) would take an hour a month.
        frames = day_frames(names, prices, liqs, settings.frame_max_events)
        asyncio.run(send_day(settings, frames, end, names))
        events += len(prices) + len(liqs)
        del prices, liqs, frames
        console.print(f"    day {d + 1}/{days} produced ({events:,} events so far)")
    b.add(f"month: {days} synthetic days produced", events, "events",
          seconds=time.monotonic() - started)  # fmt: skip
    # In a process of its own, so its RSS is the replay's, not the generator's.
    ctx = multiprocessing.get_context("spawn")
    results, out = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=month_replay, args=(settings, DAY0_MS, end, names.prefix, out), daemon=True
    )
    child.start()
    got = results.recv()
    child.join()
    rss = got["rss_by_day"]
    b.add(f"month replayed in place: wall time ({days} days)", got["elapsed_s"], "s",
          events=got["events"])  # fmt: skip
    b.add("month replayed in place: speed", got["events_per_s"], "events/s")
    b.add("month replayed in place / real time", got["realtime_multiple"], "x")
    growth = rss[-1] / rss[0] - 1
    b.add("replay RSS at the end of day 1", rss[0], "MB")
    b.add(f"replay RSS at the end of day {len(rss)}", rss[-1], "MB", rss_by_day=rss,
          sampled_at_minute=got["rss_at_minute"])  # fmt: skip
    console.print(f"    RSS by day (MB): {[round(x, 1) for x in rss]}, taken at event-time "
                  f"minutes {got['rss_at_minute']}")  # fmt: skip
    b.add(f"replay RSS growth, day 1 -> day {len(rss)}", growth * 100, "%", "within 20 %",
          abs(growth) <= 0.2)  # fmt: skip


def month_replay(settings: Settings, t1: int, t2: int, prefix: str, out: Any) -> None:
    """Replay [t1, t2) of ``prefix`` in place; send back its figures and its own RSS (MB) each
    time the replay's event time finishes a day."""
    from shockwatch.replay import replay

    setup_logging("WARNING")
    rss: list[float] = []
    at: list[int] = []  # the event-time minute each sample was taken at

    def sample(done: int, total: int) -> None:
        while done >= (len(rss) + 1) * (DAY_MS // MIN_MS) or (done >= total and not rss):
            rss.append(current_rss_mb())
            at.append(done)

    r = replay(
        settings,
        t1,
        t2,
        source_prefix=prefix,
        run_id=f"bench-month-{uuid.uuid4().hex[:6]}",
        out_root=settings.state_dir / "reports",
        run_progress=sample,
    )
    out.send(
        {
            "events": r.events,
            "elapsed_s": r.run.elapsed_s,
            "events_per_s": r.events_per_s,
            "realtime_multiple": r.realtime_multiple,
            "rss_by_day": rss,
            "rss_at_minute": at,
        }
    )
    out.close()


def current_rss_mb(pid: int | str = "self") -> float:
    """VmRSS of a process: its resident set now."""
    return proc_status_mb(pid, "VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def worker_peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process: its peak resident set so far."""
    return proc_status_mb(pid, "VmHWM")


def proc_status_mb(pid: int | str, field: str) -> float:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return math.nan


@dataclass
class LatencyRun:
    """What one latency run saw: (tick, wall time its closing event was sent, latency s) per
    event-time minute, in arrival order; the alerts' latencies; the worker's peak RSS."""

    signals: list[tuple[int, float, float, float]]  # tick, sent at, latency, of it to the ack
    alerts: list[float]
    rss_mb: float
    started: float
    ended: float
    worker_log: Path
    others_cpu_share: float  # of the machine's CPU capacity, taken by other processes
    producer_behind_s: float  # how far the load fell behind its schedule at worst
    achieved_rate: float  # events/s the load sent, start to flush

    @property
    def steady(self) -> list[float]:
        # The first ticks after start include connection and fetch set-up on both sides
        # (measured 0.3-0.9 s here): reported on their own, the target is for after them.
        return [lat for _, _, lat, _ in self.signals[WARMUP_TICKS:]]

    @property
    def warm(self) -> list[float]:
        return [lat for _, _, lat, _ in self.signals[:WARMUP_TICKS]]

    def slowest(self, n: int = 3) -> list[tuple[int, float, float, float]]:
        return sorted(self.signals[WARMUP_TICKS:], key=lambda s: -s[2])[:n]


WORKER_GC = re.compile(
    r"^\[(\S+ \S+)\] \[\d+\] \[WARNING\] gc pass: generation (\d) took ([\d.]+) ms"
)
BROKER_GC = re.compile(r"^\[([^\]]+)\].* Pause .* ([\d.]+)ms$")


def gc_pauses(path: Path, worker: bool) -> list[tuple[float, float]]:
    """(wall time the pause ended, its ms) from the worker's log (``trace_gc``) or the broker's
    G1 log (``-Xlog:gc``, docs/kafka.md)."""
    out = []
    text = path.read_text(errors="replace") if path.exists() else ""
    for line in text.splitlines():
        if worker and (m := WORKER_GC.match(line)):
            at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").astimezone().timestamp()
            out.append((at, float(m[3])))
        elif not worker and (m := BROKER_GC.match(line)):
            out.append((datetime.fromisoformat(m[1]).timestamp(), float(m[2])))
    return out


def cpu_ticks(pid: int | None = None) -> int:
    """Busy CPU ticks of the whole machine (``pid`` None) or of one process (utime + stime)."""
    if pid is None:
        f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        return sum(int(x) for i, x in enumerate(f) if i not in (3, 4))  # less idle, iowait
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(f[11]) + int(f[12])


def latency_causes(b: Bench, r: LatencyRun) -> dict[str, float]:
    """The suspects of a slow tick, measured over the run: the worker's collector passes, the
    broker's GC pauses (both the longest, and the ms of them that fall inside the slowest
    ticks' waits), and the share of the machine's CPU that other processes took."""
    slow = r.slowest()
    found: dict[str, float] = {}
    logs = {
        "worker_gc": gc_pauses(r.worker_log, worker=True),
        "broker_gc": gc_pauses(b.settings.state_dir / "kafka" / "logs" / "gc.log", worker=False),
    }
    for name, pauses in logs.items():
        inside = [ms for at, ms in pauses if r.started <= at <= r.ended]
        found[f"{name}_max_ms"] = max(inside, default=0.0)
        found[f"{name}_in_slowest_ms"] = sum(
            ms for at, ms in pauses for _, sent, lat, _ in slow if sent <= at <= sent + lat
        )
    found["others_cpu_share"] = r.others_cpu_share
    found["producer_behind_ms"] = r.producer_behind_s * 1000
    # Of each slow tick's wait, the part before the broker acknowledged its closing event (the
    # load's own client and the broker's append), the rest the worker's and the reader's.
    found["slowest_to_ack_ms"] = max((ack * 1000 for *_, ack in slow), default=0.0)
    return found


def step_latency(b: Bench) -> None:
    """tick -> signal/alert latency at a sustained 5,000 events/s (real worker process), 3 runs"""
    rate, seconds = 5000, 20 if b.quick else 60
    runs = []
    for i in range(1, LATENCY_RUNS + 1):
        r = latency_run(b, rate, seconds)
        runs.append(r)
        p50, p99 = percentile(r.steady, 0.5) * 1000, percentile(r.steady, 0.99) * 1000
        b.add(f"run {i}: input rate sent (target {rate:,}/s)", r.achieved_rate, "events/s",
              seconds=seconds)  # fmt: skip
        if r.warm:
            b.add(f"run {i}: first {len(r.warm)} ticks after start (warm-up), max",
                  max(r.warm) * 1000, "ms")  # fmt: skip
        b.add(f"run {i}: closing event -> signal latency p50", p50, "ms", ticks=len(r.steady))
        causes = latency_causes(b, r)
        slowest = [round(lat * 1000, 1) for _, _, lat, _ in r.slowest()]
        b.add(f"run {i}: closing event -> signal latency p99", p99, "ms", "< 250 ms", p99 < 250,
              slowest_ms=slowest, causes=causes)  # fmt: skip
        console.print(
            f"    slowest ticks {slowest} ms; worker gc max {causes['worker_gc_max_ms']:.0f} ms"
            f" ({causes['worker_gc_in_slowest_ms']:.0f} ms inside them), broker gc max "
            f"{causes['broker_gc_max_ms']:.0f} ms ({causes['broker_gc_in_slowest_ms']:.0f} ms "
            f"inside), other processes {causes['others_cpu_share']:.0%} of the CPU, load "
            f"behind schedule up to {causes['producer_behind_ms']:.0f} ms, closing event acked "
            f"after up to {causes['slowest_to_ack_ms']:.0f} ms"
        )
        if r.alerts:
            worst = max(r.alerts) * 1000
            b.add(f"run {i}: closing event -> alert latency (max)", worst, "ms", "< 250 ms",
                  worst < 250, alerts=len(r.alerts))  # fmt: skip
    worst99 = max(percentile(r.steady, 0.99) for r in runs) * 1000
    b.add(f"closing event -> signal latency p99, worst of {LATENCY_RUNS} runs", worst99, "ms",
          "< 250 ms", worst99 < 250)  # fmt: skip
    b.add("worker peak RSS at 5,000 events/s", max(r.rss_mb for r in runs), "MB")


def latency_producer(
    settings: Settings,
    names: TopicNames,
    rate: int,
    seconds: int,
    t0_wall: float,
    t0_event: int,
    out: Any,
) -> None:
    """The latency run's load, in a process of its own (one sharing the reader's GIL delayed
    kafka-python's sender thread: measured, docs/benchmarks.md): ``rate`` events/s whose event
    time runs 60x the clock. Sends back, per event-time minute, the wall time its closing event
    was sent and the time the broker acknowledged it, and how far the loop fell behind."""
    from kafka import KafkaProducer

    from common.kafka import kafka_python_config

    lateness = settings.detection.alerts.allowed_lateness_s * 1000
    closing: dict[int, float] = {}  # tick ms -> wall time its closing event was sent
    acked: dict[int, float] = {}  # tick ms -> wall time the broker acknowledged it
    # Idempotent acks=all like the project's producers, with room for a 2 ms linger's worth of
    # events per request: at kafka-python's 16 KiB default batch the closing events waited for
    # the broker's acknowledgement up to 6.7 s (p99 6,707 ms, measured; docs/benchmarks.md).
    prod = KafkaProducer(**kafka_python_config(settings), acks="all", linger_ms=2, batch_size=2**20)
    for topic in (names.prices, names.liquidations):  # connected before the clock starts
        prod.partitions_for(topic)
    sent, level, next_tick, behind = 0, dict.fromkeys(SYMBOLS, 100.0), t0_event + MIN_MS, 0.0
    time.sleep(max(0.0, t0_wall - time.time()))  # the clock starts at t0_wall
    while sent < rate * seconds:
        wall = time.time()
        ts = t0_event + int((wall - t0_wall) * 60_000)
        closes = []
        while ts >= next_tick + lateness:
            closing.setdefault(next_tick, wall)
            closes.append(next_tick)
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
        future = prod.send(
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
        for tick in closes:
            future.add_callback(lambda _md, tick=tick: acked.setdefault(tick, time.time()))
        sent += 1
        ahead = t0_wall + sent / rate - time.time()
        behind = max(behind, -ahead)
        if ahead > 0:
            time.sleep(ahead)
    prod.flush()
    prod.close()
    out.send((closing, acked, behind, sent / (time.time() - t0_wall)))
    out.close()


def latency_run(b: Bench, rate: int, seconds: int) -> LatencyRun:
    """One latency run: a fresh prefix and worker, ``rate`` events/s for ``seconds``."""
    import multiprocessing

    from shockwatch.runner import OutputReader, WorkerProcess

    settings, names = b.fresh("lat")
    # Event time runs at 60x the clock, so every wall second closes one event-time minute; the
    # data is a selloff across every class with a liquidation wave, so alerts fire too.
    t0_event = DAY0_MS + 14 * 3600_000
    worker = WorkerProcess(
        settings,
        names.prefix,
        f"bench-lat-{uuid.uuid4().hex[:6]}",
        settings.state_dir / f"bench-lat-{uuid.uuid4().hex[:6]}.log",
        extra_env={"SHOCKWATCH_GC_TRACE_MS": str(GC_TRACE_MS)},
    )
    worker.start()
    # Steady state, not start-up: produce once the worker holds its partitions.
    deadline = time.monotonic() + 60
    while "active:" not in worker.log_tail(200) and time.monotonic() < deadline:
        time.sleep(0.1)
    with Publisher(settings) as pub:  # heartbeat funding so its partition joins the watermark
        pub.heartbeat(names.funding, t0_event + 10 * 24 * 3600_000, "bench")
    reader = OutputReader(settings, names)
    signal_at: dict[int, float] = {}  # tick -> wall time its signal was read
    alert_at: list[tuple[int, float]] = []
    reader.consumer.poll(timeout_ms=1000)  # the reader is assigned and positioned first
    ctx = multiprocessing.get_context("spawn")
    results, out = ctx.Pipe(duplex=False)
    t0_wall = time.time() + 2.0  # the clock starts once the producer process is up
    producer = ctx.Process(
        target=latency_producer,
        args=(settings, names, rate, seconds, t0_wall, t0_event, out),
        daemon=True,
    )
    producer.start()
    run_start = time.time()
    pids = [os.getpid(), b.broker_pid, worker.proc.pid if worker.proc else -1, producer.pid]
    ticks0 = cpu_ticks(), sum(cpu_ticks(pid or -1) for pid in pids)
    sent: tuple[dict[int, float], dict[int, float], float, float] | None = None
    try:
        deadline = time.monotonic() + seconds + 40
        while time.monotonic() < deadline:
            for records in reader.consumer.poll(timeout_ms=100).values():
                now = time.time()
                for msg in records:
                    tick = orjson.loads(msg.value)["ts_ms"]
                    if msg.topic == names.signals:
                        signal_at.setdefault(tick, now)
                    elif msg.topic == names.alerts:
                        alert_at.append((tick, now))
            if sent is None and results.poll():
                sent = results.recv()
                ticks1 = cpu_ticks(), sum(cpu_ticks(pid or -1) for pid in pids)
                rss = worker_peak_rss_mb(worker.proc.pid) if worker.proc else math.nan
            if sent is not None and len(set(sent[0]) - set(signal_at)) <= 1:
                break  # every closed tick's signal read (the last may close after the load)
    finally:
        reader.close()
        worker.stop()
        producer.join(timeout=10)
    if sent is None:
        raise RuntimeError("the latency producer did not finish (see the worker log)")
    closing, acked, behind, achieved = sent
    capacity = (time.time() - run_start) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    others = ((ticks1[0] - ticks0[0]) - (ticks1[1] - ticks0[1])) / capacity
    signals = [
        (
            tick,
            closing[tick],
            signal_at[tick] - closing[tick],
            acked.get(tick, math.nan) - closing[tick],
        )
        for tick in sorted(closing)
        if tick in signal_at
    ]
    alerts = [at - closing[tick] for tick, at in alert_at if tick in closing]
    return LatencyRun(
        signals, alerts, rss, run_start, time.time(), worker.log_path, others, behind, achieved
    )


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
    from common.settings import PROJECT_ROOT
    from shockwatch.replay import replay
    from streams.scenario import first_event_ms, load_scenario, read_scenario

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
    parser.add_argument(
        "--long",
        action="store_true",
        help="also replay a synthetic month in place (30 x 1M-event days; ~15 min more)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/bench/bench.json"))
    parser.add_argument(
        "--only",
        help="comma-separated steps: core, throughput, latency, slack, producer, "
        "scenario_replay, replay, scale_out, month (default: all; month only with --long)",
    )
    args = parser.parse_args()
    setup_logging("WARNING")
    rows = run(args.quick, set(args.only.split(",")) if args.only else None, args.long)
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
