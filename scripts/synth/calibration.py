"""Calibration targets: the bundled scenarios, each with the sourced figures it is built on.

One recipe per scenario in ``data/scenarios/``: 2025-11-04-everything-sells (real: the Nov 4
2025 closes and lows, ~$2.0bn liquidations with ~$1.63bn longs, the Sep-Nov 2025 funding
prints), calm-day (real mid-July 2025 levels and funding ranges, deliberately small moves),
crypto-only-crash (fictional crash on mid-August 2025 levels), funding-squeeze (a fictional
up-day on the sourced Sep-Oct 2025 funding history) and sample-tiny (a 30-minute slice of the
first). Figures come from secondary sources (market wrap-ups, FRED, NY Fed, Treasury DTS) and
are listed, with what is synthesized around them, in each recipe's ``sourced`` and ``notes``,
which the scenario's README carries verbatim.
"""

from __future__ import annotations

from datetime import date

from synth.funding import SERIES_ORDER, FundingPlan, funding_key
from synth.liquidations import LiqBlock, LiqSpec, liq_block, make_liquidations, observed_spec
from synth.prices import (
    CALM_SIGMA,
    STRESS_SIGMA,
    alts,
    calm_crypto,
    calm_equity,
    calm_gold,
    crypto,
    equity,
    gold,
    gold_sessions,
    session_knots,
    shaped,
    utc_knots,
)
from synth.scenario import Meta, Recipe, World
from synth.units import utc_ms
from synth.venues import split
from synth.walk import Asset, window

# --- 1. 2025-11-04-everything-sells ----------------------------------------------------------

NOV3, NOV4 = date(2025, 11, 3), date(2025, 11, 4)
SELL_SHAPE = (
    ("09:30", 0.55), ("10:30", 0.70), ("11:30", 0.55), ("12:30", 0.85), ("13:30", 1.05),
    ("14:15", 1.15), ("15:00", 0.95), ("15:40", 1.05), ("16:00", 1.0),
)  # fmt: skip
PLTR_SHAPE = (
    ("09:30", 0.62), ("10:00", 0.80), ("11:00", 0.70), ("12:30", 0.92), ("14:15", 1.10),
    ("15:00", 0.97), ("16:00", 1.0),
)  # fmt: skip
BTC_NOV4 = (
    ("2025-11-03T21:00", 106_500), ("2025-11-03T23:00", 106_200), ("2025-11-04T00:00", 106_700),
    ("2025-11-04T02:00", 105_900), ("2025-11-04T06:00", 105_300), ("2025-11-04T07:30", 103_900),
    ("2025-11-04T10:00", 104_400), ("2025-11-04T13:00", 104_000), ("2025-11-04T14:00", 103_600),
    ("2025-11-04T15:00", 102_300), ("2025-11-04T16:00", 101_600), ("2025-11-04T17:00", 100_500),
    ("2025-11-04T18:00", 100_900), ("2025-11-04T19:00", 99_800), ("2025-11-04T19:25", 99_420),
    ("2025-11-04T19:40", 99_100), ("2025-11-04T19:55", 99_380),
    ("2025-11-04T20:30", 99_900), ("2025-11-04T22:00", 100_800), ("2025-11-04T23:00", 100_200),
    ("2025-11-05T00:00", 100_400),
)  # fmt: skip
ETH_NOV4 = (
    ("2025-11-03T21:00", 3600), ("2025-11-03T23:00", 3585), ("2025-11-04T00:00", 3595),
    ("2025-11-04T02:00", 3560), ("2025-11-04T06:00", 3520), ("2025-11-04T07:30", 3420),
    ("2025-11-04T10:00", 3460), ("2025-11-04T13:00", 3420), ("2025-11-04T14:00", 3390),
    ("2025-11-04T15:00", 3300), ("2025-11-04T16:00", 3250), ("2025-11-04T17:00", 3170),
    ("2025-11-04T18:00", 3200), ("2025-11-04T19:00", 3140), ("2025-11-04T19:25", 3112),
    ("2025-11-04T19:40", 3097), ("2025-11-04T19:55", 3118),
    ("2025-11-04T20:30", 3180), ("2025-11-04T22:00", 3300), ("2025-11-04T23:00", 3270),
    ("2025-11-05T00:00", 3290),
)  # fmt: skip
GOLD_NOV4 = (
    ("2025-11-03T21:00", 4015), ("2025-11-03T22:00", 4012), ("2025-11-03T23:00", 4009),
    ("2025-11-04T03:00", 4001), ("2025-11-04T08:00", 3992), ("2025-11-04T13:00", 3984),
    ("2025-11-04T15:30", 3976), ("2025-11-04T16:40", 3972), ("2025-11-04T17:00", 3970),
    ("2025-11-04T17:20", 3972), ("2025-11-04T19:00", 3977),
    ("2025-11-04T22:00", 3985), ("2025-11-04T23:00", 3983), ("2025-11-05T00:00", 3985),
)  # fmt: skip
NOV4_EQUITIES = (  # symbol, previous close, close, previous-hour ratio, shape
    ("SPX", 6851.97, 6771.55, 0.9990, SELL_SHAPE),
    ("IXIC", 23834.72, 23348.64, 0.9985, SELL_SHAPE),
    ("NVDA", 206.88, 198.69, 0.9970, SELL_SHAPE),
    ("PLTR", 207.18, 190.74, 0.9950, PLTR_SHAPE),
    ("VIX", 17.17, 19.50, 1.0100, SELL_SHAPE),
)


def everything_sells_assets(start: int, end: int) -> tuple[Asset, ...]:
    assets = [
        equity(sym, STRESS_SIGMA[sym],
               session_knots(NOV3, NOV4, prev, ratio, shaped(prev, close, shape)), NOV3, NOV4)
        for sym, prev, close, ratio, shape in NOV4_EQUITIES
    ]  # fmt: skip
    assets.append(gold(STRESS_SIGMA["XAU"], utc_knots(GOLD_NOV4), gold_sessions(start, end),
                       low=3970.0))  # fmt: skip
    midnight = utc_ms("2025-11-04T00:00")
    btc = crypto("BTC", STRESS_SIGMA["BTC"], utc_knots(BTC_NOV4), (start, end), midnight,
                 low=99_100.0)  # fmt: skip
    eth = crypto("ETH", STRESS_SIGMA["ETH"], utc_knots(ETH_NOV4), (start, end), midnight,
                 low=3097.0)  # fmt: skip
    starts = {"SOL": 165.0, "XRP": 2.35, "DOGE": 0.175, "BNB": 1000.0}
    return (*assets, btc, eth, *alts(btc, starts))


# Hyperliquid led Nov 4 with $374m of the $1.27bn liquidated by 03:00 UTC (CoinGlass via
# CoinDesk, https://www.coindesk.com/markets/2025/11/04/bitcoin-ether-solana-traders-liquidated-
# for-over-usd1b-as-prices-dump-5-10): its share applied to the day; the rest era-typical.
NOV4_VENUES = split(2.0e9, 2025, {"hyperliquid": 2.0e9 * 374 / 1270})
ERA_2025 = split(1.0, 2025)  # the fictional 2025 days: era-typical shares


def nov4_liquidations() -> LiqSpec:
    """$2.0bn on Nov 4 UTC, $1.63bn of it longs; the wave's long share closes the gap."""
    quiet = (
        liq_block("2025-11-03T21:00", "2025-11-04T00:00", 15, 0.60),
        liq_block("2025-11-04T00:00", "2025-11-04T06:00", 30, 0.70),
        liq_block("2025-11-04T06:00", "2025-11-04T08:30", 110, 0.85),
        liq_block("2025-11-04T08:30", "2025-11-04T14:00", 40, 0.70),
        liq_block("2025-11-04T20:00", "2025-11-05T00:00", 60, 0.35),
    )
    day_quiet = quiet[1:]
    wave_usd = 2000 - sum(b.notional_usd for b in day_quiet) / 1e6
    wave_longs = 1630 - sum(b.notional_usd * b.long_share for b in day_quiet) / 1e6
    wave = liq_block("2025-11-04T14:00", "2025-11-04T20:00", wave_usd, wave_longs / wave_usd)
    return observed_spec((*quiet[:4], wave, quiet[4]), 38_000, NOV4_VENUES)


def everything_sells() -> Recipe:
    start, end = utc_ms("2025-11-03T21:00"), utc_ms("2025-11-05T00:00")
    meta = Meta(
        name="2025-11-04-everything-sells",
        kind="broad-tight-funding",
        description=(
            "Tuesday 2025-11-04: US equities, AI names, gold and crypto all fall on the same day "
            "while repo funding is tight (SOFR above IORB, heavy Standing Repo Facility use). "
            "Synthesized, calibrated to sourced closes, lows and liquidation totals."
        ),
        start=start,
        end=end,
        day=NOV4,
        calibration=(
            "Nov 4 2025 closes and lows (S&P 500 -1.17%, Nasdaq -2.04%, NVDA -4%, PLTR -8%, "
            "BTC -5.9% low 99.1k, ETH low 3,097, gold low ~3,970), ~$2.0bn liquidations "
            "(~$1.63bn longs), Sep-Nov 2025 SOFR/IORB/EFFR/SRF/ON RRP/TGA/reserves"
        ),
        expect=(
            ("max_severity", "critical"),
            ("regimes", ["plumbing", "mixed"]),
            ("first_fire_after", "2025-11-04T14:30:00Z"),
            ("first_fire_before", "2025-11-04T21:00:00Z"),
            ("funding_stress", "high"),
        ),
        fictional=False,
        sourced=NOV4_SOURCED,
        notes=NOV4_NOTES,
        expected_text=(
            "A **critical** alert (nothing higher exists), regime **plumbing** or **mixed**, "
            "first fired during the Nov 4 cash session (14:30-21:00 UTC); the funding component "
            "should read **high** (SOFR 23 bp over IORB published Nov 4 13:00 UTC, SRF $14.75bn "
            "on Nov 3 after $50.35bn on Oct 31)."
        ),
    )
    vol = (
        window("2025-11-04T14:30", "2025-11-04T15:00", "equity", 1.4),
        window("2025-11-04T18:00", "2025-11-04T20:00", "equity", 1.2),
        window("2025-11-03T21:00", "2025-11-04T06:00", "crypto", 0.8),
        window("2025-11-04T06:00", "2025-11-04T08:30", "crypto", 1.3),
        window("2025-11-04T14:00", "2025-11-04T20:00", "crypto", 1.5),
        window("2025-11-04T14:30", "2025-11-04T17:30", "gold", 1.3),
    )
    return Recipe(
        meta, everything_sells_assets(start, end), vol, nov4_liquidations(),
        FundingPlan("fall-2025", date(2025, 9, 22), NOV4),
    )  # fmt: skip


NOV4_SOURCED = (
    "S&P 500: Nov 3 close ~6,851.97, Nov 4 close ~6,771.55 (-1.17%).",
    "Nasdaq Composite (^IXIC, symbol IXIC): ~23,834.72 -> ~23,348.64 (-2.04%).",
    "NVDA ~206.88 -> ~198.69 (about -4%); PLTR ~207.18 -> ~190.74 (about -8%, after its "
    "Nov 3 earnings).",
    "BTC -5.9% on the UTC day, intraday low ~99.1k, close ~100.4k; ETH intraday low ~3,097.",
    "Gold (GC=F) from just above $4,000 to a low near $3,970; VIX from ~17 to ~19.5.",
    "Crypto liquidations ~$2.0bn over the 24 h, ~$1.63bn of them longs.",
    "SOFR 4.31% (Oct 28), 4.18% (Oct 29), 4.04% (Oct 30), 4.22% (Oct 31), 4.00% (Nov 4).",
    "FOMC cut on Oct 29, effective Oct 30: target range 4.00-4.25% -> 3.75-4.00%, IORB 4.15% -> "
    "3.90%; EFFR ~4.09-4.12% before, 3.87% after.",
    "Standing Repo Facility take-up $50.35bn on Oct 31 (a record) and $14.75bn on Nov 3; "
    "ON RRP ~$22bn on Nov 3; reserves drifting from ~$3.0tn (late Sep) to ~$2.85tn; TGA "
    "~$950bn-$1,000bn through October.",
)
NOV4_NOTES = (
    "Popular accounts quote about **$12bn** of crypto liquidations for this day; they differ "
    "from the figure used here. This scenario follows the ~$2.0bn (longs ~$1.63bn) sourced "
    "figure for the 24 h of Nov 4 UTC.",
    "Equity and VIX bars: Nov 3 15:00-16:00 ET (20:00-21:00 UTC, so the previous close is "
    "known) and Nov 4 09:30-16:00 ET (14:30-21:00 UTC). Gold bars around the clock except the "
    "CME break 17:00-18:00 ET (22:00-23:00 UTC). Crypto bars every minute.",
    "The timing of intraday legs and of each low is synthetic: equities weakest mid-to-late "
    "session (low near 19:15 UTC), crypto's sharpest leg 14:00-20:00 UTC with the low at "
    "~19:40 UTC, an earlier crypto leg 06:00-07:30 UTC, gold's low around 17:00 UTC.",
    'VIX previous close is set to 17.17 and its close to 19.50 ("~17 to ~19.5").',
    "Liquidation budget per block (USD): Nov 3 21:00-24:00 $15m (60% longs); Nov 4 00:00-06:00 "
    "$30m (70%); 06:00-08:30 $110m (85%); 08:30-14:00 $40m (70%); 14:00-20:00 $1,760m (83.3%, "
    "the wave); 20:00-24:00 $60m (35%, the rebound squeezes shorts).",
    "Funding values on days not listed above are synthesized inside the ranges reported for "
    "the period (SOFR 4.13-4.20% before Oct 28 with a quarter-end print of 4.24% on Sep 30, "
    "SRF mostly $0-1.5bn with spikes, ON RRP $30-50bn in late Sep falling to single digits).",
)


# --- 2. calm-day -----------------------------------------------------------------------------

JUL14, JUL15 = date(2025, 7, 14), date(2025, 7, 15)
CALM_EQUITIES = {  # previous close, close-to-close %, wiggle amplitude %, phase
    "SPX": (6268.56, -0.20, 0.12, 0),
    "IXIC": (20640.33, 0.15, 0.15, 2),
    "NVDA": (164.07, 0.55, 0.35, 4),
    "PLTR": (151.00, -0.65, 0.45, 1),
    "VIX": (17.20, 1.50, 2.00, 5),
}


def calm_day() -> Recipe:
    start, end = utc_ms("2025-07-14T21:00"), utc_ms("2025-07-16T00:00")
    midnight = utc_ms("2025-07-15T00:00")
    bands = {"SPX": 0.0045, "IXIC": 0.0045, "NVDA": 0.012, "PLTR": 0.012, "VIX": 0.05}
    assets = [
        calm_equity(sym, CALM_SIGMA[sym], JUL14, JUL15, move, bands[sym])
        for sym, move in CALM_EQUITIES.items()
    ]
    assets.append(calm_gold(CALM_SIGMA["XAU"], gold_sessions(start, end), (3360.0, 0.15, 0.1, 3),
                            0.004))  # fmt: skip
    btc = calm_crypto("BTC", CALM_SIGMA["BTC"], (start, end), midnight, (119_500, -0.4, 0.35, 0),
                      0.012)  # fmt: skip
    eth = calm_crypto("ETH", CALM_SIGMA["ETH"], (start, end), midnight, (3020, 0.6, 0.4, 3), 0.012)
    starts = {"SOL": 163.0, "XRP": 2.90, "DOGE": 0.200, "BNB": 690.0}
    meta = Meta(
        name="calm-day",
        kind="calm",
        description=(
            "An ordinary, quiet Tuesday at mid-July 2025 levels: small moves everywhere, light "
            "two-sided liquidations, calm funding. Synthesized; not a reproduction of that day."
        ),
        start=start,
        end=end,
        day=JUL15,
        calibration=(
            "Mid-July 2025 price levels and funding ranges (SOFR 4.32-4.35%, IORB 4.40%, no SRF "
            "use, ON RRP $200-250bn); moves deliberately small"
        ),
        expect=(("max_severity", "none"),),
        fictional=False,
        sourced=(
            "Price levels of mid-July 2025 (S&P 500 ~6,269, Nasdaq Composite ~20,640, NVDA ~164, "
            "PLTR ~151, gold ~$3,360, VIX ~17, BTC ~119.5k, ETH ~3,020), approximate.",
            "Policy settings of the period: target range 4.25-4.50%, IORB 4.40%, EFFR 4.33%.",
            "Ranges of the period: SOFR ~4.32-4.35%, ON RRP ~$200-250bn, reserves ~$3.3-3.4tn, "
            "TGA ~$300-350bn, SRF take-up ~0.",
        ),
        notes=(
            "Values are synthesized in the ranges of that period. The intraday moves are "
            "deliberately small and do **not** reproduce the actual 2025-07-15 tape (which had "
            "larger single-name moves); the Jun 30 quarter-end repo pressure is smoothed out of "
            "the funding history on purpose.",
            "Equity and VIX bars: Jul 14 15:00-16:00 ET (19:00-20:00 UTC) and Jul 15 09:30-16:00 "
            "ET (13:30-20:00 UTC, EDT). Gold bars except the CME break 17:00-18:00 ET "
            "(21:00-22:00 UTC in summer), so gold starts at 22:00 UTC.",
            "Targets: indices within +-0.4% close-to-close (and +-0.45% intraday), single names "
            "and crypto within +-1% (+-1.2% intraday), gold within +-0.3%.",
            "Liquidations: $22m over Jul 14 21:00-24:00 and $200m over Jul 15 UTC, 50% longs, "
            "spread evenly (minute weights only follow BTC's own wiggles).",
        ),
        expected_text='No alert of any severity (`max_severity = "none"`).',
    )
    liqs = observed_spec(
        (
            liq_block("2025-07-14T21:00", "2025-07-15T00:00", 22, 0.50),
            liq_block("2025-07-15T00:00", "2025-07-16T00:00", 200, 0.50),
        ),
        7_200,
        ERA_2025,
    )
    vol = (window("2025-07-15T13:30", "2025-07-15T14:00", "equity", 1.3),)
    return Recipe(
        meta, (*assets, btc, eth, *alts(btc, starts)), vol, liqs,
        FundingPlan("summer-2025", date(2025, 6, 2), JUL15),
    )  # fmt: skip


# --- 3. crypto-only-crash --------------------------------------------------------------------

AUG18, AUG19 = date(2025, 8, 18), date(2025, 8, 19)
CRASH_EQUITIES = {
    "SPX": (6449.15, 0.15, 0.10, 1),
    "IXIC": (21629.77, 0.25, 0.12, 3),
    "NVDA": (182.01, 0.60, 0.30, 0),
    "PLTR": (177.17, -0.50, 0.40, 6),
    "VIX": (14.99, 0.30, 1.50, 2),
}
BTC_AUG19 = (
    ("2025-08-18T20:00", 116_200), ("2025-08-18T23:00", 116_400), ("2025-08-19T00:00", 116_000),
    ("2025-08-19T06:00", 116_300), ("2025-08-19T12:00", 115_800), ("2025-08-19T13:30", 115_500),
    ("2025-08-19T14:30", 112_800), ("2025-08-19T15:30", 109_500), ("2025-08-19T16:30", 106_400),
    ("2025-08-19T16:55", 105_150), ("2025-08-19T17:15", 104_700), ("2025-08-19T17:35", 105_250),
    ("2025-08-19T18:00", 105_900), ("2025-08-19T20:00", 105_200),
    ("2025-08-19T22:00", 105_800), ("2025-08-20T00:00", 105_560),
)  # fmt: skip
ETH_AUG19 = (
    ("2025-08-18T20:00", 4300), ("2025-08-18T23:00", 4310), ("2025-08-19T00:00", 4290),
    ("2025-08-19T06:00", 4300), ("2025-08-19T12:00", 4275), ("2025-08-19T13:30", 4260),
    ("2025-08-19T14:30", 4110), ("2025-08-19T15:30", 3930), ("2025-08-19T16:30", 3790),
    ("2025-08-19T16:55", 3725), ("2025-08-19T17:15", 3700), ("2025-08-19T17:35", 3740),
    ("2025-08-19T18:00", 3790), ("2025-08-19T20:00", 3745),
    ("2025-08-19T22:00", 3800), ("2025-08-20T00:00", 3775.2),
)  # fmt: skip


def crypto_only_crash() -> Recipe:
    start, end = utc_ms("2025-08-18T20:00"), utc_ms("2025-08-20T00:00")
    midnight = utc_ms("2025-08-19T00:00")
    bands = {"SPX": 0.0045, "IXIC": 0.0045, "NVDA": 0.012, "PLTR": 0.012, "VIX": 0.05}
    assets = [
        calm_equity(sym, CALM_SIGMA[sym], AUG18, AUG19, move, bands[sym])
        for sym, move in CRASH_EQUITIES.items()
    ]
    assets.append(calm_gold(CALM_SIGMA["XAU"], gold_sessions(start, end), (3375.0, 0.2, 0.08, 5),
                            0.004))  # fmt: skip
    btc = crypto("BTC", STRESS_SIGMA["BTC"], utc_knots(BTC_AUG19), (start, end), midnight,
                 low=104_700.0)  # fmt: skip
    eth = crypto("ETH", STRESS_SIGMA["ETH"], utc_knots(ETH_AUG19), (start, end), midnight,
                 low=3700.0)  # fmt: skip
    starts = {"SOL": 183.0, "XRP": 3.05, "DOGE": 0.225, "BNB": 850.0}
    wave_longs = (1200 - 60 * 0.50 - 70 * 0.45) / 1370
    liqs = observed_spec(
        (
            liq_block("2025-08-18T20:00", "2025-08-19T00:00", 12, 0.50),
            liq_block("2025-08-19T00:00", "2025-08-19T13:30", 60, 0.50),
            liq_block("2025-08-19T13:30", "2025-08-19T18:30", 1370, wave_longs),
            liq_block("2025-08-19T18:30", "2025-08-20T00:00", 70, 0.45),
        ),
        31_000,
        ERA_2025,
    )
    vol = (
        window("2025-08-19T13:30", "2025-08-19T14:00", "equity", 1.3),
        window("2025-08-19T13:30", "2025-08-19T18:30", "crypto", 1.5),
        window("2025-08-18T20:00", "2025-08-19T12:00", "crypto", 0.6),
    )
    return Recipe(
        crash_meta(start, end), (*assets, btc, eth, *alts(btc, starts)), vol, liqs,
        FundingPlan("summer-2025", date(2025, 7, 7), AUG19),
    )  # fmt: skip


def crash_meta(start: int, end: int) -> Meta:
    return Meta(
        name="crypto-only-crash",
        kind="crypto-only",
        description=(
            "FICTIONAL day dated 2025-08-19: crypto crashes (BTC -9%, ETH -12% within a few "
            "US-session hours, ~$1.5bn liquidations, 80% longs) while equities, gold and VIX "
            "stay flat and funding is calm. Synthetic; this did not happen."
        ),
        start=start,
        end=end,
        day=AUG19,
        calibration=(
            "Fictional: mid-August 2025 price levels, a crypto-only crash (BTC -9%, ETH -12%, "
            "$1.5bn liquidations 80% longs) and calm summer-2025 funding levels"
        ),
        expect=(("max_severity", "warning"), ("allow_lower", True)),
        fictional=True,
        sourced=(
            "Only the starting price levels (mid-August 2025, approximate: S&P 500 ~6,449, "
            "Nasdaq Composite ~21,630, NVDA ~182, PLTR ~177, gold ~$3,375, VIX ~15, BTC ~116k, "
            "ETH ~4,300) and the calm funding ranges of summer 2025 (target 4.25-4.50%, IORB "
            "4.40%, SOFR ~4.32-4.35%).",
        ),
        notes=(
            "**This scenario is fictional.** The crash, its size and timing are invented to test "
            "that a crypto-only event never escalates to critical; it does not describe what "
            "happened on 2025-08-19.",
            "Targets: BTC -9% and ETH -12% UTC close-to-close (lows about -9.7% and -13.8% "
            "near 17:15 UTC), the fall concentrated in 13:30-17:15 UTC; "
            "SPX/IXIC within 0 to +0.3%, NVDA/PLTR within +-0.8%, gold 0 to +0.3%, VIX flat.",
            "Liquidation budget per block (USD): Aug 18 20:00-24:00 $12m (50% longs); Aug 19 "
            "00:00-13:30 $60m (50%); 13:30-18:30 $1,370m (83%, the wave); 18:30-24:00 $70m (45%).",
            "Funding is the calm summer-2025 generator shared with calm-day (not a reproduction "
            "of August 2025 prints; e.g. the real ON RRP balance was lower by then).",
            "Equity and VIX bars: Aug 18 15:00-16:00 ET (19:00-20:00 UTC) and Aug 19 09:30-16:00 "
            "ET (13:30-20:00 UTC). Gold bars except the CME break 17:00-18:00 ET (21:00-22:00 "
            "UTC).",
        ),
        expected_text=(
            'At most a **warning** (`max_severity = "warning"` with `allow_lower = true`: '
            "no alert is also acceptable); a crypto-only crash must never page **critical**."
        ),
    )


# --- 4. funding-squeeze ----------------------------------------------------------------------

OCT30, OCT31 = date(2025, 10, 30), date(2025, 10, 31)
UP_SHAPE = (
    ("09:30", 0.35), ("10:30", 0.50), ("11:30", 0.45), ("12:30", 0.70), ("13:30", 0.80),
    ("14:30", 0.75), ("15:30", 0.95), ("16:00", 1.0),
)  # fmt: skip
OCT31_EQUITIES = (  # symbol, previous close, close-to-close %, previous-hour ratio
    ("SPX", 6822.34, 0.6, 0.9990),
    ("IXIC", 23581.14, 0.9, 0.9985),
    ("NVDA", 202.89, 1.5, 0.9970),
    ("PLTR", 193.00, 2.0, 0.9960),
    ("VIX", 16.91, -4.2, 1.0080),
)


def funding_squeeze() -> Recipe:
    start, end = utc_ms("2025-10-30T20:00"), utc_ms("2025-11-01T00:00")
    midnight = utc_ms("2025-10-31T00:00")
    sigma = {k: v * 0.75 for k, v in STRESS_SIGMA.items()}
    assets = [
        equity(sym, sigma[sym], session_knots(OCT30, OCT31, prev, ratio,
               shaped(prev, prev * (1 + move / 100), UP_SHAPE)), OCT30, OCT31)
        for sym, prev, move, ratio in OCT31_EQUITIES
    ]  # fmt: skip
    assets.append(calm_gold(sigma["XAU"], gold_sessions(start, end), (4000.0, 0.3, 0.12, 2), 0.006))
    btc = calm_crypto("BTC", sigma["BTC"], (start, end), midnight, (108_000, 2.0, 0.4, 1), 0.03)
    eth = calm_crypto("ETH", sigma["ETH"], (start, end), midnight, (3850, 2.5, 0.5, 4), 0.04)
    starts = {"SOL": 185.0, "XRP": 2.50, "DOGE": 0.185, "BNB": 1090.0}
    liqs = observed_spec(
        (
            liq_block("2025-10-30T20:00", "2025-10-31T00:00", 20, 0.40),
            liq_block("2025-10-31T00:00", "2025-10-31T13:30", 50, 0.35),
            liq_block("2025-10-31T13:30", "2025-10-31T20:00", 70, 0.25),
            liq_block("2025-10-31T20:00", "2025-11-01T00:00", 30, 0.30),
        ),
        5_600,
        ERA_2025,
    )
    vol = (window("2025-10-31T13:30", "2025-10-31T14:00", "equity", 1.3),)
    return Recipe(
        squeeze_meta(start, end), (*assets, btc, eth, *alts(btc, starts)), vol, liqs,
        FundingPlan("fall-2025", date(2025, 9, 22), OCT31),
    )  # fmt: skip


def squeeze_meta(start: int, end: int) -> Meta:
    return Meta(
        name="funding-squeeze",
        kind="funding-only",
        description=(
            "FICTIONAL market day modelled on the Oct 31 2025 month-end: risk assets rise while "
            "repo funding is squeezed (SOFR 32 bp over IORB, record $50.35bn SRF take-up). "
            "Prices and liquidations are synthetic; the funding history follows Sep-Oct 2025."
        ),
        start=start,
        end=end,
        day=OCT31,
        calibration=(
            "Fictional up-day prices (SPX +0.6%, Nasdaq +0.9%, BTC +2%) on the sourced Sep-Oct "
            "2025 funding history (SOFR 4.22% vs IORB 3.90% on Oct 31, SRF $50.35bn)"
        ),
        expect=(("max_severity", "none"), ("funding_stress", "high")),
        fictional=True,
        sourced=(
            "Funding: the same Sep-Oct 2025 history as 2025-11-04-everything-sells up to Oct 31: "
            "SOFR 4.31% (Oct 28), 4.18% (Oct 29), 4.04% (Oct 30), 4.22% (Oct 31); FOMC cut "
            "effective Oct 30 (IORB 4.15% -> 3.90%, target 3.75-4.00%); EFFR 3.87% after the cut; "
            "SRF take-up $50.35bn on Oct 31 (record); reserves ~$2.83tn (Oct 29); TGA ~$1,000bn.",
            "Starting price levels of Oct 30 2025 (approximate: S&P 500 ~6,822, Nasdaq Composite "
            "~23,581, NVDA ~203, PLTR ~193, gold ~$4,000, VIX ~16.9, BTC ~108k, ETH ~3,850).",
        ),
        notes=(
            "**The market day is fictional**: the price moves (SPX +0.6%, IXIC +0.9%, NVDA +1.5%, "
            "PLTR +2%, BTC +2%, ETH +2.5%, gold +0.3%, VIX -4.2%) and the light, mostly-short "
            "liquidations (~$150m, 30% longs) are invented; the real session differed. Only the "
            "funding history is modelled on real prints.",
            "Published inside the window: SOFR for Oct 30 (4.04%, Oct 31 12:00 UTC), SRF and ON "
            "RRP for Oct 31 (13:30 ET = 17:30 UTC, EDT), reserves for Oct 29 (Oct 30 20:30 UTC). "
            "SOFR 4.22% for Oct 31 is published Nov 3, after the window, and is included anyway "
            "(each funding file carries every observation dated up to the scenario day).",
            "Equity and VIX bars: Oct 30 15:00-16:00 ET (19:00-20:00 UTC) and Oct 31 09:30-16:00 "
            "ET (13:30-20:00 UTC). Gold (GC=F) closes for the weekend at Friday 17:00 ET (21:00 "
            "UTC), so it has no bars after that; its daily break is 21:00-22:00 UTC.",
            "Liquidation budget per block (USD): Oct 30 20:00-24:00 $20m (40% longs); Oct 31 "
            "00:00-13:30 $50m (35%); 13:30-20:00 $70m (25%); 20:00-24:00 $30m (30%).",
        ),
        expected_text=(
            'No price-driven alert (`max_severity = "none"`: risk assets rise), but the funding '
            'component must read **high** (`funding_stress = "high"`): funding stress alone '
            "is not an 'everything sells' shock."
        ),
    )


# --- 5. sample-tiny --------------------------------------------------------------------------


def tiny_meta() -> Meta:
    return Meta(
        name="sample-tiny",
        description=(
            "A 30-minute format sample (2025-11-04 15:00-15:30 UTC) cut from "
            "2025-11-04-everything-sells: all 8 symbols, ~150 liquidations, a short funding "
            "history. For quick tests and the first demo; not a detection test."
        ),
        start=utc_ms("2025-11-04T15:00"),
        end=utc_ms("2025-11-04T15:30"),
        day=NOV4,
        calibration=(
            "A 30-minute slice of the 2025-11-04-everything-sells price paths; liquidations at "
            "~5 a minute; the last 5 published observations of each funding series"
        ),
        expect=(),
        fictional=False,
        sourced=NOV4_SOURCED,
        notes=(
            "Prices are the bars of 2025-11-04-everything-sells ending 15:01-15:30 UTC "
            "(identical values). Liquidations are drawn afresh for this window (~5 a minute, "
            "$6m market-wide, 83% longs, the subscribed venues' ~66% of it in the file) "
            "against the same price paths. Funding holds, per series, "
            "the last 5 observations published by 15:30 UTC.",
            "There is deliberately **no `[expect]` table**: this is a format sample, not a "
            "detection test.",
            "Popular accounts quote about $12bn of crypto liquidations for Nov 4 2025; the "
            "parent scenario follows the ~$2.0bn sourced figure instead.",
        ),
        expected_text="None declared (no `[expect]`).",
    )


def build_tiny(parent: World) -> World:
    meta = tiny_meta()
    prices = [r for r in parent.prices if meta.start < r["ts_ms"] <= meta.end]
    spec = observed_spec((LiqBlock(meta.start, meta.end, 6e6, 0.83),), 150, NOV4_VENUES)
    liqs = make_liquidations(spec, parent.paths, meta.name, (meta.start, meta.end))
    published = [r for r in parent.funding if r["ts_ms"] <= meta.end]
    funding = [
        r for name in SERIES_ORDER for r in [x for x in published if x["series"] == name][-5:]
    ]
    return World(
        meta, parent.assets, parent.paths, prices, liqs, sorted(funding, key=funding_key), spec
    )


RECIPES = {
    "2025-11-04-everything-sells": everything_sells,
    "calm-day": calm_day,
    "crypto-only-crash": crypto_only_crash,
    "funding-squeeze": funding_squeeze,
}
SCENARIOS = (*RECIPES, "sample-tiny")
