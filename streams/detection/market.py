"""Per-asset returns and z-scores, class moves, breadth and cross-class co-movement.

State is per asset and updated once per closed one-minute bar (O(1) amortised): the bar goes
into a bounded history, the EWMA of squared one-minute log returns moves, and a session break
(a gap of ``session_gap_min``) fixes the previous close for equities. Everything a tick needs
(``asset_view``) is read from that state without re-scanning windows.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from common.settings import BreadthSettings, MarketSettings
from streams.detection.mathutil import clip01, ewma_alpha
from streams.records import AssetClass, AssetView, ClassView

MIN_MS = 60_000


def prior_sigma_1m(asset_class: str, cfg: MarketSettings) -> float:
    """One-minute volatility implied by the class's prior annual volatility."""
    annual = cfg.prior_annual_vol.get(asset_class, 0.5)
    minutes_per_year = 252 * cfg.day_minutes.get(asset_class, 390)
    if asset_class == "crypto":
        minutes_per_year = 365 * 1440
    return annual / math.sqrt(minutes_per_year)


@dataclass
class AssetState:
    symbol: str
    asset_class: str
    var_1m: float
    minutes: deque[int] = field(default_factory=deque)
    closes: deque[float] = field(default_factory=deque)
    prev_close: float | None = None
    prev_close_minute: int | None = None
    bars: int = 0

    @classmethod
    def new(cls, symbol: str, asset_class: str, cfg: MarketSettings) -> AssetState:
        return cls(symbol, asset_class, prior_sigma_1m(asset_class, cfg) ** 2)

    @property
    def last_minute(self) -> int | None:
        return self.minutes[-1] if self.minutes else None

    @property
    def last_close(self) -> float | None:
        return self.closes[-1] if self.closes else None

    def close_at_or_before(self, minute: int) -> float | None:
        i = bisect_right(self.minutes, minute)
        return self.closes[i - 1] if i else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "var_1m": self.var_1m,
            "minutes": list(self.minutes),
            "closes": list(self.closes),
            "prev_close": self.prev_close,
            "prev_close_minute": self.prev_close_minute,
            "bars": self.bars,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AssetState:
        return cls(
            d["symbol"],
            d["asset_class"],
            d["var_1m"],
            deque(d["minutes"]),
            deque(d["closes"]),
            d["prev_close"],
            d["prev_close_minute"],
            d["bars"],
        )


def add_bar(state: AssetState, minute: int, close: float, cfg: MarketSettings) -> float | None:
    """Fold one closed bar into the asset's state; returns its one-minute log return (or None
    across a session gap or for the first bar)."""
    last_minute, last_close = state.last_minute, state.last_close
    if last_minute is not None and minute <= last_minute:
        return None  # superseded: the detector only closes each minute once, in order
    ret: float | None = None
    if last_minute is not None and last_close is not None:
        gap = minute - last_minute
        if gap >= cfg.session_gap_min and state.asset_class in cfg.session_classes:
            state.prev_close, state.prev_close_minute = last_close, last_minute
        elif gap <= 5 and close > 0 and last_close > 0:
            ret = math.log(close / last_close)
            alpha = ewma_alpha(cfg.vol_halflife_bars)
            state.var_1m += alpha * (ret * ret - state.var_1m)
    state.minutes.append(minute)
    state.closes.append(close)
    state.bars += 1
    horizon = minute - cfg.history_min - 60
    while state.minutes and state.minutes[0] < horizon:
        state.minutes.popleft()
        state.closes.popleft()
    return ret


def sigma_1m(state: AssetState, cfg: MarketSettings) -> float:
    floor = cfg.vol_floor_frac * prior_sigma_1m(state.asset_class, cfg)
    return max(math.sqrt(state.var_1m), floor)


def day_reference(state: AssetState, now_minute: int, cfg: MarketSettings) -> float | None:
    """Previous session close for session-traded classes, else the close 24 h ago (or the
    earliest one held when the history is shorter)."""
    if state.asset_class in cfg.session_classes and state.prev_close is not None:
        return state.prev_close
    ref = state.close_at_or_before(now_minute - cfg.history_min)
    return ref if ref is not None else (state.closes[0] if state.closes else None)


def asset_view(
    state: AssetState, now_minute: int, cfg: MarketSettings, lag_min: int = 0
) -> AssetView | None:
    """Returns (log, %) and z-scores by window for one asset at a tick; None before any bar.

    ``lag_min`` is how late the asset's bars arrive (an as-of input: a delayed quote); its
    latest bar stays fresh that much longer. ``age_min`` says how old the bar is."""
    close = state.last_close
    last = state.last_minute
    if close is None or last is None:
        return None
    sigma = sigma_1m(state, cfg)
    age = now_minute - last
    fresh = age <= 5 + lag_min
    rets: dict[int, float] = {}
    zs: dict[int, float] = {}
    for w in cfg.windows_min:
        past = state.close_at_or_before(last - w)
        r = math.log(close / past) if (past and fresh) else 0.0
        rets[w] = r
        zs[w] = r / (sigma * math.sqrt(w))
    ref = day_reference(state, now_minute, cfg)
    r_day = math.log(close / ref) if ref else 0.0
    day_minutes = cfg.day_minutes.get(state.asset_class, 390)
    return AssetView(
        price_usd=close,
        asset_class=AssetClass(state.asset_class),
        fresh=fresh,
        age_min=age,
        sigma_1m=sigma,
        ret=rets,
        z=zs,
        ret_day=r_day,
        ret_day_pct=(math.exp(r_day) - 1.0) * 100.0,
        z_day=r_day / (sigma * math.sqrt(day_minutes)),
        # The same move in units of the class's *normal* day (its prior annual volatility):
        # what the day's own turbulence cannot shrink, so a crash is deep however wild its
        # hours were.
        day_z_normal=r_day / (prior_sigma_1m(state.asset_class, cfg) * math.sqrt(day_minutes)),
    )


def class_views(assets: dict[str, AssetView]) -> dict[AssetClass, ClassView]:
    """Per asset class: mean and worst day z, mean day return (%), members reporting."""
    grouped: dict[AssetClass, list[AssetView]] = {}
    for view in assets.values():
        grouped.setdefault(view.asset_class, []).append(view)
    out: dict[AssetClass, ClassView] = {}
    for cls, views in grouped.items():
        zs = [v.z_day for v in views]
        out[cls] = ClassView(
            z_day=sum(zs) / len(zs),
            worst_z_day=min(zs),
            ret_day_pct=sum(v.ret_day_pct for v in views) / len(views),
            assets=float(len(views)),
        )
    return out


def core_class_z(
    assets: dict[str, AssetView], cfg: BreadthSettings, normal: bool = False
) -> dict[str, float | None]:
    """Mean day z (``z_day``, or with ``normal`` ``day_z_normal``, in normal days) of the
    members of each core class (equities, gold, crypto); None if absent."""
    out: dict[str, float | None] = {}
    for core, members in cfg.core_classes.items():
        zs = [
            v.day_z_normal if normal else v.z_day
            for v in assets.values()
            if v.asset_class in members
        ]
        out[core] = sum(zs) / len(zs) if zs else None
    return out


def breadth(core_z: dict[str, float | None], cfg: BreadthSettings) -> float:
    """Share of core classes down beyond ``down_z`` at once; a missing class counts as not down."""
    if not core_z:
        return 0.0
    down = sum(1 for z in core_z.values() if z is not None and z <= cfg.down_z)
    return down / len(core_z)


def depth(normal_z: dict[str, float | None]) -> float:
    """How far the shallowest core class is down, in normal days (the class day z from
    ``core_class_z(..., normal=True)``, negated): 1.0 means every core class fell at
    least a normal day's move. A missing or rising class makes it <= 0, so a day on which one
    class (gold, say) is bid is never broad."""
    if not normal_z:
        return 0.0
    return min(-(z if z is not None else 0.0) for z in normal_z.values())


def market_stress(core_z: dict[str, float | None], cfg: BreadthSettings) -> float:
    """Mean over core classes of how far each is down, scaled so ``full_z`` sigmas = 1."""
    if not core_z:
        return 0.0
    return sum(clip01(-(z or 0.0) / cfg.full_z) for z in core_z.values()) / len(core_z)


RETURN_SCALE = 10**12  # co-movement sums hold returns in fixed point: exact integers


@dataclass
class CoMovement:
    """Rolling window of per-minute core-class returns; correlation read at each tick.

    Per class pair it keeps the window's sums (n, Σx, Σy, Σx², Σy², Σxy) of the returns in
    fixed point, moved as rows enter and leave: a tick reads the correlations in O(1), and
    integer sums are exact, so a detector restored from its rows holds the very same sums."""

    window: int
    rows: deque[tuple[float | None, ...]] = field(default_factory=deque)
    sums: dict[tuple[int, int], list[int]] = field(default_factory=dict)

    def add(self, row: tuple[float | None, ...]) -> None:
        self.rows.append(row)
        self._count(row, 1)
        while len(self.rows) > self.window:
            self._count(self.rows.popleft(), -1)

    def _count(self, row: tuple[float | None, ...], sign: int) -> None:
        fixed = [None if r is None else round(r * RETURN_SCALE) for r in row]
        for i, x in enumerate(fixed):
            if x is None:
                continue
            for j in range(i + 1, len(fixed)):
                y = fixed[j]
                if y is None:
                    continue
                s = self.sums.get((i, j))
                if s is None:
                    s = self.sums[(i, j)] = [0, 0, 0, 0, 0, 0]
                s[0] += sign
                s[1] += sign * x
                s[2] += sign * y
                s[3] += sign * x * x
                s[4] += sign * y * y
                s[5] += sign * x * y

    def average_correlation(self, min_obs: int = 20) -> float | None:
        corrs: list[float] = []
        for pair in sorted(self.sums):
            n, sx, sy, sxx, syy, sxy = self.sums[pair]
            if n < min_obs:
                continue
            # n² times the (co)variances, in RETURN_SCALE² units, exactly
            vx, vy = n * sxx - sx * sx, n * syy - sy * sy
            flat = n * 1e-18 * RETURN_SCALE**2  # a sum of squared deviations <= 1e-18
            if vx <= flat or vy <= flat:
                continue
            corrs.append((n * sxy - sx * sy) / (math.sqrt(vx) * math.sqrt(vy)))
        return sum(corrs) / len(corrs) if corrs else None


def comovement_stress(
    avg_corr: float | None, core_z: dict[str, float | None], cfg: BreadthSettings
) -> float:
    """Positive co-movement counts as stress only while at least two core classes are falling
    (everything rising together is not a liquidity shock)."""
    if avg_corr is None:
        return 0.0
    falling = sum(1 for z in core_z.values() if z is not None and z < 0)
    return clip01(avg_corr) * clip01(falling / 2.0)
