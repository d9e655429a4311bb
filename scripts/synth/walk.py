"""The seeded random-walk machinery under every synthesized price path.

A path is a geometric random walk on a 10-second grid: per-minute volatility ``sigma`` scaled
by any volatility windows, one common N(0,1) factor per asset group (equity, gold, crypto)
shared by every asset of the group with loading ``rho``, plus idiosyncratic noise. The walk is
added to a deterministic drift that is piecewise linear in log price through calibration knots,
and the noise is a Brownian bridge pulled back to zero at every knot, so the path passes
exactly through each knot (previous close, intraday legs, the day low, the close).

Calibrated to: the knots it is given (sourced closes and lows, see ``calibration``; the
calendar's come from ``data/calendar/days.json``). A path is kept only if nothing trades more
than ``LOW_TOLERANCE`` (0.1%) below a calibrated day low and, for calm paths, only inside their
band; otherwise the next seed is tried (``<scenario>:<symbol>:<attempt>``), deterministically.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from synth.units import MINUTE_MS, STEP_MS, STEPS_PER_MINUTE, Knot, Session, utc_ms

LOW_TOLERANCE = 0.001  # a calibrated day low may be undercut by at most 0.1%
MAX_ATTEMPTS = 500
# The Nasdaq Composite was first carried under the Nasdaq-100's ticker NDX; its random walk
# keeps that seed, so regenerating changes the label, not the paths.
SEED_NAMES = {"IXIC": "NDX"}


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


def window(start: str, end: str, group: str, multiplier: float) -> VolWindow:
    return VolWindow(utc_ms(start), utc_ms(end), group, multiplier)
