"""The liquidation producer: one ``VenueFeed`` per venue into one sink, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from producers.config import ProducerSettings
from producers.dedup import RecentIds
from producers.liquidations.feed import FeedStats, VenueFeed
from producers.liquidations.markets import load_snapshot
from producers.liquidations.venues import VENUES, Scope, Venue
from producers.metrics import ProducerMetrics
from producers.sink import Sink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunLimits:
    """When a run ends by itself (fixture replays, tests); live runs have neither."""

    duration_s: float | None = None
    # Stop once every venue has delivered something and all were silent this long.
    idle_exit_s: float | None = None


def build_feeds(
    venues: list[Venue],
    *,
    sink: Sink,
    topic: str,
    ps: ProducerSettings,
    metrics: ProducerMetrics,
    fixtures: Path | None = None,
    silence_s: float | None = None,
    reconnect_base_s: float = 1.0,
) -> list[VenueFeed]:
    feeds = []
    for venue in venues:
        spec = VENUES[venue]
        snapshot = None
        if fixtures is not None:
            recorded = fixtures / spec.ccxt_id / "markets.json"
            if not recorded.exists():
                log.info("%s: no recorded markets under %s; not replayed", venue, fixtures)
                continue
            snapshot = load_snapshot(recorded)
        symbols = list(ps.bybit_symbols) if spec.scope is Scope.LISTED_USDT_PERPETUALS else []
        feeds.append(
            VenueFeed(
                spec,
                sink=sink,
                topic=topic,
                metrics=metrics,
                symbols=symbols,
                ws_url=ps.endpoint(spec.ws_endpoint),
                markets_snapshot=snapshot,
                silence_s=silence_s if silence_s is not None else ps.silence_s.get(venue.value),
                dedup=RecentIds(ps.dedup_capacity, ps.dedup_ttl_s),
                max_pending=ps.max_pending,
                reconnect_base_s=reconnect_base_s,
            )
        )
    return feeds


async def run_feeds(
    feeds: list[VenueFeed],
    stop: asyncio.Event | None = None,
    limits: RunLimits = RunLimits(),
) -> dict[str, FeedStats]:
    """Run every feed until ``stop`` (or a limit), drain them into the sink, close them."""
    stop = stop or asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    try:
        for feed in feeds:
            tasks.append(asyncio.create_task(feed.pump(), name=f"pump-{feed.spec.venue}"))
            tasks.append(asyncio.create_task(feed.run(stop), name=f"feed-{feed.spec.venue}"))
        await _until_done(feeds, stop, limits)
        stop.set()
        for feed in feeds:
            await feed.drained()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for feed in feeds:
            await feed.close()
    return {feed.spec.venue.value: feed.stats for feed in feeds}


async def _until_done(feeds: list[VenueFeed], stop: asyncio.Event, limits: RunLimits) -> None:
    started = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.1)
        now = time.monotonic()
        if limits.duration_s is not None and now - started >= limits.duration_s:
            return
        if limits.idle_exit_s is not None:
            lasts = [f.last_message_at for f in feeds]
            if all(t is not None and now - t >= limits.idle_exit_s for t in lasts):
                return
