"""`shockwatch alerts ...`: the Slack notifier and the metrics exporter."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

alerts_app = typer.Typer(help="Slack notifications and Prometheus metrics for alerts.")
log = logging.getLogger("alerts")


def _run_until_signal(main: Callable[[asyncio.Event], Awaitable[Any]]) -> Any:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` so it can finish cleanly."""

    async def runner() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())


@alerts_app.command("exporter")
def exporter(
    from_beginning: Annotated[
        bool, typer.Option(help="Replay the topics from the beginning instead of latest.")
    ] = False,
    host: Annotated[
        str | None, typer.Option(help="Bind address (default: SHOCKWATCH_METRICS_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: SHOCKWATCH_METRICS_PORT).")
    ] = None,
) -> None:
    """Sidecar exporter: serve the signal metrics from shock.signals and shock.alerts.

    For workers run without an HTTP port; by default the worker serves these itself.
    """
    from aiokafka.errors import KafkaError

    from alerts.exporter import run_signal_exporter, serve, stop_server
    from alerts.metrics import Metrics
    from common.cli import fail, out, settings_from_env
    from common.kafka import KafkaUnavailable
    from common.ports import PortInUse

    settings = settings_from_env()
    metrics = Metrics()
    bind = host or settings.metrics_host
    try:
        server, thread = serve(metrics, bind, settings.metrics_port if port is None else port)
    except PortInUse as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot serve metrics on {bind}: {exc.strerror or exc}") from None
    out.print(f"metrics on http://{bind}:{server.server_port}/metrics")
    try:
        read = _run_until_signal(
            lambda stop: run_signal_exporter(settings, metrics, stop, from_beginning)
        )
    except (KafkaUnavailable, RuntimeError) as exc:
        raise fail(str(exc)) from None
    except KafkaError as exc:
        raise fail(f"Kafka error: {exc.__class__.__name__}: {exc}") from None
    finally:
        stop_server(server, thread)
    out.print(f"exporter stopped after {read} records")


@alerts_app.command("notify")
def notify(
    start: Annotated[
        str, typer.Option(help="Where a new consumer group starts: earliest or latest.")
    ] = "earliest",
    metrics_host: Annotated[
        str | None, typer.Option(help="Metrics bind address (default: SHOCKWATCH_METRICS_HOST).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Metrics port (default: SHOCKWATCH_NOTIFIER_METRICS_PORT; 0 any free; -1 off)."
        ),
    ] = None,
) -> None:
    """Deliver shock.alerts to Slack: one message per transition, exactly once.

    Needs SHOCKWATCH_SLACK_WEBHOOK_URL (or _FILE), or SHOCKWATCH_SLACK_BOT_TOKEN and
    SHOCKWATCH_SLACK_CHANNEL (then a resolve edits the original message).
    """
    from aiokafka.errors import KafkaError

    from alerts.exporter import serve, stop_server
    from alerts.metrics import Metrics
    from alerts.notifier import Notifier, NotifierOptions
    from alerts.slack import SlackNotConfigured
    from common.cli import fail, out, settings_from_env
    from common.kafka import KafkaUnavailable
    from common.ports import PortInUse

    if start not in ("earliest", "latest"):
        raise fail("--start must be earliest or latest")
    settings = settings_from_env()
    metrics = Metrics()
    try:
        notifier = Notifier(settings, metrics, options=NotifierOptions(start=start))
    except SlackNotConfigured as exc:
        raise fail(str(exc)) from None
    except RuntimeError as exc:  # unreadable store
        raise fail(str(exc)) from None
    port = settings.notifier_metrics_port if metrics_port is None else metrics_port
    server = thread = None
    if port >= 0:
        bind = metrics_host or settings.metrics_host
        try:
            server, thread = serve(
                metrics, bind, port, job="notifier", state_dir=settings.state_dir,
                prefix=settings.topic_prefix,
            )  # fmt: skip
            out.print(f"notifier metrics on http://{bind}:{server.server_port}/metrics")
        except PortInUse as exc:
            # Delivering alerts matters more than their metrics: run on, say so in one line
            # (and Prometheus's ShockwatchTargetDown fires for the notifier job).
            log.error("%s; the notifier runs on without metrics", exc)
        except OSError as exc:
            log.error("cannot serve metrics on %s:%d (%s); running without", bind, port, exc)
    out.print(f"notifier: {notifier.topic} -> Slack ({notifier.slack.mode})")
    try:
        _run_until_signal(notifier.run)
    except KafkaUnavailable as exc:
        raise fail(str(exc)) from None
    except KafkaError as exc:
        raise fail(f"Kafka error: {exc.__class__.__name__}: {exc}") from None
    finally:
        if server is not None:
            stop_server(server, thread)
    out.print(f"notifier stopped: {notifier.delivered} delivered, {notifier.skipped} duplicates")
