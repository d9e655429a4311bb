"""The commands over recorded runs that ``shockwatch.cli.main`` mounts: ``replay`` (a time range
of the input topics, in place) and ``report`` (the post-mortem of a run folder), and how a run's
alerts are printed (``scenario run`` and ``replay`` alike)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from common.cli import console, fail, out, settings_from_env
from common.settings import Settings


def _fmt_opt(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.2f}"


def print_alerts(result: object, as_json: bool) -> None:
    from shockwatch.runs.runner import RunResult

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
    from shockwatch.runs.replay import ReplayError, parse_duration, parse_speed, parse_when, replay
    from shockwatch.runs.runner import RunError
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
    print_alerts(result.run, as_json=False)
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
    from shockwatch.runs.replay import ReplayResult
    from shockwatch.runs.replay_notify import ReplayLabel, send_replay_alerts

    assert isinstance(result, ReplayResult)
    label = ReplayLabel(result.run_id, result.t1, result.t2)
    try:
        sent = send_replay_alerts(settings, result.run.alerts, label)
    except (SlackNotConfigured, DeliveryFailed) as exc:
        raise fail(f"replay --notify: {exc}") from None
    out.print(f"sent {sent} Slack message(s) for the replay's alerts, each marked as a replay")


def _write_report(run_dir: Path, settings: Settings) -> None:
    """The run's report, drawn with the detection settings its run.json recorded."""
    from shockwatch.runs.report import report_command

    paths = report_command(run_dir, settings)
    out.print(f"report: {paths.html}\nsummary: {paths.markdown}", soft_wrap=True)


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
    _write_report(folder, settings)
