"""The dashboard's panels, in rows, top to bottom: every PromQL query of a panel is a ``q(...)``
here (deploy/grafana/build_dashboard.py lays them out and writes the JSON)."""

from __future__ import annotations

from dashboard_style import (
    CONNECTED_MAPPINGS,
    FEED_STALE_S,
    LINE,
    LINE_AND_AREA,
    SOURCE_STALE_S,
    STATE_MAPPINGS,
    VENUE_SILENT_S,
    Panel,
    age_panel,
    base_panel,
    coloured,
    last_value,
    q,
    single,
    stacked,
    thresholds,
    ts,
    value_map,
)
from grafana_foundation_sdk.builders import bargauge, dashboard
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueTextMode,
    VizOrientation,
)

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
    base_panel(
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
