"""Funding stress from the daily series, as of an event time (no look-ahead).

The book holds every published observation with its publication time; ``picture(book, T)``
sees only what was published by T (the as-of join faust lacks). Each input is a named
component with its own thresholds; stale inputs are marked stale and left out, and with no
usable input the stress is ``None`` ("unknown"), which never blocks detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from msgspec.structs import replace

from common.settings import FundingSettings
from streams.detection.mathutil import clip01, ramp
from streams.records import FundingComponent, FundingPicture, FundingValue
from streams.records.fields import FUNDING_SERIES

# series -> list of [observation_date, published_ts_ms, value, revision]
Observations = dict[str, list[list[Any]]]


@dataclass
class FundingBook:
    series: Observations = field(default_factory=dict)
    changes: int = 0  # rows added so far (not checkpointed: only ``FundingPanel`` reads it)

    def add(self, series: str, obs_date: str, ts_ms: int, value: float, revision: int) -> None:
        rows = self.series.setdefault(series, [])
        row = [obs_date, ts_ms, value, revision]
        if row in rows:  # the same publication again (a resent summary, a producer restart)
            return
        self.changes += 1
        rows.append(row)
        rows.sort(key=lambda r: (r[0], r[1], r[3]))
        if len(rows) > 400:  # a year and a half of business days is plenty
            del rows[: len(rows) - 400]

    def as_of(self, series: str, as_of_ms: int) -> dict[str, tuple[float, int]]:
        """{observation_date: (value, revision)} published by ``as_of_ms`` (latest revision)."""
        out: dict[str, tuple[float, int]] = {}
        for obs_date, ts, value, revision in self.series.get(series, ()):
            if ts <= as_of_ms:
                prev = out.get(obs_date)
                if prev is None or revision >= prev[1]:
                    out[obs_date] = (value, revision)
        return out

    def latest(self, series: str, as_of_ms: int) -> tuple[str, float] | None:
        seen = self.as_of(series, as_of_ms)
        if not seen:
            return None
        d = max(seen)
        return d, seen[d][0]

    def next_publication(self, as_of_ms: int) -> int | None:
        """The first publication time after ``as_of_ms`` (None: nothing is published later)."""
        return min(
            (r[1] for rows in self.series.values() for r in rows if r[1] > as_of_ms), default=None
        )


DAY_MS = 86_400_000


@dataclass
class FundingPanel:
    """``picture`` tick after tick, computed again only when it can change.

    A picture at T depends on the book's rows published by T and on T's UTC date (staleness
    counts business days to it), nothing else. So it holds from T until the next publication
    or the next UTC midnight, whichever comes first, while the book is unchanged: a day of
    1,440 ticks computes it a few times, not 1,440 (it cost ~15% of a tick). The picture
    returned is shared by the ticks it holds for: read it, never change it."""

    cfg: FundingSettings
    _held: tuple[FundingBook, int, int, int] | None = None  # (book, its changes, from, until)
    _picture: FundingPicture | None = None

    def at(self, book: FundingBook, as_of_ms: int) -> FundingPicture:
        held, pic = self._held, self._picture
        if (
            pic is not None
            and held is not None
            and held[0] is book
            and held[1] == book.changes
            and held[2] <= as_of_ms < held[3]
        ):
            return pic
        pic = self._picture = picture(book, as_of_ms, self.cfg)
        midnight = (as_of_ms // DAY_MS + 1) * DAY_MS
        nxt = book.next_publication(as_of_ms)
        until = midnight if nxt is None else min(nxt, midnight)
        self._held = (book, book.changes, as_of_ms, until)
        return pic


def business_days_between(earlier: date, later: date) -> int:
    """Weekdays after ``earlier`` up to and including ``later`` (0 if same or earlier)."""
    if later <= earlier:
        return 0
    days = 0
    d = earlier
    while d < later:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days += 1
    return days


_UNKNOWN = FundingComponent(value=None, stress=None, date=None, stale=False)


def _freshness(obs_date: str, today: date, limit: int) -> bool:
    return business_days_between(date.fromisoformat(obs_date), today) > limit


def picture(book: FundingBook, as_of_ms: int, cfg: FundingSettings) -> FundingPicture:
    """The funding panel at ``as_of_ms``: values, named components with stress, overall stress."""
    today = datetime.fromtimestamp(as_of_ms / 1000, UTC).date()
    comps: dict[str, FundingComponent] = {}
    values: dict[str, FundingValue | None] = {}
    for name in FUNDING_SERIES:
        latest = book.latest(name, as_of_ms)
        values[name] = FundingValue(date=latest[0], value=latest[1]) if latest else None

    sofr = book.latest("SOFR", as_of_ms)
    if sofr is None:
        comps["sofr_iorb"] = _UNKNOWN
    else:
        iorb = _as_of_date(book, "IORB", sofr[0], as_of_ms)
        if iorb is None:
            comps["sofr_iorb"] = replace(_UNKNOWN, date=sofr[0])
        else:
            spread_bp = (sofr[1] - iorb) * 100.0
            stale = _freshness(sofr[0], today, cfg.stale_business_days)
            lower = _as_of_date(book, "TARGET_LOWER", sofr[0], as_of_ms)
            upper = _as_of_date(book, "TARGET_UPPER", sofr[0], as_of_ms)
            place = (sofr[1] - lower) / (upper - lower) if lower is not None and upper else None
            comps["sofr_iorb"] = FundingComponent(
                value=spread_bp,
                stress=ramp(spread_bp, cfg.sofr_iorb_calm_bp, cfg.sofr_iorb_full_bp),
                date=sofr[0],
                stale=stale,
                unit="bp",
                sofr_pct=sofr[1],
                iorb_pct=iorb,
                place_in_range=place,
            )

    srf_rows = book.as_of("SRF_TAKEUP", as_of_ms)
    if srf_rows:
        last = max(srf_rows)
        window = [
            d
            for d in srf_rows
            if business_days_between(date.fromisoformat(d), date.fromisoformat(last))
            < cfg.srf_lookback_days
        ]
        peak = max(srf_rows[d][0] for d in window)
        comps["srf"] = FundingComponent(
            value=peak,
            stress=ramp(peak, cfg.srf_calm_usd_bn, cfg.srf_full_usd_bn),
            date=last,
            stale=_freshness(last, today, cfg.stale_business_days),
            unit="usd_bn",
            latest_usd_bn=srf_rows[last][0],
            lookback_days=cfg.srf_lookback_days,
        )
    else:
        comps["srf"] = _UNKNOWN

    comps["on_rrp"] = _level(
        book,
        "ON_RRP_AMOUNT",
        as_of_ms,
        today,
        cfg.stale_business_days,
        cfg.on_rrp_calm_usd_bn,
        cfg.on_rrp_full_usd_bn,
    )
    comps["reserves"] = _level(
        book,
        "RESERVES",
        as_of_ms,
        today,
        cfg.reserves_stale_business_days,
        cfg.reserves_ample_usd_bn,
        cfg.reserves_full_usd_bn,
    )
    tga = _level(
        book,
        "TGA",
        as_of_ms,
        today,
        cfg.stale_business_days,
        cfg.tga_calm_usd_bn,
        cfg.tga_full_usd_bn,
    )
    comps["tga"] = replace(tga, change_4w_usd_bn=_change(book, "TGA", as_of_ms, days=28))

    gate = price_gate(comps, cfg)
    for name in cfg.quantity_components:
        comp = comps[name]
        if comp.stress is not None:
            comps[name] = replace(comp, level_stress=comp.stress, stress=comp.stress * gate)
    usable = {k: c.stress for k, c in comps.items() if c.stress is not None and not c.stale}
    weight = sum(cfg.weights.get(k, 0.0) for k in usable)
    stress = (
        sum(cfg.weights.get(k, 0.0) * st for k, st in usable.items()) / weight
        if weight > 0
        else None
    )
    return FundingPicture(
        stress=stress,
        unknown=stress is None,
        components=comps,
        stale=sorted(k for k, c in comps.items() if c.stale),
        missing=sorted(k for k, c in comps.items() if c.stress is None),
        price_gate=gate,
        values=values,
    )


def price_gate(comps: dict[str, FundingComponent], cfg: FundingSettings) -> float:
    """How much the balance-sheet quantities count: the strongest fresh price-of-funding
    component (SOFR over IORB, SRF take-up) over ``price_gate_full``, capped at 1. With no
    price component known at all, the quantities are all there is and count in full."""
    prices = [
        c.stress
        for k, c in comps.items()
        if k not in cfg.quantity_components and c.stress is not None and not c.stale
    ]
    if not prices:
        return 1.0
    return clip01(max(prices) / cfg.price_gate_full) if cfg.price_gate_full > 0 else 1.0


def _as_of_date(book: FundingBook, series: str, obs_date: str, as_of_ms: int) -> float | None:
    """The series' value for ``obs_date`` or the latest date before it (rates that persist)."""
    rows = book.as_of(series, as_of_ms)
    dates = [d for d in rows if d <= obs_date]
    return rows[max(dates)][0] if dates else None


def _level(
    book: FundingBook,
    series: str,
    as_of_ms: int,
    today: date,
    stale_days: int,
    calm: float,
    full: float,
) -> FundingComponent:
    latest = book.latest(series, as_of_ms)
    if latest is None:
        return _UNKNOWN
    return FundingComponent(
        value=latest[1],
        stress=ramp(latest[1], calm, full),
        date=latest[0],
        stale=_freshness(latest[0], today, stale_days),
        unit="usd_bn",
    )


def _change(book: FundingBook, series: str, as_of_ms: int, days: int) -> float | None:
    rows = book.as_of(series, as_of_ms)
    if not rows:
        return None
    last = max(rows)
    cutoff = (date.fromisoformat(last) - timedelta(days=days)).isoformat()
    before = [d for d in rows if d <= cutoff]
    return rows[last][0] - rows[max(before)][0] if before else None
