"""Liquidations: forced-liquidation prints from the venues shockwatch subscribes.

Synthesizes the ``liquidations`` topic. Each time block of a scenario has a **market-wide**
notional budget and a long share; each (block, side, observed venue) cell gets block x side
share x the venue's share of the market (``LiqSpec.venues``, from ``synth.venues``: the day's
sourced or era-typical split, observed venues only, so the cells sum to the observed share of
the budget: what the live feeds would have seen) and an event count proportional to its
notional^0.85. Sizes are heavy-tailed (lognormal, median $3.5k, log-sd 2.4, truncated at $5m)
and scaled to the cell's budget. Minutes cluster after BTC's down-moves for longs (up-moves
for shorts); prices come from the base's path with a small lognormal slippage, clamped into
the minute's high-low. Binance prints carry ``lower_bound = true`` and are spaced so that no
symbol has two in one second (Binance pushes at most one liquidation per symbol per second).

Calibrated to: each block's budget and long share, which sum to the sourced day total and
long share (e.g. 2025-11-04: ~$2.0bn, ~$1.63bn of it longs; see ``synth.calibration`` and
``data/calendar/days.json``), and the venue split (``synth.venues``: sourced where published,
else era-typical). The size distribution and base mix by count (BTC 40%, ETH 30%, SOL 12%,
XRP 8%, DOGE 6%, BNB 4%) are chosen, not sourced; Deribit prints are BTC and ETH only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from synth.units import MINUTE_MS, SCHEMA_VERSION, Record, Session, utc_ms
from synth.venues import VenueSplit
from synth.walk import PricePath


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
DERIBIT_BASES = ("BTC", "ETH")  # Deribit's perpetuals that matter here (inverse, USD)
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
    blocks: tuple[LiqBlock, ...]  # market-wide budgets
    events: int  # approximate number of events, market-wide (scaled by the observed share)
    # Observed venue -> its share of the market-wide notional (sums to the observed share).
    venues: tuple[tuple[str, float], ...]
    # The rest of the market, venue -> share, not drawn (for the README), and how it was split.
    unobserved: tuple[tuple[str, float], ...] = ()
    basis: str = ""

    @property
    def observed_share(self) -> float:
        return sum(share for _, share in self.venues)


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


def observed_spec(blocks: Sequence[LiqBlock], events: int, split: VenueSplit) -> LiqSpec:
    """Market-wide blocks drawn on the observed venues of ``split`` only."""
    basis = f"{split.basis} split, {split.era}"
    return LiqSpec(tuple(blocks), events, split.shares(), split.unobserved_shares(), basis)


def plan_cells(spec: LiqSpec) -> list[Cell]:
    """Split every block by side and observed venue (the unobserved part of the market is not
    drawn); events per cell ~ its notional**COUNT_EXPONENT."""
    raw: list[tuple[LiqBlock, str, str, float]] = []
    for block in spec.blocks:
        for side, share in (("long", block.long_share), ("short", 1 - block.long_share)):
            for venue, venue_share in spec.venues:
                raw.append((block, side, venue, block.notional_usd * share * venue_share))
    weights = [notional**COUNT_EXPONENT for *_, notional in raw]
    scale = spec.events * spec.observed_share / sum(weights)
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
    listed = [b for b in BASES if cell.venue != "deribit" or b.name in DERIBIT_BASES]
    bases = rng.choices(listed, weights=[b.count_weight for b in listed], k=cell.count)
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
    symbol = venue_symbol(draft.venue, draft.base.name)
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


def venue_symbol(venue: str, base: str) -> str:
    """The ccxt symbol of the venue's perpetual: linear USDT, or Deribit's inverse USD."""
    return f"{base}/USD:{base}" if venue == "deribit" else f"{base}/USDT:USDT"


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
