"""Every Prometheus metric shockwatch exports, declared once on one registry.

Names carry one ``shockwatch_`` prefix and base units (seconds, USD, ratios); counters end in
``_total``. Labels are closed or capped sets: feeds, reject reasons, asset classes, windows,
configured symbols and venues, funding series and components. Alert ids never become labels
(one series per episode would grow without bound); they travel in Slack messages instead.

The worker holds one ``Metrics`` and calls the ``observe_*`` methods; the sidecar exporter
(``alerts.exporter``) and the Slack notifier do the same on their own instance. Tests build a
``Metrics`` on a fresh ``CollectorRegistry`` and read samples back with ``get_sample_value``.
docs/alerts.md lists every metric with its labels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.records import (
    REJECT_REASONS,
    AlertEvent,
    AlertState,
    AssetClass,
    AssetView,
    ClassPanel,
    FundingPicture,
    LiqPanel,
    Regime,
    Severity,
    ShockSignal,
    given,
)
from streams.records.fields import AMOUNT_SERIES, RATE_SERIES
from streams.scenario import FEEDS as FEED_RECORDS

log = logging.getLogger(__name__)

PREFIX = "shockwatch_"
FEEDS: tuple[str, ...] = tuple(FEED_RECORDS)
# Rejects are also counted for the output topics the sidecar and the notifier read.
REJECT_FEEDS: tuple[str, ...] = (*FEEDS, "signals", "alerts")
CORE_CLASSES: tuple[str, ...] = ("equities", "gold", "crypto")
ASSET_CLASSES: tuple[AssetClass, ...] = tuple(AssetClass)
ALERT_STATES: dict[str, int] = {"ok": 0, "pending": 1, "warning": 2, "critical": 3}
SLACK_RESULTS: tuple[str, ...] = ("ok", "retry", "failed", "duplicate_skipped", "stale_skipped")
SIDES: tuple[str, ...] = ("long", "short")
# Event-time lag: from a healthy stream (tens of ms) to a feed a day behind.
LAG_BUCKETS_S: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    21600.0,
    43200.0,
    86400.0,
)
SLACK_LATENCY_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Funding series by unit (``streams.records.fields``): rates are published in percent (exported
# as ratios), amounts in billions of USD (exported in USD). Others are not exported (bounded).
# Funding components measured in basis points (the rest are amounts in billions of USD).
SPREAD_COMPONENTS: frozenset[str] = frozenset({"sofr_iorb"})
# Liquidation bases kept as their own label value; the long tail of the all-market streams
# (hundreds of altcoins) is summed under "other".
LIQUIDATION_BASES: frozenset[str] = frozenset(
    {"BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX", "LINK", "SUI", "LTC", "TRX"}
)
OTHER = "other"
# The venues of producers/liquidations (ccxt ids); others are admitted up to MAX_EXCHANGES.
VENUES: tuple[str, ...] = ("binanceusdm", "bybit", "okx")
MAX_SYMBOLS = 64
MAX_EXCHANGES = 16
MAX_COMPONENTS = 16
USD_PER_BN = 1e9


class CappedLabel:
    """A label whose values are admitted first come, first served, up to ``limit``; later new
    values collapse into ``other`` (and are logged once), so a bad input cannot explode the
    series count."""

    def __init__(self, name: str, limit: int, known: Iterable[str] = ()) -> None:
        self.name = name
        self.limit = limit
        self.seen: set[str] = set(known)
        self._warned = False

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self.limit:
            self.seen.add(value)
            return value
        if not self._warned:
            log.warning("metric label %s is over its cap of %d values", self.name, self.limit)
            self._warned = True
        return OTHER


def _num(value: Any) -> float:
    """A gauge value: the number, or NaN for unknown (None, missing, not a number)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return math.nan


class Metrics:
    """The metric families, on ``registry`` (a fresh one unless given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._declare_health()
        self._declare_market()
        self._declare_liquidations()
        self._declare_funding()
        self._declare_score()
        self._declare_alerting()
        self._symbol = CappedLabel("symbol", MAX_SYMBOLS)
        self._exchange = CappedLabel("exchange", MAX_EXCHANGES, VENUES)
        self._component = CappedLabel("component", MAX_COMPONENTS)
        # Label sets written by the last signal, so series that left it can be removed.
        self._asset_series: set[tuple[str, ...]] = set()
        self._asset_price_series: set[tuple[str, ...]] = set()
        self._last_ts: dict[str, float] = {}
        self._scopes: set[str] = set()
        self._prefill()

    # -- declarations ------------------------------------------------------------------------
    def _gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(PREFIX + name, doc, list(labels), registry=self.registry)

    def _counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(PREFIX + name, doc, list(labels), registry=self.registry)

    def _declare_health(self) -> None:
        self.events_processed = self._counter(
            "events_processed", "Input events processed, by feed.", ["feed"]
        )
        self.events_rejected = self._counter(
            "events_rejected",
            "Events rejected (dead-lettered or dropped), by feed and reason.",
            ["feed", "reason"],
        )
        self.last_event_ts = self._gauge(
            "last_event_timestamp_seconds",
            "Event time of the newest event seen per feed (UTC epoch seconds).",
            ["feed"],
        )
        self.event_lag = Histogram(
            PREFIX + "event_lag_seconds",
            "Event-time lag when processed: wall clock minus the event's ts_ms.",
            ["feed"],
            buckets=LAG_BUCKETS_S,
            registry=self.registry,
        )

    def _declare_market(self) -> None:
        self.asset_return = self._gauge(
            "asset_return_ratio",
            "Per-asset simple return over the window (day = since the previous close or 24 h).",
            ["symbol", "asset_class", "window"],
        )
        self.asset_z = self._gauge(
            "asset_zscore",
            "Per-asset return scaled by its own recent volatility, by window.",
            ["symbol", "asset_class", "window"],
        )
        self.asset_price = self._gauge(
            "asset_price_usd", "Last one-minute close per asset.", ["symbol", "asset_class"]
        )
        self.class_z = self._gauge(
            "class_zscore", "Mean day z of the assets of each asset class.", ["asset_class"]
        )
        self.class_return = self._gauge(
            "class_return_ratio", "Mean day return of the assets of each class.", ["asset_class"]
        )
        self.core_class_z = self._gauge(
            "core_class_zscore",
            "Day z of each core class (equities, gold, crypto); NaN when no member reports.",
            ["core_class"],
        )
        self.breadth = self._gauge(
            "breadth_ratio", "Share of core classes down beyond the threshold at once.", ["scope"]
        )
        self.partitions_idle = self._gauge(
            "input_partitions_idle",
            "Input partitions left out of the tick watermark as idle (silent, caught up).",
            ["feed"],
        )
        self.core_class_normal = self._gauge(
            "core_class_normal_days",
            "Day move of each core class in normal days (its long-run daily volatility).",
            ["core_class"],
        )
        self.depth = self._gauge(
            "broad_depth_normal_days",
            "How far the shallowest core class is down, in normal days (>= 1: broad selling).",
            ["scope"],
        )
        self.comovement = self._gauge(
            "comovement_correlation",
            "Average pairwise correlation of recent core-class returns (NaN when unknown).",
            ["scope"],
        )

    def _declare_liquidations(self) -> None:
        self.liq_events = self._counter(
            "liquidations",
            "Forced orders seen, by venue, base and side.",
            ["exchange", "base", "side"],
        )
        self.liq_usd = self._counter(
            "liquidations_usd",
            "Notional of forced orders in USD, by venue, base and side.",
            ["exchange", "base", "side"],
        )
        self.liq_window_usd = self._gauge(
            "liquidations_window_usd", "Liquidation notional in the detector's window (USD)."
        )
        self.liq_window_s = self._gauge(
            "liquidations_window_seconds", "Length of the detector's liquidation window."
        )
        self.liq_baseline_usd = self._gauge(
            "liquidations_baseline_usd", "Trailing hourly baseline of liquidation notional (USD)."
        )
        self.liq_surge = self._gauge(
            "liquidations_surge_ratio", "Window notional over the trailing baseline."
        )
        self.liq_long_share = self._gauge(
            "liquidations_long_share_ratio", "Share of the window notional from long positions."
        )
        self.liq_venues = self._gauge(
            "liquidations_venues_reporting", "Venues with liquidations in the window."
        )
        self.liq_lower_bound = self._gauge(
            "liquidations_lower_bound",
            "1 when snapshot feeds (Binance) contribute, so the true window total is higher.",
        )
        self.liq_venue_window_usd = self._gauge(
            "liquidations_venue_window_usd",
            "Liquidation notional in the detector's window per venue (USD).",
            ["exchange"],
        )

    def _declare_funding(self) -> None:
        self.funding_rate = self._gauge(
            "funding_rate_ratio", "Latest published funding rate (0.04 = 4%).", ["series"]
        )
        self.funding_amount = self._gauge(
            "funding_amount_usd", "Latest published funding amount in USD.", ["series"]
        )
        self.funding_obs_ts = self._gauge(
            "funding_observation_timestamp_seconds",
            "Observation date (UTC midnight) of the latest published value per series.",
            ["series"],
        )
        self.funding_spread = self._gauge(
            "funding_spread_ratio",
            "Funding spread components, e.g. SOFR minus IORB (0.001 = 10 bp).",
            ["component"],
        )
        self.funding_component_usd = self._gauge(
            "funding_component_usd",
            "Funding amount components as judged (SRF = peak over the lookback), USD.",
            ["component"],
        )
        self.funding_component_stress = self._gauge(
            "funding_component_stress_ratio",
            "Stress of each funding component, 0-1 (NaN when unknown).",
            ["component"],
        )
        self.funding_component_stale = self._gauge(
            "funding_component_stale",
            "1 when the component's latest value is too old to count.",
            ["component"],
        )
        self.funding_stress = self._gauge(
            "funding_stress_ratio", "Weighted funding stress, 0-1 (NaN when unknown)."
        )
        self.funding_unknown = self._gauge(
            "funding_stress_unknown", "1 when no funding component is usable."
        )

    def _declare_score(self) -> None:
        self.score = self._gauge("composite_score", "Composite shock score, 0-100.", ["scope"])
        self.score_points = self._gauge(
            "score_component_points", "Points each component adds to the score.", ["component"]
        )
        self.score_stress = self._gauge(
            "score_component_stress_ratio",
            "Stress of each score component, 0-1 (NaN when unknown).",
            ["component"],
        )
        self.regime = self._gauge(
            "regime", "1 for the current regime, 0 for the others.", ["scope", "regime"]
        )
        self.alert_state = self._gauge(
            "alert_state",
            "Detector alert state: 0 ok, 1 pending, 2 warning, 3 critical.",
            ["scope"],
        )
        self.last_signal_ts = self._gauge(
            "last_signal_timestamp_seconds",
            "Event time of the newest signal (UTC epoch seconds).",
            ["scope"],
        )
        self.signals = self._counter("signals", "Signals observed.", ["scope"])

    def _declare_alerting(self) -> None:
        self.alert_transitions = self._counter(
            "alert_transitions",
            "Alert transitions (firing/resolved) by severity.",
            ["scope", "state", "severity"],
        )
        self.slack_sends = self._counter("slack_sends", "Slack deliveries by result.", ["result"])
        self.slack_latency = Histogram(
            PREFIX + "slack_delivery_seconds",
            "Alert event time to Slack acceptance (wall clock).",
            buckets=SLACK_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.notifier_pending = self._gauge(
            "notifier_pending_alerts", "Alert transitions waiting for Slack to accept them."
        )
        self.notifier_last_success = self._gauge(
            "notifier_last_success_timestamp_seconds", "Wall time of the last Slack acceptance."
        )

    def _prefill(self) -> None:
        """Create the closed label sets at zero, so rate() and increase() see the first event
        and the dashboards show a flat zero instead of "no data"."""
        for feed in FEEDS:
            self.events_processed.labels(feed)
            self.event_lag.labels(feed)
        for feed in REJECT_FEEDS:
            for reason in REJECT_REASONS:
                self.events_rejected.labels(feed, reason)
        for result in SLACK_RESULTS:
            self.slack_sends.labels(result)
        for core in CORE_CLASSES:
            self.core_class_z.labels(core).set(math.nan)
            self.core_class_normal.labels(core).set(math.nan)

    # -- health ------------------------------------------------------------------------------
    @staticmethod
    def _feed(feed: str, allowed: Sequence[str]) -> str:
        return feed if feed in allowed else OTHER

    def observe_events(
        self, feed: str, processed: int, last_ts_ms: int | None, lags_s: Sequence[float]
    ) -> None:
        """A batch of ``processed`` events of ``feed``; ``lags_s`` = now - ts per event (or a
        sample of them); ``last_ts_ms`` = the newest event time in the batch."""
        feed = self._feed(feed, FEEDS)
        if processed:
            self.events_processed.labels(feed).inc(processed)
        if last_ts_ms is not None:
            ts = last_ts_ms / 1000.0
            # Never backwards: an out-of-order event does not make the feed look older.
            if ts > self._last_ts.get(feed, -math.inf):
                self._last_ts[feed] = ts
                self.last_event_ts.labels(feed).set(ts)
        hist = self.event_lag.labels(feed)
        for lag in lags_s:
            # Producers' clocks may run a little ahead (far-future events are rejected).
            hist.observe(lag if lag > 0 else 0.0)

    def observe_rejected(self, feed: str, reason: str, n: int = 1) -> None:
        reason = reason if reason in REJECT_REASONS else OTHER
        self.events_rejected.labels(self._feed(feed, REJECT_FEEDS), reason).inc(n)

    def observe_liquidations(self, agg: Mapping[tuple[str, str, str], tuple[int, float]]) -> None:
        """(exchange, base, side) -> (count, notional_usd) of a batch of forced orders."""
        for (exchange, base, side), (count, usd) in agg.items():
            labels = (
                self._exchange(exchange),
                base if base in LIQUIDATION_BASES else OTHER,
                side if side in SIDES else OTHER,
            )
            if count:
                self.liq_events.labels(*labels).inc(count)
            if usd > 0:
                self.liq_usd.labels(*labels).inc(usd)

    # -- signals -----------------------------------------------------------------------------
    def observe_signal(self, signal: ShockSignal, ticks: int = 1) -> None:
        """Set every gauge from one signal (the scored state at its event time); ``ticks`` > 1
        when it is the newest of a batch of signals (the gauges only keep the newest)."""
        scope = signal.scope
        if scope not in self._scopes:
            # Transitions start at zero, so increase() sees the first one (a series born at
            # 1 has no increase in Prometheus's eyes).
            self._scopes.add(scope)
            for state in AlertState:
                for severity in Severity:
                    self.alert_transitions.labels(scope, state.value, severity.value)
        self.signals.labels(scope).inc(ticks)
        self.last_signal_ts.labels(scope).set(signal.ts_ms / 1000.0)
        self.score.labels(scope).set(_num(signal.score))
        self.breadth.labels(scope).set(_num(signal.breadth))
        self.depth.labels(scope).set(_num(signal.classes.depth))
        self.comovement.labels(scope).set(_num(signal.comovement))
        for regime in Regime:
            self.regime.labels(scope, regime.value).set(1.0 if signal.regime == regime else 0.0)
        state = ALERT_STATES.get(signal.alert_state)
        if state is None:
            log.warning("unknown alert_state %r in signal; exported as ok", signal.alert_state)
            state = 0
        self.alert_state.labels(scope).set(state)
        self._observe_components(signal.components)
        self._observe_assets(signal.assets)
        self._observe_classes(signal.classes)
        self._observe_liquidation_panel(signal.liquidations)
        self._observe_funding(signal.funding)

    def _observe_components(self, components: Mapping[str, float | None]) -> None:
        for key, value in components.items():
            name, _, kind = key.rpartition("_")
            if not name:
                continue
            if kind == "points":
                self.score_points.labels(self._component(name)).set(_num(value))
            elif kind == "stress":
                self.score_stress.labels(self._component(name)).set(_num(value))

    def _observe_assets(self, assets: Mapping[str, AssetView]) -> None:
        series: set[tuple[str, ...]] = set()
        prices: set[tuple[str, ...]] = set()
        for symbol, view in sorted(assets.items()):
            sym = self._symbol(symbol)
            cls = str(view.asset_class)
            cls = cls if cls in ASSET_CLASSES else OTHER
            # window label -> (z, log return): "15m", "60m", ... and "day"
            moves = {f"{w}m": (z, view.ret[w]) for w, z in view.z.items()}
            moves["day"] = (view.z_day, view.ret_day)
            for window, (z, log_ret) in moves.items():
                labels = (sym, cls, window)
                self.asset_z.labels(*labels).set(_num(z))
                self.asset_return.labels(*labels).set(math.expm1(log_ret))
                series.add(labels)
            self.asset_price.labels(sym, cls).set(_num(view.price_usd))
            prices.add((sym, cls))
        # An asset that left the signal (no bar for a day) must not keep its last move forever.
        for labels in self._asset_series - series:
            self.asset_z.remove(*labels)
            self.asset_return.remove(*labels)
        for labels in self._asset_price_series - prices:
            self.asset_price.remove(*labels)
        self._asset_series, self._asset_price_series = series, prices

    def _observe_classes(self, classes: ClassPanel) -> None:
        for name in CORE_CLASSES:
            self.core_class_z.labels(name).set(_num(classes.core_z.get(name)))
            self.core_class_normal.labels(name).set(_num(classes.core_z_normal.get(name)))
        for cls in ASSET_CLASSES:
            view = classes.by_class.get(cls)
            if view is not None:
                self.class_z.labels(cls).set(_num(view.z_day))
                self.class_return.labels(cls).set(_num(view.ret_day_pct) / 100.0)
            else:
                self.class_z.labels(cls).set(math.nan)
                self.class_return.labels(cls).set(math.nan)

    def _observe_liquidation_panel(self, panel: LiqPanel) -> None:
        self.liq_window_usd.set(_num(panel.notional_usd))
        self.liq_window_s.set(_num(panel.window_min) * 60.0)
        self.liq_baseline_usd.set(_num(panel.baseline_hourly_usd))
        self.liq_surge.set(_num(panel.surge_ratio))
        self.liq_long_share.set(_num(panel.long_share))
        self.liq_venues.set(_num(panel.venues_reporting))
        self.liq_lower_bound.set(1.0 if panel.is_lower_bound else 0.0)
        for exchange in set(self._exchange.seen) - set(panel.by_venue):
            self.liq_venue_window_usd.labels(exchange).set(0.0)
        for exchange, v in panel.by_venue.items():
            self.liq_venue_window_usd.labels(self._exchange(exchange)).set(_num(v.notional_usd))

    def _observe_funding(self, funding: FundingPicture) -> None:
        for series, v in funding.values.items():
            if series not in RATE_SERIES and series not in AMOUNT_SERIES:
                continue
            value = _num(v.value) if v is not None else math.nan
            if series in RATE_SERIES:
                self.funding_rate.labels(series).set(value / 100.0)
            else:
                self.funding_amount.labels(series).set(value * USD_PER_BN)
            ts = math.nan
            if v is not None:
                try:
                    day = date.fromisoformat(v.date)
                    ts = datetime.combine(day, time(), UTC).timestamp()
                except ValueError:
                    pass
            self.funding_obs_ts.labels(series).set(ts)
        for name, comp in funding.components.items():
            label = self._component(name)
            value = _num(comp.value)
            unit = given(comp.unit) or ("bp" if name in SPREAD_COMPONENTS else "usd_bn")
            if unit == "bp":
                self.funding_spread.labels(label).set(value / 10_000.0)
            else:
                self.funding_component_usd.labels(label).set(value * USD_PER_BN)
            self.funding_component_stress.labels(label).set(_num(comp.stress))
            self.funding_component_stale.labels(label).set(1.0 if comp.stale else 0.0)
        self.funding_stress.set(_num(funding.stress))
        self.funding_unknown.set(1.0 if funding.unknown else 0.0)

    def observe_idle(self, partitions: list[str]) -> None:
        """Input partitions ("topic:partition") the worker left out of its watermark as idle."""
        counts = dict.fromkeys(FEEDS, 0)
        for tp in partitions:
            topic = tp.rsplit(":", 1)[0]
            feed = next((f for f in FEEDS if topic.endswith(f) or f in topic), None)
            if feed is not None:
                counts[feed] += 1
        for feed, n in counts.items():
            self.partitions_idle.labels(feed).set(n)

    # -- alerts and Slack --------------------------------------------------------------------
    def observe_alert(self, alert: AlertEvent) -> None:
        state = alert.state if alert.state in tuple(AlertState) else OTHER
        severity = alert.severity if alert.severity in tuple(Severity) else OTHER
        self.alert_transitions.labels(alert.scope, str(state), str(severity)).inc()

    def observe_slack(self, result: str, n: int = 1) -> None:
        self.slack_sends.labels(result if result in SLACK_RESULTS else OTHER).inc(n)

    def observe_slack_delivery(self, latency_s: float, now_s: float) -> None:
        """One alert accepted by Slack, ``latency_s`` after its event time."""
        self.slack_latency.observe(max(latency_s, 0.0))
        self.notifier_last_success.set(now_s)

    def set_pending(self, n: int) -> None:
        self.notifier_pending.set(n)


def metric_names(metrics: Metrics) -> set[str]:
    """Every sample name the registry can expose (``_total``, ``_bucket``, ... included)."""
    names: set[str] = set()
    for family in metrics.registry.collect():
        for sample in family.samples:
            names.add(sample.name)
        if family.type not in ("counter", "histogram"):
            names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_count", "_sum"))
    return names


__all__ = ["FEEDS", "LAG_BUCKETS_S", "Metrics", "metric_names"]
