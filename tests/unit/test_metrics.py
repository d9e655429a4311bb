"""alerts.metrics: every observe_* call, on a fresh registry, read back with get_sample_value."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from alerts.metrics import FEEDS, LAG_BUCKETS_S, MAX_SYMBOLS, Metrics, metric_names
from shockwatch.cli.sample import sample_alert, sample_outputs
from streams.records import REJECT_REASONS, FundingComponent, FundingPicture, ShockSignal


@pytest.fixture
def m() -> Metrics:
    return Metrics(CollectorRegistry())


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def critical_signal() -> ShockSignal:
    """The synthetic day's tick with the highest score (the real detector produced it)."""
    return max((o.signal for o in sample_outputs()), key=lambda s: s.score)


# -- naming -------------------------------------------------------------------------------------


def test_names_have_one_prefix_units_and_total_counters(m: Metrics) -> None:
    m.observe_signal(critical_signal())
    for family in m.registry.collect():
        assert family.name.startswith("shockwatch_")
        assert not family.name.startswith("shockwatch_shockwatch")
        for sample in family.samples:
            assert "alert_id" not in sample.labels, "alert ids must never be labels"
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name


def test_default_registry_is_fresh() -> None:
    a, b = Metrics(), Metrics()
    assert a.registry is not b.registry


def test_closed_label_sets_start_at_zero(m: Metrics) -> None:
    for feed in FEEDS:
        assert value(m, "shockwatch_events_processed_total", feed=feed) == 0
        for reason in REJECT_REASONS:
            assert value(m, "shockwatch_events_rejected_total", feed=feed, reason=reason) == 0
    for result in ("ok", "retry", "failed", "duplicate_skipped"):
        assert value(m, "shockwatch_slack_sends_total", result=result) == 0


# -- health -------------------------------------------------------------------------------------


def test_observe_events(m: Metrics) -> None:
    m.observe_events("prices", 3, 1_762_266_000_000, [0.01, 0.2, 7200.0])
    m.observe_events("prices", 2, 1_762_265_000_000, [-0.5])  # older batch, clock skew
    assert value(m, "shockwatch_events_processed_total", feed="prices") == 5
    # the newest event time wins: an out-of-order batch does not age the feed
    assert value(m, "shockwatch_last_event_timestamp_seconds", feed="prices") == 1_762_266_000
    assert value(m, "shockwatch_event_lag_seconds_count", feed="prices") == 4
    assert value(m, "shockwatch_event_lag_seconds_bucket", feed="prices", le="0.05") == 2
    assert value(m, "shockwatch_event_lag_seconds_bucket", feed="prices", le="0.25") == 3
    assert value(m, "shockwatch_event_lag_seconds_bucket", feed="prices", le="7200.0") == 4
    assert LAG_BUCKETS_S[0] == 0.05 and LAG_BUCKETS_S[-1] == 86400.0
    assert value(m, "shockwatch_last_event_timestamp_seconds", feed="funding") is None


def test_unknown_feed_is_bounded(m: Metrics) -> None:
    m.observe_events("someone-elses-topic", 1, None, [])
    assert value(m, "shockwatch_events_processed_total", feed="other") == 1


def test_observe_rejected(m: Metrics) -> None:
    m.observe_rejected("liquidations", "late_event")
    m.observe_rejected("liquidations", "late_event", 4)
    m.observe_rejected("prices", "not-a-reason")
    assert (
        value(m, "shockwatch_events_rejected_total", feed="liquidations", reason="late_event") == 5
    )
    assert value(m, "shockwatch_events_rejected_total", feed="prices", reason="other") == 1


def test_observe_liquidations(m: Metrics) -> None:
    m.observe_liquidations(
        {
            ("binanceusdm", "BTC", "long"): (3, 3_000_000.0),
            ("bybit", "ETH", "short"): (1, 50_000.0),
            ("okx", "PEPE", "long"): (2, 10_000.0),
            ("okx", "WIF", "long"): (1, 5_000.0),
        }
    )
    m.observe_liquidations({("binanceusdm", "BTC", "long"): (1, 1_000_000.0)})
    labels = {"exchange": "binanceusdm", "base": "BTC", "side": "long"}
    assert value(m, "shockwatch_liquidations_total", **labels) == 4
    assert value(m, "shockwatch_liquidations_usd_total", **labels) == 4_000_000.0
    # the altcoin long tail shares one label value
    other = {"exchange": "okx", "base": "other", "side": "long"}
    assert value(m, "shockwatch_liquidations_total", **other) == 3
    assert value(m, "shockwatch_liquidations_usd_total", **other) == 15_000.0


def test_exchange_label_is_capped(m: Metrics) -> None:
    for i in range(40):
        m.observe_liquidations({(f"venue{i}", "BTC", "long"): (1, 1.0)})
    exchanges = {
        s.labels["exchange"]
        for f in m.registry.collect()
        if f.name == "shockwatch_liquidations"
        for s in f.samples
    }
    assert "other" in exchanges
    assert len(exchanges) <= 17


# -- signals ------------------------------------------------------------------------------------


def test_observe_signal_sets_every_family(m: Metrics) -> None:
    s = critical_signal()
    m.observe_signal(s)
    assert s.alert_state == "critical"
    assert value(m, "shockwatch_composite_score", scope="global") == s.score
    assert value(m, "shockwatch_alert_state", scope="global") == 3
    assert value(m, "shockwatch_breadth_ratio", scope="global") == s.breadth
    assert value(m, "shockwatch_regime", scope="global", regime=s.regime) == 1
    others = [r for r in ("plumbing", "repricing", "mixed", "calm") if r != s.regime]
    assert all(value(m, "shockwatch_regime", scope="global", regime=r) == 0 for r in others)
    assert value(m, "shockwatch_last_signal_timestamp_seconds", scope="global") == s.ts_ms / 1000
    # per asset, by window
    btc = s.assets["BTC"]
    z = value(m, "shockwatch_asset_zscore", symbol="BTC", asset_class="crypto", window="day")
    assert z == btc.z_day
    ret = value(
        m, "shockwatch_asset_return_ratio", symbol="BTC", asset_class="crypto", window="day"
    )
    assert ret == pytest.approx(btc.ret_day_pct / 100)
    z15 = value(
        m, "shockwatch_asset_zscore", symbol="SPX", asset_class="equity_index", window="15m"
    )
    assert z15 == s.assets["SPX"].z[15]
    assert (
        value(m, "shockwatch_asset_price_usd", symbol="BTC", asset_class="crypto") == btc.price_usd
    )
    # classes
    for core, z in s.classes.core_z.items():
        assert value(m, "shockwatch_core_class_zscore", core_class=core) == z
    for core, z in s.classes.core_z_normal.items():
        assert value(m, "shockwatch_core_class_normal_days", core_class=core) == z
    assert value(m, "shockwatch_broad_depth_normal_days", scope="global") == s.classes.depth
    zc = value(m, "shockwatch_class_zscore", asset_class="ai_equity")
    assert zc == s.classes.by_class["ai_equity"].z_day
    # score components
    assert (
        value(m, "shockwatch_score_component_points", component="market")
        == s.components["market_points"]
    )
    assert (
        value(m, "shockwatch_score_component_stress_ratio", component="funding")
        == s.components["funding_stress"]
    )
    # liquidations panel
    liq = s.liquidations
    assert value(m, "shockwatch_liquidations_window_usd") == liq.notional_usd
    assert value(m, "shockwatch_liquidations_surge_ratio") == liq.surge_ratio
    assert value(m, "shockwatch_liquidations_long_share_ratio") == liq.long_share
    assert value(m, "shockwatch_liquidations_venues_reporting") == 3
    assert value(m, "shockwatch_liquidations_window_seconds") == 3600
    assert value(m, "shockwatch_liquidations_lower_bound") == 1
    assert (
        value(m, "shockwatch_liquidations_venue_window_usd", exchange="bybit")
        == liq.by_venue["bybit"].notional_usd
    )


def test_funding_in_base_units(m: Metrics) -> None:
    s = critical_signal()
    m.observe_signal(s)
    values = s.funding.values
    comps = s.funding.components
    assert value(m, "shockwatch_funding_rate_ratio", series="SOFR") == pytest.approx(
        values["SOFR"].value / 100
    )
    assert value(m, "shockwatch_funding_amount_usd", series="RESERVES") == pytest.approx(
        values["RESERVES"].value * 1e9
    )
    # SOFR - IORB: basis points -> ratio (10 bp = 0.001)
    assert value(m, "shockwatch_funding_spread_ratio", component="sofr_iorb") == pytest.approx(
        comps["sofr_iorb"].value / 10_000
    )
    assert value(m, "shockwatch_funding_component_usd", component="srf") == pytest.approx(
        comps["srf"].value * 1e9
    )
    assert (
        value(m, "shockwatch_funding_component_stress_ratio", component="tga")
        == comps["tga"].stress
    )
    assert value(m, "shockwatch_funding_stress_ratio") == s.funding.stress
    assert value(m, "shockwatch_funding_stress_unknown") == 0
    obs = value(m, "shockwatch_funding_observation_timestamp_seconds", series="SOFR")
    assert obs is not None and obs % 86400 == 0


def test_unknown_funding_is_nan_and_flagged(m: Metrics) -> None:
    s = critical_signal()
    unknown = replace(
        s,
        funding=FundingPicture(
            stress=None,
            unknown=True,
            components={
                "sofr_iorb": FundingComponent(value=None, stress=None, date=None, stale=False)
            },
            stale=[],
            missing=["sofr_iorb"],
            price_gate=1.0,
            values={"SOFR": None},
        ),
        comovement=None,
    )
    m.observe_signal(unknown)
    assert math.isnan(value(m, "shockwatch_funding_stress_ratio"))
    assert value(m, "shockwatch_funding_stress_unknown") == 1
    assert math.isnan(value(m, "shockwatch_funding_spread_ratio", component="sofr_iorb"))
    assert math.isnan(value(m, "shockwatch_comovement_correlation", scope="global"))
    assert math.isnan(value(m, "shockwatch_funding_rate_ratio", series="SOFR"))


def test_alert_state_values(m: Metrics) -> None:
    s = critical_signal()
    for state, expected in (("ok", 0), ("pending", 1), ("warning", 2), ("critical", 3)):
        m.observe_signal(replace(s, alert_state=state))
        assert value(m, "shockwatch_alert_state", scope="global") == expected


def test_assets_that_leave_the_signal_are_removed(m: Metrics) -> None:
    s = critical_signal()
    m.observe_signal(s)
    labels = {"symbol": "PLTR", "asset_class": "ai_equity", "window": "day"}
    assert value(m, "shockwatch_asset_zscore", **labels) is not None
    m.observe_signal(replace(s, assets={k: v for k, v in s.assets.items() if k != "PLTR"}))
    assert value(m, "shockwatch_asset_zscore", **labels) is None
    assert value(m, "shockwatch_asset_price_usd", symbol="PLTR", asset_class="ai_equity") is None
    assert value(m, "shockwatch_asset_zscore", symbol="BTC", asset_class="crypto", window="day")


def test_symbol_label_is_capped(m: Metrics) -> None:
    s = critical_signal()
    view = s.assets["BTC"]
    many = {f"COIN{i}": view for i in range(MAX_SYMBOLS + 20)}
    m.observe_signal(replace(s, assets=many))
    symbols = {
        smp.labels["symbol"]
        for f in m.registry.collect()
        if f.name == "shockwatch_asset_zscore"
        for smp in f.samples
    }
    assert len(symbols) == MAX_SYMBOLS + 1 and "other" in symbols


def test_every_signal_of_a_day_is_accepted(m: Metrics) -> None:
    for out in sample_outputs():
        m.observe_signal(out.signal)
    assert value(m, "shockwatch_signals_total", scope="global") == len(sample_outputs())


# -- alerts and Slack ---------------------------------------------------------------------------


def test_observe_alert(m: Metrics) -> None:
    m.observe_signal(critical_signal())  # a scope's transitions start at zero
    labels = {"scope": "global", "state": "firing", "severity": "critical"}
    assert value(m, "shockwatch_alert_transitions_total", **labels) == 0
    m.observe_alert(sample_alert("firing", "critical"))
    m.observe_alert(sample_alert("resolved", "critical"))
    assert value(m, "shockwatch_alert_transitions_total", **labels) == 1
    resolved = {**labels, "state": "resolved"}
    assert value(m, "shockwatch_alert_transitions_total", **resolved) == 1


def test_observe_slack(m: Metrics) -> None:
    m.observe_slack("ok")
    m.observe_slack("retry", 2)
    m.observe_slack("duplicate_skipped")
    m.observe_slack("nonsense")
    assert value(m, "shockwatch_slack_sends_total", result="ok") == 1
    assert value(m, "shockwatch_slack_sends_total", result="retry") == 2
    assert value(m, "shockwatch_slack_sends_total", result="duplicate_skipped") == 1
    assert value(m, "shockwatch_slack_sends_total", result="other") == 1
    m.observe_slack_delivery(0.3, 1_800_000_000.0)
    assert value(m, "shockwatch_slack_delivery_seconds_count") == 1
    assert value(m, "shockwatch_notifier_last_success_timestamp_seconds") == 1_800_000_000.0


def test_metric_names_lists_exposed_samples(m: Metrics) -> None:
    names = metric_names(m)
    assert "shockwatch_liquidations_usd_total" in names
    assert "shockwatch_event_lag_seconds_bucket" in names
    assert "shockwatch_composite_score" in names
    assert "shockwatch_liquidations_usd" not in names  # counters are exposed as _total only
