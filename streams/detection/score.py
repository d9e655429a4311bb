"""The composite score (0-100) with its components, and the regime of the moment."""

from __future__ import annotations

from common.settings import ScoreSettings
from streams.records import Regime


def composite(
    stresses: dict[str, float | None], cfg: ScoreSettings
) -> tuple[float, dict[str, float]]:
    """Weighted sum of component stresses (each 0-1; unknown counts 0) -> (score, points)."""
    points = {name: w * (stresses.get(name) or 0.0) for name, w in cfg.weights.items()}
    return min(100.0, sum(points.values())), points


def regime(
    *,
    level: str,
    breadth: float,
    funding_stress: float | None,
    liquidation_stress: float,
    index_z: float | None,
    ai_z: float | None,
    cfg: ScoreSettings,
) -> Regime:
    """plumbing: broad selling with funding tight and forced (margin-call) selling;
    repricing: AI names falling far more than the index while funding is calm;
    mixed: anything else that calls for an alert; calm: ``level`` (``alerting.desired_level``)
    is "ok"."""
    if level == "ok":
        return Regime.CALM
    funding = funding_stress or 0.0
    if (
        funding >= cfg.plumbing_funding_min
        and breadth >= 2 / 3
        and (liquidation_stress >= cfg.plumbing_liq_min)
    ):
        return Regime.PLUMBING
    sector_gap = (ai_z - index_z) if ai_z is not None and index_z is not None else 0.0
    if sector_gap <= -cfg.repricing_gap_z and funding < cfg.plumbing_funding_min:
        return Regime.REPRICING
    return Regime.MIXED
