"""The alert state machine: warning / critical with hysteresis, one id per episode.

Fire a level only after its condition held for ``for_s`` (like Prometheus ``for``); once an
episode is open, escalate warning -> critical under the same id; resolve only after the score
stayed below ``resolve_score`` and the broad selling below ``broad_resolve_z`` (both lower than
their fire levels) for ``resolve_for_s``; after a resolve, stay quiet for ``cooldown_s``. All
times are event time.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from common.settings import AlertSettings
from streams.records import AlertState, Severity

LEVELS = {"ok": 0, "warning": 1, "critical": 2}


def alert_id(scope: str, started_ts_ms: int) -> str:
    """Stable per episode: the same input always yields the same id (replays, restarts)."""
    stamp = datetime.fromtimestamp(started_ts_ms / 1000, UTC).strftime("%Y%m%dT%H%MZ")
    digest = hashlib.sha1(f"{scope}:{started_ts_ms}".encode()).hexdigest()[:6]
    return f"sw-{scope}-{stamp}-{digest}"


@dataclass(frozen=True)
class Reading:
    """What the machine judges at a tick."""

    score: float
    breadth: float
    # normal days the shallowest core class is down (``market.depth``): every class is
    depth: float = 0.0
    # the larger of funding and liquidation stress: how much of an amplifier is in play
    amplifier: float = 1.0


def desired_level(r: Reading, cfg: AlertSettings) -> str:
    """The level the world calls for: the score with its breadth and amplifier gates, or
    broad and deep selling on its own (every core class down ``broad_warning_z`` normal days:
    warning; ``broad_critical_z``: critical)."""
    by_score = (
        r.score >= cfg.critical_score
        and r.breadth >= cfg.critical_min_breadth
        and r.amplifier >= cfg.critical_amplifier_min
    )
    if by_score or r.depth >= cfg.broad_critical_z:
        return "critical"
    if r.score >= cfg.warning_score or r.depth >= cfg.broad_warning_z:
        return "warning"
    return "ok"


@dataclass
class AlertMachine:
    level: str = "ok"  # highest severity fired in the open episode
    alert_id: str | None = None
    started_ts_ms: int | None = None
    warning_since: int | None = None
    critical_since: int | None = None
    below_since: int | None = None
    last_resolved_ts_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertMachine:
        return cls(**d)

    @property
    def pending(self) -> bool:
        return self.level == "ok" and (self.warning_since is not None)


def step(
    m: AlertMachine, ts_ms: int, r: Reading, scope: str, cfg: AlertSettings
) -> list[tuple[AlertState, Severity]]:
    """Advance one tick; returns the transitions as (state, severity) pairs, in order."""
    want = desired_level(r, cfg)
    if LEVELS[want] < 1:
        m.warning_since = None
    elif m.warning_since is None:
        m.warning_since = ts_ms
    if want != "critical":
        m.critical_since = None
    elif m.critical_since is None:
        m.critical_since = ts_ms
    out: list[tuple[AlertState, Severity]] = []
    ready = [
        level
        for level, since in (("warning", m.warning_since), ("critical", m.critical_since))
        if since is not None
        and LEVELS[level] > LEVELS[m.level]
        and ts_ms - since >= cfg.for_s * 1000
    ]
    if ready:
        level = ready[-1]  # the highest level ready fires; a lower one is implied
        cooling = (
            m.alert_id is None
            and m.last_resolved_ts_ms is not None
            and ts_ms - m.last_resolved_ts_ms < cfg.cooldown_s * 1000
        )
        if not cooling:
            if m.alert_id is None:
                started = ts_ms if m.warning_since is None else m.warning_since
                m.started_ts_ms = started
                m.alert_id = alert_id(scope, started)
            m.level = level
            m.below_since = None
            out.append((AlertState.FIRING, Severity(level)))
    if m.alert_id is not None and not out:
        if r.score < cfg.resolve_score and r.depth < cfg.broad_resolve_z:
            if m.below_since is None:
                m.below_since = ts_ms
            if ts_ms - m.below_since >= cfg.resolve_for_s * 1000:
                out.append((AlertState.RESOLVED, Severity(m.level)))
                m.level, m.alert_id, m.started_ts_ms = "ok", None, None
                m.below_since, m.last_resolved_ts_ms = None, ts_ms
        else:
            m.below_since = None
    return out
