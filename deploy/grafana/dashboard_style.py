"""The dashboard's house style: the query, panel and threshold helpers every panel of
dashboard_panels.py is built with (deploy/grafana/build_dashboard.py assembles them)."""

from __future__ import annotations

from typing import TypeVar

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    prometheus,
    stat,
    timeseries,
)
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
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

DS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")

Panel = timeseries.Panel | stat.Panel | bargauge.Panel
P = TypeVar("P", timeseries.Panel, stat.Panel, bargauge.Panel)


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


def base_panel(
    panel: P, title: str, targets: tuple[prometheus.Dataquery, ...], unit: str, w: int
) -> P:
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
        base_panel(timeseries.Panel(), title, targets, unit, w)
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
        base_panel(stat.Panel(), title, targets, unit, w)
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
