"""Build deploy/grafana/dashboards/shockwatch.json with Grafana's foundation SDK.

The panels are typed builders from ``grafana-foundation-sdk`` (pinned in pyproject's dev extras,
the Grafana 11.3 build: compose runs grafana/grafana:11.3.0). Every PromQL query of the dashboard
is a ``q(...)`` in ``PANELS`` or an annotation in ``ANNOTATIONS``; the tests import this module,
check each metric name against what ``alerts.metrics`` exports, and run each query against a real
Prometheus scraping the real exporter. Run after editing:

    .venv/bin/python deploy/grafana/build_dashboard.py          # write the JSON
    .venv/bin/python deploy/grafana/build_dashboard.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    prometheus,
    stat,
    timeseries,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    BigValueJustifyMode,
    BigValueTextMode,
    GraphDrawStyle,
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    StackingMode,
    TooltipDisplayMode,
    VisibilityMode,
    VizOrientation,
)

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "dashboards" / "shockwatch.json"
UID = "shockwatch"  # settings.dashboard_url points at /d/shockwatch/shockwatch
SCHEMA_VERSION = 39  # Grafana 11.3's (the pinned SDK's default, set here so a bump shows)
DATASOURCE_UID = "shockwatch-prometheus"  # provisioning/datasources/prometheus.yml
DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
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

Panel = timeseries.Panel | stat.Panel | bargauge.Panel
P = TypeVar("P", timeseries.Panel, stat.Panel, bargauge.Panel)


# -- the house style --------------------------------------------------------------------------


def q(expr: str, legend: str, *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().datasource(DS).expr(expr).legend_format(legend)
    return query.instant() if instant else query.range()


def thresholds(base: str, *steps: tuple[float, str]) -> dashboard.ThresholdsConfig:
    """Absolute thresholds: ``base`` below the first step, then each step's colour."""
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color=base)]
            + [model.Threshold(value=value, color=color) for value, color in steps]
        )
    )


def value_map(*entries: tuple[int, str, str]) -> list[model.ValueMapping]:
    """Value -> (text, colour) mappings, one per value."""
    return [
        model.ValueMap(options={str(v): model.ValueMappingResult(text=text, color=color, index=i)})
        for i, (v, text, color) in enumerate(entries)
    ]


def colour(mode: model.FieldColorModeId) -> dashboard.FieldColor:
    return dashboard.FieldColor().mode(mode)


def _panel(panel: P, title: str, targets: tuple[prometheus.Dataquery, ...], unit: str, w: int) -> P:
    return (
        panel.title(title)
        .datasource(DS)
        .span(w)
        .height(8)
        .unit(unit)
        .color_scheme(colour(model.FieldColorModeId.PALETTE_CLASSIC))
        .targets([t.ref_id(chr(ord("A") + i)) for i, t in enumerate(targets)])
    )


def ts(title: str, *targets: prometheus.Dataquery, unit: str, w: int = 12) -> timeseries.Panel:
    """A time series: lines without points, nulls spanned, legend below, multi-series tooltip."""
    return (
        _panel(timeseries.Panel(), title, targets, unit, w)
        .draw_style(GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(0)
        .show_points(VisibilityMode.NEVER)
        .span_nulls(True)
        .stacking(common.StackingConfig().mode(StackingMode.NONE).group("A"))
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING)
        )
    )


def stacked(panel: timeseries.Panel) -> timeseries.Panel:
    """The series stacked, filled at 20%."""
    panel.stacking(common.StackingConfig().mode(StackingMode.NORMAL).group("A"))
    return panel.fill_opacity(20)


def last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def single(title: str, *targets: prometheus.Dataquery, unit: str = "short", w: int) -> stat.Panel:
    """A stat of each series' last value (``coloured`` paints its background)."""
    return (
        _panel(stat.Panel(), title, targets, unit, w)
        .reduce_options(last_value())
        .color_mode(BigValueColorMode.VALUE)
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(BigValueTextMode.AUTO)
        .justify_mode(BigValueJustifyMode.AUTO)
        .orientation(VizOrientation.AUTO)
    )


def coloured(
    panel: stat.Panel,
    steps: dashboard.ThresholdsConfig | None = None,
    mappings: list[model.ValueMapping] | None = None,
) -> stat.Panel:
    """The stat's background in its threshold colour, or its mapped value's (then by thresholds)."""
    panel.color_mode(BigValueColorMode.BACKGROUND)
    if steps is not None:
        panel.thresholds(steps)
    if mappings is not None:
        panel.mappings(mappings).color_scheme(colour(model.FieldColorModeId.THRESHOLDS))
    return panel


STATE_MAPPINGS = value_map(
    (0, "ok", "green"), (1, "pending", "yellow"), (2, "warning", "orange"), (3, "critical", "red")
)
# Feed and venue staleness, as the rules have it (deploy/prometheus/rules: FeedStale,
# VenueStale, ProducerFeedStale): orange at half the limit, red at it.
FEED_STALE_S = {"prices": 600.0, "liquidations": 1800.0, "funding": 4 * 86400.0}
VENUE_SILENT_S = 3600.0
SOURCE_STALE_S = {"ccxt:binanceusdm": 600.0, "yfinance": 4 * 86400.0}  # funding: 4 days
CONNECTED_MAPPINGS = value_map((0, "down", "red"), (1, "up", "green"))


def stale_at(limit_s: float) -> dashboard.ThresholdsConfig:
    return thresholds("green", (limit_s / 2, "orange"), (limit_s, "red"))


def age_panel(
    panel: timeseries.Panel, limits: dict[str, float], default_s: float
) -> timeseries.Panel:
    """Each series coloured by its own staleness limit (``limits`` by series name)."""
    panel.thresholds(stale_at(default_s)).color_scheme(colour(model.FieldColorModeId.THRESHOLDS))
    for name, limit in limits.items():
        value = stale_at(limit).build()
        panel.override_by_name(name, [model.DynamicConfigValue(id_val="thresholds", value=value)])
    return panel


LINE = common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE)
LINE_AND_AREA = common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE_AND_AREA)


# -- the panels, in rows ----------------------------------------------------------------------

PANELS: list[dashboard.Row | Panel] = [
    dashboard.Row("Shock score"),
    ts(
        "Composite score",
        q("max by (scope) (shockwatch_composite_score)", "score {{scope}}"),
        unit="none",
    )
    .min(0)
    .max(100)
    .thresholds(thresholds("green", (50, "orange"), (70, "red")))
    .thresholds_style(LINE_AND_AREA)
    .description(
        "0-100; warning at 50, critical at 70 with every core class down. "
        "Annotations: detector alert transitions and Prometheus alerts."
    ),
    coloured(
        single("Alert state", q("max by (scope) (shockwatch_alert_state)", "{{scope}}"), w=4),
        thresholds("green", (1, "yellow"), (2, "orange"), (3, "red")),
        STATE_MAPPINGS,
    ),
    single("Regime", q("max by (regime) (shockwatch_regime) == 1", "{{regime}}"), w=4)
    .text_mode(BigValueTextMode.NAME)
    .description(
        "plumbing = funding-driven, broad, margin-call selling; repricing = a sector (AI names) "
        "falling far more than the index with funding calm; mixed; calm."
    ),
    coloured(
        single(
            "Breadth",
            q("max by (scope) (shockwatch_breadth_ratio)", "{{scope}}"),
            unit="percentunit",
            w=4,
        ),
        thresholds("green", (0.66, "orange"), (1, "red")),
    )
    .min(0)
    .max(1)
    .description("Share of core classes (equities, gold, crypto) down beyond the threshold."),
    stacked(
        ts(
            "Score components (points)",
            q("sum by (component) (shockwatch_score_component_points)", "{{component}}"),
            unit="none",
        )
    ),
    ts(
        "Component stress (0-1)",
        q("max by (component) (shockwatch_score_component_stress_ratio)", "{{component}}"),
        unit="percentunit",
    )
    .min(0)
    .max(1),
    dashboard.Row("Cross-asset moves"),
    ts(
        "Core classes: day z",
        q("max by (core_class) (shockwatch_core_class_zscore)", "{{core_class}}"),
        unit="none",
    )
    .thresholds(thresholds("red", (-0.75, "green")))
    .thresholds_style(LINE)
    .description(
        "Each class's day return scaled by its own volatility; below -0.75 counts as down for "
        "breadth."
    ),
    ts(
        "Broad selling: core classes in normal days",
        q("max by (core_class) (shockwatch_core_class_normal_days)", "{{core_class}}"),
        q("max(shockwatch_broad_depth_normal_days)", "shallowest down"),
        unit="none",
    )
    .thresholds(thresholds("green", (1, "orange"), (3, "red")))
    .thresholds_style(LINE)
    .description(
        "Each class's day move in normal days (its long-run daily volatility), and how far the "
        "shallowest class is down: at 1 every class has fallen a normal day and a warning fires; "
        "at 3 it is a crash and critical (docs/detection.md)."
    ),
    ts(
        "Asset classes: day z",
        q(
            'max by (asset_class) (shockwatch_class_zscore{asset_class=~"$asset_class"})',
            "{{asset_class}}",
        ),
        unit="none",
    ),
    _panel(
        bargauge.Panel(),
        "Day move by asset",
        (
            q(
                'max by (symbol) (shockwatch_asset_return_ratio{window="day", '
                'asset_class=~"$asset_class"})',
                "{{symbol}}",
                instant=True,
            ),
        ),
        unit="percentunit",
        w=12,
    )
    .min(-0.1)
    .max(0.1)
    .thresholds(thresholds("red", (-0.01, "orange"), (0, "green")))
    .reduce_options(last_value())
    .orientation(VizOrientation.HORIZONTAL)
    .display_mode(BarGaugeDisplayMode.GRADIENT)
    .show_unfilled(True),
    ts(
        "Asset z ($window)",
        q(
            'max by (symbol) (shockwatch_asset_zscore{window=~"$window", '
            'asset_class=~"$asset_class"})',
            "{{symbol}}",
        ),
        unit="none",
    ),
    ts(
        "Co-movement (average correlation of core classes)",
        q("max by (scope) (shockwatch_comovement_correlation)", "{{scope}}"),
        unit="none",
        w=24,
    )
    .height(6)
    .min(-1)
    .max(1),
    dashboard.Row("Liquidations"),
    stacked(
        ts(
            "Liquidation flow by venue (USD per minute)",
            q(
                "sum by (exchange) (rate(shockwatch_liquidations_usd_total"
                '{exchange=~"$exchange"}[$__rate_interval])) * 60',
                "{{exchange}}",
            ),
            unit="currencyUSD",
        )
    ),
    stacked(
        ts(
            "Longs vs shorts liquidated (USD per minute)",
            q(
                "sum by (side) (rate(shockwatch_liquidations_usd_total"
                '{exchange=~"$exchange"}[$__rate_interval])) * 60',
                "{{side}}",
            ),
            unit="currencyUSD",
        )
    ),
    ts(
        "Forced orders per minute by venue",
        q(
            "sum by (exchange) (rate(shockwatch_liquidations_total"
            '{exchange=~"$exchange"}[$__rate_interval])) * 60',
            "{{exchange}}",
        ),
        unit="none",
        w=8,
    ),
    ts(
        "Window notional vs baseline",
        q("max(shockwatch_liquidations_window_usd)", "window"),
        q("max(shockwatch_liquidations_baseline_usd)", "hourly baseline"),
        unit="currencyUSD",
        w=8,
    ),
    ts("Surge ratio", q("max(shockwatch_liquidations_surge_ratio)", "surge"), unit="none", w=8)
    .thresholds(thresholds("green", (3, "orange"), (6, "red")))
    .thresholds_style(LINE)
    .description("Window notional over the trailing hourly baseline; 6x = full stress."),
    coloured(
        single(
            "Long share (window)",
            q("max(shockwatch_liquidations_long_share_ratio)", "longs"),
            unit="percentunit",
            w=6,
        ),
        thresholds("green", (0.7, "orange"), (0.85, "red")),
    ),
    single("Venues reporting", q("max(shockwatch_liquidations_venues_reporting)", "venues"), w=6),
    single(
        "Window by venue (USD)",
        q(
            'max by (exchange) (shockwatch_liquidations_venue_window_usd{exchange=~"$exchange"})',
            "{{exchange}}",
        ),
        unit="currencyUSD",
        w=6,
    ),
    coloured(
        single(
            "Lower bound (snapshot feed)",
            q("max(shockwatch_liquidations_lower_bound)", "lower bound"),
            w=6,
        ),
        mappings=value_map((0, "exact", "green"), (1, "lower bound", "orange")),
    ).description(
        "Binance's stream sends at most one order per symbol per second: the true total is at "
        "least the figure shown."
    ),
    dashboard.Row("Funding"),
    ts(
        "SOFR − IORB (bp)",
        q('max(shockwatch_funding_spread_ratio{component="sofr_iorb"}) * 10000', "SOFR − IORB"),
        unit="suffix: bp",
        w=8,
    )
    .thresholds(thresholds("green", (0, "orange"), (20, "red")))
    .thresholds_style(LINE),
    ts(
        "Policy and repo rates",
        q("max by (series) (shockwatch_funding_rate_ratio)", "{{series}}"),
        unit="percentunit",
        w=8,
    ),
    single(
        "Funding amounts",
        q('max(shockwatch_funding_amount_usd{series="SRF_TAKEUP"})', "SRF take-up"),
        q('max(shockwatch_funding_amount_usd{series="RESERVES"})', "Reserves"),
        q('max(shockwatch_funding_amount_usd{series="TGA"})', "TGA"),
        q('max(shockwatch_funding_amount_usd{series="ON_RRP_AMOUNT"})', "ON RRP"),
        unit="currencyUSD",
        w=8,
    ).description("Latest published values (daily/weekly series, as of the signal's time)."),
    ts(
        "Funding stress",
        q("max(shockwatch_funding_stress_ratio)", "overall"),
        q("max by (component) (shockwatch_funding_component_stress_ratio)", "{{component}}"),
        unit="percentunit",
        w=16,
    )
    .min(0)
    .max(1),
    coloured(
        single(
            "Funding inputs stale / unknown",
            q("sum(shockwatch_funding_component_stale)", "stale inputs"),
            q("max(shockwatch_funding_stress_unknown)", "stress unknown"),
            w=8,
        ),
        thresholds("green", (1, "orange")),
    ),
    dashboard.Row("Liquidation venues"),
    coloured(
        single(
            "Venue connected",
            q('max by (venue) (shockwatch_producer_connected{feed="liquidations"})', "{{venue}}"),
            w=6,
        ),
        thresholds("red", (1, "green")),
        CONNECTED_MAPPINGS,
    ).description("From the liquidations producer: 1 while the venue's stream is open."),
    age_panel(
        ts(
            "Venue last-message age",
            q(
                "time() - max by (venue) "
                '(shockwatch_producer_last_message_timestamp_seconds{feed="liquidations"})',
                "{{venue}}",
            ),
            unit="s",
            w=6,
        ),
        {},
        VENUE_SILENT_S,
    ).description("VenueStale fires when a venue is silent for an hour, or disconnected 5 min."),
    ts(
        "Venue events per minute",
        q(
            "60 * sum by (venue) "
            '(rate(shockwatch_producer_records_total{feed="liquidations"}[$__rate_interval]))',
            "{{venue}}",
        ),
        unit="none",
        w=6,
    ),
    stacked(
        ts(
            "Venue notional per hour (USD)",
            q(
                "sum by (venue) "
                '(increase(shockwatch_producer_notional_usd_total{feed="liquidations"}[1h]))',
                "{{venue}}",
            ),
            unit="currencyUSD",
            w=6,
        )
    ),
    age_panel(
        ts(
            "Price and funding source: last-response age",
            q(
                "time() - max by (feed, venue) "
                '(shockwatch_producer_last_message_timestamp_seconds{feed=~"prices|funding"})',
                "{{venue}}",
            ),
            unit="s",
            w=12,
        ),
        SOURCE_STALE_S,
        FEED_STALE_S["funding"],
    ).description(
        "ProducerFeedStale fires at 10 min for the ccxt bars, 4 days for Yahoo (sessions only) "
        "and the funding sources, or when a source's last request failed."
    ),
    coloured(
        single(
            "Source connected",
            q(
                'max by (venue) (shockwatch_producer_connected{feed=~"prices|funding"})',
                "{{venue}}",
            ),
            w=12,
        ),
        thresholds("red", (1, "green")),
        CONNECTED_MAPPINGS,
    ).description("1 when the source's last request succeeded (after the producer's retries)."),
    dashboard.Row("Feed health"),
    age_panel(
        ts(
            "Last event age by feed",
            q("time() - max by (feed) (shockwatch_last_event_timestamp_seconds)", "{{feed}}"),
            unit="s",
            w=8,
        ),
        FEED_STALE_S,
        FEED_STALE_S["prices"],
    ).description(
        "FeedStale fires at 10 min (prices), 30 min (liquidations), 4 days (funding); "
        "each line turns orange at half its limit and red at it."
    ),
    ts(
        "Events processed per second",
        q("sum by (feed) (rate(shockwatch_events_processed_total[$__rate_interval]))", "{{feed}}"),
        unit="ops",
        w=8,
    ),
    ts(
        "Events rejected per second",
        q(
            "sum by (feed, reason) (rate(shockwatch_events_rejected_total[$__rate_interval]))",
            "{{feed}} {{reason}}",
        ),
        unit="ops",
        w=8,
    ),
    ts(
        "Event-time lag",
        q(
            "histogram_quantile(0.99, sum by (feed, le) "
            "(rate(shockwatch_event_lag_seconds_bucket[$__rate_interval])))",
            "p99 {{feed}}",
        ),
        q(
            "histogram_quantile(0.5, sum by (feed, le) "
            "(rate(shockwatch_event_lag_seconds_bucket[$__rate_interval])))",
            "p50 {{feed}}",
        ),
        unit="s",
    ),
    ts(
        "Signal age (detector event time)",
        q("time() - max by (scope) (shockwatch_last_signal_timestamp_seconds)", "{{scope}}"),
        unit="s",
        w=6,
    ),
    coloured(
        single("Targets up", q('up{job=~"shockwatch-.*"}', "{{job}}"), w=6),
        mappings=value_map((0, "down", "red"), (1, "up", "green")),
    ),
    ts(
        "Slack sends",
        q(
            "sum by (result) (increase(shockwatch_slack_sends_total[$__rate_interval]))",
            "{{result}}",
        ),
        unit="none",
        w=8,
    ),
    single(
        "Alert → Slack p99",
        q(
            "histogram_quantile(0.99, sum by (le) "
            "(rate(shockwatch_slack_delivery_seconds_bucket[$__rate_interval])))",
            "p99",
        ),
        unit="s",
        w=8,
    ),
    coloured(
        single(
            "Alerts waiting for Slack", q("max(shockwatch_notifier_pending_alerts)", "pending"), w=8
        ),
        thresholds("green", (1, "red")),
    ),
]


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
