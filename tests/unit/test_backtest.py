"""`shockwatch backtest`: the calendar of real days as an automated test, and its parts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from common.settings import PROJECT_ROOT, Settings
from shockwatch.cli.main import app
from shockwatch.runs.backtest import DEFAULT_DIRS, backtest, discover, expected_text
from streams.scenario import ScenarioError, check_outcome, read_scenario, severity_bounds

CALENDAR = PROJECT_ROOT / "data" / "calendar"
KINDS = {
    "broad-tight-funding",
    "broad-calm-funding",
    "crypto-only",
    "crash-gold-bid",
    "funding-only",
    "banking-scare",
    "calm",
}


def fired(*severities: str, regime: str = "mixed") -> list[SimpleNamespace]:
    return [SimpleNamespace(state="firing", severity=s, regime=regime, ts_ms=0) for s in severities]


def test_the_calendar_covers_every_kind_with_several_days() -> None:
    days = [read_scenario(p) for p in sorted(CALENDAR.iterdir()) if p.is_dir()]
    assert len(days) >= 16
    by_kind: dict[str, int] = {}
    for day in days:
        assert day.kind in KINDS, day.name
        assert day.expect, day.name
        by_kind[day.kind] = by_kind.get(day.kind, 0) + 1
        readme = (day.path / "README.md").read_text()
        assert "## Sourced figures" in readme and "## Synthesized, and how" in readme
    assert set(by_kind) == KINDS
    assert all(n >= 2 for n in by_kind.values()), by_kind
    assert by_kind["calm"] >= 4
    years = {d.name[:4] for d in days if d.kind == "calm"}
    assert {"2019", "2021", "2023", "2025"} <= years


def test_every_calendar_day_and_bundled_scenario_is_as_expected() -> None:
    folders, samples = discover(DEFAULT_DIRS)
    assert [p.name for p in samples] == ["sample-tiny"]
    outcomes, summary = backtest(folders, Settings())
    wrong = [f"{o.name}: {o.reason}" for o in outcomes if not o.ok]
    assert wrong == []
    assert summary.right == len(folders) >= 20
    assert summary.false_pages == summary.missed_pages == 0
    by_name = {o.name: o for o in outcomes}
    # the shapes that matter, beyond "as expected"
    assert by_name["2020-03-12-covid-dash-for-cash"].fired == "critical"
    assert by_name["2025-11-04-everything-sells"].regime == "plumbing"
    assert by_name["2022-06-13-cpi-celsius"].reason.startswith("broad:")
    for o in outcomes:
        if o.kind in ("crash-gold-bid", "banking-scare", "crypto-only"):
            assert o.fired != "critical", o.name


@pytest.mark.parametrize(
    ("expect", "severities", "problems"),
    [
        ({"max_severity": "warning"}, ("warning",), 0),
        ({"max_severity": "warning"}, (), 1),  # exact: none is a miss
        ({"max_severity": "warning", "allow_lower": True}, (), 0),
        ({"max_severity": "warning", "allow_lower": True}, ("warning", "critical"), 1),
        ({"min_severity": "warning", "max_severity": "critical"}, ("warning",), 0),
        ({"min_severity": "warning", "max_severity": "critical"}, ("critical",), 0),
        ({"min_severity": "warning", "max_severity": "critical"}, (), 1),
        ({"max_severity": "warning", "regimes": ["plumbing"]}, ("warning",), 1),
    ],
)
def test_check_outcome_bounds(expect: dict, severities: tuple, problems: int) -> None:
    assert len(check_outcome(expect, fired(*severities), None)) == problems


def test_expect_rejects_what_it_cannot_mean() -> None:
    with pytest.raises(ScenarioError, match="above"):
        severity_bounds({"min_severity": "critical", "max_severity": "warning"})
    with pytest.raises(ScenarioError, match="unknown keys"):
        check_outcome({"max_severity": "none", "min_severity_": "x"}, [], None)
    assert expected_text({"min_severity": "warning", "max_severity": "critical"}) == (
        "warning..critical"
    )


def test_cli_json_lines_and_exit_code_on_a_mismatch(tmp_path: Path) -> None:
    runner = CliRunner()
    day = CALENDAR / "2019-10-17-calm"
    ok = runner.invoke(app, ["backtest", str(day), "--json"])
    assert ok.exit_code == 0, ok.output
    lines = [json.loads(x) for x in ok.stdout.splitlines()]
    assert lines[0]["name"] == "2019-10-17-calm" and lines[0]["ok"] is True
    assert lines[-1] == {"summary": True, "days": 1, "right": 1, "wrong": 0,
                         "false_pages": 0, "missed_pages": 0}  # fmt: skip
    # the same day expected to page critical: a missed page, exit 1
    wrong = tmp_path / "calm-expected-critical"
    shutil.copytree(day, wrong)
    toml = wrong / "scenario.toml"
    toml.write_text(toml.read_text().replace('max_severity = "none"', 'max_severity = "critical"'))
    bad = runner.invoke(app, ["backtest", str(wrong), "--json"])
    assert bad.exit_code == 1
    summary = json.loads(bad.stdout.splitlines()[-1])
    assert summary["missed_pages"] == 1 and summary["wrong"] == 1
