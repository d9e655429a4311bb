"""The alert state machine: warning / critical with hysteresis, one id per episode.

Fire a level only after its condition held for ``for_s`` (like Prometheus ``for``); once an
episode is open, escalate warning -> critical under the same id; resolve only after the score
stayed below ``resolve_score`` (lower than the fire levels), with no broad selling calling for
a level either, for ``resolve_for_s``; after a resolve, stay quiet for ``cooldown_s``. All
times are event time.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from shockwatch.settings import AlertSettings

LEVELS = {"ok": 0, "warning": 1, "critical": 2}


def alert_id(scope: str, started_ts_ms: int) -> str:
    """Stable per episode: the same input always yields the same id (replays, restarts)."""
    stamp = datetime.fromtimestamp(started_ts_ms / 1000, UTC).strftime("%Y%m%dT%H%MZ")
    digest = hashlib.sha1(f"{scope}:{started_ts_ms}".encode()).hexdigest()[:6]
    return f"sw-{scope}-{stamp}-{digest}"


def desired_level(
    score: float,
    breadth: float,
    cfg: AlertSettings,
    depth: float = 0.0,
    amplifier: float = 1.0,
) -> str:
    """The level the world calls for at a tick: the score with its breadth and amplifier gates
    (``amplifier``: the larger of funding and liquidation stress), or broad and deep selling on
    its own (``depth``: how many normal days the shallowest core class is down,
    ``market.depth``)."""
    by_score = (
        score >= cfg.critical_score
        and breadth >= cfg.critical_min_breadth
        and amplifier >= cfg.critical_amplifier_min
    )
    if by_score or depth >= cfg.broad_critical_z:
        return "critical"
    if score >= cfg.warning_score or depth >= cfg.broad_warning_z:
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
    m: AlertMachine,
    ts_ms: int,
    score: float,
    breadth: float,
    scope: str,
    cfg: AlertSettings,
    depth: float = 0.0,
    amplifier: float = 1.0,
) -> list[tuple[str, str]]:
    """Advance one tick; returns the transitions as (state, severity) pairs, in order."""
    want = desired_level(score, breadth, cfg, depth, amplifier)
    if LEVELS[want] < 1:
        m.warning_since = None
    elif m.warning_since is None:
        m.warning_since = ts_ms
    if want != "critical":
        m.critical_since = None
    elif m.critical_since is None:
        m.critical_since = ts_ms
    out: list[tuple[str, str]] = []
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
            out.append(("firing", level))
    if m.alert_id is not None and not out:
        if score < cfg.resolve_score and want == "ok":
            if m.below_since is None:
                m.below_since = ts_ms
            if ts_ms - m.below_since >= cfg.resolve_for_s * 1000:
                out.append(("resolved", m.level))
                m.level, m.alert_id, m.started_ts_ms = "ok", None, None
                m.below_since, m.last_resolved_ts_ms = None, ts_ms
        else:
            m.below_since = None
    return out
