"""The pure detection functions over hand-made series (no Kafka, no faust)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from common.settings import (
    AlertSettings,
    BreadthSettings,
    FundingSettings,
    LiquidationSettings,
    MarketSettings,
    ScoreSettings,
)
from streams.detection import funding as fund
from streams.detection import liquidations as liq
from streams.detection import market as mkt
from streams.detection.alerting import AlertMachine, Reading, alert_id, desired_level, step
from streams.detection.mathutil import ramp
from streams.detection.score import composite, regime
from streams.records import AssetClass, AssetView

M = MarketSettings()
B = BreadthSettings()
MIN_MS = 60_000


def feed(state: mkt.AssetState, closes: list[float], start_minute: int = 1000) -> None:
    for i, c in enumerate(closes):
        mkt.add_bar(state, start_minute + i, c, M)


# -- market ---------------------------------------------------------------------------------


def test_returns_and_z_by_window() -> None:
    s = mkt.AssetState.new("BTC", "crypto", M)
    closes = [100.0] * 100 + [100.0 * math.exp(-0.0005 * i) for i in range(1, 61)]
    feed(s, closes)
    view = mkt.asset_view(s, 1000 + len(closes) - 1, M)
    assert view is not None
    assert view.ret[15] == pytest.approx(-0.0005 * 15, rel=1e-9)
    assert view.ret[60] == pytest.approx(-0.0005 * 60, rel=1e-9)
    sigma = mkt.sigma_1m(s, M)
    assert view.z[60] == pytest.approx(view.ret[60] / (sigma * math.sqrt(60)))
    # day reference for crypto = the earliest close held (less than 24 h of history)
    assert view.ret_day == pytest.approx(-0.0005 * 60, rel=1e-9)
    assert view.z_day < 0


def test_flat_prices_give_zero_not_nan_and_vol_has_a_floor() -> None:
    s = mkt.AssetState.new("SPX", "equity_index", M)
    feed(s, [5000.0] * 5000)  # long enough for the EWMA to decay below the floor
    view = mkt.asset_view(s, 5999, M)
    assert view is not None
    assert view.z[15] == 0.0 and view.z_day == 0.0
    floor = M.vol_floor_frac * mkt.prior_sigma_1m("equity_index", M)
    assert mkt.sigma_1m(s, M) == pytest.approx(floor)


def test_session_gap_sets_previous_close_for_equities_only() -> None:
    eq = mkt.AssetState.new("SPX", "equity_index", M)
    feed(eq, [100.0, 101.0], start_minute=0)
    mkt.add_bar(eq, 1000, 99.0, M)  # next morning
    assert eq.prev_close == 101.0
    view = mkt.asset_view(eq, 1000, M)
    assert view is not None
    assert view.ret_day == pytest.approx(math.log(99.0 / 101.0))
    cr = mkt.AssetState.new("BTC", "crypto", M)
    feed(cr, [100.0, 101.0], start_minute=0)
    mkt.add_bar(cr, 1000, 99.0, M)
    assert cr.prev_close is None


def test_history_is_bounded() -> None:
    s = mkt.AssetState.new("ETH", "crypto", M)
    feed(s, [100.0 + (i % 7) for i in range(4000)])
    assert len(s.minutes) <= M.history_min + 61


def day_view(asset_class: str, z_day: float, ret_day_pct: float) -> AssetView:
    """An asset at a tick with only its day move set (what the class panel reads)."""
    return AssetView(
        price_usd=100.0,
        asset_class=AssetClass(asset_class),
        fresh=True,
        age_min=0,
        sigma_1m=0.001,
        ret={},
        z={},
        ret_day=0.0,
        ret_day_pct=ret_day_pct,
        z_day=z_day,
        day_z_normal=z_day,
    )


def test_class_z_breadth_and_market_stress() -> None:
    assets = {
        "SPX": day_view("equity_index", -1.0, -1.0),
        "NVDA": day_view("ai_equity", -2.0, -4.0),
        "XAU": day_view("gold", -0.8, -1.0),
        "BTC": day_view("crypto", -3.0, -6.0),
    }
    core = mkt.core_class_z(assets, B)
    assert core == {"equities": -1.5, "gold": -0.8, "crypto": -3.0}
    assert mkt.breadth(core, B) == 1.0
    assert mkt.market_stress(core, B) == pytest.approx((0.75 + 0.4 + 1.0) / 3)
    classes = mkt.class_views(assets)
    assert classes["equity_index"].worst_z_day == -1.0


def test_breadth_with_one_class_missing_counts_it_as_not_down() -> None:
    core = mkt.core_class_z({"BTC": day_view("crypto", -5.0, -9.0)}, B)
    assert core["equities"] is None and core["gold"] is None
    assert mkt.breadth(core, B) == pytest.approx(1 / 3)


def test_comovement_counts_only_when_classes_fall() -> None:
    co = mkt.CoMovement(60)
    for i in range(60):
        x = 0.001 * math.sin(i)
        co.add((x, 0.5 * x, 2 * x))
    corr = co.average_correlation()
    assert corr == pytest.approx(1.0)
    falling = {"equities": -1.0, "gold": -0.5, "crypto": -2.0}
    rising = {"equities": 1.0, "gold": 0.5, "crypto": 2.0}
    assert mkt.comovement_stress(corr, falling, B) == pytest.approx(1.0)
    assert mkt.comovement_stress(corr, rising, B) == 0.0
    flat = mkt.CoMovement(60)
    for i in range(30):
        flat.add((0.001, 0.001 * i, None))
    assert flat.average_correlation() is None  # one side flat, the other pairs missing


def pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def test_comovement_running_sums_give_the_windows_correlations() -> None:
    """The window's sums move with it: at every step the average equals the Pearson
    correlations computed from scratch over the rows in the window (missing returns skipped)."""
    rng = random.Random(5)
    co = mkt.CoMovement(45)
    for n in range(400):
        row = tuple(None if rng.random() < 0.1 else rng.gauss(0, 0.002) for _ in range(3))
        co.add(row)
        rows = list(co.rows)
        corrs = []
        for i, j in ((0, 1), (0, 2), (1, 2)):
            pairs = [(r[i], r[j]) for r in rows if r[i] is not None and r[j] is not None]
            if len(pairs) >= 20:
                corrs.append(pearson([a for a, _ in pairs], [b for _, b in pairs]))
        expected = sum(corrs) / len(corrs) if corrs else None
        got = co.average_correlation()
        assert (got is None) == (expected is None), n
        if got is not None:
            assert got == pytest.approx(expected, abs=1e-6), n
    restored = mkt.CoMovement(45)
    for row in co.rows:
        restored.add(row)
    assert restored.sums == co.sums  # exact: a checkpoint restores the same state


# -- liquidations ---------------------------------------------------------------------------

L = LiquidationSettings()


def test_surge_against_trailing_baseline_and_long_share() -> None:
    w = liq.LiqWindow(L)
    for m in range(0, 600):  # 10 h quiet: $1m a minute
        b = liq.MinuteLiq()
        b.add("bybit", 1_000_000.0, True, False)
        w.close_minute(m, b)
    for m in range(600, 660):  # a wave: $10m a minute, 80% long, two venues
        b = liq.MinuteLiq()
        b.add("binanceusdm", 8_000_000.0, True, True)
        b.add("okx", 2_000_000.0, False, False)
        w.close_minute(m, b)
    panel = liq.pressure(w, 659)
    assert panel.notional_usd == pytest.approx(600_000_000.0)
    assert panel.baseline_hourly_usd == pytest.approx(60_000_000.0)
    assert panel.surge_ratio == pytest.approx(10.0)
    assert panel.long_share == pytest.approx(0.8)
    assert panel.venues_reporting == 2
    assert panel.venues == ["binanceusdm", "okx"]  # bybit's quiet hours are out of the window
    assert panel.is_lower_bound and panel.lower_bound_share == pytest.approx(0.8)
    assert liq.liquidation_stress(panel, L) == 1.0


def test_single_huge_liquidation_on_a_cold_start_is_floored() -> None:
    w = liq.LiqWindow(L)
    b = liq.MinuteLiq()
    b.add("bybit", 40_000_000.0, True, False)
    w.close_minute(0, b)
    panel = liq.pressure(w, 0)
    assert panel.baseline_hourly_usd == L.baseline_floor_usd
    assert panel.surge_ratio == pytest.approx(40e6 / L.baseline_floor_usd)
    # large surge, but far from a wave in size: little stress
    assert liq.liquidation_stress(panel, L) < 0.3


def test_window_slides_and_checkpoint_round_trips() -> None:
    w = liq.LiqWindow(L)
    for m in range(200):
        b = liq.MinuteLiq()
        b.add("okx", 1.0 * (m + 1), m % 2 == 0, False)
        w.close_minute(m, b)
    assert w.recent_usd / 100 == pytest.approx(sum(range(141, 201)))  # kept in cents
    again = liq.LiqWindow.from_dict(L, w.to_dict())
    assert liq.pressure(again, 199) == liq.pressure(w, 199)


# -- funding --------------------------------------------------------------------------------

F = FundingSettings()
DAY = 86_400_000
T_NOV4_15 = 1_762_268_400_000  # 2025-11-04 15:00 UTC


def book_with(rows: list[tuple[str, str, int, float]]) -> fund.FundingBook:
    b = fund.FundingBook()
    for series, d, ts, v in rows:
        b.add(series, d, ts, v, 0)
    return b


def test_funding_as_of_never_looks_ahead() -> None:
    b = book_with(
        [
            ("SOFR", "2025-11-03", T_NOV4_15 - 3600_000, 4.13),
            ("SOFR", "2025-11-04", T_NOV4_15 + DAY, 4.00),  # published tomorrow
            ("IORB", "2025-10-30", T_NOV4_15 - 5 * DAY, 3.90),
        ]
    )
    pic = fund.picture(b, T_NOV4_15, F)
    comp = pic.components["sofr_iorb"]
    assert comp.value == pytest.approx(23.0)
    assert comp.date == "2025-11-03"
    assert comp.stress == 1.0
    later = fund.picture(b, T_NOV4_15 + DAY + 1, F).components["sofr_iorb"]
    assert later.value == pytest.approx(10.0)


def test_stale_inputs_are_marked_and_left_out() -> None:
    b = book_with(
        [
            ("SOFR", "2025-10-20", T_NOV4_15 - 15 * DAY, 4.40),
            ("IORB", "2025-10-20", T_NOV4_15 - 15 * DAY, 4.15),
            ("TGA", "2025-11-03", T_NOV4_15 - 3600_000, 1000.0),
        ]
    )
    pic = fund.picture(b, T_NOV4_15, F)
    assert pic.components["sofr_iorb"].stale is True
    assert "sofr_iorb" in pic.stale
    assert pic.stress == pytest.approx(1.0)  # only TGA (full) counts


def test_no_funding_data_is_unknown_not_an_error() -> None:
    pic = fund.picture(fund.FundingBook(), T_NOV4_15, F)
    assert pic.stress is None and pic.unknown is True
    assert set(pic.missing) == {"sofr_iorb", "srf", "on_rrp", "reserves", "tga"}


def test_srf_lookback_keeps_a_month_end_spike_and_revisions_win() -> None:
    b = book_with(
        [
            ("SRF_TAKEUP", "2025-10-31", T_NOV4_15 - 4 * DAY, 50.35),
            ("SRF_TAKEUP", "2025-11-03", T_NOV4_15 - DAY, 14.75),
        ]
    )
    b.add("SRF_TAKEUP", "2025-11-03", T_NOV4_15 - 1000, 15.0, 1)
    comp = fund.picture(b, T_NOV4_15, F).components["srf"]
    assert comp.value == 50.35 and comp.stress == 1.0
    assert comp.latest_usd_bn == 15.0


def test_the_funding_panel_is_the_picture_at_every_tick() -> None:
    """The panel reuses a picture until a publication, a new UTC date or a change of the book;
    over days of minute ticks with rows added (some published later than the tick) it must equal
    a fresh ``picture`` every time, and compute it only a handful of times."""
    rng = random.Random(3)
    # Rows of Fri 2025-10-31 go stale (> 3 business days) at the midnight starting Thu Nov 6.
    book = book_with([(n, "2025-10-31", T_NOV4_15 - 4 * DAY, 4.0) for n in ("SOFR", "IORB")])
    book.add("TGA", "2025-10-31", T_NOV4_15 - 4 * DAY, 950.0, 0)
    panel = fund.FundingPanel(F)
    computed = 0
    real = fund.picture

    def counting(*args: Any) -> dict[str, Any]:
        nonlocal computed
        computed += 1
        return real(*args)

    series = ["RESERVES", "SRF_TAKEUP", "ON_RRP_AMOUNT"]  # SOFR, IORB, TGA: only Oct 31
    t0 = T_NOV4_15 - 2 * DAY
    ticks = range(t0, t0 + 4 * DAY, 60_000)
    stale = {t: bool(real(book, t, F).stale) for t in (t0, ticks[-1])}
    assert stale == {t0: False, ticks[-1]: True}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fund, "picture", counting)
        for i, t in enumerate(ticks):
            if rng.random() < 0.004:  # a publication, now or up to a day ahead (as-of join)
                day = (t + rng.randrange(-2, 2) * DAY) // DAY * DAY
                obs = datetime.fromtimestamp(day / 1000, UTC).date().isoformat()
                book.add(rng.choice(series), obs, t + rng.randrange(0, DAY), rng.uniform(1, 900), 0)
            got = panel.at(book, t)
            assert got == real(book, t, F), f"tick {i}"
    assert computed < len(ticks) / 20, computed


def test_business_days() -> None:
    from datetime import date

    assert fund.business_days_between(date(2025, 10, 31), date(2025, 11, 3)) == 1  # Fri->Mon
    assert fund.business_days_between(date(2025, 11, 3), date(2025, 11, 3)) == 0
    assert ramp(5.0, 0.0, 10.0) == 0.5 and ramp(50.0, 200.0, 10.0) == pytest.approx(150 / 190)


# -- score, regime, alerts ------------------------------------------------------------------

S = ScoreSettings()
A = AlertSettings()


def test_composite_score_is_weighted_and_unknown_counts_zero() -> None:
    score, points = composite(
        {"market": 1.0, "liquidations": 0.5, "funding": None, "comovement": 1.0}, S
    )
    assert points == {"market": 40.0, "liquidations": 12.5, "funding": 0.0, "comovement": 10.0}
    assert score == 62.5


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (
            dict(level="critical", breadth=1.0, funding_stress=0.9, liquidation_stress=1.0),
            "plumbing",
        ),
        (
            dict(
                level="warning",
                breadth=1 / 3,
                funding_stress=0.1,
                liquidation_stress=0.0,
                index_z=-0.5,
                ai_z=-2.5,
            ),
            "repricing",
        ),
        (
            dict(level="warning", breadth=2 / 3, funding_stress=None, liquidation_stress=1.0),
            "mixed",
        ),
        # broad selling that warns with calm funding and no wave is not plumbing
        (dict(level="warning", breadth=1.0, funding_stress=0.1, liquidation_stress=0.2), "mixed"),
        (dict(level="ok", breadth=0.0, funding_stress=1.0, liquidation_stress=0.0), "calm"),
    ],
)
def test_regime(kw: dict, expected: str) -> None:
    args = {"index_z": None, "ai_z": None, **kw}
    assert regime(cfg=S, **args) == expected


@pytest.mark.parametrize(
    ("reading", "level"),
    [
        (Reading(40.0, 1.0, depth=1.2), "warning"),  # broad and deep: warns with no amplifier
        (Reading(40.0, 1.0, depth=0.9), "ok"),  # broad but shallow: the score decides
        (Reading(40.0, 2 / 3, depth=-0.5), "ok"),  # one class rising (gold bid): never broad
        (Reading(60.0, 1.0, depth=3.2), "critical"),  # a crash: critical with no amplifier
        (Reading(75.0, 2 / 3, amplifier=1.0), "warning"),  # a high score without breadth
        (Reading(75.0, 1.0, amplifier=1.0), "critical"),
        (Reading(75.0, 1.0, amplifier=0.6), "warning"),  # no amplifier in full
    ],
)
def test_desired_level(reading: Reading, level: str) -> None:
    assert desired_level(reading, A) == level


def test_depth_is_the_shallowest_class() -> None:
    assert mkt.depth({"equities": -3.0, "gold": -1.5, "crypto": -5.0}) == 1.5
    assert mkt.depth({"equities": -3.0, "gold": 0.8, "crypto": -5.0}) == -0.8
    assert mkt.depth({"equities": -3.0, "gold": None, "crypto": -5.0}) == 0.0


def test_broad_episode_holds_until_the_selling_fades() -> None:
    m = AlertMachine()
    fired = []
    depths = [1.5] * 30 + [0.8] * 40 + [0.2] * 20  # deep, then between resolve and fire, then gone
    for i, d in enumerate(depths):
        fired += [(i, *t) for t in step(m, i * MIN_MS, Reading(35.0, 1.0, d), "global", A)]
    assert fired == [(5, "firing", "warning"), (70 + A.resolve_for_s // 60, "resolved", "warning")]


def run_machine(scores: list[tuple[float, float]], cfg: AlertSettings = A) -> list[tuple]:
    m = AlertMachine()
    events = []
    for i, (score, breadth) in enumerate(scores):
        ts = i * MIN_MS
        for state, sev in step(m, ts, Reading(score, breadth), "global", cfg):
            events.append((i, state, sev, m.alert_id or "-"))
    return events


def test_fires_only_after_the_for_duration_and_escalates_under_one_id() -> None:
    events = run_machine([(55, 0.5)] * 3 + [(75, 1.0)] * 10 + [(30, 0.0)] * 20)
    states = [(i, s, sev) for i, s, sev, _ in events]
    assert states[0] == (5, "firing", "warning")  # 5 minutes after the first warning tick
    assert states[1] == (8, "firing", "critical")  # critical condition since tick 3
    assert states[2][1:] == ("resolved", "critical")
    assert states[2][0] == 13 + A.resolve_for_s // 60
    assert len({aid for *_, aid in events[:2]}) == 1


def test_a_blip_does_not_fire_and_hysteresis_holds_between_thresholds() -> None:
    assert run_machine([(90, 1.0)] * 3 + [(10, 0.0)] * 10) == []
    # once firing, a score between resolve (40) and warning (50) keeps it open
    events = run_machine([(60, 0.5)] * 6 + [(45, 0.5)] * 40)
    assert [e[1] for e in events] == ["firing"]


def test_critical_needs_every_core_class_down() -> None:
    events = run_machine([(95, 2 / 3)] * 20)
    assert {sev for _, _, sev, _ in events} == {"warning"}


def test_cooldown_suppresses_a_new_episode() -> None:
    quick = AlertSettings(for_s=60, resolve_for_s=60, cooldown_s=600)
    seq = [(60, 0.5)] * 3 + [(10, 0.0)] * 3 + [(60, 0.5)] * 5 + [(10, 0.0)] * 10 + [(60, 0.5)] * 3
    events = run_machine(seq, quick)
    firings = [e for e in events if e[1] == "firing"]
    assert len(firings) == 2  # the middle episode falls inside the cooldown
    assert firings[0][3] != firings[1][3]


def test_alert_id_is_stable() -> None:
    assert alert_id("global", 1_762_268_400_000) == alert_id("global", 1_762_268_400_000)
    assert alert_id("global", 1_762_268_400_000).startswith("sw-global-20251104T1500Z-")
