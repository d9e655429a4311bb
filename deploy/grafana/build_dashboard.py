"""Build deploy/grafana/dashboards/shockwatch.json with Grafana's foundation SDK.

The panels are typed builders from ``grafana-foundation-sdk`` (pinned in pyproject's dev extras,
the Grafana 11.3 build: compose runs grafana/grafana:11.3.0). Every PromQL query of the dashboard
is a ``q(...)`` in ``PANELS`` (dashboard_panels.py, built with dashboard_style.py's helpers) or
an annotation in ``ANNOTATIONS``; the tests import this module (its directory on the path, as
when it runs as a script), check each metric name against what ``alerts.metrics`` exports, and
run each query against a real Prometheus scraping the real exporter. Run after editing:

    .venv/bin/python deploy/grafana/build_dashboard.py          # write the JSON
    .venv/bin/python deploy/grafana/build_dashboard.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dashboard_panels import PANELS
from dashboard_style import DS
from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "dashboards" / "shockwatch.json"
UID = "shockwatch"  # settings.dashboard_url points at /d/shockwatch/shockwatch
SCHEMA_VERSION = 39  # Grafana 11.3's (the pinned SDK's default, set here so a bump shows)
DATASOURCE_UID = "shockwatch-prometheus"  # provisioning/datasources/prometheus.yml
# Grafana's own alert list: it shows the Prometheus rules with their runbook_url annotations,
# which the code that starts Prometheus renders from SHOCKWATCH_RUNBOOK_BASE_URL. A dashboard
# is static JSON and cannot read that setting: a fixed docs URL here would be dead wherever the
# docs are served elsewhere.
RUNBOOKS = "/alerting/list?search=shockwatch"

# What the template variables stand for when a test runs the queries itself.
TEST_VALUES = {
    "$__rate_interval": "5m",
    "$__interval": "5m",
    "$asset_class": ".*",
    "$exchange": ".*",
    "$window": "day",
}


# -- annotations and variables ----------------------------------------------------------------


class _PromAnnotationQuery(model.AnnotationQuery):
    """The SDK's AnnotationQuery has no fields for a Prometheus annotation's title and tags."""

    prometheus: dict[str, object]

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), **self.prometheus}


class PromAnnotation(Builder[model.AnnotationQuery]):
    def __init__(self, name: str, expr: str, color: str, title: str, tags: str) -> None:
        self.model = _PromAnnotationQuery(
            name=name, datasource=DS, enable=True, hide=False, icon_color=color, expr=expr
        )
        self.model.prometheus = {
            "step": "60s",
            "titleFormat": title,
            "tagKeys": tags,
            "textFormat": "",
            "useValueForTime": False,
        }

    def build(self) -> model.AnnotationQuery:
        return self.model


ANNOTATIONS: list[Builder[model.AnnotationQuery]] = [
    dashboard.AnnotationQuery()
    .name("Annotations & Alerts")
    .built_in(1)
    .type("dashboard")
    .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
    .enable(True)
    .hide(True)
    .icon_color("rgba(0, 211, 255, 1)"),
    PromAnnotation(
        "Detector alerts",
        "sum by (state, severity) (increase(shockwatch_alert_transitions_total[$__interval])) > 0",
        color="red",
        title="{{severity}} {{state}}",
        tags="state,severity",
    ),
    PromAnnotation(
        "Prometheus alerts",
        'ALERTS{alertname=~"EverythingSells|ShockwatchWarning", alertstate="firing"}',
        color="orange",
        title="{{alertname}}",
        tags="alertname,severity",
    ),
]


def label_variable(name: str, label: str, query: str, ref_id: str) -> dashboard.QueryVariable:
    """A multi-value variable over a label's values, "All" matching everything."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DS)
        .query({"query": query, "refId": ref_id})
        .include_all(True)
        .multi(True)
        .all_value(".*")
        .current(model.VariableOption(text="All", value="$__all"))
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


VARIABLES: list[Builder[model.VariableModel]] = [
    dashboard.DatasourceVariable("datasource")
    .label("Prometheus")
    .type("prometheus")
    .current(model.VariableOption(text="Prometheus", value=DATASOURCE_UID))
    .hide(model.VariableHide.DONT_HIDE),
    label_variable(
        "asset_class", "Asset class", "label_values(shockwatch_asset_zscore, asset_class)", "V1"
    ),
    label_variable(
        "exchange", "Venue", "label_values(shockwatch_liquidations_usd_total, exchange)", "V2"
    ),
    dashboard.CustomVariable("window")
    .label("Return window")
    .values("15m,60m,day")
    .current(model.VariableOption(text="day", value="day"))
    .options(
        [model.VariableOption(text=w, value=w, selected=w == "day") for w in ("15m", "60m", "day")]
    )
    .multi(False)
    .include_all(False),
]


# -- the dashboard ----------------------------------------------------------------------------


def layout(board: dashboard.Dashboard) -> dashboard.Dashboard:
    """Place ``PANELS`` left to right, a panel that does not fit starting a new line, each row
    below the tallest panel before it. (The SDK's own placing lets a panel overflow the 24
    columns, as the full-width co-movement panel after a half-width one would.)"""
    x = y = line_h = 0
    for n, item in enumerate(PANELS, start=1):
        if isinstance(item, dashboard.Row):
            y, x, line_h = y + line_h, 0, 0
            board.with_row(item.id(n).collapsed(False).grid_pos(model.GridPos(h=1, w=24, y=y)))
            y += 1
            continue
        pos = item.build().grid_pos  # the size span() and height() set
        if x + pos.w > 24:
            y, x, line_h = y + line_h, 0, 0
        board.with_panel(item.id(n).grid_pos(model.GridPos(h=pos.h, w=pos.w, x=x, y=y)))
        x, line_h = x + pos.w, max(line_h, pos.h)
    return board


def build() -> model.Dashboard:
    board = (
        dashboard.Dashboard("shockwatch — everything sells")
        .uid(UID)
        .description(
            "Cross-asset moves, liquidation flow, funding stress and the composite score; the "
            "monitor's own health at the bottom. Generated by deploy/grafana/build_dashboard.py: "
            "edit that, not this file."
        )
        .tags(["shockwatch", "liquidity"])
        .timezone("utc")
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .version(1)
        .time("now-24h", "now")
        .timepicker(dashboard.TimePicker())
        .link(
            dashboard.DashboardLink("Alert rules and runbooks")
            .type(model.DashboardLinkType.LINK)
            .url(RUNBOOKS)
            .target_blank(True)
            .icon("doc")
        )
        .annotations(ANNOTATIONS)
        .variables(VARIABLES)
    )
    built = layout(board).build()
    built.schema_version = SCHEMA_VERSION
    return built


def queries() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets, then annotations."""
    board = build()
    out = [t.expr for p in board.panels if isinstance(p, model.Panel) for t in p.targets or []]
    return out + [a.expr for a in board.annotations.list_val or [] if a.expr]


def variable_queries() -> list[str]:
    return [
        v.query["query"] for v in build().templating.list_val or [] if isinstance(v.query, dict)
    ]


def expand(expr: str, values: dict[str, str] | None = None) -> str:
    """The expression with template variables replaced (longest names first)."""
    values = values or TEST_VALUES
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    return expr


def render() -> str:
    return json.dumps(build(), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT} ({len(queries())} queries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
