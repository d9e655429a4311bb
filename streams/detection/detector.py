"""Event-time ticks that tie the detection core together, with a checkpointable state.

Arrival only files an event into its one-minute bucket (O(1)); nothing is computed on arrival.
A tick at time T (every minute, on the minute) closes the bucket before T and evaluates the
world as of T. A tick runs once the *watermark* has passed T + allowed lateness, where the
watermark is the minimum over the input partitions of the newest event time each has shown
(producers send heartbeats when idle). Since each partition is in event-time order, every
event older than T has arrived by then, whatever the interleaving across partitions and
whatever the replay speed: the same input gives the same signals and alerts.

An event older than the last closed bucket is late (``LateEvent``: dead-lettered and counted).
An event at an offset the state already includes (after a restart) is skipped, so recovery from
the checkpoint plus re-reading from the committed offsets applies each event exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shockwatch.settings import DetectionSettings
from streams.detection import funding as fund
from streams.detection import liquidations as liq
from streams.detection import market as mkt
from streams.detection.alerting import AlertMachine, step
from streams.detection.score import composite, regime
from streams.records import (
    AlertEvent,
    FundingObservation,
    Heartbeat,
    LateEvent,
    Liquidation,
    PriceTick,
    ShockSignal,
)

MIN_MS = 60_000
SNAPSHOT_VERSION = 1


@dataclass
class TickOutput:
    signal: ShockSignal
    alerts: list[AlertEvent] = field(default_factory=list)


class Detector:
    def __init__(self, cfg: DetectionSettings) -> None:
        self.cfg = cfg
        self.scope = cfg.scope
        self.assets: dict[str, mkt.AssetState] = {}
        self.liq = liq.LiqWindow(cfg.liquidations)
        self.book = fund.FundingBook()
        self.comove = mkt.CoMovement(cfg.breadth.comovement_window_min)
        self.machine = AlertMachine()
        # minute -> symbol -> [ts_ms, price_usd, asset_class]
        self.pending_prices: dict[int, dict[str, list[Any]]] = {}
        self.pending_liq: dict[int, liq.MinuteLiq] = {}
        self.partition_ts: dict[str, int] = {}
        self.partitions: set[str] | None = None
        self.offsets: dict[str, int] = {}
        self.next_tick_ms: int | None = None
        self.ticks = 0

    # -- ingestion ---------------------------------------------------------------------------
    def set_partitions(self, partitions: Iterable[str]) -> None:
        """The input partitions whose progress defines the watermark (the assignment)."""
        self.partitions = set(partitions)

    def already_applied(self, tp: str, offset: int) -> bool:
        return offset < self.offsets.get(tp, 0)

    def ingest(self, record: Any, tp: str = "-", offset: int | None = None) -> None:
        """File one decoded record. Raises ``LateEvent`` for events behind the closed ticks."""
        if offset is not None:
            self.offsets[tp] = offset + 1
        ts = record.ts_ms
        if ts > self.partition_ts.get(tp, -1):
            self.partition_ts[tp] = ts
        kind = type(record)
        if kind is Heartbeat:
            return
        if kind is FundingObservation:
            # As-of join: kept with its publication time, used only by ticks after it.
            self.book.add(record.series, record.observation_date, ts, record.value, record.revision)
            return
        minute = ts // MIN_MS
        # Late only once a tick has closed a minute: before that, an older event just moves the
        # first tick back (so the outcome cannot depend on where batches happen to split).
        if (
            self.ticks
            and self.next_tick_ms is not None
            and minute < self.next_tick_ms // MIN_MS - 1
        ):
            closed = self.next_tick_ms - MIN_MS
            raise LateEvent("ts_ms", f"{ts} is behind the closed tick {closed} (late event)")
        if kind is Liquidation:
            bucket_liq = self.pending_liq.get(minute)
            if bucket_liq is None:
                bucket_liq = self.pending_liq[minute] = liq.MinuteLiq()
            bucket_liq.add(
                record.exchange,
                record.notional_usd,
                record.side_liquidated == "long",
                record.lower_bound,
            )
        elif kind is PriceTick:
            bucket = self.pending_prices.get(minute)
            if bucket is None:
                bucket = self.pending_prices[minute] = {}
            prev = bucket.get(record.symbol)
            # the newest tick of the minute wins; equal times tie-break on price, not arrival
            if prev is None or (ts, record.price_usd) > (prev[0], prev[1]):
                bucket[record.symbol] = [ts, record.price_usd, str(record.asset_class)]

    def watermark(self) -> int | None:
        tps = self.partitions if self.partitions else set(self.partition_ts)
        if not tps or any(tp not in self.partition_ts for tp in tps):
            return None
        return min(self.partition_ts[tp] for tp in tps)

    # -- ticks -------------------------------------------------------------------------------
    def advance(self) -> list[TickOutput]:
        """Run every tick the watermark allows; returns their signals and alert transitions."""
        wm = self.watermark()
        if wm is None:
            return []
        if not self.ticks:
            first = min([*self.pending_prices, *self.pending_liq], default=None)
            if first is None:
                return []
            self.next_tick_ms = (first + 1) * MIN_MS
        lateness = self.cfg.alerts.allowed_lateness_s * 1000
        out: list[TickOutput] = []
        while self.next_tick_ms + lateness <= wm:
            out.append(self._tick(self.next_tick_ms))
            self.next_tick_ms += MIN_MS
        return out

    def _close_minute(self, minute: int) -> None:
        prices = self.pending_prices.pop(minute, {})
        mcfg = self.cfg.market
        returns: dict[str, float] = {}
        for symbol in sorted(prices):
            _, price, asset_class = prices[symbol]
            state = self.assets.get(symbol)
            if state is None:
                state = self.assets[symbol] = mkt.AssetState.new(symbol, asset_class, mcfg)
            r = mkt.add_bar(state, minute, price, mcfg)
            if r is not None:
                returns[symbol] = r
        row: list[float | None] = []
        for members in self.cfg.breadth.core_classes.values():
            rs = [r for s, r in returns.items() if self.assets[s].asset_class in members]
            row.append(sum(rs) / len(rs) if rs else None)
        if any(x is not None for x in row):
            self.comove.add(tuple(row))
        self.liq.close_minute(minute, self.pending_liq.pop(minute, liq.MinuteLiq()))

    def _tick(self, tick_ms: int) -> TickOutput:
        cfg = self.cfg
        minute = tick_ms // MIN_MS - 1
        self._close_minute(minute)
        self.ticks += 1
        assets: dict[str, dict[str, Any]] = {}
        for symbol, state in sorted(self.assets.items()):
            last = state.last_minute
            if last is not None and minute - last <= cfg.market.history_min:
                view = mkt.asset_view(state, minute, cfg.market)
                if view is not None:
                    assets[symbol] = view
        core_z = mkt.core_class_z(assets, cfg.breadth)
        classes = mkt.class_views(assets)
        width = mkt.breadth(core_z, cfg.breadth)
        panel = liq.pressure(self.liq, minute)
        funding = fund.picture(self.book, tick_ms, cfg.funding)
        corr = self.comove.average_correlation()
        stresses: dict[str, float | None] = {
            "market": mkt.market_stress(core_z, cfg.breadth),
            "liquidations": liq.liquidation_stress(panel, cfg.liquidations),
            "funding": funding["stress"],
            "comovement": mkt.comovement_stress(corr, core_z, cfg.breadth),
        }
        score, points = composite(stresses, cfg.score)
        reg = regime(
            score=score,
            calm_below=cfg.alerts.warning_score,
            breadth=width,
            funding_stress=funding["stress"],
            liquidation_stress=stresses["liquidations"] or 0.0,
            index_z=classes.get("equity_index", {}).get("z_day"),
            ai_z=classes.get("ai_equity", {}).get("z_day"),
            cfg=cfg.score,
        )
        # A resolve clears the machine: keep the episode's id and start for its event.
        episode = (self.machine.alert_id, self.machine.started_ts_ms)
        transitions = step(self.machine, tick_ms, score, width, self.scope, cfg.alerts)
        state = "pending" if self.machine.pending else self.machine.level
        signal = ShockSignal(
            ts_ms=tick_ms,
            scope=self.scope,
            score=round(score, 3),
            regime=reg,  # type: ignore[arg-type]
            components={
                **{f"{k}_points": round(v, 3) for k, v in points.items()},
                **{
                    f"{k}_stress": (round(v, 4) if v is not None else None)
                    for k, v in stresses.items()
                },
            },
            breadth=round(width, 4),
            comovement=round(corr, 4) if corr is not None else None,
            classes={**classes, "core_z": core_z},  # type: ignore[dict-item]
            assets=assets,
            liquidations=panel,
            funding=funding,
            alert_state=state,
            alert_id=self.machine.alert_id,
        )
        alerts = [self._alert_event(signal, st, sev, episode) for st, sev in transitions]
        return TickOutput(signal, alerts)

    def _alert_event(
        self, signal: ShockSignal, state: str, severity: str, episode: tuple[str | None, int | None]
    ) -> AlertEvent:
        m = self.machine
        aid = m.alert_id or episode[0] or _last_id(signal)
        started = m.started_ts_ms or episode[1] or signal.ts_ms
        return AlertEvent(
            ts_ms=signal.ts_ms,
            alert_id=aid,
            state=state,  # type: ignore[arg-type]
            severity=severity,  # type: ignore[arg-type]
            regime=signal.regime if signal.regime != "calm" else "mixed",  # type: ignore[arg-type]
            score=signal.score,
            started_ts_ms=started,
            headline=headline(signal, state, severity),
            evidence=evidence(signal),
            scope=self.scope,
        )

    # -- checkpoint --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "scope": self.scope,
            "assets": {s: a.to_dict() for s, a in self.assets.items()},
            "liq": self.liq.to_dict(),
            "book": self.book.series,
            "comove": [list(r) for r in self.comove.rows],
            "machine": self.machine.to_dict(),
            "pending_prices": {str(m): b for m, b in self.pending_prices.items()},
            "pending_liq": {str(m): b.to_list() for m, b in self.pending_liq.items()},
            "partition_ts": self.partition_ts,
            "partitions": sorted(self.partitions) if self.partitions is not None else None,
            "offsets": self.offsets,
            "next_tick_ms": self.next_tick_ms,
            "ticks": self.ticks,
        }

    @classmethod
    def restore(cls, cfg: DetectionSettings, snap: dict[str, Any]) -> Detector:
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported detector snapshot version {snap.get('version')}")
        d = cls(cfg)
        d.assets = {s: mkt.AssetState.from_dict(a) for s, a in snap["assets"].items()}
        d.liq = liq.LiqWindow.from_dict(cfg.liquidations, snap["liq"])
        d.book = fund.FundingBook(snap["book"])
        for row in snap["comove"]:
            d.comove.add(tuple(row))
        d.machine = AlertMachine.from_dict(snap["machine"])
        d.pending_prices = {int(m): b for m, b in snap["pending_prices"].items()}
        d.pending_liq = {int(m): liq.MinuteLiq.from_list(b) for m, b in snap["pending_liq"].items()}
        d.partition_ts = dict(snap["partition_ts"])
        if snap.get("partitions") is not None:
            d.partitions = set(snap["partitions"])
        d.offsets = dict(snap["offsets"])
        d.next_tick_ms = snap["next_tick_ms"]
        d.ticks = snap["ticks"]
        return d


def _last_id(signal: ShockSignal) -> str:
    return signal.alert_id or f"sw-{signal.scope}-unknown"


def _fmt_usd(x: float) -> str:
    if x >= 1e9:
        return f"${x / 1e9:.2f}bn"
    if x >= 1e6:
        return f"${x / 1e6:.0f}m"
    return f"${x:,.0f}"


def headline(signal: ShockSignal, state: str, severity: str) -> str:
    core = signal.classes.get("core_z", {})
    moves = ", ".join(
        f"{name} {z:+.1f}σ"
        for name, z in core.items()
        if z is not None  # type: ignore[union-attr]
    )
    liqs = signal.liquidations
    title = "EVERYTHING SELLS" if severity == "critical" else "Cross-asset stress"
    if state == "resolved":
        title = f"Resolved: {title.lower()}"
    fstress = signal.funding.get("stress")
    funding = f"funding stress {fstress:.2f}" if fstress is not None else "funding unknown"
    return (
        f"{title} ({severity}, {signal.regime}) score {signal.score:.0f}: {moves}; "
        f"liquidations {_fmt_usd(liqs['notional_usd'])}/{liqs['window_min']}m "
        f"({liqs['surge_ratio']:.1f}x); {funding}"
    )


def evidence(signal: ShockSignal) -> dict[str, Any]:
    """What a reader needs to judge the alert, small enough for a Slack message."""
    f = signal.funding
    comps = f.get("components", {})
    return {
        "score": signal.score,
        "components": signal.components,
        "breadth": signal.breadth,
        "comovement": signal.comovement,
        "core_z": signal.classes.get("core_z", {}),
        "assets": {
            s: {
                "ret_day_pct": round(v["ret_day_pct"], 2),
                "z_day": round(v["z_day"], 2),
                "price_usd": v["price_usd"],
                "asset_class": v["asset_class"],
            }
            for s, v in signal.assets.items()
        },
        "liquidations": {
            k: signal.liquidations[k]
            for k in (
                "notional_usd",
                "window_min",
                "surge_ratio",
                "long_share",
                "venues_reporting",
                "by_venue",
                "is_lower_bound",
                "day_total_usd",
            )
        },
        "funding": {
            "stress": f.get("stress"),
            "stale": f.get("stale"),
            "missing": f.get("missing"),
            **{
                name: {"value": c.get("value"), "stress": c.get("stress"), "date": c.get("date")}
                for name, c in comps.items()
            },
        },
    }
