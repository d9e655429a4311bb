"""Prices: trading sessions, calibration knots, the assets' path specs and the 1-minute bars.

Synthesizes the ``prices`` topic: 1-minute OHLC bars for SPX, IXIC (the Nasdaq Composite),
NVDA, PLTR, XAU (CME gold, GC=F), VIX, BTC and ETH, cut from the walks of ``synth.walk``
(open/close = first/last point of the minute, high/low = its extremes; ts_ms = bar end,
price_usd = close, rounded to 2 decimals). Sessions: equities and VIX trade the previous
session's last hour (so its close is known) and the day's 09:30-16:00 ET; gold trades
Sun 18:00 - Fri 17:00 ET with the daily 17:00-18:00 ET break; crypto every minute. SOL, XRP,
DOGE and BNB get paths too (BTC's knots with a beta) but only to price their liquidations.

Calibrated to: the knots built here from sourced figures (previous close, close, day low per
symbol; see ``synth.calibration``). The per-minute volatilities (``STRESS_SIGMA``,
``CALM_SIGMA``), factor loadings (``RHO``) and alt-coin betas (``ALTS``) are chosen, not
sourced; calm paths are a straight line to the close plus a fixed wiggle (``WIGGLE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from streams.instruments import CLASS_OF
from synth.units import (
    MINUTE_MS,
    SCHEMA_VERSION,
    STEPS_PER_MINUTE,
    Knot,
    Record,
    Session,
    et_ms,
    et_wall,
    every,
    utc_ms,
)
from synth.walk import Asset, PricePath

SYMBOL_ORDER = ("SPX", "IXIC", "NVDA", "PLTR", "XAU", "VIX", "BTC", "ETH")
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Sessions


def equity_sessions(prev_day: date, day: date) -> tuple[Session, ...]:
    """The previous session's last hour (so its close is known) and the full day session."""
    return (
        (et_ms(prev_day, "15:00"), et_ms(prev_day, "16:00")),
        (et_ms(day, "09:30"), et_ms(day, "16:00")),
    )


def gold_is_open(bar_start: int) -> bool:
    """CME gold (GC=F): Sun 18:00 - Fri 17:00 ET with a daily 17:00-18:00 ET break."""
    wall = et_wall(bar_start)
    weekday, hour = wall.weekday(), wall.hour
    if weekday == 5 or (weekday == 4 and hour >= 17) or (weekday == 6 and hour < 18):
        return False
    return hour != 17


def gold_sessions(start: int, end: int) -> tuple[Session, ...]:
    sessions: list[Session] = []
    run_start: int | None = None
    for bar_start in range(start, end, MINUTE_MS):
        if gold_is_open(bar_start):
            run_start = bar_start if run_start is None else run_start
        elif run_start is not None:
            sessions.append((run_start, bar_start))
            run_start = None
    if run_start is not None:
        sessions.append((run_start, end))
    return tuple(sessions)


# ---------------------------------------------------------------------------------------------
# Calibration knots (the deterministic drift path)


def utc_knots(points: Sequence[tuple[str, float]]) -> tuple[Knot, ...]:
    return tuple((utc_ms(when), price) for when, price in points)


def beta_knots(leader: Sequence[Knot], start_price: float, beta: float) -> tuple[Knot, ...]:
    """Follow a leader's knots with a beta on its log moves (alt coins following BTC)."""
    base = leader[0][1]
    return tuple((when, start_price * (price / base) ** beta) for when, price in leader)


def session_knots(
    prev_day: date,
    day: date,
    prev_close: float,
    last_hour_ratio: float,
    day_points: Sequence[tuple[str, float]],
) -> tuple[Knot, ...]:
    """Equity-like knots: the previous session's last hour, then (ET wall time, price)."""
    head = (
        (et_ms(prev_day, "15:00"), prev_close * last_hour_ratio),
        (et_ms(prev_day, "16:00"), prev_close),
    )
    return head + tuple((et_ms(day, hhmm), price) for hhmm, price in day_points)


def shaped(
    prev_close: float, close: float, shape: Sequence[tuple[str, float]]
) -> list[tuple[str, float]]:
    """At each ET time, the fraction ``f`` of the close-to-close log move (f = 1 is the close)."""
    ratio = close / prev_close
    return [(hhmm, close if f == 1.0 else prev_close * ratio**f) for hhmm, f in shape]


WIGGLE = (0.6, -0.5, 0.8, -0.3, 0.4, -0.6, 0.2, 0.7, -0.4)


def wiggled(
    ref: float, close_pct: float, amp_pct: float, times: Sequence[T], phase: int = 0
) -> list[tuple[T, float]]:
    """A calm path: a straight line to ``close_pct`` plus a fixed wiggle of ``amp_pct``."""
    points: list[tuple[T, float]] = []
    last = len(times)
    for i, when in enumerate(times, start=1):
        wiggle = 0.0 if i == last else WIGGLE[(i + phase) % len(WIGGLE)]
        points.append((when, ref * (1 + (close_pct * i / last + amp_pct * wiggle) / 100)))
    return points


# ---------------------------------------------------------------------------------------------
# Bars


def bar_records(path: PricePath) -> list[Record]:
    asset = path.asset
    out: list[Record] = []
    for start, prices in path.segments:
        for k in range((len(prices) - 1) // STEPS_PER_MINUTE):
            chunk = prices[k * STEPS_PER_MINUTE : (k + 1) * STEPS_PER_MINUTE + 1]
            out.append(
                {
                    "schema_version": SCHEMA_VERSION,
                    "ts_ms": start + (k + 1) * MINUTE_MS,
                    "source": asset.source,
                    "symbol": asset.symbol,
                    "asset_class": asset.asset_class,
                    "price_usd": round(chunk[-1], 2),
                    "interval_s": 60,
                    "open_usd": round(chunk[0], 2),
                    "high_usd": round(max(chunk), 2),
                    "low_usd": round(min(chunk), 2),
                }
            )
    return out


def price_records(paths: dict[str, PricePath]) -> list[Record]:
    records = [r for s in SYMBOL_ORDER for r in bar_records(paths[s])]
    return sorted(records, key=lambda r: (r["ts_ms"], SYMBOL_ORDER.index(r["symbol"])))


# ---------------------------------------------------------------------------------------------
# Assets (the price-path specs the scenarios and the calendar build on)


ALTS = (("SOL", 1.5, 1.6), ("XRP", 1.3, 1.5), ("DOGE", 1.5, 1.7), ("BNB", 1.0, 0.9))  # beta, vol
STRESS_SIGMA = {
    "SPX": 0.0005, "IXIC": 0.0007, "NVDA": 0.0012, "PLTR": 0.0020, "VIX": 0.0040,
    "XAU": 0.0003, "BTC": 0.0010, "ETH": 0.0013,
}  # fmt: skip
CALM_SIGMA = {
    "SPX": 0.00025, "IXIC": 0.00035, "NVDA": 0.0008, "PLTR": 0.0012, "VIX": 0.0025,
    "XAU": 0.0002, "BTC": 0.0006, "ETH": 0.0008,
}  # fmt: skip
RHO = {
    "SPX": 0.9, "IXIC": 0.9, "NVDA": 0.7, "PLTR": 0.5, "VIX": -0.7, "XAU": 0.0,
    "BTC": 0.85, "ETH": 0.85,
}  # fmt: skip
# The asset class of each equity-side symbol: the one instrument table's.
EQUITY_CLASS = {s: str(CLASS_OF[s]) for s in ("SPX", "IXIC", "NVDA", "PLTR", "VIX")}


def equity(
    symbol: str, sigma: float, knots: tuple[Knot, ...], prev_day: date, day: date, **kw: Any
) -> Asset:
    return Asset(
        symbol, EQUITY_CLASS[symbol], "yfinance", "equity", sigma, RHO[symbol], knots,
        equity_sessions(prev_day, day), et_ms(prev_day, "16:00"), **kw,
    )  # fmt: skip


def gold(sigma: float, knots: tuple[Knot, ...], sessions: tuple[Session, ...], **kw: Any) -> Asset:
    return Asset(
        "XAU", "gold", "yfinance", "gold", sigma, 0.0, knots, sessions, sessions[0][0], **kw
    )


def crypto(
    symbol: str, sigma: float, knots: tuple[Knot, ...], window: Session, ref_ms: int, **kw: Any
) -> Asset:
    rho = RHO.get(symbol, 0.8)
    return Asset(symbol, "crypto", "ccxt:binanceusdm", "crypto", sigma, rho, knots, (window,),
                 ref_ms, **kw)  # fmt: skip


def alts(btc: Asset, starts: dict[str, float]) -> list[Asset]:
    """SOL/XRP/DOGE/BNB: BTC's knots with a beta, only used to price their liquidations."""
    return [
        crypto(
            sym,
            btc.sigma * vol,
            beta_knots(btc.knots, starts[sym], beta),
            btc.sessions[0],
            btc.ref_ms,
            emit=False,
        )
        for sym, beta, vol in ALTS
    ]


def calm_equity(
    symbol: str,
    sigma: float,
    prev_day: date,
    day: date,
    move: tuple[float, float, float, int],
    band: float,
) -> Asset:
    """A quiet equity-like path: (previous close, close-to-close %, wiggle amplitude %, phase)."""
    prev_close, close_pct, amp, phase = move
    times = ("09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30", "16:00")
    points = wiggled(prev_close, close_pct, amp, times, phase)
    knots = session_knots(prev_day, day, prev_close, 1 - 0.1 * close_pct / 100, points)
    return equity(symbol, sigma, knots, prev_day, day, band=band)


def calm_crypto(
    symbol: str,
    sigma: float,
    window_: Session,
    ref_ms: int,
    move: tuple[float, float, float, int],
    band: float,
) -> Asset:
    """Quiet crypto: a start price, the reference (UTC midnight) price, then a wiggled path."""
    ref, close_pct, amp, phase = move
    head = ((window_[0], ref * (1 - 0.001)), (ref_ms, ref))
    knots = head + tuple(wiggled(ref, close_pct, amp, every(ref_ms, window_[1], 3), phase))
    return crypto(symbol, sigma, knots, window_, ref_ms, band=band)


def calm_gold(
    sigma: float, sessions: tuple[Session, ...], move: tuple[float, float, float, int], band: float
) -> Asset:
    ref, close_pct, amp, phase = move
    start, end = sessions[0][0], sessions[-1][1]
    knots = ((start, ref), *wiggled(ref, close_pct, amp, every(start, end, 2), phase))
    return gold(sigma, knots, sessions, band=band)
