"""`shockwatch status` (once, or `--json`) and `shockwatch watch` (refreshed in place)."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.live import Live

from common.cli import out, settings_from_env

MIN_INTERVAL_S = 1.0
# `status` reads the counters twice this far apart, so the rates are now, not since start.
RATE_SAMPLE_S = 1.0

NoKafka = Annotated[
    bool, typer.Option("--no-kafka", help="Metrics endpoints only: no lag, no alert time.")
]


def status(
    as_json: Annotated[bool, typer.Option("--json", help="The view as one JSON object.")] = False,
    no_kafka: NoKafka = False,
    sample_s: Annotated[
        float, typer.Option("--sample", help="Seconds between two reads for rates (0: none).")
    ] = RATE_SAMPLE_S,
) -> None:
    """Each feed and venue (connected, last event, rate), the worker (lag, watermark), the score
    with its components, breadth and regime, the alert and since when; from the processes'
    /metrics and Kafka. An endpoint that cannot be read shows as down (reason)."""
    from shockwatch.local.status_io import Watcher
    from shockwatch.local.status_render import render

    watcher = Watcher(settings_from_env(), kafka=not no_kafka)
    if sample_s > 0:
        watcher.previous = watcher.scrapes()
        time.sleep(sample_s)
    view = watcher.view()
    if as_json:
        out.print_json(json.dumps(view.to_json()))
        return
    out.print(render(view))


def watch(
    interval_s: Annotated[
        float, typer.Option("--interval", help="Seconds between refreshes (at least 1).")
    ] = 2.0,
    no_kafka: NoKafka = False,
) -> None:
    """`status`, refreshed in place every --interval seconds until Ctrl-C."""
    from shockwatch.local.status_io import Watcher
    from shockwatch.local.status_render import render

    watcher = Watcher(settings_from_env(), kafka=not no_kafka)
    interval_s = max(interval_s, MIN_INTERVAL_S)
    try:
        with Live(render(watcher.view()), console=out, auto_refresh=False) as live:
            while True:
                time.sleep(interval_s)
                live.update(render(watcher.view()), refresh=True)
    except KeyboardInterrupt:
        pass


__all__ = ["status", "watch"]
