"""The pipeline against its anchors over the same filled topics on the same broker: a
transport-only consumer (aiokafka ``getmany``), one that also decodes with msgspec, one with
``json.loads``, and the real worker app; medians of alternating rounds and the pipeline's ratio
to each. On the throughput day here, and on the 1M-event day by ``replay.step_replay``."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from common.settings import Settings
from shockwatch.lab.bench.data import produce_day, synthetic_day
from shockwatch.lab.bench.table import Bench
from streams.topics import TopicNames

ROUNDS = 3


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

    from common.kafka import BATCH_MAX_RECORDS, BULK_FETCH, aiokafka_config, partitions_for

    parse: Callable[[bytes], Any] | None = {
        "transport": None,
        "msgspec": msgspec.json.Decoder().decode,
        "json": json.loads,
    }[decode]
    consumer = AIOKafkaConsumer(
        **aiokafka_config(settings),
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=BATCH_MAX_RECORDS,  # the worker's batch and fetch sizes: the same footing
        **BULK_FETCH,
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
