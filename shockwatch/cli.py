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
from shockwatch.cluster_cli import kafka_app, topics_app

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
    from shockwatch.sample import test_slack
    from shockwatch.status_cli import status, watch

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
    from shockwatch.publish import Publisher
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
    from shockwatch.runner import RunError, run_scenario
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


def _fmt_opt(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.2f}"


def _print_alerts(result: object, as_json: bool) -> None:
    from shockwatch.runner import RunResult

    assert isinstance(result, RunResult)
    for alert in result.alerts:
        if as_json:
            sys.stdout.write(alert.encode().decode() + "\n")
        else:
            out.print(alert.line(), markup=False, highlight=False, soft_wrap=True)
    firing = [a for a in result.alerts if a.state == "firing"]
    worst = max((a.severity for a in firing), key=lambda s: s == "critical", default="none")
    console.print(
        f"{result.scenario}: {len(result.alerts)} alert event(s), highest severity {worst}, "
        f"{result.signals} signals, max score {result.max_score:.1f}, "
        f"max funding stress {_fmt_opt(result.max_funding_stress)}, "
        f"{result.elapsed_s:.1f} s (topics prefix {result.prefix})"
    )


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
    _print_alerts(result, as_json)


@scenario_app.command("check")
def scenario_check(
    scenario_dir: Annotated[Path, typer.Argument(help="Scenario folder.")],
) -> None:
    """Run a scenario and compare with the \\[expect] of its scenario.toml (exit 1 on mismatch)."""
    from shockwatch.runner import check_expectations

    scenario, result = _run(scenario_dir, quiet=False)
    _print_alerts(result, as_json=False)
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
        from shockwatch.rehearse_cli import backtest_rehearse

        backtest_rehearse(dirs, kafka=kafka, as_json=as_json, wide=wide, seed=seed, worst=worst)
        return

    from common.kafka import KafkaUnavailable
    from shockwatch.backtest import DEFAULT_DIRS, backtest, discover
    from shockwatch.runner import RunError
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
        from shockwatch.backtest import markdown

        sys.stdout.write(markdown(outcomes, summary) + "\n")
    else:
        _print_backtest(outcomes, summary, samples, wide)
    if summary.wrong:
        raise typer.Exit(1)


def _print_backtest(outcomes: list, summary: object, samples: list, wide: bool) -> None:
    from shockwatch.backtest import observed_note, table

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
    from shockwatch.rehearse_cli import rehearse_one

    rehearse_one(scenario_dir, kafka=not offline, as_json=as_json, seed=seed, worst=worst)


# -- replay and reports -----------------------------------------------------------------------


@app.command("replay")
def replay_cmd(
    from_: Annotated[
        str, typer.Option("--from", help="Start: ISO-8601 with zone, a date, '2h ago'.")
    ],
    to: Annotated[str, typer.Option("--to", help="End (inclusive), same forms as --from.")],
    speed: Annotated[str, typer.Option(help="max, or a multiple of real time: 1x, 60x.")] = "max",
    topics: Annotated[
        str, typer.Option(help="Input feeds to replay: prices,liquidations,funding.")
    ] = "prices,liquidations,funding",
    run_id: Annotated[
        str | None, typer.Option(help="Name of the run (default: time + id).")
    ] = None,
    source_prefix: Annotated[
        str | None, typer.Option(help="Topic prefix of the topics to replay.")
    ] = None,
    report: Annotated[bool, typer.Option(help="Write the HTML/Markdown report after.")] = False,
    notify: Annotated[
        bool,
        typer.Option(
            help="Also send the replay's alert transitions to the configured Slack, once each, "
            "every message marked REPLAY with the run and its range.",
        ),
    ] = False,
    save_inputs: Annotated[
        bool,
        typer.Option(
            "--save-inputs",
            help="Also export the range as a scenario folder (<run>/inputs) for sharing; "
            "the report then shows every liquidation print.",
        ),
    ] = False,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the run's output topics (replay-<run-id>.*)."),
    ] = False,
    warmup: Annotated[
        str | None,
        typer.Option(
            help="Input read before --from to build the detector's state, not emitted, when no "
            "checkpoint serves: 7d, 36h, 0 (cold). Default SHOCKWATCH_REPLAY_WARMUP_S (7 days).",
        ),
    ] = None,
    checkpoint: Annotated[
        bool,
        typer.Option(help="Start from the live worker's nearest checkpoint at or before --from."),
    ] = True,
) -> None:
    """Replay a time range of the input topics into an isolated run, in place.

    The detector starts from its state as of --from, as live had it: restored from the nearest
    checkpoint on the state topic at or before --from, else warmed up on the input before
    --from (run, nothing emitted); it prints which. Its alert transitions from --from on are
    then the live run's (an episode already firing at --from carries on, not re-fired).

    The detector reads the input topics themselves from T1 to T2 with a group-less consumer:
    the live consumer group and its offsets are never touched, nothing is copied first, and
    the live Slack channel is only used with --notify. Signals and alerts go to the run folder
    (and to topics under replay-<run-id>., deleted at the end unless --keep).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from common.kafka import KafkaUnavailable
    from shockwatch.replay import ReplayError, parse_duration, parse_speed, parse_when, replay
    from shockwatch.runner import RunError
    from streams.scenario import FEEDS

    settings = settings_from_env()
    feeds = tuple(t.strip() for t in topics.split(",") if t.strip())
    unknown = [f for f in feeds if f not in FEEDS]
    if unknown:
        raise fail(f"unknown --topics {unknown}: choose from {', '.join(FEEDS)}")
    try:
        t1, t2, pace = parse_when(from_), parse_when(to), parse_speed(speed)
        warmup_s = parse_duration(warmup) if warmup is not None else None
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.speed} /s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            export = bar.add_task("save inputs (messages)", total=None, visible=save_inputs)
            ticks = bar.add_task("detect (event-time minutes)", total=None)
            result = replay(
                settings,
                t1,
                t2,
                speed=pace,
                feeds=feeds,
                run_id=run_id,
                source_prefix=source_prefix,
                save_inputs=save_inputs,
                keep_topics=keep,
                warmup_s=warmup_s,
                checkpoints=checkpoint,
                export_progress=lambda d, t: bar.update(export, completed=d, total=t),
                run_progress=lambda d, t: bar.update(ticks, completed=d, total=t),
            )
    except (ReplayError, KafkaUnavailable, RunError) as exc:
        raise fail(str(exc)) from None
    if result.start.cold:
        console.print(f"[bold yellow]warning:[/] {result.start.describe()}")
    else:
        out.print(result.start.describe(), soft_wrap=True)
    _print_alerts(result.run, as_json=False)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    out.print(
        f"replayed {result.events} events ({counts}) in {result.run.elapsed_s:.1f} s: "
        f"{result.events_per_s:,.0f} events/s, {result.realtime_multiple:,.0f}x real time"
    )
    out.print(f"run folder: {result.run_dir}", soft_wrap=True)
    if result.inputs is not None:
        out.print(
            f"inputs saved as a scenario folder: {result.inputs.scenario.path}", soft_wrap=True
        )
    if report:
        _write_report(result.run_dir, settings)
    if notify:
        _notify_replay(settings, result)


def _notify_replay(settings: Settings, result: object) -> None:
    """Send the replay's alert transitions to Slack once each, marked as a replay."""
    from alerts.slack import DeliveryFailed, SlackNotConfigured
    from shockwatch.replay import ReplayResult
    from shockwatch.replay_notify import ReplayLabel, send_replay_alerts

    assert isinstance(result, ReplayResult)
    label = ReplayLabel(result.run_id, result.t1, result.t2)
    try:
        sent = send_replay_alerts(settings, result.run.alerts, label)
    except (SlackNotConfigured, DeliveryFailed) as exc:
        raise fail(f"replay --notify: {exc}") from None
    out.print(f"sent {sent} Slack message(s) for the replay's alerts, each marked as a replay")


def _write_report(run_dir: Path, settings: Settings) -> None:
    from shockwatch.report import build_report

    paths = build_report(run_dir, fallback=settings.detection)
    out.print(f"report: {paths.html}\nsummary: {paths.markdown}", soft_wrap=True)


@app.command("report")
def report_cmd(
    run_id: Annotated[str | None, typer.Option(help="Run id under the reports folder.")] = None,
    run_dir: Annotated[Path | None, typer.Option(help="Or the run folder itself.")] = None,
) -> None:
    """Write the post-mortem report (self-contained HTML + Markdown) of a replay or scenario run."""
    settings = settings_from_env()
    folder = run_dir or (settings.reports_dir / run_id if run_id else None)
    if folder is None:
        raise fail("give --run-id (see the reports folder) or --run-dir")
    if not (folder / "run.json").exists():
        raise fail(f"{folder} is not a run folder (no run.json)")
    from shockwatch.report.build import report_command

    paths = report_command(folder, settings)  # the detection settings run.json recorded
    out.print(f"report: {paths.html}\nsummary: {paths.markdown}", soft_wrap=True)


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
