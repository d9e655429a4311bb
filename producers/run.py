"""The three producers wired end to end (sink, endpoints, state): what the CLI and tests call.

``fixtures`` names a folder of recorded responses: the run is a replay (markets read from it,
finite, no wall-clock heartbeats), its endpoints served by whoever passes ``endpoints``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from pathlib import Path
from typing import TextIO

from common.settings import Settings
from producers.config import ProducerSettings
from producers.funding.producer import FundingProducer, FundingStats
from producers.liquidations.feed import FeedStats
from producers.liquidations.order import ReorderingSink
from producers.liquidations.producer import RunLimits, build_feeds, run_feeds
from producers.liquidations.venues import Venue
from producers.metrics import ProducerMetrics, default_metrics
from producers.prices.producer import PriceProducer, PriceStats
from producers.sink import DryRunSink, KafkaSink, Sink
from streams.topics import TopicNames

log = logging.getLogger(__name__)


def state_path(settings: Settings, name: str) -> Path:
    return settings.state_dir / "producers" / f"{name}_state.json"


Endpoints = Callable[[ProducerSettings], AbstractAsyncContextManager[ProducerSettings]]


@contextlib.asynccontextmanager
async def as_configured(ps: ProducerSettings) -> AsyncIterator[ProducerSettings]:
    """Where the producers connect: the endpoints as configured (live). A caller may pass its
    own, e.g. the lab's fixture server pointing every endpoint at recorded responses
    (``shockwatch.lab.fixtures.serve_fixtures``)."""
    yield ps


def clock_lag_ms(ps: ProducerSettings, feed: str) -> int:
    """How far each producer's heartbeat watermark (``EventClock``) lags its newest record:
    prices by a poll and more (a minute bar arrives up to a poll after its end), liquidations
    by the venues' interleaving plus the reorder hold (a heartbeat never passes what the hold
    still has), funding not at all (joined as of its publication time, never late)."""
    if feed == "prices":
        return ps.price_lag_ms
    if feed == "liquidations":
        return ps.liquidation_lag_ms + ps.liquidation_reorder_ms
    return 0


def make_sink(
    settings: Settings,
    ps: ProducerSettings,
    *,
    dry_run: bool,
    client_id: str,
    source: str,
    topic: str,
    lag_ms: int,
    replay: bool,
    metrics: ProducerMetrics,
    out: TextIO | None = None,
    heartbeats: bool = True,
) -> Sink:
    if dry_run:
        return DryRunSink(out)
    return KafkaSink(
        settings,
        ps,
        client_id=client_id,
        source=source,
        heartbeat_topics=(topic,) if heartbeats else (),
        clock_lag_ms=lag_ms,
        wall_clock_start=not replay,
        metrics=metrics,
    )


async def produce_liquidations(
    settings: Settings,
    ps: ProducerSettings,
    *,
    venues: list[Venue] | None = None,
    dry_run: bool = False,
    fixtures: Path | None = None,
    limits: RunLimits = RunLimits(),
    silence_s: float | None = None,
    reconnect_base_s: float = 1.0,
    metrics: ProducerMetrics | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    endpoints: Endpoints = as_configured,
) -> dict[str, FeedStats]:
    """Run the venue feeds into Kafka (or stdout) until ``stop`` or a limit."""
    metrics = metrics or default_metrics()
    topic = TopicNames(settings.topic_prefix).liquidations
    venues = venues or [Venue(v) for v in ps.venues]
    async with endpoints(ps) as ps2:
        sink = make_sink(
            settings,
            ps2,
            dry_run=dry_run,
            client_id="shockwatch-liquidations",
            source="producer:liquidations",
            topic=topic,
            lag_ms=clock_lag_ms(ps2, "liquidations"),
            replay=fixtures is not None,
            metrics=metrics,
            out=out,
        )
        if ps2.liquidation_reorder_ms > 0:
            sink = ReorderingSink(
                sink,
                ps2.liquidation_reorder_ms,
                capacity=ps2.liquidation_reorder_max,
                metrics=metrics,
            )
        await sink.start()
        try:
            feeds = build_feeds(
                venues,
                sink=sink,
                topic=topic,
                ps=ps2,
                metrics=metrics,
                fixtures=fixtures,
                silence_s=silence_s,
                reconnect_base_s=reconnect_base_s,
            )
            return await run_feeds(feeds, stop, limits)
        finally:
            await sink.close(final_heartbeat=True)


async def produce_prices(
    settings: Settings,
    ps: ProducerSettings,
    *,
    dry_run: bool = False,
    fixtures: Path | None = None,
    endpoints: Endpoints = as_configured,
    once: bool = False,
    metrics: ProducerMetrics | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
) -> PriceStats:
    metrics = metrics or default_metrics()
    topic = TopicNames(settings.topic_prefix).prices
    async with endpoints(ps) as ps2:
        sink = make_sink(
            settings,
            ps2,
            dry_run=dry_run,
            client_id="shockwatch-prices",
            source="producer:prices",
            topic=topic,
            lag_ms=clock_lag_ms(ps2, "prices"),
            replay=fixtures is not None,
            metrics=metrics,
            out=out,
        )
        await sink.start()
        try:
            producer = PriceProducer(
                sink=sink,
                topic=topic,
                ps=ps2,
                metrics=metrics,
                state_path=None if dry_run else state_path(settings, "prices"),
                fixtures=fixtures,
            )
            return await producer.run(stop or asyncio.Event(), once=once or fixtures is not None)
        finally:
            await sink.close(final_heartbeat=True)


async def produce_funding(
    settings: Settings,
    ps: ProducerSettings,
    *,
    dry_run: bool = False,
    fixtures: Path | None = None,
    endpoints: Endpoints = as_configured,
    once: bool = False,
    backfill_since: date | None = None,
    metrics: ProducerMetrics | None = None,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
) -> FundingStats:
    """Poll on the schedule (or ``once``), or backfill from ``backfill_since``."""
    metrics = metrics or default_metrics()
    topic = TopicNames(settings.topic_prefix).funding
    async with endpoints(ps) as ps2:
        # Backfills are history: no heartbeats at the wall clock ahead of them.
        sink = make_sink(
            settings,
            ps2,
            dry_run=dry_run,
            client_id="shockwatch-funding",
            source="producer:funding",
            topic=topic,
            lag_ms=clock_lag_ms(ps2, "funding"),
            replay=fixtures is not None or backfill_since is not None,
            metrics=metrics,
            out=out,
            heartbeats=backfill_since is None,
        )
        await sink.start()
        producer = FundingProducer(
            sink=sink,
            topic=topic,
            ps=ps2,
            metrics=metrics,
            state_path=state_path(settings, "funding"),
        )
        try:
            if backfill_since is not None:
                await producer.backfill(backfill_since, commit=not dry_run)
            elif once or fixtures is not None:
                await producer.run_once(commit=not dry_run)
            else:
                await producer.run(stop or asyncio.Event(), commit=not dry_run)
            return producer.stats
        finally:
            await producer.close()
            await sink.close(final_heartbeat=True)
