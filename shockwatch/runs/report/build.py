"""Entry points: the charts of a run, ``build_report`` (a run folder to ``report.html`` and
``report.md``) and ``report_command`` (what ``shockwatch report`` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shockwatch.runs.report.analysis import episodes, liquidation_summary
from shockwatch.runs.report.charts import chart_core_z, chart_prices, chart_score, chart_timeline
from shockwatch.runs.report.charts_inputs import chart_funding, chart_liquidations
from shockwatch.runs.report.figure import RC, Chart
from shockwatch.runs.report.render import render_html, render_markdown
from shockwatch.runs.report.run import RunData, load_run
from shockwatch.runs.report.style import Clock

if TYPE_CHECKING:
    from common.settings import DetectionSettings, Settings


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path


def build_charts(data: RunData, cfg: DetectionSettings) -> list[Chart]:
    import matplotlib as mpl

    clock = Clock(data.start_ms, data.end_ms)
    eps = episodes(data.alerts)
    liq = liquidation_summary(data)
    with mpl.rc_context(RC):
        return [
            chart_score(data, cfg, clock, eps),
            chart_timeline(data, clock, eps),
            chart_prices(data, clock, eps),
            chart_core_z(data, cfg, clock),
            chart_liquidations(data, clock, liq, eps),
            chart_funding(data, cfg, clock),
        ]


def recorded_detection(meta: dict[str, Any]) -> DetectionSettings | None:
    """The detection settings ``run.json`` recorded for the run (None for an older run)."""
    from common.settings import DetectionSettings

    recorded = meta.get("detection")
    return DetectionSettings.model_validate(recorded) if recorded else None


def build_report(
    run_dir: Path,
    out_dir: Path | None = None,
    detection: DetectionSettings | None = None,
    *,
    fallback: DetectionSettings | None = None,
) -> ReportPaths:
    """Write ``report.html`` and ``report.md`` for a run folder (into it, or ``out_dir``),
    drawn with ``detection``, else the settings the run recorded, else ``fallback`` (the app's,
    read once at start-up by the command; nothing here reads the environment)."""
    data = load_run(Path(run_dir))
    if detection is None:
        detection = recorded_detection(data.meta)
    if detection is None:
        detection = fallback
    if detection is None:
        raise ValueError(f"{run_dir}: run.json records no detection settings and none given")
    charts = build_charts(data, detection)
    target = Path(out_dir) if out_dir is not None else data.run_dir
    target.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(target / "report.html", target / "report.md")
    paths.html.write_text(render_html(data, detection, charts), encoding="utf-8")
    paths.markdown.write_text(render_markdown(data, detection), encoding="utf-8")
    return paths


def report_command(run_dir: Path, settings: Settings) -> ReportPaths:
    """What ``shockwatch report`` and ``replay --report`` run: the report of one run folder
    with the detection settings the run recorded in run.json (a report rebuilt later draws the
    thresholds the run was detected with), else the app's ``settings`` (read at start-up by the
    command)."""
    return build_report(Path(run_dir), fallback=settings.detection)
