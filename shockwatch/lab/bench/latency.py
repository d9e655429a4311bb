"""Latency: closing event -> signal and -> alert at a sustained 5,000 events/s through a real
worker process, the load sent by a spawned process of its own (``latency_producer``), with the
suspects of the slowest ticks measured over each run (collector passes of the worker, GC pauses
of the broker, other processes' CPU, the load falling behind, the broker's acknowledgement);
and alert -> Slack POST latency through the notifier process."""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from common.settings import Settings
from shockwatch.lab.bench.data import DAY0_MS, MIN_MS, SYMBOLS
from shockwatch.lab.bench.measure import percentile, worker_peak_rss_mb
from shockwatch.lab.bench.table import Bench, console
from shockwatch.runs.publish import Publisher
from streams.topics import TopicNames

WARMUP_TICKS = 3
LATENCY_RUNS = 3
GC_TRACE_MS = 5.0  # the worker logs collector passes at least this long


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

    from shockwatch.runs.runner import OutputReader, WorkerProcess

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
    from shockwatch.lab.standin import start_slack_stand_in
    from shockwatch.runs.runner import NotifierProcess
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
