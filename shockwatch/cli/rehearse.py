"""What ``shockwatch rehearse`` and ``backtest --rehearse`` print (``shockwatch.runs.rehearse``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from common.cli import console, days_bar, fail, minutes_bar, out, settings_from_env
from shockwatch.runs.rehearse import (
    HEADERS,
    RehearsedDay,
    dead_detail,
    delay_cell,
    fired_cell,
    rehearse_all,
    rehearse_day,
    table_rows,
    text_table,
)


def _errors() -> tuple[type[Exception], ...]:
    from common.kafka import KafkaUnavailable
    from shockwatch.runs.runner import RunError
    from streams.scenario import ScenarioError

    return (ScenarioError, KafkaUnavailable, RunError)


def rehearse_one(scenario_dir: Path, *, kafka: bool, as_json: bool, seed: int, worst: bool) -> None:
    from streams.scenario import read_scenario

    settings = settings_from_env()
    try:
        scenario = read_scenario(scenario_dir)
        with minutes_bar(as_json) as bar:
            task = bar.add_task(f"{scenario.name}: rehearsal, event-time minutes", total=None)
            day = rehearse_day(
                scenario,
                settings,
                kafka=kafka,
                seed=seed,
                worst=worst,
                plain_kafka=False,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except _errors() as exc:
        raise fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(day.to_json()) + "\n")
    else:
        print_day(day)
    if not day.ok:
        raise typer.Exit(1)


def print_day(day: RehearsedDay) -> None:
    from shockwatch.runs.backtest import utc_hm

    for a in day.alerts:
        out.print(
            f"[bold]{a.state.upper():8}[/] {a.severity:8} {a.regime:9} {utc_hm(a.ts_ms)} UTC  "
            f"{a.alert_id}"
        )
    table = Table(title="inputs: the delay the model applied", box=box.SIMPLE)
    for col in ("input", "source", "model s (worst)", "records", "applied s", "DLQ"):
        table.add_column(col, no_wrap=True)
    for d in sorted(day.delays.values(), key=lambda d: (d.feed, d.item)):
        applied = "-" if d.lag_min_s is None else f"{d.lag_min_s:g}..{d.lag_max_s:g}"
        table.add_row(d.item, f"{d.feed}: {d.source}", f"{d.delay_s:g} ({d.max_delay_s:g})",
                      str(d.records), applied, str(day.dead_of(d.item)))  # fmt: skip
    out.print(table)
    out.print(f"dead letters: {dead_detail(day.dead)}")
    slow = day.slowest
    out.print(
        f"{day.name}: rehearsed {fired_cell(day.rehearsed)} ({day.rehearsed.mode}); plain "
        f"{fired_cell(day.plain)}; first-fire delay {delay_cell(day.delay_s)}; slowest needed "
        f"input {f'{slow[0]} ({slow[1]:.0f} s)' if slow else '-'}; {day.writes} writes "
        f"({day.heartbeats} heartbeats)"
    )
    for p in day.problems:
        console.print(f"[red]MISMATCH[/] {p}")


def backtest_rehearse(
    dirs: list[Path] | None, *, kafka: bool, as_json: bool, wide: bool, seed: int, worst: bool
) -> None:
    from shockwatch.runs.backtest import DEFAULT_DIRS, discover

    settings = settings_from_env()
    try:
        days, _ = discover(dirs or DEFAULT_DIRS)
        if not days:
            raise fail("no scenario with an [expect] found")
        with days_bar() as bar:
            task = bar.add_task("rehearsal (days, plain + rehearsed)", total=len(days))
            results = rehearse_all(
                days,
                settings,
                kafka=kafka,
                seed=seed,
                worst=worst,
                progress=lambda d: bar.update(task, advance=1, description=d.name),
            )
    except _errors() as exc:
        raise fail(str(exc)) from None
    if as_json:
        for d in results:
            sys.stdout.write(json.dumps(d.to_json()) + "\n")
    else:
        print_table(results, wide)
    if any(not d.ok for d in results):
        raise typer.Exit(1)


def print_table(days: list[RehearsedDay], wide: bool) -> None:
    mode = days[0].rehearsed.mode if days else "offline"
    headers = HEADERS + (["dead letters", "why"] if wide else [])
    out.print(f"backtest --rehearse ({mode}): plain vs live arrival order", highlight=False)
    out.print(
        text_table(headers, table_rows(days, wide)), markup=False, highlight=False, soft_wrap=True
    )
    out.print(
        "delay: rehearsed - plain first fire; slowest: the slowest input the plain deciding tick "
        "needed, with its worst model delay",
        highlight=False,
    )
    bad = [d for d in days if not d.ok]
    late = [d.delay_s for d in days if d.delay_s is not None]
    out.print(
        f"{len(days)} days: {len(days) - len(bad)} as plain under live timing, {len(bad)} not; "
        f"first-fire delay max {delay_cell(max(late, default=None))}; dead letters "
        f"{sum(sum(d.dead.values()) for d in days)}"
    )
    for d in bad:
        out.print(f"[red]{d.name}[/]: {'; '.join(d.problems)} ({dead_detail(d.dead)})")
