"""The typed panels of the output records: what a signal shows per asset, per class, of the
liquidations and of funding, and what an alert carries as evidence.

Detection fills them; Slack, metrics and the report read their attributes. Each is a frozen
msgspec Struct whose JSON form (``to_dict``) is exactly what crossed the topic before they
were typed: the same keys in the same order. ``None`` is written as null; a field that is
``UNSET`` is left out (a key the panel does not carry: a funding component's extras, or what
an older alert's evidence did not record yet). Three panels are flat on the wire and grouped
here: an asset's per-window moves (``ret_15m``, ``z_15m``, ...), the class panel (one entry per
asset class beside ``core_z``, ``core_z_normal`` and ``depth``) and the funding evidence (one
entry per component beside ``stress``, ``stale`` and ``missing``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Self, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType

from streams.records.fields import AssetClass

# The JSON form of a panel: what ``orjson`` encodes and ``from_dict`` reads back.
Json = dict[str, Any]
T = TypeVar("T")


def given(x: T | UnsetType) -> T | None:
    """A field a panel may not carry (``UNSET``: not recorded), as a value or None."""
    return None if isinstance(x, UnsetType) else x


class _Panel(Struct, frozen=True, kw_only=True):
    """A panel whose JSON form is its fields in order (``UNSET`` ones left out)."""

    def to_dict(self) -> Json:
        out: Json = msgspec.to_builtins(self)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        return msgspec.convert(d, cls)


# -- assets and classes --------------------------------------------------------------------------

_WINDOW_KEY = re.compile(r"(ret|z)_(\d+)m")


class AssetView(_Panel, frozen=True, kw_only=True):
    """One asset at a tick: its close, returns (log) and z-scores by window and over the day."""

    price_usd: float
    asset_class: AssetClass
    fresh: bool
    age_min: int
    sigma_1m: float
    # window (minutes) -> log return and its z-score; on the wire ``ret_15m``, ``z_15m``, ...
    ret: dict[int, float]
    z: dict[int, float]
    ret_day: float
    ret_day_pct: float
    z_day: float
    day_z_normal: float

    def to_dict(self) -> Json:
        out: Json = {
            "price_usd": self.price_usd,
            "asset_class": self.asset_class.value,
            "fresh": self.fresh,
            "age_min": self.age_min,
            "sigma_1m": self.sigma_1m,
        }
        for w, r in self.ret.items():
            out[f"ret_{w}m"] = r
            out[f"z_{w}m"] = self.z[w]
        out["ret_day"] = self.ret_day
        out["ret_day_pct"] = self.ret_day_pct
        out["z_day"] = self.z_day
        out["day_z_normal"] = self.day_z_normal
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        fixed: Json = {"ret": {}, "z": {}}
        for key, value in d.items():
            m = _WINDOW_KEY.fullmatch(key)
            if m is None:
                fixed[key] = value
            else:
                fixed[m[1]][m[2]] = value
        return msgspec.convert(fixed, cls, str_keys=True)


class ClassView(_Panel, frozen=True, kw_only=True):
    """One asset class at a tick: mean and worst day z, mean day return (%), members."""

    z_day: float
    worst_z_day: float
    ret_day_pct: float
    assets: float


_CLASS_PANEL_KEYS = ("core_z", "core_z_normal", "depth")


class ClassPanel(_Panel, frozen=True, kw_only=True):
    """The classes at a tick; on the wire one entry per class beside the three core fields."""

    by_class: dict[AssetClass, ClassView]
    # core class (``breadth.core_classes``) -> mean day z of its members (None: none reported)
    core_z: dict[str, float | None]
    core_z_normal: dict[str, float | None]  # the same in normal days (``day_z_normal``)
    depth: float  # normal days the shallowest core class is down (``market.depth``)

    def z_day(self, asset_class: AssetClass) -> float | None:
        view = self.by_class.get(asset_class)
        return None if view is None else view.z_day

    def to_dict(self) -> Json:
        out: Json = {str(c): v.to_dict() for c, v in self.by_class.items()}
        out["core_z"] = dict(self.core_z)
        out["core_z_normal"] = dict(self.core_z_normal)
        out["depth"] = self.depth
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        by_class = {k: v for k, v in d.items() if k not in _CLASS_PANEL_KEYS}
        core = {k: d[k] for k in _CLASS_PANEL_KEYS if k in d}
        return msgspec.convert({"by_class": by_class, **core}, cls)


# -- liquidations --------------------------------------------------------------------------------


class VenueLiq(_Panel, frozen=True, kw_only=True):
    """One venue's share of the liquidation window."""

    notional_usd: float
    long_usd: float
    count: float
    long_share: float


class LiqPanel(_Panel, frozen=True, kw_only=True):
    """The liquidation panel at a tick (``liquidations.pressure``)."""

    window_min: int
    notional_usd: float
    long_share: float
    baseline_hourly_usd: float
    surge_ratio: float
    venues_reporting: int
    venues: list[str]  # which venues reported in the window, by name
    by_venue: dict[str, VenueLiq]
    # Share of the window from snapshot feeds (Binance): the true figure is at least this.
    lower_bound_share: float
    is_lower_bound: bool
    day_total_usd: float
    sustained_usd: float
    sustained_min: int


# -- funding -------------------------------------------------------------------------------------


class FundingComponent(_Panel, frozen=True, kw_only=True):
    """One named input of the funding stress; the extras after ``stale`` only where they apply."""

    value: float | None
    stress: float | None
    date: str | None
    stale: bool
    unit: Literal["bp", "usd_bn"] | UnsetType = UNSET  # a spread, or an amount
    sofr_pct: float | UnsetType = UNSET  # sofr_iorb
    iorb_pct: float | UnsetType = UNSET
    place_in_range: float | UnsetType | None = UNSET
    latest_usd_bn: float | UnsetType = UNSET  # srf
    lookback_days: int | UnsetType = UNSET
    change_4w_usd_bn: float | UnsetType | None = UNSET  # tga
    level_stress: float | UnsetType = UNSET  # a quantity's stress before the price gate


class FundingValue(_Panel, frozen=True, kw_only=True):
    """A series' latest published observation."""

    date: str
    value: float


class FundingPicture(_Panel, frozen=True, kw_only=True):
    """The funding panel at a tick (``funding.picture``); ``stress`` None: unknown."""

    stress: float | None
    unknown: bool
    components: dict[str, FundingComponent]
    stale: list[str]
    missing: list[str]
    price_gate: float
    values: dict[str, FundingValue | None]


# -- an alert's evidence -------------------------------------------------------------------------


class AssetEvidence(_Panel, frozen=True, kw_only=True):
    ret_day_pct: float
    z_day: float
    price_usd: float
    asset_class: AssetClass | UnsetType = UNSET  # UNSET: an older alert


class LiqEvidence(_Panel, frozen=True, kw_only=True):
    """The liquidation panel's part an alert keeps (UNSET: an older alert did not record it)."""

    notional_usd: float | UnsetType = UNSET
    window_min: int | UnsetType = UNSET
    surge_ratio: float | UnsetType = UNSET
    long_share: float | UnsetType = UNSET
    venues_reporting: int | UnsetType = UNSET
    venues: list[str] | UnsetType = UNSET
    by_venue: dict[str, VenueLiq] | UnsetType = UNSET
    is_lower_bound: bool | UnsetType = UNSET
    lower_bound_share: float | UnsetType = UNSET
    day_total_usd: float | UnsetType = UNSET

    @classmethod
    def of(cls, p: LiqPanel) -> LiqEvidence:
        return cls(
            notional_usd=p.notional_usd,
            window_min=p.window_min,
            surge_ratio=p.surge_ratio,
            long_share=p.long_share,
            venues_reporting=p.venues_reporting,
            venues=p.venues,
            by_venue=p.by_venue,
            is_lower_bound=p.is_lower_bound,
            lower_bound_share=p.lower_bound_share,
            day_total_usd=p.day_total_usd,
        )


class ComponentEvidence(_Panel, frozen=True, kw_only=True):
    value: float | None = None
    stress: float | None = None
    date: str | None = None


_FUNDING_EVIDENCE_KEYS = ("stress", "stale", "missing")


class FundingEvidence(_Panel, frozen=True, kw_only=True):
    """Funding as an alert keeps it; on the wire one entry per component beside the three."""

    stress: float | UnsetType | None = UNSET
    stale: list[str] | UnsetType = UNSET
    missing: list[str] | UnsetType = UNSET
    components: dict[str, ComponentEvidence] = {}

    def to_dict(self) -> Json:
        out: Json = {k: getattr(self, k) for k in _FUNDING_EVIDENCE_KEYS}
        out = {k: v for k, v in out.items() if v is not UNSET}
        out.update((name, c.to_dict()) for name, c in self.components.items())
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        comps = {k: v for k, v in d.items() if k not in _FUNDING_EVIDENCE_KEYS}
        fixed = {k: d[k] for k in _FUNDING_EVIDENCE_KEYS if k in d}
        return msgspec.convert({**fixed, "components": comps}, cls)


class Evidence(_Panel, frozen=True, kw_only=True):
    """What a reader needs to judge an alert, small enough for a Slack message.

    The detector fills every field; an older alert (or one built by hand) may lack some:
    ``Evidence()`` is the empty evidence, ``{}`` on the wire."""

    score: float | UnsetType = UNSET
    components: dict[str, float | None] | UnsetType = UNSET
    breadth: float | UnsetType = UNSET
    depth: float | UnsetType | None = UNSET
    comovement: float | UnsetType | None = UNSET
    core_z: dict[str, float | None] | UnsetType = UNSET
    assets: dict[str, AssetEvidence] | UnsetType = UNSET
    liquidations: LiqEvidence | UnsetType = UNSET
    funding: FundingEvidence | UnsetType = UNSET

    def to_dict(self) -> Json:
        out: Json = msgspec.to_builtins(self)
        if self.funding is not UNSET:
            out["funding"] = self.funding.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        funding = d.get("funding")
        if funding is None:
            return msgspec.convert(d, cls)
        rest = msgspec.convert({k: v for k, v in d.items() if k != "funding"}, cls)
        return msgspec.structs.replace(rest, funding=FundingEvidence.from_dict(funding))
