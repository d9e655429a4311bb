"""The scenario spec (``Meta``, ``Recipe``) and the synthesized ``World`` built from it.

A ``Recipe`` names what a scenario is calibrated to: its metadata (window, the sourced
figures and notes its README lists, the expected outcome), its assets' path specs, volatility
windows, liquidation budget and funding plan. ``build_world`` turns it into records: one
common factor per group seeded by the scenario's name, the seeded price paths, the bars, the
liquidation prints and the funding history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from synth.funding import FundingPlan, funding_records
from synth.liquidations import LiqSpec, make_liquidations
from synth.prices import price_records
from synth.units import Record
from synth.walk import Asset, Factors, Market, PricePath, VolWindow, build_path


@dataclass(frozen=True)
class Meta:
    name: str
    description: str
    start: int
    end: int
    day: date  # the scenario's day (its 24 h UTC are used for the liquidation summary)
    calibration: str
    expect: tuple[tuple[str, Any], ...]
    fictional: bool
    sourced: tuple[str, ...]
    notes: tuple[str, ...]
    expected_text: str
    kind: str = ""  # what kind of day (data/scenarios/README.md); shown by `shockwatch backtest`


@dataclass(frozen=True)
class Recipe:
    meta: Meta
    assets: tuple[Asset, ...]
    vol_windows: tuple[VolWindow, ...]
    liquidations: LiqSpec
    funding: FundingPlan


@dataclass
class World:
    meta: Meta
    assets: dict[str, Asset]
    paths: dict[str, PricePath]
    prices: list[Record]
    liquidations: list[Record]
    funding: list[Record]
    liq_spec: LiqSpec


def build_world(recipe: Recipe) -> World:
    meta = recipe.meta
    origin = min(start for asset in recipe.assets for start, _ in asset.sessions)
    market = Market(Factors(meta.name, origin), recipe.vol_windows)
    paths = {a.symbol: build_path(a, market, meta.name) for a in recipe.assets}
    liqs = make_liquidations(recipe.liquidations, paths, meta.name, (meta.start, meta.end))
    return World(
        meta, {a.symbol: a for a in recipe.assets}, paths, price_records(paths), liqs,
        funding_records(recipe.funding), recipe.liquidations,
    )  # fmt: skip
