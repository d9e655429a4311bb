#!/usr/bin/env python3
"""Synthesize shockwatch's bundled replay scenarios into ``data/scenarios/<name>/``.

Every scenario folder gets ``scenario.toml``, ``README.md``, ``prices.jsonl.gz`` (1-minute bars
for SPX, IXIC, NVDA, PLTR, XAU, VIX, BTC, ETH), ``liquidations.jsonl.gz`` (forced-liquidation
prints from Binance USD-M, Bybit and OKX) and ``funding.jsonl`` (daily and weekly money-market
series stamped with their publication time), in the public scenario format described in
``data/scenarios/README.md``.

All records are synthesized, but calibrated to sourced figures (secondary sources: market
wrap-ups, FRED, NY Fed, Treasury DTS): each symbol's close-to-close move and day low, the day's
liquidation total and long share, and the published funding values named in each scenario's
README. Prices are geometric random walks on a 10-second grid (one common factor per asset
group) bridged through a deterministic piecewise drift path, so the previous close, every leg,
the day low and the close land on their targets; no record carries anything derived from later
data. Liquidation sizes are heavy-tailed (truncated lognormal) and scaled to per-block budgets.

Deterministic: fixed string seeds for ``random.Random`` and gzip with ``mtime=0``, so two runs
write byte-identical files. Standard library only.

    python scripts/synthesize_scenarios.py                       # all scenarios, data/scenarios
    python scripts/synthesize_scenarios.py --only calm-day --out /tmp/scenarios
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import math
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

MINUTE_MS = 60_000
STEP_MS = 10_000
STEPS_PER_MINUTE = MINUTE_MS // STEP_MS
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SCHEMA_VERSION = 1
LOW_TOLERANCE = 0.001  # a calibrated day low may be undercut by at most 0.1%
MAX_ATTEMPTS = 500
SYMBOL_ORDER = ("SPX", "IXIC", "NVDA", "PLTR", "XAU", "VIX", "BTC", "ETH")
# The Nasdaq Composite was first carried under the Nasdaq-100's ticker NDX; its random walk
# keeps that seed, so regenerating changes the label, not the paths.
SEED_NAMES = {"IXIC": "NDX"}
SERIES_ORDER = (
    "SOFR", "EFFR", "IORB", "TARGET_UPPER", "TARGET_LOWER",
    "ON_RRP_AMOUNT", "SRF_TAKEUP", "TGA", "RESERVES",
)  # fmt: skip
# US bond-market holidays inside the funding histories (no SOFR/EFFR/repo/DTS that day).
HOLIDAYS = frozenset(
    date.fromisoformat(d)
    for d in ("2025-05-26", "2025-06-19", "2025-07-04", "2025-09-01", "2025-10-13", "2025-11-11")
)

Knot = tuple[int, float]  # (UTC epoch ms, price)
Session = tuple[int, int]  # [start, end] in UTC epoch ms; bars end at start+60 s ... end
Record = dict[str, Any]
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Time


def utc_ms(text: str) -> int:
    """``"2025-11-04T14:30"`` (UTC; a trailing ``Z`` is allowed) -> epoch milliseconds."""
    moment = datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%m-%d %H:%M")


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def et_offset_hours(day: date) -> int:
    """US Eastern offset from UTC: -4 (EDT) from the 2nd Sunday of March to the 1st of November."""
    return -4 if nth_sunday(day.year, 3, 2) <= day < nth_sunday(day.year, 11, 1) else -5


def et_ms(day: date, hhmm: str) -> int:
    """A New York wall-clock time on ``day`` -> UTC epoch milliseconds."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    return int((wall - timedelta(hours=et_offset_hours(day))).timestamp() * 1000)


def et_wall(ms: int) -> datetime:
    utc = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return utc + timedelta(hours=et_offset_hours(utc.date()))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def every(start: int, end: int, hours: float) -> list[int]:
    """Times after ``start`` every ``hours`` up to and including ``end``."""
    step = int(hours * HOUR_MS)
    times = list(range(start + step, end, step))
    return [*times, end]


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
# Price paths


@dataclass(frozen=True)
class Asset:
    symbol: str
    asset_class: str
    source: str
    group: str  # "equity" | "gold" | "crypto": common factor and volatility regime
    sigma: float  # per-minute log-return volatility
    rho: float  # loading on the group's common factor
    knots: tuple[Knot, ...]
    sessions: tuple[Session, ...]
    ref_ms: int  # time of the reference ("previous close") price
    emit: bool = True  # False: only used to price liquidations (SOL, XRP, DOGE, BNB)
    low: float | None = None  # calibrated day low: the path may undercut it by LOW_TOLERANCE
    band: float | None = None  # calm scenarios: max |price / reference - 1| anywhere


@dataclass(frozen=True)
class VolWindow:
    start: int
    end: int
    group: str
    multiplier: float


@dataclass
class Factors:
    """One N(0,1) draw per 10-second step per group, shared by every asset of that group."""

    seed: str
    origin: int
    draws: dict[str, list[float]] = field(default_factory=dict)
    rngs: dict[str, random.Random] = field(default_factory=dict)

    def z(self, group: str, ms: int) -> float:
        index = (ms - self.origin) // STEP_MS
        draws = self.draws.setdefault(group, [])
        rng = self.rngs.setdefault(group, random.Random(f"{self.seed}:factor:{group}"))
        while len(draws) <= index:
            draws.append(rng.gauss(0.0, 1.0))
        return draws[index]


@dataclass(frozen=True)
class Market:
    factors: Factors
    windows: tuple[VolWindow, ...]

    def multiplier(self, group: str, ms: int) -> float:
        out = 1.0
        for w in self.windows:
            if w.group == group and w.start <= ms < w.end:
                out *= w.multiplier
        return out


@dataclass(frozen=True)
class PricePath:
    asset: Asset
    segments: tuple[tuple[int, tuple[float, ...]], ...]  # (session start, price every 10 s)

    def _locate(self, ms: int) -> tuple[int, tuple[float, ...], int]:
        for start, prices in self.segments:
            if start <= ms <= start + (len(prices) - 1) * STEP_MS:
                return start, prices, (ms - start) // STEP_MS
        start, prices = self.segments[0] if ms < self.segments[0][0] else self.segments[-1]
        return start, prices, 0 if ms < start else len(prices) - 1

    def price_at(self, ms: int) -> float:
        _, prices, index = self._locate(ms)
        return prices[index]

    def minute_range(self, ms: int) -> tuple[float, float]:
        """Low and high of the 1-minute bar containing ``ms``."""
        start, prices, _ = self._locate(ms)
        first = (ms - start) // MINUTE_MS * STEPS_PER_MINUTE
        chunk = prices[first : first + STEPS_PER_MINUTE + 1]
        return min(chunk), max(chunk)

    def all_prices(self) -> Iterable[float]:
        for _, prices in self.segments:
            yield from prices


def log_interp(times: Sequence[int], logs: Sequence[float], ms: int) -> float:
    index = bisect.bisect_right(times, ms)
    if index == 0:
        return logs[0]
    if index == len(times):
        return logs[-1]
    t0, t1 = times[index - 1], times[index]
    weight = (ms - t0) / (t1 - t0)
    return (1 - weight) * logs[index - 1] + weight * logs[index]


def pin_indices(knots: Sequence[Knot], start: int, end: int) -> list[int]:
    inner = {(when - start) // STEP_MS for when, _ in knots if start < when < end}
    return sorted({0, (end - start) // STEP_MS} | inner)


def bridge(shocks: Sequence[float], variances: Sequence[float], pins: Sequence[int]) -> list[float]:
    """Brownian bridge: the cumulated shocks, pulled back to zero at every pin."""
    out = [0.0] * len(shocks)
    for a, b in pairwise(pins):
        walk, var = 0.0, 0.0
        partial: list[tuple[float, float]] = []
        for i in range(a + 1, b + 1):
            walk += shocks[i]
            var += variances[i]
            partial.append((walk, var))
        for i, (w, v) in enumerate(partial, start=a + 1):
            out[i] = w - (v / var) * walk if var > 0 else 0.0
    return out


def simulate_session(
    asset: Asset, market: Market, rng: random.Random, start: int, end: int
) -> tuple[float, ...]:
    times = list(range(start, end + 1, STEP_MS))
    shocks, variances = [0.0], [0.0]
    idio = math.sqrt(1.0 - asset.rho**2)
    for when in times[:-1]:
        sd = asset.sigma * market.multiplier(asset.group, when) / math.sqrt(STEPS_PER_MINUTE)
        z = asset.rho * market.factors.z(asset.group, when) + idio * rng.gauss(0.0, 1.0)
        shocks.append(sd * z)
        variances.append(sd * sd)
    noise = bridge(shocks, variances, pin_indices(asset.knots, start, end))
    knot_times = [when for when, _ in asset.knots]
    knot_logs = [math.log(price) for _, price in asset.knots]
    return tuple(
        math.exp(log_interp(knot_times, knot_logs, when) + b)
        for when, b in zip(times, noise, strict=True)
    )


def acceptable(path: PricePath) -> bool:
    asset = path.asset
    if asset.low is not None and min(path.all_prices()) < asset.low * (1 - LOW_TOLERANCE):
        return False
    if asset.band is not None:
        ref = path.price_at(asset.ref_ms)
        return all(abs(price / ref - 1) <= asset.band for price in path.all_prices())
    return True


def build_path(asset: Asset, market: Market, seed: str) -> PricePath:
    """The first seeded walk (attempt 0, 1, ...) that respects the asset's low and band."""
    for attempt in range(MAX_ATTEMPTS):
        rng = random.Random(f"{seed}:{SEED_NAMES.get(asset.symbol, asset.symbol)}:{attempt}")
        segments = tuple(
            (start, simulate_session(asset, market, rng, start, end))
            for start, end in asset.sessions
        )
        path = PricePath(asset, segments)
        if acceptable(path):
            return path
    raise RuntimeError(f"{seed}: no path for {asset.symbol} within its calibration bounds")


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
# Liquidations


@dataclass(frozen=True)
class Base:
    name: str
    count_weight: float  # share of liquidation events
    qty_decimals: int


BASES = (
    Base("BTC", 0.40, 3),
    Base("ETH", 0.30, 3),
    Base("SOL", 0.12, 2),
    Base("XRP", 0.08, 1),
    Base("DOGE", 0.06, 0),
    Base("BNB", 0.04, 2),
)
VENUES = (("binanceusdm", 0.40), ("bybit", 0.35), ("okx", 0.25))  # share of notional
SIZE_MEDIAN_USD = 3_500.0
SIZE_SIGMA = 2.4  # log-space sd: a heavy right tail
SIZE_CAP_USD = 5_000_000.0  # the lognormal is truncated here (largest prints $1-5m)
COUNT_EXPONENT = 0.85  # events per cell ~ notional**0.85: big waves also have bigger prints
SLIPPAGE_SD = 0.0004
BINANCE = "binanceusdm"


@dataclass(frozen=True)
class LiqBlock:
    start: int
    end: int
    notional_usd: float
    long_share: float


@dataclass(frozen=True)
class LiqSpec:
    blocks: tuple[LiqBlock, ...]
    events: int  # approximate total number of events


@dataclass(frozen=True)
class Cell:
    block: LiqBlock
    side: str
    venue: str
    notional_usd: float
    count: int


@dataclass(frozen=True)
class Draft:
    ts_ms: int
    side: str
    venue: str
    base: Base
    notional_usd: float


def liq_block(start: str, end: str, notional_musd: float, long_share: float) -> LiqBlock:
    return LiqBlock(utc_ms(start), utc_ms(end), notional_musd * 1e6, long_share)


def plan_cells(spec: LiqSpec) -> list[Cell]:
    """Split every block by side and venue; events per cell ~ its notional**COUNT_EXPONENT."""
    raw: list[tuple[LiqBlock, str, str, float]] = []
    for block in spec.blocks:
        for side, share in (("long", block.long_share), ("short", 1 - block.long_share)):
            for venue, venue_share in VENUES:
                raw.append((block, side, venue, block.notional_usd * share * venue_share))
    weights = [notional**COUNT_EXPONENT for *_, notional in raw]
    scale = spec.events / sum(weights)
    return [
        Cell(block, side, venue, notional, max(1, round(weight * scale)))
        for (block, side, venue, notional), weight in zip(raw, weights, strict=True)
        if notional > 0
    ]


def minute_weights(btc: PricePath, block: LiqBlock, side: str) -> tuple[list[int], list[float]]:
    """Minute start times and cumulative weights: longs cluster after down-moves, shorts after
    up-moves (BTC's trailing 5-minute return in units of its volatility)."""
    minutes = list(range(block.start, block.end, MINUTE_MS))
    sd = btc.asset.sigma * math.sqrt(5)
    cumulative: list[float] = []
    total = 0.0
    for m in minutes:
        z = math.log(btc.price_at(m + MINUTE_MS) / btc.price_at(m - 4 * MINUTE_MS)) / sd
        push = max(0.0, -z) if side == "long" else max(0.0, z)
        total += 0.5 + push * push
        cumulative.append(total)
    return minutes, cumulative


def draw_size(rng: random.Random) -> float:
    while True:
        size = SIZE_MEDIAN_USD * math.exp(SIZE_SIGMA * rng.gauss(0.0, 1.0))
        if size <= SIZE_CAP_USD:
            return size


def fit_sizes(raw: Sequence[float], jitter: Sequence[float], target: float) -> list[float]:
    """Scale sizes so they sum to ``target``; a size pushed over the cap becomes cap x its
    jitter (in [0.5, 1)), so the largest prints spread over $2.5-5m instead of piling up."""

    def sized(scale: float) -> list[float]:
        return [
            x * scale if x * scale < SIZE_CAP_USD else SIZE_CAP_USD * j
            for x, j in zip(raw, jitter, strict=True)
        ]

    scale = target / sum(raw)
    sizes = sized(scale)
    for _ in range(60):
        free = sum(x * scale for x in raw if x * scale < SIZE_CAP_USD)
        if free <= 0 or abs(sum(sizes) - target) < 0.5:
            break
        scale *= (target - (sum(sizes) - free)) / free
        sizes = sized(scale)
    return sizes


def draw_cell(
    cell: Cell, minutes: Sequence[int], cumulative: Sequence[float], rng: random.Random
) -> list[Draft]:
    stamps = rng.choices(minutes, cum_weights=cumulative, k=cell.count)
    bases = rng.choices(BASES, weights=[b.count_weight for b in BASES], k=cell.count)
    raw = [draw_size(rng) for _ in range(cell.count)]
    jitter = [rng.uniform(0.5, 1.0) for _ in range(cell.count)]
    sizes = fit_sizes(raw, jitter, cell.notional_usd)
    return [
        Draft(minute + rng.randrange(MINUTE_MS), cell.side, cell.venue, base, size)
        for minute, base, size in zip(stamps, bases, sizes, strict=True)
    ]


def free_second(draft: Draft, taken: set[tuple[str, int]], lo: int, hi: int) -> int:
    """Nearest time (whole seconds away) at which this Binance symbol has no print yet."""
    for offset in range(3600):
        for sign in (1, -1):
            when = draft.ts_ms + sign * offset * 1000
            if lo <= when < hi and (draft.base.name, when // 1000) not in taken:
                return when
    raise RuntimeError(f"no free second for a Binance {draft.base.name} print")


def respect_binance_limit(drafts: Sequence[Draft], lo: int, hi: int) -> list[Draft]:
    """Binance pushes at most one liquidation per symbol per second: space its prints out."""
    taken: set[tuple[str, int]] = set()
    out: list[Draft] = []
    for draft in sorted(drafts, key=draft_key):
        if draft.venue == BINANCE:
            draft = replace(draft, ts_ms=free_second(draft, taken, lo, hi))
            taken.add((draft.base.name, draft.ts_ms // 1000))
        out.append(draft)
    return sorted(out, key=draft_key)


def draft_key(d: Draft) -> tuple[int, str, str, str, float]:
    return d.ts_ms, d.venue, d.base.name, d.side, d.notional_usd


def liquidation_record(draft: Draft, path: PricePath, rng: random.Random, seq: int) -> Record:
    lo, hi = path.minute_range(draft.ts_ms)
    mark = path.price_at(draft.ts_ms) * math.exp(rng.gauss(0.0, SLIPPAGE_SD))
    decimals = price_decimals(lo)
    price = round(min(max(mark, lo), hi), decimals)
    step = 10.0**-draft.base.qty_decimals
    qty = round(max(draft.notional_usd / price, step), draft.base.qty_decimals)
    symbol = f"{draft.base.name}/USDT:USDT"
    return {
        "schema_version": SCHEMA_VERSION,
        "ts_ms": draft.ts_ms,
        "source": f"ccxt:{draft.venue}",
        "exchange": draft.venue,
        "symbol": symbol,
        "base": draft.base.name,
        "side_liquidated": draft.side,
        "qty_base": qty,
        "price_usd": price,
        "notional_usd": round(qty * price, 2),
        "event_id": f"{draft.venue}:{symbol}:{draft.ts_ms}:{seq}",
        "lower_bound": draft.venue == BINANCE,
    }


def price_decimals(price: float) -> int:
    """2 decimals for prices >= $10 (as the bars), more for cheap coins (XRP 4, DOGE 5)."""
    if price >= 10:
        return 2
    return 4 if price >= 1 else 5


def make_liquidations(
    spec: LiqSpec, paths: dict[str, PricePath], seed: str, window: Session
) -> list[Record]:
    rng = random.Random(f"{seed}:liquidations")
    weights: dict[tuple[LiqBlock, str], tuple[list[int], list[float]]] = {}
    drafts: list[Draft] = []
    for cell in plan_cells(spec):
        key = (cell.block, cell.side)
        if key not in weights:
            weights[key] = minute_weights(paths["BTC"], cell.block, cell.side)
        drafts.extend(draw_cell(cell, *weights[key], rng))
    drafts = respect_binance_limit(drafts, window[0], window[1])
    price_rng = random.Random(f"{seed}:liquidation-prices")
    return [
        liquidation_record(d, paths[d.base.name], price_rng, seq) for seq, d in enumerate(drafts)
    ]


# ---------------------------------------------------------------------------------------------
# Funding


@dataclass(frozen=True)
class SeriesDef:
    name: str
    source: str
    unit: str
    release: tuple[int, str]  # (publish on the next business day?, ET wall time)
    anchors: tuple[tuple[str, float], ...]  # observation date -> value (sourced or chosen)
    noise: float = 0.0  # sd added between anchors
    step: bool = False  # hold the last anchor instead of interpolating
    sparse: float = 0.0  # chance a non-anchor day prints 0 (else uniform in [floor, cap])
    floor: float | None = None
    cap: float | None = None
    weekly: bool = False  # Wednesday levels (H.4.1)

    @property
    def decimals(self) -> int:
        return 2 if self.unit == "pct" else 3


@dataclass(frozen=True)
class FundingPlan:
    regime: str
    first_day: date
    last_observation: date


SOFR_AT = (1, "08:00")
EFFR_AT = (1, "09:00")
RATE_AT = (0, "00:00")  # administered rates are known at the start of the date
REPO_AT = (0, "13:30")
DTS_AT = (1, "16:00")
H41_AT = (1, "16:30")


def pct(name: str, source: str, release: tuple[int, str], anchors: Any, **kw: Any) -> SeriesDef:
    return SeriesDef(name, source, "pct", release, tuple(anchors), **kw)


def bn(name: str, source: str, release: tuple[int, str], anchors: Any, **kw: Any) -> SeriesDef:
    return SeriesDef(name, source, "usd_bn", release, tuple(anchors), **kw)


FALL_2025 = (
    pct("SOFR", "nyfed", SOFR_AT, (
        ("2025-09-22", 4.17), ("2025-09-25", 4.16), ("2025-09-29", 4.18), ("2025-09-30", 4.24),
        ("2025-10-01", 4.20), ("2025-10-02", 4.16), ("2025-10-09", 4.14), ("2025-10-15", 4.20),
        ("2025-10-17", 4.18), ("2025-10-24", 4.19), ("2025-10-27", 4.20), ("2025-10-28", 4.31),
        ("2025-10-29", 4.18), ("2025-10-30", 4.04), ("2025-10-31", 4.22), ("2025-11-03", 4.13),
        ("2025-11-04", 4.00),
    ), noise=0.01, floor=4.13, cap=4.20),
    pct("EFFR", "nyfed", EFFR_AT, (
        ("2025-09-22", 4.09), ("2025-10-15", 4.10), ("2025-10-22", 4.11), ("2025-10-27", 4.12),
        ("2025-10-30", 3.87),
    ), step=True),
    pct("IORB", "fred", RATE_AT, (("2025-09-22", 4.15), ("2025-10-30", 3.90)), step=True),
    pct("TARGET_UPPER", "fred", RATE_AT, (("2025-09-22", 4.25), ("2025-10-30", 4.00)), step=True),
    pct("TARGET_LOWER", "fred", RATE_AT, (("2025-09-22", 4.00), ("2025-10-30", 3.75)), step=True),
    bn("ON_RRP_AMOUNT", "nyfed", REPO_AT, (
        ("2025-09-22", 42.0), ("2025-09-26", 33.0), ("2025-09-29", 38.0), ("2025-09-30", 52.0),
        ("2025-10-01", 28.0), ("2025-10-08", 16.0), ("2025-10-15", 9.0), ("2025-10-22", 5.0),
        ("2025-10-24", 4.5), ("2025-10-28", 9.0), ("2025-10-30", 18.0), ("2025-10-31", 30.0),
        ("2025-11-03", 22.0), ("2025-11-04", 17.0),
    ), noise=2.5, floor=1.0),
    bn("SRF_TAKEUP", "nyfed", REPO_AT, (
        ("2025-09-22", 0.0), ("2025-09-29", 1.5), ("2025-09-30", 6.0), ("2025-10-01", 1.0),
        ("2025-10-15", 3.25), ("2025-10-16", 8.35), ("2025-10-17", 1.0), ("2025-10-27", 2.0),
        ("2025-10-28", 10.35), ("2025-10-29", 7.5), ("2025-10-30", 16.0), ("2025-10-31", 50.35),
        ("2025-11-03", 14.75), ("2025-11-04", 5.0),
    ), sparse=0.6, floor=0.001, cap=1.5),
    bn("TGA", "treasury", DTS_AT, (
        ("2025-09-22", 860.0), ("2025-09-30", 905.0), ("2025-10-01", 925.0), ("2025-10-08", 960.0),
        ("2025-10-15", 995.0), ("2025-10-22", 975.0), ("2025-10-28", 962.0), ("2025-10-31", 1000.0),
        ("2025-11-03", 968.0), ("2025-11-04", 948.0),
    ), noise=6.0, cap=1000.0),
    bn("RESERVES", "fred", H41_AT, (
        ("2025-09-10", 3150.0), ("2025-09-17", 3075.0), ("2025-09-24", 3030.0),
        ("2025-10-01", 2995.0), ("2025-10-08", 2968.0), ("2025-10-15", 2931.0),
        ("2025-10-22", 2874.0), ("2025-10-29", 2833.0),
    ), weekly=True),
)  # fmt: skip

SUMMER_2025 = (
    pct("SOFR", "nyfed", SOFR_AT, (
        ("2025-06-02", 4.33), ("2025-07-15", 4.34), ("2025-08-19", 4.33),
    ), noise=0.008, floor=4.32, cap=4.35),
    pct("EFFR", "nyfed", EFFR_AT, (("2025-06-02", 4.33),), step=True),
    pct("IORB", "fred", RATE_AT, (("2025-06-02", 4.40),), step=True),
    pct("TARGET_UPPER", "fred", RATE_AT, (("2025-06-02", 4.50),), step=True),
    pct("TARGET_LOWER", "fred", RATE_AT, (("2025-06-02", 4.25),), step=True),
    bn("ON_RRP_AMOUNT", "nyfed", REPO_AT, (
        ("2025-06-02", 205.0), ("2025-06-30", 245.0), ("2025-07-15", 228.0), ("2025-08-19", 212.0),
    ), noise=6.0, floor=200.0, cap=250.0),
    bn("SRF_TAKEUP", "nyfed", REPO_AT, (("2025-06-02", 0.0),), sparse=0.9, floor=0.001, cap=0.01),
    bn("TGA", "treasury", DTS_AT, (
        ("2025-06-02", 330.0), ("2025-06-16", 345.0), ("2025-07-01", 335.0), ("2025-07-15", 318.0),
        ("2025-08-19", 342.0),
    ), noise=5.0, floor=300.0, cap=350.0),
    bn("RESERVES", "fred", H41_AT, (
        ("2025-05-28", 3395.0), ("2025-06-04", 3381.0), ("2025-06-11", 3362.0),
        ("2025-06-18", 3318.0), ("2025-06-25", 3350.0), ("2025-07-02", 3372.0),
        ("2025-07-09", 3356.0), ("2025-07-16", 3342.0), ("2025-07-23", 3338.0),
        ("2025-07-30", 3321.0), ("2025-08-06", 3334.0), ("2025-08-13", 3315.0),
    ), weekly=True),
)  # fmt: skip

REGIMES = {"fall-2025": FALL_2025, "summer-2025": SUMMER_2025}


def publish_ms(observed: date, release: tuple[int, str]) -> int:
    next_day, hhmm = release
    return et_ms(next_business_day(observed) if next_day else observed, hhmm)


def anchor_level(series: SeriesDef, day: date) -> float:
    points = [(date.fromisoformat(d), v) for d, v in series.anchors]
    before = [(d, v) for d, v in points if d <= day] or points[:1]
    after = [(d, v) for d, v in points if d >= day] or points[-1:]
    (d0, v0), (d1, v1) = before[-1], after[0]
    if series.step or d0 == d1:
        return v0
    return v0 + (v1 - v0) * (day - d0).days / (d1 - d0).days


def clamp(value: float, lo: float | None, hi: float | None) -> float:
    value = value if lo is None else max(lo, value)
    return value if hi is None else min(hi, value)


def series_value(series: SeriesDef, day: date, regime: str) -> float:
    """Anchors are exact; days between get interpolation + noise (or sparse draws), seeded by
    (regime, series, date) so every scenario sharing a regime sees the same history."""
    anchors = dict(series.anchors)
    if day.isoformat() in anchors:
        return anchors[day.isoformat()]
    rng = random.Random(f"{regime}:{series.name}:{day.isoformat()}")
    if series.sparse:
        if rng.random() < series.sparse:
            return 0.0
        return round(rng.uniform(series.floor or 0.0, series.cap or 0.0), series.decimals)
    value = anchor_level(series, day) + (rng.gauss(0.0, series.noise) if series.noise else 0.0)
    return round(clamp(value, series.floor, series.cap), series.decimals)


def observation_days(series: SeriesDef, plan: FundingPlan) -> list[date]:
    first = plan.first_day - timedelta(days=7) if series.weekly else plan.first_day
    days = [first + timedelta(days=i) for i in range((plan.last_observation - first).days + 1)]
    if series.weekly:
        return [d for d in days if d.weekday() == 2]
    return [d for d in days if is_business_day(d)]


def funding_records(plan: FundingPlan) -> list[Record]:
    records = [
        {
            "schema_version": SCHEMA_VERSION,
            "ts_ms": publish_ms(day, series.release),
            "source": series.source,
            "series": series.name,
            "observation_date": day.isoformat(),
            "value": series_value(series, day, plan.regime),
            "unit": series.unit,
            "revision": 0,
        }
        for series in REGIMES[plan.regime]
        for day in observation_days(series, plan)
    ]
    return sorted(records, key=funding_key)


def funding_key(r: Record) -> tuple[int, int, str]:
    return r["ts_ms"], SERIES_ORDER.index(r["series"]), r["observation_date"]


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Meta:
    name: str
    description: str
    start: int
    end: int
    day: date  # the scenario's day (its 24 h UTC are used for the liquidation summary)
    calibration: str
    expect: tuple[tuple[str, Any], ...]
    fictional: bool
    sourced: tuple[str, ...]
    notes: tuple[str, ...]
    expected_text: str
    kind: str = ""  # what kind of day (data/scenarios/README.md); shown by `shockwatch backtest`


@dataclass(frozen=True)
class Recipe:
    meta: Meta
    assets: tuple[Asset, ...]
    vol_windows: tuple[VolWindow, ...]
    liquidations: LiqSpec
    funding: FundingPlan


@dataclass
class World:
    meta: Meta
    assets: dict[str, Asset]
    paths: dict[str, PricePath]
    prices: list[Record]
    liquidations: list[Record]
    funding: list[Record]
    liq_spec: LiqSpec


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
EQUITY_CLASS = {
    "SPX": "equity_index", "IXIC": "equity_index", "NVDA": "ai_equity", "PLTR": "ai_equity",
    "VIX": "volatility",
}  # fmt: skip


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


def window(start: str, end: str, group: str, multiplier: float) -> VolWindow:
    return VolWindow(utc_ms(start), utc_ms(end), group, multiplier)


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
    return LiqSpec((*quiet[:4], wave, quiet[4]), events=38_000)


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
    liqs = LiqSpec(
        (
            liq_block("2025-07-14T21:00", "2025-07-15T00:00", 22, 0.50),
            liq_block("2025-07-15T00:00", "2025-07-16T00:00", 200, 0.50),
        ),
        events=7_200,
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
    liqs = LiqSpec(
        (
            liq_block("2025-08-18T20:00", "2025-08-19T00:00", 12, 0.50),
            liq_block("2025-08-19T00:00", "2025-08-19T13:30", 60, 0.50),
            liq_block("2025-08-19T13:30", "2025-08-19T18:30", 1370, wave_longs),
            liq_block("2025-08-19T18:30", "2025-08-20T00:00", 70, 0.45),
        ),
        events=31_000,
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
    liqs = LiqSpec(
        (
            liq_block("2025-10-30T20:00", "2025-10-31T00:00", 20, 0.40),
            liq_block("2025-10-31T00:00", "2025-10-31T13:30", 50, 0.35),
            liq_block("2025-10-31T13:30", "2025-10-31T20:00", 70, 0.25),
            liq_block("2025-10-31T20:00", "2025-11-01T00:00", 30, 0.30),
        ),
        events=5_600,
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
            "$6m in all, 83% longs) against the same price paths. Funding holds, per series, "
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
    spec = LiqSpec((LiqBlock(meta.start, meta.end, 6e6, 0.83),), events=150)
    liqs = make_liquidations(spec, parent.paths, meta.name, (meta.start, meta.end))
    published = [r for r in parent.funding if r["ts_ms"] <= meta.end]
    funding = [
        r for name in SERIES_ORDER for r in [x for x in published if x["series"] == name][-5:]
    ]
    return World(
        meta, parent.assets, parent.paths, prices, liqs, sorted(funding, key=funding_key), spec
    )


def build_world(recipe: Recipe) -> World:
    meta = recipe.meta
    origin = min(start for asset in recipe.assets for start, _ in asset.sessions)
    market = Market(Factors(meta.name, origin), recipe.vol_windows)
    paths = {a.symbol: build_path(a, market, meta.name) for a in recipe.assets}
    liqs = make_liquidations(recipe.liquidations, paths, meta.name, (meta.start, meta.end))
    return World(
        meta, {a.symbol: a for a in recipe.assets}, paths, price_records(paths), liqs,
        funding_records(recipe.funding), recipe.liquidations,
    )  # fmt: skip


RECIPES = {
    "2025-11-04-everything-sells": everything_sells,
    "calm-day": calm_day,
    "crypto-only-crash": crypto_only_crash,
    "funding-squeeze": funding_squeeze,
}
SCENARIOS = (*RECIPES, "sample-tiny")


# ---------------------------------------------------------------------------------------------
# Summaries (for the READMEs)


@dataclass(frozen=True)
class Move:
    symbol: str
    ref_ms: int
    ref: float
    close_ms: int
    close: float
    low_ms: int
    low: float

    @property
    def pct(self) -> float:
        return (self.close / self.ref - 1) * 100


def symbol_move(records: Sequence[Record], ref_ms: int) -> Move:
    """Reference: the close of the bar ending at ``ref_ms`` (else the first bar's open)."""
    at_ref = [r for r in records if r["ts_ms"] == ref_ms]
    ref_ms, ref = (
        (ref_ms, at_ref[0]["price_usd"]) if at_ref
        else (records[0]["ts_ms"] - MINUTE_MS, records[0]["open_usd"])
    )  # fmt: skip
    after = [r for r in records if r["ts_ms"] > ref_ms]
    lowest = min(after, key=lambda r: r["low_usd"])
    last = records[-1]
    return Move(records[0]["symbol"], ref_ms, ref, last["ts_ms"], last["price_usd"],
                lowest["ts_ms"], lowest["low_usd"])  # fmt: skip


def moves(world: World) -> list[Move]:
    return [
        symbol_move([r for r in world.prices if r["symbol"] == sym], world.assets[sym].ref_ms)
        for sym in SYMBOL_ORDER
    ]


@dataclass(frozen=True)
class LiqSummary:
    events: int
    total: float
    long_share: float
    day_total: float
    day_long_share: float
    day_events: int
    venues: dict[str, float]
    bases: dict[str, float]
    median: float
    largest: float
    over_1m: int


def liq_summary(records: Sequence[Record], day: date, window: Session) -> LiqSummary:
    day_start = utc_ms(day.isoformat() + "T00:00")
    lo, hi = max(day_start, window[0]), min(day_start + DAY_MS, window[1])
    in_day = [r for r in records if lo <= r["ts_ms"] < hi]
    total = sum(r["notional_usd"] for r in records)
    day_total = sum(r["notional_usd"] for r in in_day)
    sizes = [r["notional_usd"] for r in records]

    def share(rows: Sequence[Record], key: str, value: str, of: float) -> float:
        return sum(r["notional_usd"] for r in rows if r[key] == value) / of

    return LiqSummary(
        events=len(records),
        total=total,
        long_share=share(records, "side_liquidated", "long", total),
        day_total=day_total,
        day_long_share=share(in_day, "side_liquidated", "long", day_total),
        day_events=len(in_day),
        venues={v: share(records, "exchange", v, total) for v, _ in VENUES},
        bases={b.name: share(records, "base", b.name, total) for b in BASES},
        median=statistics.median(sizes),
        largest=max(sizes),
        over_1m=sum(1 for s in sizes if s >= 1e6),
    )


def usd(value: float) -> str:
    if value >= 1e9:
        return f"${value / 1e9:,.3f}bn"
    if value >= 1e6:
        return f"${value / 1e6:,.1f}m"
    return f"${value:,.0f}"


# ---------------------------------------------------------------------------------------------
# Rendering


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def render_toml(meta: Meta) -> str:
    lines = [
        f"name = {toml_value(meta.name)}",
        f"description = {toml_value(meta.description)}",
        *([f"kind = {toml_value(meta.kind)}"] if meta.kind else []),
        f"start = {toml_value(iso_utc(meta.start))}",
        f"end = {toml_value(iso_utc(meta.end))}",
        "synthesized = true",
        f"calibration = {toml_value(meta.calibration)}",
    ]
    if meta.expect:
        lines += ["", "[expect]", *(f"{k} = {toml_value(v)}" for k, v in meta.expect)]
    return "\n".join(lines) + "\n"


def render_moves(world: World) -> list[str]:
    rows = [
        "| symbol | reference (UTC) | reference | close (UTC) | close | change | low | low at |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for m in moves(world):
        rows.append(
            f"| {m.symbol} | {short_utc(m.ref_ms)} | {m.ref:,.2f} | {short_utc(m.close_ms)} | "
            f"{m.close:,.2f} | {m.pct:+.2f}% | {m.low:,.2f} | {short_utc(m.low_ms)} |"
        )
    return rows


def render_liquidations(world: World) -> list[str]:
    s = liq_summary(world.liquidations, world.meta.day, (world.meta.start, world.meta.end))
    venues = ", ".join(f"{v} {share:.1%}" for v, share in s.venues.items())
    bases = ", ".join(f"{b} {share:.1%}" for b, share in s.bases.items())
    day = [
        f"- {world.meta.day.isoformat()} UTC (the scenario day, inside the window): "
        f"{s.day_events:,} events, {usd(s.day_total)}, longs {s.day_long_share:.1%}."
    ]
    return [
        f"- All {s.events:,} events: {usd(s.total)}, longs {s.long_share:.1%} of notional.",
        *(day if s.day_events != s.events else []),
        f"- Venue split of notional: {venues}.",
        f"- Base split of notional: {bases}.",
        f"- Print sizes: median {usd(s.median)}, largest {usd(s.largest)}, "
        f"{s.over_1m} prints of $1m or more.",
    ]


def render_funding(world: World) -> list[str]:
    inside = [r for r in world.funding if world.meta.start <= r["ts_ms"] <= world.meta.end]
    first = min(r["observation_date"] for r in world.funding)
    last = max(r["observation_date"] for r in world.funding)
    lines = [
        f"- {len(world.funding)} observations of {len({r['series'] for r in world.funding})} "
        f"series, observation dates {first} to {last}; "
        + (f"{len(inside)} published inside the window:" if inside else "none published "
           "inside the window (all are history known at the start).")
    ]  # fmt: skip
    lines += [
        f"  - {r['series']} {r['observation_date']} = {r['value']} {r['unit']} "
        f"(published {iso_utc(r['ts_ms'])})"
        for r in inside
    ]
    return lines


METHOD = (
    "- **Prices.** Each symbol is a geometric random walk on a 10-second grid with a per-minute "
    "volatility of {sigmas}, one common factor per asset group (equities and VIX - VIX loading "
    "negatively -, gold, crypto), added to a deterministic drift that is piecewise linear in log "
    "price through calibration knots (previous close, intraday legs, the day low, the close). "
    "The noise is a Brownian bridge between consecutive knots, so the path passes exactly "
    "through every knot and the last bar closes on its target. 1-minute OHLC bars are cut from "
    "the grid (open/close = first/last point of the minute, high/low = its extremes; ts_ms = "
    "bar end, price_usd = close), rounded to 2 decimals. Where a day low is a target, a path is "
    "kept only if nothing trades more than 0.1% below it; calm paths are kept only inside their "
    "band (deterministic retry with the next seed). Nothing in a bar depends on later data.",
    "- **Liquidations.** Each time block has a notional budget and a long share; each (block, "
    "side, venue) cell gets block x side share x venue share of notional (Binance 40%, Bybit "
    "35%, OKX 25%) and an event count proportional to its notional^0.85. Sizes are lognormal "
    "(median $3.5k, log-sd 2.4, truncated at $5m) scaled to the cell's notional (a print "
    "scaled past $5m is set between $2.5m and $5m instead). Minutes are drawn with weight "
    "0.5 + max(0, -z)^2 for longs (max(0, z)^2 for shorts), z = BTC's "
    "trailing 5-minute return in units of its volatility, plus a uniform millisecond inside the "
    "minute. Bases by count: BTC 40%, ETH 30%, SOL 12%, XRP 8%, DOGE 6%, BNB 4%. Price = that "
    "base's path at that moment x a lognormal slippage (sd 0.04%), clamped into the minute's "
    "high-low; qty_base rounded to the venue-style lot, notional_usd = qty_base x price_usd. "
    "SOL/XRP/DOGE/BNB paths (not published as bars) follow BTC's knots with betas "
    "1.5/1.3/1.5/1.0. Binance prints carry lower_bound = true and are moved to the nearest free "
    "second so no symbol has two in one second (Binance pushes at most one per symbol per "
    "second).",
    "- **Funding.** Daily series on US business days (bond-market holidays skipped), "
    "RESERVES weekly (Wednesday level). ts_ms is the publication time: SOFR D+1 08:00 ET, EFFR "
    "D+1 09:00 ET, IORB/TARGET_UPPER/TARGET_LOWER 00:00 ET on D (known in advance), ON RRP and "
    "SRF D 13:30 ET, TGA (Daily Treasury Statement) D+1 16:00 ET, RESERVES (H.4.1) Thursday "
    "16:30 ET; ET is converted to UTC with the US DST rule (EDT until Nov 2 2025). Named values "
    "are used exactly; days between are interpolated with small seeded noise (SRF: mostly "
    "zero with small draws). Every observation dated up to the scenario day is included, even "
    "if published after the window.",
)


def sigma_text(world: World) -> str:
    parts = [f"{s} {world.assets[s].sigma * 100:.3g}%" for s in SYMBOL_ORDER]
    return ", ".join(parts)


def render_readme(world: World, counts: dict[str, int]) -> str:
    meta = world.meta
    kind = "**Fictional and synthesized.**" if meta.fictional else "**Synthesized.**"
    out = [
        f"# {meta.name}",
        "",
        meta.description,
        "",
        f"{kind} Generated by `scripts/synthesize_scenarios.py` (deterministic: re-running it "
        "writes byte-identical files). Window: "
        f"{iso_utc(meta.start)} to {iso_utc(meta.end)}. Calibrated to: {meta.calibration}.",
        "",
        "## Sourced",
        "",
        "Figures taken from secondary sources (e.g. market wrap-ups, FRED, NY Fed, Treasury "
        "DTS); levels are approximate:",
        "",
        *(f"- {line}" for line in meta.sourced),
        "",
        "## Synthesized, and how",
        "",
        *(f"- {line}" for line in meta.notes),
        METHOD[0].format(sigmas=sigma_text(world)),
        *METHOD[1:],
        "",
        "## Expected outcome",
        "",
        meta.expected_text,
        "",
        "## What the files contain (computed from them)",
        "",
        *render_moves(world),
        "",
        "Change = last close vs the reference (equities and VIX: previous session close; "
        "crypto: the UTC-midnight bar that opens the scenario day; gold: first price of the "
        "window; when that bar is not in the file, as in sample-tiny, the first bar's open). "
        "Low = lowest bar low after the reference.",
        "",
        "Liquidations:",
        "",
        *render_liquidations(world),
        "",
        "Funding:",
        "",
        *render_funding(world),
        "",
        "| file | records |",
        "|---|---:|",
        *(f"| `{name}` | {count:,} |" for name, count in counts.items()),
        "",
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Output


def encode(records: Iterable[Record]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def write_gzip(path: Path, data: bytes) -> None:
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(data)


def write_world(world: World, out: Path) -> dict[str, int]:
    folder = out / world.meta.name
    folder.mkdir(parents=True, exist_ok=True)
    counts = {
        "prices.jsonl.gz": len(world.prices),
        "liquidations.jsonl.gz": len(world.liquidations),
        "funding.jsonl": len(world.funding),
    }
    write_gzip(folder / "prices.jsonl.gz", encode(world.prices))
    write_gzip(folder / "liquidations.jsonl.gz", encode(world.liquidations))
    (folder / "funding.jsonl").write_bytes(encode(world.funding))
    (folder / "scenario.toml").write_text(render_toml(world.meta))
    (folder / "README.md").write_text(render_readme(world, counts))
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Write shockwatch's bundled replay scenarios (scenario.toml, README.md, "
            "prices.jsonl.gz, liquidations.jsonl.gz, funding.jsonl per folder). Synthesized, "
            "calibrated to sourced figures; deterministic (byte-identical on every run)."
        ),
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data/scenarios"),
        help="folder that receives one sub-folder per scenario (default: data/scenarios)",
    )  # fmt: skip
    parser.add_argument(
        "--only", action="append", choices=SCENARIOS, metavar="NAME",
        help=f"write only this scenario (repeatable); one of: {', '.join(SCENARIOS)}",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = args.only or list(SCENARIOS)
    parent: World | None = None  # sample-tiny is cut from the first scenario
    for name in SCENARIOS:
        if name not in wanted and not (name == SCENARIOS[0] and "sample-tiny" in wanted):
            continue
        if name == "sample-tiny":
            world = build_tiny(parent or build_world(RECIPES[SCENARIOS[0]]()))
        else:
            world = build_world(RECIPES[name]())
            parent = world if name == SCENARIOS[0] else parent
        if name in wanted:
            counts = write_world(world, args.out)
            listed = ", ".join(f"{k} {v}" for k, v in counts.items())
            print(f"{args.out / name}: {listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
