"""Build deploy/grafana/dashboards/shockwatch.json from the panel list below.

Every PromQL query of the dashboard lives in ``PANELS`` and ``ANNOTATIONS``; the tests import
this module, check each metric name against what ``alerts.metrics`` exports, and run each query
against a real Prometheus scraping the real exporter. Run after editing:

    .venv/bin/python deploy/grafana/build_dashboard.py          # write the JSON
    .venv/bin/python deploy/grafana/build_dashboard.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "dashboards" / "shockwatch.json"
UID = "shockwatch"  # settings.dashboard_url points at /d/shockwatch/shockwatch
DATASOURCE_UID = "shockwatch-prometheus"  # provisioning/datasources/prometheus.yml
DS = {"type": "prometheus", "uid": "${datasource}"}
RUNBOOKS = "https://github.com/shockwatch/shockwatch/blob/main/docs/runbooks.md"

# What the template variables stand for when a test runs the queries itself.
TEST_VALUES = {
    "$__rate_interval": "5m",
    "$__interval": "5m",
    "$asset_class": ".*",
    "$exchange": ".*",
    "$window": "day",
}


@dataclass(frozen=True)
class Q:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries | stat | bargauge
    queries: tuple[Q, ...]
    width: int = 12
    height: int = 8
    unit: str = "short"
    description: str = ""
    min: float | None = None
    max: float | None = None
    thresholds: tuple[tuple[float, str], ...] = ()
    mappings: tuple[tuple[int, str, str], ...] = ()
    stacked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    title: str


STATE_MAPPINGS = (
    (0, "ok", "green"),
    (1, "pending", "yellow"),
    (2, "warning", "orange"),
    (3, "critical", "red"),
)
SCORE_THRESHOLDS = ((0, "green"), (50, "orange"), (70, "red"))

PANELS: list[Panel | Row] = [
    Row("Shock score"),
    Panel(
        "Composite score",
        "timeseries",
        (Q("max by (scope) (shockwatch_composite_score)", "score {{scope}}"),),
        unit="none",
        min=0,
        max=100,
        thresholds=SCORE_THRESHOLDS,
        description="0-100; warning at 50, critical at 70 with every core class down. "
        "Annotations: detector alert transitions and Prometheus alerts.",
        extra={"thresholdsStyle": "line+area"},
    ),
    Panel(
        "Alert state",
        "stat",
        (Q("max by (scope) (shockwatch_alert_state)", "{{scope}}"),),
        width=4,
        mappings=STATE_MAPPINGS,
        thresholds=((0, "green"), (1, "yellow"), (2, "orange"), (3, "red")),
    ),
    Panel(
        "Regime",
        "stat",
        (Q("max by (regime) (shockwatch_regime) == 1", "{{regime}}"),),
        width=4,
        description="plumbing = funding-driven, broad, margin-call selling; repricing = a sector "
        "(AI names) falling far more than the index with funding calm; mixed; calm.",
        extra={"textMode": "name"},
    ),
    Panel(
        "Breadth",
        "stat",
        (Q("max by (scope) (shockwatch_breadth_ratio)", "{{scope}}"),),
        width=4,
        unit="percentunit",
        min=0,
        max=1,
        thresholds=((0, "green"), (0.66, "orange"), (1, "red")),
        description="Share of core classes (equities, gold, crypto) down beyond the threshold.",
    ),
    Panel(
        "Score components (points)",
        "timeseries",
        (Q("sum by (component) (shockwatch_score_component_points)", "{{component}}"),),
        unit="none",
        stacked=True,
    ),
    Panel(
        "Component stress (0-1)",
        "timeseries",
        (Q("max by (component) (shockwatch_score_component_stress_ratio)", "{{component}}"),),
        unit="percentunit",
        min=0,
        max=1,
    ),
    Row("Cross-asset moves"),
    Panel(
        "Core classes: day z",
        "timeseries",
        (Q("max by (core_class) (shockwatch_core_class_zscore)", "{{core_class}}"),),
        unit="none",
        thresholds=((-1e9, "red"), (-0.75, "green")),
        description="Each class's day return scaled by its own volatility; below -0.75 counts "
        "as down for breadth.",
        extra={"thresholdsStyle": "line"},
    ),
    Panel(
        "Broad selling: core classes in normal days",
        "timeseries",
        (
            Q("max by (core_class) (shockwatch_core_class_normal_days)", "{{core_class}}"),
            Q("max(shockwatch_broad_depth_normal_days)", "shallowest down"),
        ),
        unit="none",
        thresholds=((-1e9, "green"), (1, "orange"), (3, "red")),
        description="Each class's day move in normal days (its long-run daily volatility), and "
        "how far the shallowest class is down: at 1 every class has fallen a normal day and a "
        "warning fires; at 3 it is a crash and critical (docs/detection.md).",
        extra={"thresholdsStyle": "line"},
    ),
    Panel(
        "Asset classes: day z",
        "timeseries",
        (
            Q(
                'max by (asset_class) (shockwatch_class_zscore{asset_class=~"$asset_class"})',
                "{{asset_class}}",
            ),
        ),
        unit="none",
    ),
    Panel(
        "Day move by asset",
        "bargauge",
        (
            Q(
                'max by (symbol) (shockwatch_asset_return_ratio{window="day", '
                'asset_class=~"$asset_class"})',
                "{{symbol}}",
                instant=True,
            ),
        ),
        unit="percentunit",
        min=-0.1,
        max=0.1,
        thresholds=((-1e9, "red"), (-0.01, "orange"), (0, "green")),
    ),
    Panel(
        "Asset z ($window)",
        "timeseries",
        (
            Q(
                'max by (symbol) (shockwatch_asset_zscore{window=~"$window", '
                'asset_class=~"$asset_class"})',
                "{{symbol}}",
            ),
        ),
        unit="none",
    ),
    Panel(
        "Co-movement (average correlation of core classes)",
        "timeseries",
        (Q("max by (scope) (shockwatch_comovement_correlation)", "{{scope}}"),),
        unit="none",
        min=-1,
        max=1,
        width=24,
        height=6,
    ),
    Row("Liquidations"),
    Panel(
        "Liquidation flow by venue (USD per minute)",
        "timeseries",
        (
            Q(
                "sum by (exchange) (rate(shockwatch_liquidations_usd_total"
                '{exchange=~"$exchange"}[$__rate_interval])) * 60',
                "{{exchange}}",
            ),
        ),
        unit="currencyUSD",
        stacked=True,
    ),
    Panel(
        "Longs vs shorts liquidated (USD per minute)",
        "timeseries",
        (
            Q(
                "sum by (side) (rate(shockwatch_liquidations_usd_total"
                '{exchange=~"$exchange"}[$__rate_interval])) * 60',
                "{{side}}",
            ),
        ),
        unit="currencyUSD",
        stacked=True,
    ),
    Panel(
        "Forced orders per minute by venue",
        "timeseries",
        (
            Q(
                "sum by (exchange) (rate(shockwatch_liquidations_total"
                '{exchange=~"$exchange"}[$__rate_interval])) * 60',
                "{{exchange}}",
            ),
        ),
        width=8,
        unit="none",
    ),
    Panel(
        "Window notional vs baseline",
        "timeseries",
        (
            Q("max(shockwatch_liquidations_window_usd)", "window"),
            Q("max(shockwatch_liquidations_baseline_usd)", "hourly baseline"),
        ),
        width=8,
        unit="currencyUSD",
    ),
    Panel(
        "Surge ratio",
        "timeseries",
        (Q("max(shockwatch_liquidations_surge_ratio)", "surge"),),
        width=8,
        unit="none",
        thresholds=((0, "green"), (3, "orange"), (6, "red")),
        description="Window notional over the trailing hourly baseline; 6x = full stress.",
        extra={"thresholdsStyle": "line"},
    ),
    Panel(
        "Long share (window)",
        "stat",
        (Q("max(shockwatch_liquidations_long_share_ratio)", "longs"),),
        width=6,
        unit="percentunit",
        thresholds=((0, "green"), (0.7, "orange"), (0.85, "red")),
    ),
    Panel(
        "Venues reporting",
        "stat",
        (Q("max(shockwatch_liquidations_venues_reporting)", "venues"),),
        width=6,
    ),
    Panel(
        "Window by venue (USD)",
        "stat",
        (
            Q(
                "max by (exchange) "
                '(shockwatch_liquidations_venue_window_usd{exchange=~"$exchange"})',
                "{{exchange}}",
            ),
        ),
        width=6,
        unit="currencyUSD",
    ),
    Panel(
        "Lower bound (snapshot feed)",
        "stat",
        (Q("max(shockwatch_liquidations_lower_bound)", "lower bound"),),
        width=6,
        mappings=((0, "exact", "green"), (1, "lower bound", "orange")),
        description="Binance's stream sends at most one order per symbol per second: the true "
        "total is at least the figure shown.",
    ),
    Row("Funding"),
    Panel(
        "SOFR − IORB (bp)",
        "timeseries",
        (Q('max(shockwatch_funding_spread_ratio{component="sofr_iorb"}) * 10000', "SOFR − IORB"),),
        width=8,
        unit="suffix: bp",
        thresholds=((-1e9, "green"), (0, "orange"), (20, "red")),
        extra={"thresholdsStyle": "line"},
    ),
    Panel(
        "Policy and repo rates",
        "timeseries",
        (Q("max by (series) (shockwatch_funding_rate_ratio)", "{{series}}"),),
        width=8,
        unit="percentunit",
    ),
    Panel(
        "Funding amounts",
        "stat",
        (
            Q('max(shockwatch_funding_amount_usd{series="SRF_TAKEUP"})', "SRF take-up"),
            Q('max(shockwatch_funding_amount_usd{series="RESERVES"})', "Reserves"),
            Q('max(shockwatch_funding_amount_usd{series="TGA"})', "TGA"),
            Q('max(shockwatch_funding_amount_usd{series="ON_RRP_AMOUNT"})', "ON RRP"),
        ),
        width=8,
        unit="currencyUSD",
        description="Latest published values (daily/weekly series, as of the signal's time).",
    ),
    Panel(
        "Funding stress",
        "timeseries",
        (
            Q("max(shockwatch_funding_stress_ratio)", "overall"),
            Q("max by (component) (shockwatch_funding_component_stress_ratio)", "{{component}}"),
        ),
        width=16,
        unit="percentunit",
        min=0,
        max=1,
    ),
    Panel(
        "Funding inputs stale / unknown",
        "stat",
        (
            Q("sum(shockwatch_funding_component_stale)", "stale inputs"),
            Q("max(shockwatch_funding_stress_unknown)", "stress unknown"),
        ),
        width=8,
        thresholds=((0, "green"), (1, "orange")),
    ),
    Row("Feed health"),
    Panel(
        "Last event age by feed",
        "timeseries",
        (Q("time() - max by (feed) (shockwatch_last_event_timestamp_seconds)", "{{feed}}"),),
        width=8,
        unit="s",
        description="FeedStale fires at 10 min (prices), 30 min (liquidations), 4 days (funding).",
    ),
    Panel(
        "Events processed per second",
        "timeseries",
        (
            Q(
                "sum by (feed) (rate(shockwatch_events_processed_total[$__rate_interval]))",
                "{{feed}}",
            ),
        ),
        width=8,
        unit="ops",
    ),
    Panel(
        "Events rejected per second",
        "timeseries",
        (
            Q(
                "sum by (feed, reason) (rate(shockwatch_events_rejected_total[$__rate_interval]))",
                "{{feed}} {{reason}}",
            ),
        ),
        width=8,
        unit="ops",
    ),
    Panel(
        "Event-time lag",
        "timeseries",
        (
            Q(
                "histogram_quantile(0.99, sum by (feed, le) "
                "(rate(shockwatch_event_lag_seconds_bucket[$__rate_interval])))",
                "p99 {{feed}}",
            ),
            Q(
                "histogram_quantile(0.5, sum by (feed, le) "
                "(rate(shockwatch_event_lag_seconds_bucket[$__rate_interval])))",
                "p50 {{feed}}",
            ),
        ),
        unit="s",
    ),
    Panel(
        "Signal age (detector event time)",
        "timeseries",
        (Q("time() - max by (scope) (shockwatch_last_signal_timestamp_seconds)", "{{scope}}"),),
        width=6,
        unit="s",
    ),
    Panel(
        "Targets up",
        "stat",
        (Q('up{job=~"shockwatch-.*"}', "{{job}}"),),
        width=6,
        mappings=((0, "down", "red"), (1, "up", "green")),
    ),
    Panel(
        "Slack sends",
        "timeseries",
        (
            Q(
                "sum by (result) (increase(shockwatch_slack_sends_total[$__rate_interval]))",
                "{{result}}",
            ),
        ),
        width=8,
        unit="none",
    ),
    Panel(
        "Alert → Slack p99",
        "stat",
        (
            Q(
                "histogram_quantile(0.99, sum by (le) "
                "(rate(shockwatch_slack_delivery_seconds_bucket[$__rate_interval])))",
                "p99",
            ),
        ),
        width=8,
        unit="s",
    ),
    Panel(
        "Alerts waiting for Slack",
        "stat",
        (Q("max(shockwatch_notifier_pending_alerts)", "pending"),),
        width=8,
        thresholds=((0, "green"), (1, "red")),
    ),
]

ANNOTATIONS: list[dict[str, Any]] = [
    {
        "name": "Detector alerts",
        "expr": "sum by (state, severity) "
        "(increase(shockwatch_alert_transitions_total[$__interval])) > 0",
        "iconColor": "red",
        "titleFormat": "{{severity}} {{state}}",
        "tagKeys": "state,severity",
    },
    {
        "name": "Prometheus alerts",
        "expr": 'ALERTS{alertname=~"EverythingSells|ShockwatchWarning", alertstate="firing"}',
        "iconColor": "orange",
        "titleFormat": "{{alertname}}",
        "tagKeys": "alertname,severity",
    },
]

VARIABLES: list[dict[str, Any]] = [
    {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "Prometheus", "value": DATASOURCE_UID},
        "hide": 0,
    },
    {
        "name": "asset_class",
        "label": "Asset class",
        "type": "query",
        "datasource": DS,
        "query": {"query": "label_values(shockwatch_asset_zscore, asset_class)", "refId": "V1"},
        "definition": "label_values(shockwatch_asset_zscore, asset_class)",
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "sort": 1,
    },
    {
        "name": "exchange",
        "label": "Venue",
        "type": "query",
        "datasource": DS,
        "query": {
            "query": "label_values(shockwatch_liquidations_usd_total, exchange)",
            "refId": "V2",
        },
        "definition": "label_values(shockwatch_liquidations_usd_total, exchange)",
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "sort": 1,
    },
    {
        "name": "window",
        "label": "Return window",
        "type": "custom",
        "query": "15m,60m,day",
        "current": {"text": "day", "value": "day"},
        "options": [{"text": w, "value": w, "selected": w == "day"} for w in ("15m", "60m", "day")],
        "multi": False,
        "includeAll": False,
    },
]


def queries() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets, then annotations."""
    out = [q.expr for p in PANELS if isinstance(p, Panel) for q in p.queries]
    return out + [a["expr"] for a in ANNOTATIONS]


def variable_queries() -> list[str]:
    return [v["definition"] for v in VARIABLES if "definition" in v]


def expand(expr: str, values: dict[str, str] | None = None) -> str:
    """The expression with template variables replaced (longest names first)."""
    values = values or TEST_VALUES
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    return expr


# -- JSON -------------------------------------------------------------------------------------


def _field_config(p: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": p.unit, "color": {"mode": "palette-classic"}}
    if p.min is not None:
        defaults["min"] = p.min
    if p.max is not None:
        defaults["max"] = p.max
    if p.thresholds:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [
                {"color": color, "value": None if i == 0 else value}
                for i, (value, color) in enumerate(p.thresholds)
            ],
        }
    if p.mappings:
        defaults["mappings"] = [
            {
                "type": "value",
                "options": {str(v): {"text": text, "color": color, "index": i}},
            }
            for i, (v, text, color) in enumerate(p.mappings)
        ]
        defaults["color"] = {"mode": "thresholds"}
    if p.kind == "timeseries":
        custom: dict[str, Any] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if p.stacked else 0,
            "showPoints": "never",
            "spanNulls": True,
            "stacking": {"mode": "normal" if p.stacked else "none", "group": "A"},
        }
        if "thresholdsStyle" in p.extra:
            custom["thresholdsStyle"] = {"mode": p.extra["thresholdsStyle"]}
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": []}


def _options(p: Panel) -> dict[str, Any]:
    if p.kind == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if p.kind == "bargauge":
        return {
            "reduceOptions": reduce,
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        }
    return {
        "reduceOptions": reduce,
        "colorMode": "background" if p.mappings or p.thresholds else "value",
        "graphMode": "none",
        "textMode": p.extra.get("textMode", "auto"),
        "justifyMode": "auto",
        "orientation": "auto",
    }


def _targets(p: Panel) -> list[dict[str, Any]]:
    return [
        {
            "refId": chr(ord("A") + i),
            "datasource": DS,
            "expr": q.expr,
            "legendFormat": q.legend or "__auto",
            "range": not q.instant,
            "instant": q.instant,
        }
        for i, q in enumerate(p.queries)
    ]


def _layout() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    x = y = 0
    row_h = 0
    for n, item in enumerate(PANELS, start=1):
        if isinstance(item, Row):
            y += row_h
            x, row_h = 0, 0
            panels.append(
                {
                    "id": n,
                    "type": "row",
                    "title": item.title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.width > 24:
            y += row_h
            x, row_h = 0, 0
        panel = {
            "id": n,
            "type": item.kind,
            "title": item.title,
            "description": item.description,
            "datasource": DS,
            "gridPos": {"h": item.height, "w": item.width, "x": x, "y": y},
            "fieldConfig": _field_config(item),
            "options": _options(item),
            "targets": _targets(item),
        }
        panels.append(panel)
        x += item.width
        row_h = max(row_h, item.height)
    return panels


def build() -> dict[str, Any]:
    annotations = [
        {
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True,
            "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }
    ]
    for a in ANNOTATIONS:
        annotations.append(
            {
                "datasource": DS,
                "enable": True,
                "hide": False,
                "iconColor": a["iconColor"],
                "name": a["name"],
                "expr": a["expr"],
                "step": "60s",
                "titleFormat": a["titleFormat"],
                "tagKeys": a["tagKeys"],
                "textFormat": "",
                "useValueForTime": False,
            }
        )
    return {
        "uid": UID,
        "title": "shockwatch — everything sells",
        "description": "Cross-asset moves, liquidation flow, funding stress and the composite "
        "score; the monitor's own health at the bottom. Generated by "
        "deploy/grafana/build_dashboard.py: edit that, not this file.",
        "tags": ["shockwatch", "liquidity"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "links": [
            {
                "title": "Runbooks",
                "type": "link",
                "url": RUNBOOKS,
                "targetBlank": True,
                "icon": "doc",
            }
        ],
        "annotations": {"list": annotations},
        "templating": {"list": VARIABLES},
        "panels": _layout(),
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


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
    print(f"wrote {OUTPUT} ({sum(1 for _ in queries())} queries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
