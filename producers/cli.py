"""`shockwatch produce ...` and `shockwatch funding ...`: the live feeds into Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import typer

from producers.liquidations.venues import Venue

produce_app = typer.Typer(help="Live feeds into Kafka: liquidations, prices, funding.")
funding_app = typer.Typer(help="Funding data (FRED, New York Fed, Treasury): backfill and poll.")

log = logging.getLogger("shockwatch.producers")
T = TypeVar("T")

DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Print normalised records (one JSON per line), send nothing."),
]
MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        help="Serve Prometheus metrics on this port (0: any free one; default: off). `make run` "
        "passes SHOCKWATCH_<FEED>_METRICS_PORT.",
    ),
]
CreateTopics = Annotated[bool, typer.Option(help="Create the topic contract first (idempotent).")]


def _settings() -> Any:
    from common.cli import settings_from_env

    return settings_from_env()


def _fail(message: str) -> typer.Exit:
    from common.cli import fail

    return fail(message)


def _run(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` for a clean, flushing shutdown."""

    async def runner() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


def _prepare(
    dry_run: bool, create: bool, metrics_port: int | None, feed: str = ""
) -> tuple[Any, Any]:
    from common.kafka import KafkaUnavailable
    from producers.config import InvalidProducerSettings, load_producer_settings
    from streams.topics import create_topics

    settings = _settings()
    try:
        ps = load_producer_settings()
    except InvalidProducerSettings as exc:
        raise _fail(str(exc)) from None
    if metrics_port is not None:
        _serve_metrics(settings, metrics_port, feed)
    if not dry_run and create:
        try:
            create_topics(settings)
        except KafkaUnavailable as exc:
            raise _fail(str(exc)) from None
    return settings, ps


def _serve_metrics(settings: Any, port: int, feed: str) -> None:
    """The default registry on ``port`` (0: a free one), recorded for `shockwatch status`; a
    port in use is one line naming it and SHOCKWATCH_<FEED>_METRICS_PORT."""
    from prometheus_client import REGISTRY

    from common.ports import PortInUse, serve_metrics

    host = settings.metrics_host
    try:
        server, _ = serve_metrics(
            REGISTRY, host, port, job=feed, state_dir=settings.state_dir,
            prefix=settings.topic_prefix,
        )  # fmt: skip
    except PortInUse as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    sys.stderr.write(f"{feed} metrics on http://{host}:{server.server_port}/metrics\n")


def _guard(fn: Callable[[], T]) -> T:
    from common.kafka import KafkaUnavailable

    try:
        return fn()
    except KafkaUnavailable as exc:
        raise _fail(str(exc)) from None


def _report(title: str, stats: Any) -> None:
    """The run's counts as one JSON line on stderr (stdout is for --dry-run records)."""
    from dataclasses import asdict, is_dataclass

    def plain(obj: Any) -> Any:
        if is_dataclass(obj) and not isinstance(obj, type):
            return asdict(obj)
        raise TypeError(type(obj).__name__)

    sys.stderr.write(f"{title}: {json.dumps(stats, sort_keys=True, default=plain)}\n")


@produce_app.command("liquidations")
def produce_liquidations(
    venue: Annotated[
        list[Venue] | None,
        typer.Option("--venue", help="Venue(s) to follow (repeat); default: all configured."),
    ] = None,
    dry_run: DryRun = False,
    duration_s: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    idle_exit_s: Annotated[
        float | None,
        typer.Option(help="Stop once every venue was silent this long."),
    ] = None,
    silence_s: Annotated[
        float | None,
        typer.Option(help="Reconnect a venue silent this long (default: per venue, 120-900)."),
    ] = None,
    metrics_port: MetricsPort = None,
    create_topics: CreateTopics = True,
) -> None:
    """Forced liquidations from Binance USD-M, Bybit, OKX, Gate, HTX and Deribit (ccxt.pro) into
    Kafka."""
    from producers.liquidations.producer import RunLimits
    from producers.run import produce_liquidations as run

    settings, ps = _prepare(dry_run, create_topics, metrics_port, "liquidations")
    limits = RunLimits(duration_s=duration_s, idle_exit_s=idle_exit_s)
    stats = _guard(
        lambda: _run(
            lambda stop: run(
                settings,
                ps,
                venues=venue,
                dry_run=dry_run,
                limits=limits,
                silence_s=silence_s,
                stop=stop,
            )
        )
    )
    _report("liquidations", stats)


@produce_app.command("prices")
def produce_prices(
    dry_run: DryRun = False,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    metrics_port: MetricsPort = None,
    create_topics: CreateTopics = True,
) -> None:
    """Minute bars: yfinance (^GSPC ^IXIC NVDA PLTR GC=F ^VIX), each in its source's trading hours
    (gold on CME Globex, VIX on Cboe's), ccxt BTC/ETH always."""
    from producers.run import produce_prices as run

    settings, ps = _prepare(dry_run, create_topics, metrics_port, "prices")
    stats = _guard(
        lambda: _run(lambda stop: run(settings, ps, dry_run=dry_run, once=once, stop=stop))
    )
    _report("prices", stats)


@produce_app.command("funding")
def produce_funding(
    dry_run: DryRun = False,
    once: Annotated[bool, typer.Option("--once", help="Poll every source once and exit.")] = False,
    metrics_port: MetricsPort = None,
    create_topics: CreateTopics = True,
) -> None:
    """FRED, New York Fed and Treasury series, polled after each publication time."""
    from producers.run import produce_funding as run

    settings, ps = _prepare(dry_run, create_topics, metrics_port, "funding")
    stats = _guard(
        lambda: _run(lambda stop: run(settings, ps, dry_run=dry_run, once=once, stop=stop))
    )
    _report("funding", stats)


def _parse_date(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a YYYY-MM-DD date") from None


@funding_app.command("backfill")
def funding_backfill(
    since: Annotated[str, typer.Option("--since", help="First observation date, YYYY-MM-DD.")],
    dry_run: DryRun = False,
    create_topics: CreateTopics = True,
) -> None:
    """Publish history from SINCE with estimated publication times (dates sent before: skipped;
    changed values: sent as revisions)."""
    from producers.run import produce_funding as run

    first = _parse_date(since)
    settings, ps = _prepare(dry_run, create_topics, None)
    stats = _guard(
        lambda: _run(
            lambda stop: run(settings, ps, dry_run=dry_run, backfill_since=first, stop=stop)
        )
    )
    _report("funding backfill", stats)


@funding_app.command("status")
def funding_status() -> None:
    """What has been published per series: dates, latest value and revision (the state file)."""
    from producers.funding.state import FundingState
    from producers.run import state_path

    path = state_path(_settings(), "funding")
    state = FundingState(path)
    if not state.sent:
        typer.echo(f"nothing published yet ({path})")
        return
    for series, dates in sorted(state.sent.items()):
        last = max(dates)
        s = dates[last]
        revised = sum(1 for x in dates.values() if x.revision)
        typer.echo(
            f"{series:14} {len(dates):4d} dates, latest {last} = {s.value:g} "
            f"(rev {s.revision}, {s.source}), {revised} revised"
        )
