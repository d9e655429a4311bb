"""Event-time ticks that tie the detection core together, with a checkpointable state.

Arrival only files an event into its partition's one-minute bucket (``shard.PartitionShard``,
O(1)); nothing is computed on arrival. A partition seals a minute once its own event time has
passed the minute's end plus the allowed lateness, and its sealed minutes are merged here
(``apply``). A tick at time T (every minute, on the minute) closes the merged bucket before T
and evaluates the world as of T. It runs once the *watermark* has passed T + allowed lateness,
where the watermark is the minimum over the input partitions of the newest event time each has
shown (producers send heartbeats when idle): by then every partition has sealed the minute, so
whatever the interleaving across partitions, the replay speed or where batches split, the same
input gives the same signals and alerts.

An event behind its partition's sealed minutes is late (``LateEvent``: dead-lettered and
counted). An event at an offset the state already includes (after a restart) is skipped, so
recovery from the checkpoint plus re-reading from the committed offsets applies each event
exactly once.

A single worker files events into the shards its detector holds (``ingest``). Scaled out, the
shards run in other workers and their summaries arrive here over Kafka (``apply``): the same
code either way, so the modes agree exactly (docs/architecture.md, "Scale-out").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from common.fmt import fmt_usd
from common.settings import DetectionSettings
from streams.detection import funding as fund
from streams.detection import liquidations as liq
from streams.detection import market as mkt
from streams.detection.alerting import AlertMachine, Reading, desired_level, step
from streams.detection.score import composite, regime
from streams.detection.shard import AS_OF, PartitionShard, Summary, newer
from streams.records import (
    AlertEvent,
    AlertState,
    AssetClass,
    AssetEvidence,
    AssetView,
    ClassPanel,
    ComponentEvidence,
    Evidence,
    FundingEvidence,
    LiqEvidence,
    Regime,
    Severity,
    ShockSignal,
)

MIN_MS = 60_000
log = logging.getLogger(__name__)
SNAPSHOT_VERSION = 2


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
        self.panel = fund.FundingPanel(cfg.funding)
        self.comove = mkt.CoMovement(cfg.breadth.comovement_window_min)
        # How many minutes the latest bar of each as-of input (a delayed instrument: the
        # shards' AS_OF, from streams/timing.py) came after its own minute (0 when on time, as
        # in a recorded day played in event order). Their one-minute returns join the
        # co-movement row of their own minute, which waits for them that long at most
        # (``_add_rows``).
        self.lag_min: dict[str, int] = {}
        self.core_members = frozenset(m for ms in cfg.breadth.core_classes.values() for m in ms)
        self.comove_rows: dict[int, dict[str, float]] = {}  # minute -> symbol -> 1m return
        self.rows_through = -1  # the newest minute whose row went into the window
        self.machine = AlertMachine()
        # minute -> symbol -> [ts_ms, price_usd, asset_class]
        self.pending_prices: dict[int, dict[str, list[Any]]] = {}
        self.pending_liq: dict[int, liq.MinuteLiq] = {}
        self.partition_ts: dict[str, int] = {}  # per partition: through_ms of its summaries
        self.sealed: dict[str, int] = {}  # per partition: minutes before this one are merged
        self.shards: dict[str, PartitionShard] = {}  # a single worker's own partitions
        self.lateness_ms = cfg.alerts.allowed_lateness_s * 1000
        self.max_jump_ms = cfg.alerts.max_jump_s * 1000
        self.jump_confirm = cfg.alerts.jump_confirm_events
        self.partitions: set[str] | None = None
        # Partitions the input stage found silent (live only; never checkpointed): left out of
        # the watermark until they show something again.
        self.idle: frozenset[str] = frozenset()
        self.offsets: dict[str, int] = {}
        self.next_tick_ms: int | None = None
        self.ticks = 0
        self.late_minutes = 0  # sealed minutes that came after their tick (see ``apply``)
        self.skipped_minutes = 0  # empty minutes of event-time gaps not ticked (see ``advance``)
        self._skipped_upto: int | None = None  # where the last skip ended (one log line a gap)

    # -- ingestion ---------------------------------------------------------------------------
    def set_partitions(self, partitions: Iterable[str]) -> None:
        """The input partitions whose progress defines the watermark (the assignment)."""
        self.partitions = set(partitions)

    def already_applied(self, tp: str, offset: int) -> bool:
        return offset < self.offsets.get(tp, 0)

    def shard(self, tp: str) -> PartitionShard:
        shard = self.shards.get(tp)
        if shard is None:
            shard = self.shards[tp] = PartitionShard(
                self.lateness_ms, max_jump_ms=self.max_jump_ms, jump_confirm=self.jump_confirm
            )
            if self.ticks and self.next_tick_ms is not None:
                shard.close(self.next_tick_ms // MIN_MS - 1)
        return shard

    def ingest(self, record: Any, tp: str = "-", offset: int | None = None) -> None:
        """File one decoded record. Raises ``LateEvent`` for events behind the sealed minutes."""
        if offset is not None:
            self.offsets[tp] = offset + 1
        self.shard(tp).add(record)

    def apply(self, summary: Summary) -> None:
        """Merge what one partition sealed. A minute the partition had already sealed (a shard
        restarted from an earlier offset sends it again) is skipped: the first one is whole."""
        tp = summary.tp
        done = self.sealed.get(tp, -1)
        closed = self.next_tick_ms // MIN_MS - 1 if self.ticks and self.next_tick_ms else None
        for minute, prices, bucket_liq in summary.minutes:
            if minute < done:
                continue
            if closed is not None and minute < closed:
                # Not possible while every stage runs with the same allowed lateness (a tick
                # waits for all partitions to seal its minute); counted and logged if it does.
                self.late_minutes += 1
                log.error("%s sealed minute %d after its tick: not merged", tp, minute)
                continue
            bucket = self.pending_prices.get(minute)
            if bucket is None:
                bucket = self.pending_prices[minute] = {}
            for symbol, row in prices.items():
                if newer(row, bucket.get(symbol)):
                    bucket[symbol] = row
            if bucket_liq.count:
                have = self.pending_liq.get(minute)
                if have is None:
                    self.pending_liq[minute] = bucket_liq
                else:
                    have.merge(bucket_liq)
        if summary.sealed_before > done:
            self.sealed[tp] = summary.sealed_before
        for series, obs_date, ts, value, revision in summary.funding:
            # As-of join: kept with its publication time, used only by ticks after it.
            self.book.add(series, obs_date, ts, value, revision)
        if summary.through_ms > self.partition_ts.get(tp, -1):
            self.partition_ts[tp] = summary.through_ms

    def watermark(self) -> int | None:
        seen = dict(self.partition_ts)
        for tp, shard in self.shards.items():
            if shard.ts >= 0 and shard.ts > seen.get(tp, -1):
                seen[tp] = shard.ts
        every = self.partitions if self.partitions else set(seen)
        tps = every - self.idle
        if not tps and every and seen:
            # Every partition idle: everything published has been read; tick up to the newest
            # time anything has shown.
            return max(seen[tp] for tp in every if tp in seen)
        if not tps or any(tp not in seen for tp in tps):
            return None
        return min(seen[tp] for tp in tps)

    # -- ticks -------------------------------------------------------------------------------
    def advance(self) -> list[TickOutput]:
        """Run every tick the watermark allows; returns their signals and alert transitions."""
        for tp, shard in self.shards.items():
            summary = shard.seal(tp)
            if summary is not None:
                self.apply(summary)
        wm = self.watermark()
        if wm is None:
            return []
        if not self.ticks:
            first = min([*self.pending_prices, *self.pending_liq], default=None)
            if first is None:
                return []
            self.next_tick_ms = (first + 1) * MIN_MS
        out: list[TickOutput] = []
        start = self.next_tick_ms
        while self.next_tick_ms + self.lateness_ms <= wm:
            minute = self.next_tick_ms // MIN_MS - 1
            why = None if self._has_data(minute) else self._skippable(minute)
            if why is not None:
                self._skip_gap(minute, (wm - self.lateness_ms) // MIN_MS - 1, why)
                continue
            out.append(self._tick(self.next_tick_ms))
            self.next_tick_ms += MIN_MS
        if self.next_tick_ms != start:
            for shard in self.shards.values():
                shard.close(self.next_tick_ms // MIN_MS - 1)
        return out

    # -- event-time gaps (docs/detection.md, "Gaps") -----------------------------------------
    def _has_data(self, minute: int) -> bool:
        return bool(self.pending_prices.get(minute)) or minute in self.pending_liq

    def _skippable(self, minute: int) -> str | None:
        """Why the empty ``minute`` need not be ticked, or None: the detector has settled (its
        tick would change nothing but the signal's time), or the gap is over the bound."""
        bound = self.cfg.alerts.max_gap_ticks
        if bound <= 0:
            return None
        if settled(self, minute):
            return "settled"
        newest = _newest_data_minute(self)
        if newest is None or minute - newest > bound:
            return f"over alerts.max_gap_ticks={bound}"
        return None

    def _skip_gap(self, minute: int, last_allowed: int, why: str) -> None:
        """Skip the empty minutes from ``minute`` to the next minute with data (or past the last
        one the watermark allows), doing in O(1) what their ticks would do to the state: the
        liquidation window lets go of what is older. Assets, co-movement and funding are not
        touched by an empty minute; the alert machine is not stepped (``settled``: it is at
        rest; over the bound: its timers keep their values, docs/detection.md, "Gaps")."""
        data = [m for m, bucket in self.pending_prices.items() if bucket and m > minute]
        data.extend(m for m in self.pending_liq if m > minute)
        upto = min([*data, last_allowed + 1])  # the first minute not skipped
        for m in [m for m in self.pending_prices if m < upto]:
            del self.pending_prices[m]  # an empty bucket a summary left
        self.liq.close_minute(upto - 1, liq.MinuteLiq())
        self.skipped_minutes += upto - minute
        self.next_tick_ms = (upto + 1) * MIN_MS
        if minute != self._skipped_upto:  # a new gap, not the next batch of the same one
            log.info(
                "event-time gap (%s): skipping empty minutes from %s without signals "
                "(%d so far; docs/detection.md, 'Gaps')",
                why,
                _iso(minute),
                upto - minute,
            )
        self._skipped_upto = upto

    def _close_minute(self, minute: int) -> None:
        prices = self.pending_prices.pop(minute, {})
        mcfg = self.cfg.market
        for symbol in sorted(prices):
            ts, price, asset_class = prices[symbol]
            state = self.assets.get(symbol)
            if state is None:
                state = self.assets[symbol] = mkt.AssetState.new(symbol, asset_class, mcfg)
            # A bar is its own event minute's: the same as ``minute`` unless it is an as-of
            # input's bar that arrived after that minute had sealed.
            bar_minute = ts // MIN_MS
            if symbol in AS_OF:  # the shards file its late bars as of
                self.lag_min[symbol] = minute - bar_minute
            r = mkt.add_bar(state, bar_minute, price, mcfg)
            if r is not None and bar_minute > self.rows_through:
                row = self.comove_rows.get(bar_minute)
                if row is None:
                    row = self.comove_rows[bar_minute] = {}
                row[symbol] = r
        self._add_rows(minute)
        self.liq.close_minute(minute, self.pending_liq.pop(minute, liq.MinuteLiq()))

    def _add_rows(self, minute: int) -> None:
        """Move the finished co-movement rows (up to ``minute``) into the window, in order.

        A row is finished once every as-of instrument of a core class has reported its
        minute, or the minute is older than that instrument's observed lag (its market is
        closed or its bar lost). With every bar on time (lag 0) each minute's row goes in as
        it closes, exactly as before as-of inputs existed."""
        for m in sorted(self.comove_rows):
            if m > minute or not self._row_done(m, minute):
                break
            returns = self.comove_rows.pop(m)
            self.rows_through = m  # a return of this minute that comes later has no row
            row: list[float | None] = []
            for members in self.cfg.breadth.core_classes.values():
                rs = [r for s, r in returns.items() if self.assets[s].asset_class in members]
                row.append(sum(rs) / len(rs) if rs else None)
            if any(x is not None for x in row):
                self.comove.add(tuple(row))

    def _row_done(self, m: int, minute: int) -> bool:
        for symbol, lag in self.lag_min.items():
            if m <= minute - lag:
                continue
            state = self.assets[symbol]
            if state.asset_class not in self.core_members:
                continue
            last = state.last_minute
            if last is None or last < m:
                return False
        return True

    def _tick(self, tick_ms: int) -> TickOutput:
        cfg = self.cfg
        minute = tick_ms // MIN_MS - 1
        self._close_minute(minute)
        self.ticks += 1
        assets: dict[str, AssetView] = {}
        for symbol, state in sorted(self.assets.items()):
            last = state.last_minute
            if last is not None and minute - last <= cfg.market.history_min:
                view = mkt.asset_view(state, minute, cfg.market, self.lag_min.get(symbol, 0))
                if view is not None:
                    assets[symbol] = view
        core_z = mkt.core_class_z(assets, cfg.breadth)
        width = mkt.breadth(core_z, cfg.breadth)
        panel = liq.pressure(self.liq, minute)
        funding = self.panel.at(self.book, tick_ms)
        corr = self.comove.average_correlation()
        stresses: dict[str, float | None] = {
            "market": mkt.market_stress(core_z, cfg.breadth),
            "liquidations": liq.liquidation_stress(panel, cfg.liquidations),
            "funding": funding.stress,
            "comovement": mkt.comovement_stress(corr, core_z, cfg.breadth),
        }
        score, points = composite(stresses, cfg.score)
        normal_z = mkt.core_class_z(assets, cfg.breadth, normal=True)
        shallowest = mkt.depth(normal_z)
        class_panel = ClassPanel(
            by_class=mkt.class_views(assets),
            core_z=core_z,
            core_z_normal={k: _round(z) for k, z in normal_z.items()},
            depth=round(shallowest, 4),
        )
        reading = Reading(
            score=score,
            breadth=width,
            depth=shallowest,
            amplifier=max(funding.stress or 0.0, stresses["liquidations"] or 0.0),
        )
        reg = regime(
            level=desired_level(reading, cfg.alerts),
            breadth=width,
            funding_stress=funding.stress,
            liquidation_stress=stresses["liquidations"] or 0.0,
            index_z=class_panel.z_day(AssetClass.EQUITY_INDEX),
            ai_z=class_panel.z_day(AssetClass.AI_EQUITY),
            cfg=cfg.score,
        )
        # A resolve clears the machine: keep the episode's id and start for its event.
        episode = (self.machine.alert_id, self.machine.started_ts_ms)
        transitions = step(self.machine, tick_ms, reading, self.scope, cfg.alerts)
        state = "pending" if self.machine.pending else self.machine.level
        signal = ShockSignal(
            ts_ms=tick_ms,
            scope=self.scope,
            score=round(score, 3),
            regime=reg,
            components={
                **{f"{k}_points": round(v, 3) for k, v in points.items()},
                **{
                    f"{k}_stress": (round(v, 4) if v is not None else None)
                    for k, v in stresses.items()
                },
            },
            breadth=round(width, 4),
            comovement=round(corr, 4) if corr is not None else None,
            classes=class_panel,
            assets=assets,
            liquidations=panel,
            funding=funding,
            alert_state=state,
            alert_id=self.machine.alert_id,
            idle_partitions=sorted(self.idle),
        )
        alerts = [self._alert_event(signal, st, sev, episode) for st, sev in transitions]
        return TickOutput(signal, alerts)

    def _alert_event(
        self,
        signal: ShockSignal,
        state: AlertState,
        severity: Severity,
        episode: tuple[str | None, int | None],
    ) -> AlertEvent:
        m = self.machine
        aid = m.alert_id or episode[0] or _last_id(signal)
        started = m.started_ts_ms or episode[1] or signal.ts_ms
        return AlertEvent(
            ts_ms=signal.ts_ms,
            alert_id=aid,
            state=state,
            severity=severity,
            regime=signal.regime if signal.regime != Regime.CALM else Regime.MIXED,
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
            "comove_rows": {str(m): r for m, r in self.comove_rows.items()},
            "lag_min": self.lag_min,
            "rows_through": self.rows_through,
            "machine": self.machine.to_dict(),
            "pending_prices": {str(m): b for m, b in self.pending_prices.items()},
            "pending_liq": {str(m): b.to_list() for m, b in self.pending_liq.items()},
            "partition_ts": self.partition_ts,
            "sealed": self.sealed,
            "shards": {tp: shard.to_dict() for tp, shard in self.shards.items()},
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
        d.comove_rows = {int(m): r for m, r in snap.get("comove_rows", {}).items()}
        d.lag_min = dict(snap.get("lag_min", {}))
        d.rows_through = snap.get("rows_through", -1)
        d.machine = AlertMachine.from_dict(snap["machine"])
        d.pending_prices = {int(m): b for m, b in snap["pending_prices"].items()}
        d.pending_liq = {int(m): liq.MinuteLiq.from_list(b) for m, b in snap["pending_liq"].items()}
        d.partition_ts = dict(snap["partition_ts"])
        d.sealed = dict(snap["sealed"])
        d.shards = {
            tp: PartitionShard.from_dict(d.lateness_ms, x, d.max_jump_ms, d.jump_confirm)
            for tp, x in snap["shards"].items()
        }
        if snap.get("partitions") is not None:
            d.partitions = set(snap["partitions"])
        d.offsets = dict(snap["offsets"])
        d.next_tick_ms = snap["next_tick_ms"]
        d.ticks = snap["ticks"]
        return d


def _newest_data_minute(det: Detector) -> int | None:
    """The newest closed minute that had data: a price bar or a liquidation (None: none held)."""
    newest = [a.last_minute for a in det.assets.values() if a.last_minute is not None]
    liq_newest = det.liq.newest_minute()
    if liq_newest is not None:
        newest.append(liq_newest)
    return max(newest, default=None)


def quiet_cannot_alert(cfg: DetectionSettings) -> bool:
    """With no asset in view and no liquidation in the windows, the score is funding's points
    alone and the depth 0: true if that can neither fire nor hold a level."""
    a = cfg.alerts
    funding_max = min(100.0, cfg.score.weights.get("funding", 0.0))
    return (
        funding_max < min(a.warning_score, a.critical_score)
        and a.broad_warning_z > 0
        and a.broad_critical_z > 0
    )


def settled(det: Detector, minute: int) -> bool:
    """Whether ticking the empty ``minute`` (and every empty minute after it) would leave the
    state as it is and emit no alert: no asset's last bar is within ``history_min`` (none is in
    view), the liquidation windows are empty, the alert machine is at rest (no episode, no level
    pending) and a quiet reading cannot move it (``quiet_cannot_alert``). Each of these stays
    true over empty minutes, so the rest of the gap can be skipped without changing anything
    but the signals not emitted."""
    m = det.machine
    if m.alert_id is not None or m.warning_since is not None or m.critical_since is not None:
        return False
    horizon = minute - det.cfg.market.history_min
    if any(a.last_minute is not None and a.last_minute >= horizon for a in det.assets.values()):
        return False
    return det.liq.empty_at(minute) and quiet_cannot_alert(det.cfg)


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _last_id(signal: ShockSignal) -> str:
    return signal.alert_id or f"sw-{signal.scope}-unknown"


def headline(signal: ShockSignal, state: AlertState, severity: Severity) -> str:
    moves = ", ".join(
        f"{name} {z:+.1f}σ" for name, z in signal.classes.core_z.items() if z is not None
    )
    liqs = signal.liquidations
    title = "EVERYTHING SELLS" if severity == Severity.CRITICAL else "Cross-asset stress"
    if state == AlertState.RESOLVED:
        title = f"Resolved: {title.lower()}"
    fstress = signal.funding.stress
    funding = f"funding stress {fstress:.2f}" if fstress is not None else "funding unknown"
    return (
        f"{title} ({severity}, {signal.regime}) score {signal.score:.0f}: {moves}; "
        f"liquidations {fmt_usd(liqs.notional_usd, thousands=False)}/{liqs.window_min}m "
        f"({liqs.surge_ratio:.1f}x); {funding}"
    )


def evidence(signal: ShockSignal) -> Evidence:
    """What a reader needs to judge the alert, small enough for a Slack message."""
    f = signal.funding
    return Evidence(
        score=signal.score,
        components=signal.components,
        breadth=signal.breadth,
        depth=signal.classes.depth,
        comovement=signal.comovement,
        core_z=signal.classes.core_z,
        assets={
            s: AssetEvidence(
                ret_day_pct=round(v.ret_day_pct, 2),
                z_day=round(v.z_day, 2),
                price_usd=v.price_usd,
                asset_class=v.asset_class,
            )
            for s, v in signal.assets.items()
        },
        liquidations=LiqEvidence.of(signal.liquidations),
        funding=FundingEvidence(
            stress=f.stress,
            stale=f.stale,
            missing=f.missing,
            components={
                name: ComponentEvidence(value=c.value, stress=c.stress, date=c.date)
                for name, c in f.components.items()
            },
        ),
    )
