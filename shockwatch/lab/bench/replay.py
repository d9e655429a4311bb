"""Replay speed: the bundled 2025-11-04 scenario replayed from Kafka; a synthetic day of >= 1M
events replayed in place (with the pipeline and its anchors on the same day); with ``--long``
a synthetic month replayed in place by a spawned process (``month_replay``), its wall time,
speed and resident set day by day."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from common.log import setup_logging
from common.settings import Settings
from shockwatch.lab.bench.data import (
    DAY0_MS,
    DAY_MS,
    MIN_MS,
    day_frames,
    produce_day,
    send_day,
    synthetic_day,
)
from shockwatch.lab.bench.measure import current_rss_mb
from shockwatch.lab.bench.pipeline import ROUNDS, pipeline_vs_anchors
from shockwatch.lab.bench.table import Bench, console
from shockwatch.runs.publish import Publisher

MONTH_DAYS = 30


def step_scenario_replay(b: Bench) -> None:
    """replay of the bundled 2025-11-04 scenario from Kafka"""
    from common.settings import PROJECT_ROOT
    from shockwatch.runs.replay import replay
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


def step_replay(b: Bench) -> None:
    """a synthetic day of >= 1M events: pipeline vs the anchors on it, replay in place"""
    from shockwatch.runs.replay import replay

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
    from shockwatch.runs.replay import replay

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
