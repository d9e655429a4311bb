"""Tables at normal terminal widths (issue #24): ``topics list`` keeps every topic name whole
at 80 and 100 columns; ``backtest`` keeps its "ok" column and the days' names at 100; both fit
the width they are given, and ``--wide`` (``print_table(wide=True)``) has every column with
each cell on one line."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from common import cli
from common.settings import Settings
from shockwatch.cli.cluster import topics_table
from shockwatch.runs.backtest import DEFAULT_DIRS, discover, run_day
from shockwatch.runs.backtest import table as backtest_table
from streams.topics import topic_specs


@pytest.fixture(scope="module")
def topic_rows() -> list[tuple[str, ...]]:
    """Each contract topic's row as ``topics list`` builds it (the broker's answers as a
    freshly created topic has them)."""
    return [
        (s.name, "3", "1", "1", s.key, s.value, "delete", "3024000000")
        for s in topic_specs(Settings(), "shockwatch.")
    ]


@pytest.fixture(scope="module")
def outcomes() -> list:
    days, _ = discover([DEFAULT_DIRS[1]])  # the bundled scenarios, offline: about a second
    return [run_day(day, Settings()) for day in days]


def render(renderable: object, width: int) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 100])
def test_topics_list_keeps_every_name_whole(topic_rows: list, width: int) -> None:
    lines = render(topics_table(topic_rows, width=width), width)
    assert max(len(line) for line in lines) <= width
    for name, *_ in topic_rows:
        assert any(f" {name} " in f" {line} " for line in lines), (name, lines)
    assert any(" shockwatch.shock.signals " in f" {line} " for line in lines)
    assert "…" not in "".join(lines)


def test_topics_list_wide_has_every_column_on_one_line(
    topic_rows: list, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.out.file = io.StringIO()  # print_table writes to the command's console
    try:
        cli.print_table(topics_table(topic_rows, wide=True), wide=True)
        text = cli.out.file.getvalue()
    finally:
        cli.out.file = None  # type: ignore[assignment]
    lines = text.splitlines()
    header = next(line for line in lines if " topic " in f" {line} ")
    for column in ("min ISR", "cleanup", "retention.ms", "key", "value"):
        assert column in header
    assert len(lines) == len(topic_rows) + 4  # blank, header, rule, a line per topic, blank
    assert any("3024000000" in line for line in lines)


def test_backtest_fits_100_columns_with_ok_and_day_whole(outcomes: list) -> None:
    lines = render(backtest_table(outcomes), 100)
    assert max(len(line) for line in lines) <= 100
    header = next(line for line in lines if " ok " in f" {line} ")
    assert header.split()[:2] == ["ok", "day"]
    for o in outcomes:
        row = next((line for line in lines if f" {o.name} " in f" {line} "), None)
        assert row is not None, (o.name, lines)
        assert row.split()[0] == ("yes" if o.ok else "NO")


def test_backtest_wide_adds_kind_and_peak(outcomes: list) -> None:
    narrow = render(backtest_table(outcomes), 300)
    wide = render(backtest_table(outcomes, wide=True), 300)
    header = next(line for line in narrow if " ok " in f" {line} ")
    assert "kind" not in header.split() and "peak m/l/f/c" not in "".join(narrow)
    assert "peak m/l/f/c" in "".join(wide)
    for o in outcomes:
        assert any(o.peak_text in line and o.kind in line for line in wide)
