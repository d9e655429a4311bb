"""Tiny numeric helpers shared by the detection modules."""

from __future__ import annotations

import math
from collections.abc import Sequence


def clip01(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


def ramp(x: float, calm: float, full: float) -> float:
    """0 at ``calm``, 1 at ``full``, linear between; works for falling scales (full < calm)."""
    if full == calm:
        raise ValueError("ramp needs calm != full")
    return clip01((x - calm) / (full - calm))


def ewma_alpha(halflife: float) -> float:
    return 1.0 - 0.5 ** (1.0 / max(halflife, 1e-9))


def correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation, or None when either side is flat or too short."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-18 or syy <= 1e-18:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sxx * syy)
