"""Post-mortem report of a run folder: one self-contained HTML page and a Markdown summary.

Input is a run folder written by ``shockwatch.runs.runner.save_run`` (``run.json``,
``signals.jsonl``, ``alerts.jsonl``) and, when it can still be found, the scenario folder
``run.json`` names under ``inputs`` (its liquidation prints and funding observations). Price
paths, class z-scores and the score come from the signals, i.e. exactly what the detector saw
each minute.

``report.html`` embeds its charts as base64 PNG ``data:`` URIs (matplotlib, Agg canvas, no
pyplot state) with inline CSS and nothing fetched when opened, so it can be mailed or attached
as is. ``report.md`` carries the same facts, narrative and every alert with its evidence.

The narrative is derived from the data; the thresholds it quotes (breadth z, warning/critical,
regime rules) come from the detection settings passed in (the run's recorded ones, else the
app's, which the command read at start-up).

The package, from the bottom up (each module imports only those above it):

- ``run``: the run model (``RunData``) and loading a run folder and its inputs;
- ``style``: time units, the palette, number and time formatting (``Clock``);
- ``analysis``: episodes, the verdict, what moved first, the liquidation summary;
- ``narrative``: the run told in sentences, section by section;
- ``figure``: the figure plumbing every chart shares (``Chart``, margins, PNG, time axis);
- ``charts``: the charts drawn from the signals (score, timeline, prices, core-class z);
- ``charts_inputs``: the charts drawn from the inputs (liquidation flow, funding panel);
- ``render``: the HTML page and the Markdown summary;
- ``build``: the entry points, ``build_report`` and ``report_command``.

Everything public is re-exported here, so ``from shockwatch.runs.report import build_report`` (and
any other name the single-module report had) keeps working.
"""

from shockwatch.runs.report.analysis import (
    FIRST_DROP_PCT,
    ClassMove,
    Episode,
    LiqSummary,
    Verdict,
    class_moves,
    core_members,
    core_return_pct,
    episodes,
    first_all_down,
    first_drops,
    liquidation_summary,
    reference_signal,
    start_prices,
    verdict,
)
from shockwatch.runs.report.build import ReportPaths, build_charts, build_report, report_command
from shockwatch.runs.report.charts import (
    LABEL_BOX,
    chart_core_z,
    chart_prices,
    chart_score,
    chart_timeline,
)
from shockwatch.runs.report.charts_inputs import (
    FUNDING_LOOKBACK_DAYS,
    chart_funding,
    chart_liquidations,
    sofr_iorb_bp,
)
from shockwatch.runs.report.figure import DPI, FIG_W, MARGIN_LEFT_IN, MARGIN_RIGHT_IN, RC, Chart
from shockwatch.runs.report.narrative import (
    STRESSED,
    Narrative,
    alert_rules,
    funding_lines,
    narrative,
    regime_reasons,
)
from shockwatch.runs.report.render import (
    CSS,
    Fact,
    evidence_rows,
    facts,
    render_html,
    render_markdown,
)
from shockwatch.runs.report.run import (
    FundingSeries,
    LiqPrints,
    RunData,
    funding_from_signals,
    load_run,
)
from shockwatch.runs.report.style import (
    CLASS_STYLE,
    COMPONENT_STYLE,
    CORE_STYLE,
    DAY_MS,
    FUNDING_LABELS,
    HOUR_MS,
    LINESTYLES,
    MIN_MS,
    REGIME_COLOR,
    SEVERITY_COLOR,
    SPARE_COLORS,
    STATE_COLOR,
    VENUE_STYLE,
    Clock,
    fmt_bn,
    fmt_num,
    fmt_usd,
    fmt_z,
    plural,
    venue_colors,
    venue_name,
)

__all__ = [
    "CLASS_STYLE",
    "COMPONENT_STYLE",
    "CORE_STYLE",
    "CSS",
    "DAY_MS",
    "DPI",
    "FIG_W",
    "FIRST_DROP_PCT",
    "FUNDING_LABELS",
    "FUNDING_LOOKBACK_DAYS",
    "HOUR_MS",
    "LABEL_BOX",
    "LINESTYLES",
    "MARGIN_LEFT_IN",
    "MARGIN_RIGHT_IN",
    "MIN_MS",
    "RC",
    "REGIME_COLOR",
    "SEVERITY_COLOR",
    "SPARE_COLORS",
    "STATE_COLOR",
    "STRESSED",
    "VENUE_STYLE",
    "Chart",
    "ClassMove",
    "Clock",
    "Episode",
    "Fact",
    "FundingSeries",
    "LiqPrints",
    "LiqSummary",
    "Narrative",
    "ReportPaths",
    "RunData",
    "Verdict",
    "alert_rules",
    "build_charts",
    "build_report",
    "chart_core_z",
    "chart_funding",
    "chart_liquidations",
    "chart_prices",
    "chart_score",
    "chart_timeline",
    "class_moves",
    "core_members",
    "core_return_pct",
    "episodes",
    "evidence_rows",
    "facts",
    "first_all_down",
    "first_drops",
    "fmt_bn",
    "fmt_num",
    "fmt_usd",
    "fmt_z",
    "funding_from_signals",
    "funding_lines",
    "liquidation_summary",
    "load_run",
    "narrative",
    "plural",
    "reference_signal",
    "regime_reasons",
    "render_html",
    "render_markdown",
    "report_command",
    "sofr_iorb_bp",
    "start_prices",
    "venue_colors",
    "venue_name",
    "verdict",
]
