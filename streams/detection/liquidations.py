"""Liquidation pressure: notional per window against a trailing baseline, long share, venues.

Minute buckets are closed in order by the detector; running sums over the window and the
baseline move by one bucket in and one out, so a tick costs O(1) whatever the rates.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from common.settings import LiquidationSettings
from streams.detection.mathutil import clip01
from streams.records import LiqPanel, VenueLiq


@dataclass
class MinuteLiq:
    """One minute of forced orders, aggregated in whole cents.

    Integer sums are exact whatever the order events arrive in across partitions, so the same
    input gives bit-identical signals (float sums would differ in the last digits)."""

    notional_usd: int = 0  # cents
    long_usd: int = 0  # cents
    count: int = 0
    lower_bound_usd: int = 0  # cents
    by_venue: dict[str, list[int]] = field(default_factory=dict)  # venue -> [cents, long, n]

    def add(self, exchange: str, notional: float, is_long: bool, lower_bound: bool) -> None:
        c = round(notional * 100)  # whole cents
        self.notional_usd += c
        self.count += 1
        if is_long:
            self.long_usd += c
        if lower_bound:
            self.lower_bound_usd += c
        v = self.by_venue.get(exchange)
        if v is None:
            v = self.by_venue[exchange] = [0, 0, 0]
        v[0] += c
        v[1] += c if is_long else 0
        v[2] += 1

    def merge(self, other: MinuteLiq, sign: int = 1) -> None:
        """Add (``sign`` -1: take out) another bucket's sums: another partition's share of the
        same minute, or a minute entering or leaving a window. Exact: whole cents."""
        self.notional_usd += sign * other.notional_usd
        self.long_usd += sign * other.long_usd
        self.count += sign * other.count
        self.lower_bound_usd += sign * other.lower_bound_usd
        for venue, (c, lc, n) in other.by_venue.items():
            v = self.by_venue.get(venue)
            if v is None:
                v = self.by_venue[venue] = [0, 0, 0]
            v[0], v[1], v[2] = v[0] + sign * c, v[1] + sign * lc, v[2] + sign * n
            if not v[2]:
                del self.by_venue[venue]

    def to_list(self) -> list[Any]:
        return [self.notional_usd, self.long_usd, self.count, self.lower_bound_usd, self.by_venue]

    @classmethod
    def from_list(cls, x: list[Any]) -> MinuteLiq:
        return cls(x[0], x[1], x[2], x[3], {k: list(v) for k, v in x[4].items()})


@dataclass
class LiqWindow:
    """The last ``window_min`` minutes (detail) and the ``baseline_min`` before them (totals)."""

    cfg: LiquidationSettings
    recent: deque[tuple[int, MinuteLiq]] = field(default_factory=deque)
    older: deque[tuple[int, int]] = field(default_factory=deque)
    older_usd: int = 0  # cents
    first_minute: int | None = None
    total_usd: int = 0  # cents
    total_count: int = 0
    # The last ``sustained_min`` minutes' totals (cents).
    sustained: deque[tuple[int, int]] = field(default_factory=deque)
    # The sums over ``recent`` and ``sustained`` (moved as minutes enter and leave), so a tick
    # reads them in O(1).
    window: MinuteLiq = field(init=False, default_factory=MinuteLiq)
    sustained_usd: int = field(init=False, default=0)  # cents

    def __post_init__(self) -> None:
        for _, bucket in self.recent:
            self.window.merge(bucket)
        self.sustained_usd = sum(usd for _, usd in self.sustained)

    @property
    def recent_usd(self) -> int:
        """Notional of the window's minutes, cents."""
        return self.window.notional_usd

    def close_minute(self, minute: int, bucket: MinuteLiq) -> None:
        if self.first_minute is None:
            self.first_minute = minute
        self.total_usd += bucket.notional_usd
        self.total_count += bucket.count
        if bucket.count:
            self.recent.append((minute, bucket))
            self.window.merge(bucket)
            self.sustained.append((minute, bucket.notional_usd))
            self.sustained_usd += bucket.notional_usd
        self._evict(minute)

    def newest_minute(self) -> int | None:
        """The newest minute with liquidations the windows still hold."""
        held = [q[-1][0] for q in (self.recent, self.older, self.sustained) if q]
        return max(held, default=None)

    def empty_at(self, now_minute: int) -> bool:
        """Whether closing ``now_minute`` empty would leave every window empty (all it holds
        is older than the window, baseline and sustained spans before it)."""
        newest = self.newest_minute()
        _, base_start, sustained_start = self._starts(now_minute)
        return newest is None or (newest < base_start and newest < sustained_start)

    def _starts(self, now_minute: int) -> tuple[int, int, int]:
        """The first minute of the window, of its baseline and of the sustained span, as of
        ``now_minute``."""
        window_start = now_minute - self.cfg.window_min + 1
        return (
            window_start,
            window_start - self.cfg.baseline_min,
            now_minute - self.cfg.sustained_min + 1,
        )

    def _evict(self, now_minute: int) -> None:
        window_start, base_start, sustained_start = self._starts(now_minute)
        while self.recent and self.recent[0][0] < window_start:
            m, b = self.recent.popleft()
            self.window.merge(b, sign=-1)
            self.older.append((m, b.notional_usd))
            self.older_usd += b.notional_usd
        while self.older and self.older[0][0] < base_start:
            _, usd = self.older.popleft()
            self.older_usd -= usd
        while self.sustained and self.sustained[0][0] < sustained_start:
            self.sustained_usd -= self.sustained.popleft()[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "recent": [[m, b.to_list()] for m, b in self.recent],
            "older": [list(x) for x in self.older],
            "recent_usd": self.recent_usd,  # derived; still written for earlier readers
            "older_usd": self.older_usd,
            "first_minute": self.first_minute,
            "total_usd": self.total_usd,
            "total_count": self.total_count,
            "sustained": [list(x) for x in self.sustained],
        }

    @classmethod
    def from_dict(cls, cfg: LiquidationSettings, d: dict[str, Any]) -> LiqWindow:
        recent = deque((m, MinuteLiq.from_list(b)) for m, b in d["recent"])
        older = deque((m, usd) for m, usd in d["older"])
        if "sustained" in d:
            sustained = deque((m, usd) for m, usd in d["sustained"])
        else:  # a checkpoint from before the sustained window: rebuilt from what it holds
            sustained = deque([*older, *((m, b.notional_usd) for m, b in recent)])
        win = cls(
            cfg,
            recent,
            older,
            d["older_usd"],
            d["first_minute"],
            d["total_usd"],
            d["total_count"],
            sustained,
        )
        if recent and "sustained" not in d:
            win._evict(recent[-1][0])
        return win


def pressure(win: LiqWindow, now_minute: int) -> LiqPanel:
    """The liquidation panel at a tick: window notional, surge vs baseline, long share, venues."""
    cfg = win.cfg
    window_usd = win.recent_usd / 100
    long_usd = win.window.long_usd / 100
    lower_usd = win.window.lower_bound_usd / 100
    sums = win.window.by_venue
    venues = {
        venue: VenueLiq(
            notional_usd=c / 100,
            long_usd=lc / 100,
            count=float(n),
            long_share=lc / c if c else 0.0,
        )
        for venue, (c, lc, n) in sorted(sums.items())
    }
    # Baseline: the mean hourly notional over the history held before the window, floored.
    base_minutes = (
        0
        if win.first_minute is None
        else min(cfg.baseline_min, max(0, now_minute - cfg.window_min + 1 - win.first_minute))
    )
    hourly = win.older_usd / 100 / (base_minutes / 60.0) if base_minutes >= 60 else 0.0
    baseline = max(hourly, cfg.baseline_floor_usd)
    surge = window_usd / baseline
    return LiqPanel(
        window_min=cfg.window_min,
        notional_usd=window_usd,
        long_share=long_usd / window_usd if window_usd else 0.0,
        baseline_hourly_usd=baseline,
        surge_ratio=surge,
        venues_reporting=len(venues),
        venues=list(venues),
        by_venue=venues,
        lower_bound_share=lower_usd / window_usd if window_usd else 0.0,
        is_lower_bound=lower_usd > 0,
        day_total_usd=win.total_usd / 100,
        sustained_usd=win.sustained_usd / 100,
        sustained_min=cfg.sustained_min,
    )


def wave_stress(panel: LiqPanel, cfg: LiquidationSettings) -> float:
    """1 when the window is a wave (``wave_min_usd``) at ``full_surge`` times the baseline."""
    surge = panel.surge_ratio
    if surge <= 1.0:
        return 0.0
    surge_part = clip01(math.log(surge) / math.log(cfg.full_surge))
    size_part = clip01(panel.notional_usd / cfg.wave_min_usd)
    return surge_part * size_part


def sustained_stress(panel: LiqPanel, cfg: LiquidationSettings) -> float:
    """The total of the last ``sustained_min`` minutes on a log scale: 0 at an ordinary day's
    ``sustained_calm_usd``, 1 at ``sustained_full_usd``."""
    total = panel.sustained_usd
    if total <= cfg.sustained_calm_usd:
        return 0.0
    return clip01(
        math.log(total / cfg.sustained_calm_usd)
        / math.log(cfg.sustained_full_usd / cfg.sustained_calm_usd)
    )


def liquidation_stress(panel: LiqPanel, cfg: LiquidationSettings) -> float:
    """Forced selling: the sharper of an hour's wave and the day's sustained total."""
    return max(wave_stress(panel, cfg), sustained_stress(panel, cfg))
