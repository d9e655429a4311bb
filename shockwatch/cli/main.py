"""``shockwatch``: every job of the monitor, one command each (the Makefile calls these)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from common.cli import (
    console,
    days_bar,
    fail,
    minutes_bar,
    out,
    print_table,
    settings_from_env,
)
from common.log import setup_logging
from common.settings import Settings
from shockwatch.cli.cluster import kafka_app, topics_app
from shockwatch.cli.runs import print_alerts, replay_cmd, report_cmd

app = typer.Typer(
    name="shockwatch",
    help="Monitor for 'everything sells' liquidity shocks (Kafka + faust + Prometheus + Slack).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")


def _register_subapps() -> None:
    from alerts.cli import alerts_app
    from producers.cli import funding_app, produce_app
    from shockwatch.cli.sample import test_slack
    from shockwatch.cli.status import status, watch

    # test-slack runs the detector to make its sample: a composition, so the roof adds it
    alerts_app.command("test-slack")(test_slack)
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(produce_app, name="produce")
    app.add_typer(funding_app, name="funding")
    app.command("status")(status)
    app.command("watch")(watch)


_register_subapps()

log = logging.getLogger("shockwatch")


@app.callback()
def _main(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_json: Annotated[bool, typer.Option(help="Log one JSON object per line.")] = False,
) -> None:
    setup_logging(log_level.upper(), json_lines=log_json)


# -- scenarios ----------------------------------------------------------------------------------


@app.command("load")
def load(
    scenario_dir: Annotated[Path, typer.Argument(help="Scenario folder (scenario.toml + jsonl).")],
    topic_prefix: Annotated[
        str | None,
        typer.Option(help="Topic name prefix (default: a run prefix, scn-<stamp>-load-<name>.)."),
    ] = None,
    create: Annotated[bool, typer.Option(help="Create the topics first.")] = True,
    force: Annotated[
        bool,
        typer.Option(help="Load into the live topics (a live worker treats the day as now)."),
    ] = False,
) -> None:
    """Validate a scenario and produce it into Kafka (message timestamp = ts_ms), under a run
    prefix of its own unless told otherwise: a recorded day in the live topics would page.

    Rejected lines go to the topic's dead-letter topic with the reason. Exits non-zero only
    when nothing valid was loaded.
    """
    from rich.progress import Progress

    from common.kafka import KafkaUnavailable
    from shockwatch.runs.publish import Publisher
    from streams.scenario import ScenarioError, count_lines, load_scenario, read_scenario
    from streams.topics import TopicNames, create_topics, is_live_prefix

    settings = settings_from_env()
    try:
        scenario = read_scenario(scenario_dir)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    prefix = topic_prefix if topic_prefix is not None else load_prefix(scenario.name)
    live = is_live_prefix(settings, prefix)
    if live and not force:
        raise fail(
            f"refusing to load {scenario.name} into the live topics (prefix {prefix!r}): the live "
            "worker would take the recorded day for now and page the desk. Leave out "
            "--topic-prefix to load it under a run prefix of its own, or add --force."
        )
    if live:
        console.print(
            f"[yellow]warning:[/] --force: loading {scenario.name} into the live topics "
            f"(prefix {prefix!r}); a live worker will run detection over it and may alert."
        )
    try:
        if create:
            # A prefix of its own holds a past day: no time retention (the broker deletes
            # events older than retention_days, by event time, within minutes). The live
            # topics keep theirs.
            create_topics(settings, prefix, keep_all=not live)
        age_days = (time.time() * 1000 - scenario.start_ms) / 86_400_000
        if live and age_days > settings.retention_days:
            console.print(
                f"[yellow]warning:[/] {scenario.name} is {age_days:.0f} days old, beyond the "
                f"live topics' retention ({settings.retention_days} days by event time): the "
                "broker deletes it within minutes. Load it under a run prefix to keep it."
            )
        total = count_lines(scenario)
        with (
            Publisher(settings, client_id="shockwatch-load") as pub,
            Progress(console=console, transient=True) as bar,
        ):
            task = bar.add_task(f"loading {scenario.name}", total=total)
            results = load_scenario(
                scenario,
                pub,
                TopicNames(prefix),
                lambda n: bar.advance(task, n),
                end_pad_ms=settings.detection.alerts.allowed_lateness_s * 1000,
            )
    except (ScenarioError, KafkaUnavailable) as exc:
        raise fail(str(exc)) from None
    table = Table("feed", "topic", "loaded", "rejected", "reasons")
    for r in results.values():
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(r.reasons.items())) or "-"
        table.add_row(r.feed, r.topic, str(r.valid), str(r.rejected), reasons)
    out.print(table)
    if sum(r.valid for r in results.values()) == 0:
        raise fail("nothing valid was loaded")
    if not live:
        out.print(f"loaded under prefix {prefix}")
        out.print(f"run the worker on it: {worker_command(prefix)}")
        out.print(f"remove it: shockwatch topics prune --prefix {prefix}")


def load_prefix(scenario_name: str) -> str:
    """The run prefix ``load`` writes to by default: ``scn-<stamp>-load-<name>.``."""
    from streams.topics import run_prefix

    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in scenario_name)
    return run_prefix("scn", f"load-{name}")


def worker_command(prefix: str) -> str:
    """A worker over a loaded prefix: a group (app id) of its own, no metrics port to clash
    with a live worker's, and idle partitions off as every run of recorded data has them
    (docs/architecture.md, "Idle partitions")."""
    app_id = f"shockwatch-{prefix.rstrip('.')}"
    return (
        f"SHOCKWATCH_IDLE_PARTITION_S=0 shockwatch worker --prefix {prefix} --app-id {app_id} "
        "--no-metrics"
    )


@app.command("consume")
def consume(
    topic: Annotated[str, typer.Argument(help="Topic to read (full name).")],
    limit: Annotated[int, typer.Option(help="Stop after this many records.")] = 10,
    timeout_s: Annotated[float, typer.Option(help="Stop when idle this long.")] = 5.0,
) -> None:
    """Print records of a topic from the beginning (one JSON per line; a quick look)."""
    from kafka import KafkaConsumer

    from common.kafka import kafka_python_config, partitions_for, require_reachable

    settings = settings_from_env()
    servers = require_reachable(settings)  # KafkaUnavailable: one line from main()
    if not partitions_for(settings, [topic]).get(topic):
        raise fail(
            f"no topic {topic!r} on the cluster at {servers}: `shockwatch topics list --all` "
            "shows the names there"
        )
    consumer = KafkaConsumer(
        topic,
        **kafka_python_config(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    n = 0
    try:
        for msg in consumer:
            sys.stdout.write(msg.value.decode(errors="replace") + "\n")
            n += 1
            if n >= limit:
                break
    finally:
        consumer.close()
    console.print(f"{n} record(s) from {topic}")


# -- worker and scenarios -------------------------------------------------------------------


def _metrics(settings: Settings, port: int, prefix: str | None) -> object | None:
    """The Prometheus exporter served by the worker (None when alerts.metrics is absent); a
    port in use is one error line naming it and its setting (``common.ports``)."""
    try:
        from alerts.exporter import serve
        from alerts.metrics import Metrics
    except ImportError:  # pragma: no cover - the alerts package is part of the project
        log.warning("alerts.metrics not available: the worker exports no metrics")
        return None
    from common.ports import PortInUse

    metrics = Metrics()
    host = settings.metrics_host
    live = settings.topic_prefix if prefix is None else prefix
    try:
        server, _ = serve(metrics, host, port, state_dir=settings.state_dir, prefix=live)
    except PortInUse as exc:
        raise fail(str(exc)) from None
    console.print(f"worker metrics on http://{host}:{server.server_port}/metrics")
    return metrics


@app.command("worker")
def worker(
    app_id: Annotated[str | None, typer.Option(help="faust app id (consumer group).")] = None,
    prefix: Annotated[str | None, typer.Option(help="Topic name prefix.")] = None,
    metrics: Annotated[bool, typer.Option(help="Serve Prometheus metrics.")] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Metrics port (default: SHOCKWATCH_METRICS_PORT; 0: any free one)."),
    ] = None,
    scale_out: Annotated[
        bool | None,
        typer.Option(
            "--scale-out/--single",
            help="Share the input partitions with the app id's other workers (one of them "
            "merges); default: SHOCKWATCH_SCALE_OUT, else --single.",
        ),
    ] = None,
) -> None:
    """Run the detection worker (faust-hosted) until SIGINT/SIGTERM.

    --single (default): one worker does everything; a second one with the same app id stands
    by and takes over within ~10 s if the first dies. --scale-out: every worker of the app id
    validates its share of the input partitions and one of them merges (docs/architecture.md)."""
    from common.kafka import KafkaUnavailable
    from streams.app import create_app, run_worker
    from streams.topics import create_topics

    settings = settings_from_env()
    if scale_out is not None:
        settings = settings.model_copy(update={"scale_out": scale_out})
    # The port first: a port in use is refused before anything touches Kafka.
    port = settings.metrics_port if metrics_port is None else metrics_port
    sink = _metrics(settings, port, prefix) if metrics else None
    try:
        create_topics(settings, prefix)
    except KafkaUnavailable as exc:
        raise fail(str(exc)) from None
    faust_app = create_app(settings, app_id=app_id, prefix=prefix, metrics=sink)  # type: ignore[arg-type]
    run_worker(faust_app, loglevel=os.environ.get("SHOCKWATCH_WORKER_LOGLEVEL", "WARNING"))


scenario_app = typer.Typer(help="Run bundled or recorded scenarios through the real worker.")
app.add_typer(scenario_app, name="scenario")


def _run(
    scenario_dir: Path, quiet: bool, keep_signals: bool = False, keep: bool = False
) -> tuple[object, object]:
    from common.kafka import KafkaUnavailable
    from shockwatch.runs.runner import RunError, run_scenario
    from streams.scenario import ScenarioError, read_scenario

    settings = settings_from_env()
    try:
        scenario = read_scenario(scenario_dir)
        with minutes_bar(quiet) as bar:
            task = bar.add_task(f"{scenario.name}: event-time minutes", total=None)
            result = run_scenario(
                settings,
                scenario,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                keep_signals=keep_signals,
                keep_topics=keep,
            )
    except (ScenarioError, KafkaUnavailable, RunError) as exc:
        raise fail(str(exc)) from None
    return scenario, result


@scenario_app.command("run")
def scenario_run(
    scenario_dir: Annotated[Path, typer.Argument(help="Scenario folder.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per alert event.")
    ] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the run's topics (scn-<stamp>-<id>.*).")
    ] = False,
) -> None:
    """Load a scenario under a fresh prefix, run the real worker over it, print its alerts.
    The run's topics are deleted at the end unless --keep."""
    _, result = _run(scenario_dir, quiet=as_json, keep=keep)
    print_alerts(result, as_json)


@scenario_app.command("check")
def scenario_check(
    scenario_dir: Annotated[Path, typer.Argument(help="Scenario folder.")],
) -> None:
    """Run a scenario and compare with the \\[expect] of its scenario.toml (exit 1 on mismatch)."""
    from shockwatch.runs.runner import check_expectations

    scenario, result = _run(scenario_dir, quiet=False)
    print_alerts(result, as_json=False)
    problems = check_expectations(result, scenario)  # type: ignore[arg-type]
    if problems:
        for p in problems:
            console.print(f"[red]MISMATCH[/] {p}")
        raise typer.Exit(1)
    console.print("[green]OK[/] outcome matches scenario.toml")


@app.command("backtest")
def backtest_cmd(
    dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Scenario folders, or folders of them (default: data/calendar and data/scenarios)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per day, then a summary line.")
    ] = False,
    kafka: Annotated[
        bool,
        typer.Option(
            "--kafka", help="Run each day through the real worker over the broker (slower)."
        ),
    ] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="The table as Markdown (as in docs/detection.md).")
    ] = False,
    rehearse: Annotated[
        bool,
        typer.Option(
            "--rehearse",
            help="Also run each day in live arrival order (the timing model's delays, cadence, "
            "disorder and the producers' heartbeats) and set it against the plain run: same "
            "fired level and regime, first fire later by at most the slowest needed input's "
            "worst delay (exit 1 otherwise).",
        ),
    ] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="Every column (kind, peak points), each cell on one line; with --rehearse: "
            "full day names, dead letters, problems.",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option(help="--rehearse: seed of the liquidation venues' disorder.")
    ] = 22,
    worst: Annotated[
        bool,
        typer.Option("--worst", help="--rehearse: price and funding sources at their worst delay."),
    ] = False,
) -> None:
    """Run every calendar day and bundled scenario through detection and print the confusion
    table: expected vs fired, peak score and why. Exit 1 on any day not as expected.

    With --rehearse: each day plain and in live arrival order, side by side."""
    if rehearse:
        from shockwatch.cli.rehearse import backtest_rehearse

        backtest_rehearse(dirs, kafka=kafka, as_json=as_json, wide=wide, seed=seed, worst=worst)
        return

    from common.kafka import KafkaUnavailable
    from shockwatch.runs.backtest import DEFAULT_DIRS, backtest, discover
    from shockwatch.runs.runner import RunError
    from streams.scenario import ScenarioError

    settings = settings_from_env()
    try:
        days, samples = discover(dirs or DEFAULT_DIRS)
        if not days:
            raise fail("no scenario with an [expect] found")
        with days_bar() as bar:
            task = bar.add_task("backtest (days)", total=len(days))
            outcomes, summary = backtest(
                days,
                settings,
                kafka=kafka,
                progress=lambda o: bar.update(task, advance=1, description=o.name),
            )
    except (ScenarioError, KafkaUnavailable, RunError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        for o in outcomes:
            sys.stdout.write(json.dumps(o.to_json()) + "\n")
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
    elif as_markdown:
        from shockwatch.runs.backtest import markdown

        sys.stdout.write(markdown(outcomes, summary) + "\n")
    else:
        _print_backtest(outcomes, summary, samples, wide)
    if summary.wrong:
        raise typer.Exit(1)


def _print_backtest(outcomes: list, summary: object, samples: list, wide: bool) -> None:
    from shockwatch.runs.backtest import observed_note, table

    print_table(table(outcomes, wide), wide)
    out.print(summary.text())  # type: ignore[attr-defined]
    note = observed_note(outcomes)
    if note:
        out.print(note)
    if samples:
        out.print(f"left out (no \\[expect]): {', '.join(p.name for p in samples)}")


@app.command("rehearse")
def rehearse_cmd(
    scenario_dir: Annotated[Path, typer.Argument(help="Scenario folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for the day.")] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="The worker's runtime in-process instead of the worker over Kafka."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the liquidation venues' disorder.")] = 22,
    worst: Annotated[
        bool,
        typer.Option("--worst", help="Every price and funding source at its worst delay."),
    ] = False,
) -> None:
    """Feed a recorded day to the real worker in live arrival order and print what it did.

    The writes follow the timing model (streams/timing.py): each price bar at the price
    producer's first poll after its end plus its source's delay, liquidations through their
    venue's disorder and the producer's reorder hold, funding at the first poll after its
    publication, and each producer's heartbeats as its EventClock sends them. Prints the
    alerts with their event times, the dead letters by reason and input, the delay the model
    applied to each input, and the first fire against the plain (event-order) run."""
    from shockwatch.cli.rehearse import rehearse_one

    rehearse_one(scenario_dir, kafka=not offline, as_json=as_json, seed=seed, worst=worst)


# -- replay and reports: shockwatch.cli.runs ----------------------------------------------------
app.command("replay")(replay_cmd)
app.command("report")(report_cmd)


def main() -> None:
    """The entry point: what a command did not catch itself, from the causes an operator can
    act on (an unreachable or refusing cluster, a bad scenario folder), ends in one line, not
    a traceback."""
    from kafka.errors import KafkaError

    from common.kafka import KafkaUnavailable
    from streams.scenario import ScenarioError

    try:
        app()
    except (KafkaUnavailable, ScenarioError) as exc:
        raise SystemExit(fail(str(exc)).exit_code) from None
    except KafkaError as exc:
        raise SystemExit(fail(f"Kafka: {type(exc).__name__}: {exc}").exit_code) from None


if __name__ == "__main__":
    main()
