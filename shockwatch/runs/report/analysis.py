"""Analysis: the facts the narrative and the tables are made of, pure functions of the run.

Alert episodes and the run's verdict, what moved first (each core class's first crossing of
the breadth threshold, its first 1% drop, the first tick all were down), the liquidation
summary and the tick the funding story is told at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shockwatch.runs.report.run import RunData
from shockwatch.runs.report.style import HOUR_MS, Clock
from streams.records import AlertEvent, AssetClass, ShockSignal

if TYPE_CHECKING:
    from common.settings import DetectionSettings

FIRST_DROP_PCT = 1.0  # "what moved first" also reports when each class was down this much


@dataclass
class Episode:
    alert_id: str
    started_ts_ms: int
    events: list[AlertEvent]

    @property
    def fired_ms(self) -> int:
        return self.events[0].ts_ms

    @property
    def severity(self) -> str:
        return "critical" if any(e.severity == "critical" for e in self.events) else "warning"

    def first(self, state: str, severity: str | None = None) -> AlertEvent | None:
        for e in self.events:
            if e.state == state and (severity is None or e.severity == severity):
                return e
        return None

    @property
    def resolved(self) -> AlertEvent | None:
        return self.first("resolved")


def episodes(alerts: Sequence[AlertEvent]) -> list[Episode]:
    out: dict[str, Episode] = {}
    for a in alerts:
        ep = out.setdefault(a.alert_id, Episode(a.alert_id, a.started_ts_ms, []))
        ep.events.append(a)
    return sorted(out.values(), key=lambda e: e.fired_ms)


@dataclass
class Verdict:
    level: str  # critical | warning | none
    title: str
    alert: AlertEvent | None = None


def verdict(data: RunData, clock: Clock) -> Verdict:
    firing = [a for a in data.alerts if a.state == "firing"]
    if not firing:
        peak = max(data.window, key=lambda s: s.score)
        return Verdict(
            "none",
            f"NO ALERT — peak score {peak.score:.1f} at {clock(peak.ts_ms)}",
        )
    level = "critical" if any(a.severity == "critical" for a in firing) else "warning"
    first = next(a for a in firing if a.severity == level)
    what = "everything sells" if level == "critical" else "cross-asset stress"
    return Verdict(
        level,
        f"{level.upper()} — {what}, regime {first.regime}, {clock(first.ts_ms)}",
        first,
    )


def core_members(detection: DetectionSettings) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in detection.breadth.core_classes.items()}


def core_return_pct(signal: ShockSignal, members: Sequence[str]) -> float | None:
    """Mean day return (%) over the assets of a core class's member classes."""
    total, n = 0.0, 0.0
    for cls in members:
        view = signal.classes.by_class.get(AssetClass(cls))
        if view is not None:
            total += view.ret_day_pct * view.assets
            n += view.assets
    return total / n if n else None


@dataclass
class ClassMove:
    core: str
    first_down_ms: int | None = None
    z_at_first: float | None = None
    ret_at_first: float | None = None
    leader: str | None = None
    leader_z: float | None = None
    trough_ms: int | None = None
    trough_z: float | None = None


def _leader(signal: ShockSignal, members: Sequence[str]) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for sym, view in signal.assets.items():
        if view.asset_class in members and (best[1] is None or view.z_day < best[1]):
            best = (sym, view.z_day)
    return best


def class_moves(signals: Sequence[ShockSignal], detection: DetectionSettings) -> list[ClassMove]:
    """Per core class: first tick at or below the breadth z, its day return then, the asset
    leading it, and the trough z.
    Sorted by first crossing (classes that never crossed last)."""
    down_z = detection.breadth.down_z
    moves: list[ClassMove] = []
    for core, members in core_members(detection).items():
        m = ClassMove(core)
        for s in signals:
            z = s.classes.core_z.get(core)
            if z is None:
                continue
            if m.trough_z is None or z < m.trough_z:
                m.trough_ms, m.trough_z = s.ts_ms, z
            if m.first_down_ms is None and z <= down_z:
                m.first_down_ms, m.z_at_first = s.ts_ms, z
                m.ret_at_first = core_return_pct(s, members)
                m.leader, m.leader_z = _leader(s, members)
        moves.append(m)
    never = 1 << 62
    moves.sort(key=lambda m: (m.first_down_ms or never, m.trough_z or 0.0))
    return moves


def start_prices(signals: Sequence[ShockSignal], start_ms: int) -> dict[str, float]:
    """Each symbol's reference price: its last fresh price at or before the start, else its
    first one after (what the price chart and the "% from start" figures are relative to)."""
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    for s in signals:
        for sym, view in s.assets.items():
            if view.fresh:
                if s.ts_ms <= start_ms:
                    before[sym] = view.price_usd
                else:
                    after.setdefault(sym, view.price_usd)
    return {**after, **before}


def first_drops(data: RunData, detection: DetectionSettings) -> dict[str, int]:
    """Core class -> first tick its trading members were down ``FIRST_DROP_PCT`` on average
    from their price at the start of the run."""
    ref = start_prices(data.signals, data.start_ms)
    out: dict[str, int] = {}
    for s in data.window:
        for core, members in core_members(detection).items():
            moves = [
                (v.price_usd / ref[sym] - 1.0) * 100.0
                for sym, v in s.assets.items()
                if v.asset_class in members and v.fresh and sym in ref
            ]
            if core not in out and moves and sum(moves) / len(moves) <= -FIRST_DROP_PCT:
                out[core] = s.ts_ms
    return out


def first_all_down(signals: Sequence[ShockSignal]) -> ShockSignal | None:
    return next((s for s in signals if s.breadth >= 1.0 - 1e-9), None)


@dataclass
class LiqSummary:
    source: str  # "inputs" (every print) or "signals" (the detector's rolling windows)
    total_usd: float = 0.0
    long_usd: float = 0.0
    count: int = 0
    by_venue: dict[str, float] = field(default_factory=dict)
    lower_bound_venues: list[str] = field(default_factory=list)
    peak_hour_ms: int | None = None
    peak_hour_usd: float = 0.0
    peak_hour_long_share: float | None = None
    peak_window: ShockSignal | None = None  # the signal whose 60-min window was largest

    @property
    def long_share(self) -> float | None:
        """Longs' share of the run's liquidations: of every print with the inputs; without
        them, of the detector's largest 60-min window (the signals keep no per-side total)."""
        if self.source == "signals":
            if self.peak_window is None:
                return None
            return self.peak_window.liquidations.long_share
        return self.long_usd / self.total_usd if self.total_usd else None

    @property
    def long_share_label(self) -> str:
        """What the share is of, for the header: "88% longs" or "88% longs (peak 60-min)"."""
        share = self.long_share
        if share is None:
            return self.source
        where = "" if self.source == "inputs" else " (peak 60-min window)"
        return f"{share * 100:.0f}% longs{where}"


def liquidation_summary(data: RunData) -> LiqSummary:
    window = data.window
    peak = max(window, key=lambda s: s.liquidations.notional_usd)
    prints = data.liquidations
    if prints is None:
        first, last = window[0].liquidations, window[-1].liquidations
        total = last.day_total_usd - first.day_total_usd + first.notional_usd
        return LiqSummary("signals", total_usd=max(total, 0.0), peak_window=peak)
    out = LiqSummary("inputs", count=len(prints), peak_window=peak)
    hours: dict[int, list[float]] = {}
    lower: set[str] = set()
    for ts, venue, is_long, usd, lb in zip(
        prints.ts_ms,
        prints.venue,
        prints.is_long,
        prints.notional_usd,
        prints.lower_bound,
        strict=True,
    ):
        out.total_usd += usd
        out.long_usd += usd if is_long else 0.0
        out.by_venue[venue] = out.by_venue.get(venue, 0.0) + usd
        h = hours.setdefault(ts // HOUR_MS, [0.0, 0.0])
        h[0] += usd
        h[1] += usd if is_long else 0.0
        if lb:
            lower.add(venue)
    out.by_venue = dict(sorted(out.by_venue.items(), key=lambda kv: -kv[1]))
    out.lower_bound_venues = sorted(lower)
    if hours:
        hour, (usd, long_usd) = max(hours.items(), key=lambda kv: kv[1][0])
        out.peak_hour_ms, out.peak_hour_usd = hour * HOUR_MS, usd
        out.peak_hour_long_share = long_usd / usd if usd else None
    return out


def reference_signal(data: RunData, verdict_: Verdict) -> ShockSignal:
    """The tick the funding narrative is told at: the first alert, else the peak score."""
    if data.alerts:
        found = data.signal_at(data.alerts[0].ts_ms)
        if found is not None:
            return found
    if verdict_.alert is not None:
        found = data.signal_at(verdict_.alert.ts_ms)
        if found is not None:
            return found
    return max(data.window, key=lambda s: s.score)
