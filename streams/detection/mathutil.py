"""Tiny numeric helpers shared by the detection modules."""

from __future__ import annotations


def clip01(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


def ramp(x: float, calm: float, full: float) -> float:
    """0 at ``calm``, 1 at ``full``, linear between; works for falling scales (full < calm)."""
    if full == calm:
        raise ValueError("ramp needs calm != full")
    return clip01((x - calm) / (full - calm))


def ewma_alpha(halflife: float) -> float:
    return 1.0 - 0.5 ** (1.0 / max(halflife, 1e-9))
