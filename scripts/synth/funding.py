"""Funding: daily and weekly money-market series stamped with their publication time.

Synthesizes the ``funding`` topic: SOFR and EFFR (NY Fed), IORB and the target range (FRED),
ON RRP and Standing Repo Facility take-up (NY Fed), the Treasury General Account (Treasury
Daily Treasury Statement) and reserves (FRED, H.4.1, weekly Wednesday levels). ts_ms is the
publication time: SOFR D+1 08:00 ET, EFFR D+1 09:00 ET, IORB/TARGET_* 00:00 ET on D (known in
advance), ON RRP and SRF D 13:30 ET, TGA D+1 16:00 ET, RESERVES Thursday 16:30 ET; daily
series skip weekends and US bond-market holidays.

Calibrated to: the dated anchors of each regime, used exactly (``FALL_2025``: the Sep-Nov
2025 prints named in the 2025-11-04-everything-sells and funding-squeeze READMEs, e.g. SOFR
4.31% on Oct 28 and 4.00% on Nov 4, the FOMC cut effective Oct 30, the record $50.35bn SRF
take-up on Oct 31; ``SUMMER_2025``: the mid-2025 ranges used by calm-day and
crypto-only-crash). Days between anchors are interpolated with small noise seeded by (regime,
series, date), so every scenario sharing a regime sees the same history; SRF is mostly zero
with small draws. The calendar builds its own ``SeriesDef`` from ``data/calendar/days.json``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from synth.units import SCHEMA_VERSION, Record, et_ms, is_business_day, next_business_day

SERIES_ORDER = (
    "SOFR", "EFFR", "IORB", "TARGET_UPPER", "TARGET_LOWER",
    "ON_RRP_AMOUNT", "SRF_TAKEUP", "TGA", "RESERVES",
)  # fmt: skip


@dataclass(frozen=True)
class SeriesDef:
    name: str
    source: str
    unit: str
    release: tuple[int, str]  # (publish on the next business day?, ET wall time)
    anchors: tuple[tuple[str, float], ...]  # observation date -> value (sourced or chosen)
    noise: float = 0.0  # sd added between anchors
    step: bool = False  # hold the last anchor instead of interpolating
    sparse: float = 0.0  # chance a non-anchor day prints 0 (else uniform in [floor, cap])
    floor: float | None = None
    cap: float | None = None
    weekly: bool = False  # Wednesday levels (H.4.1)

    @property
    def decimals(self) -> int:
        return 2 if self.unit == "pct" else 3


@dataclass(frozen=True)
class FundingPlan:
    regime: str
    first_day: date
    last_observation: date


SOFR_AT = (1, "08:00")
EFFR_AT = (1, "09:00")
RATE_AT = (0, "00:00")  # administered rates are known at the start of the date
REPO_AT = (0, "13:30")
DTS_AT = (1, "16:00")
H41_AT = (1, "16:30")


def pct(name: str, source: str, release: tuple[int, str], anchors: Any, **kw: Any) -> SeriesDef:
    return SeriesDef(name, source, "pct", release, tuple(anchors), **kw)


def bn(name: str, source: str, release: tuple[int, str], anchors: Any, **kw: Any) -> SeriesDef:
    return SeriesDef(name, source, "usd_bn", release, tuple(anchors), **kw)


FALL_2025 = (
    pct("SOFR", "nyfed", SOFR_AT, (
        ("2025-09-22", 4.17), ("2025-09-25", 4.16), ("2025-09-29", 4.18), ("2025-09-30", 4.24),
        ("2025-10-01", 4.20), ("2025-10-02", 4.16), ("2025-10-09", 4.14), ("2025-10-15", 4.20),
        ("2025-10-17", 4.18), ("2025-10-24", 4.19), ("2025-10-27", 4.20), ("2025-10-28", 4.31),
        ("2025-10-29", 4.18), ("2025-10-30", 4.04), ("2025-10-31", 4.22), ("2025-11-03", 4.13),
        ("2025-11-04", 4.00),
    ), noise=0.01, floor=4.13, cap=4.20),
    pct("EFFR", "nyfed", EFFR_AT, (
        ("2025-09-22", 4.09), ("2025-10-15", 4.10), ("2025-10-22", 4.11), ("2025-10-27", 4.12),
        ("2025-10-30", 3.87),
    ), step=True),
    pct("IORB", "fred", RATE_AT, (("2025-09-22", 4.15), ("2025-10-30", 3.90)), step=True),
    pct("TARGET_UPPER", "fred", RATE_AT, (("2025-09-22", 4.25), ("2025-10-30", 4.00)), step=True),
    pct("TARGET_LOWER", "fred", RATE_AT, (("2025-09-22", 4.00), ("2025-10-30", 3.75)), step=True),
    bn("ON_RRP_AMOUNT", "nyfed", REPO_AT, (
        ("2025-09-22", 42.0), ("2025-09-26", 33.0), ("2025-09-29", 38.0), ("2025-09-30", 52.0),
        ("2025-10-01", 28.0), ("2025-10-08", 16.0), ("2025-10-15", 9.0), ("2025-10-22", 5.0),
        ("2025-10-24", 4.5), ("2025-10-28", 9.0), ("2025-10-30", 18.0), ("2025-10-31", 30.0),
        ("2025-11-03", 22.0), ("2025-11-04", 17.0),
    ), noise=2.5, floor=1.0),
    bn("SRF_TAKEUP", "nyfed", REPO_AT, (
        ("2025-09-22", 0.0), ("2025-09-29", 1.5), ("2025-09-30", 6.0), ("2025-10-01", 1.0),
        ("2025-10-15", 3.25), ("2025-10-16", 8.35), ("2025-10-17", 1.0), ("2025-10-27", 2.0),
        ("2025-10-28", 10.35), ("2025-10-29", 7.5), ("2025-10-30", 16.0), ("2025-10-31", 50.35),
        ("2025-11-03", 14.75), ("2025-11-04", 5.0),
    ), sparse=0.6, floor=0.001, cap=1.5),
    bn("TGA", "treasury", DTS_AT, (
        ("2025-09-22", 860.0), ("2025-09-30", 905.0), ("2025-10-01", 925.0), ("2025-10-08", 960.0),
        ("2025-10-15", 995.0), ("2025-10-22", 975.0), ("2025-10-28", 962.0), ("2025-10-31", 1000.0),
        ("2025-11-03", 968.0), ("2025-11-04", 948.0),
    ), noise=6.0, cap=1000.0),
    bn("RESERVES", "fred", H41_AT, (
        ("2025-09-10", 3150.0), ("2025-09-17", 3075.0), ("2025-09-24", 3030.0),
        ("2025-10-01", 2995.0), ("2025-10-08", 2968.0), ("2025-10-15", 2931.0),
        ("2025-10-22", 2874.0), ("2025-10-29", 2833.0),
    ), weekly=True),
)  # fmt: skip

SUMMER_2025 = (
    pct("SOFR", "nyfed", SOFR_AT, (
        ("2025-06-02", 4.33), ("2025-07-15", 4.34), ("2025-08-19", 4.33),
    ), noise=0.008, floor=4.32, cap=4.35),
    pct("EFFR", "nyfed", EFFR_AT, (("2025-06-02", 4.33),), step=True),
    pct("IORB", "fred", RATE_AT, (("2025-06-02", 4.40),), step=True),
    pct("TARGET_UPPER", "fred", RATE_AT, (("2025-06-02", 4.50),), step=True),
    pct("TARGET_LOWER", "fred", RATE_AT, (("2025-06-02", 4.25),), step=True),
    bn("ON_RRP_AMOUNT", "nyfed", REPO_AT, (
        ("2025-06-02", 205.0), ("2025-06-30", 245.0), ("2025-07-15", 228.0), ("2025-08-19", 212.0),
    ), noise=6.0, floor=200.0, cap=250.0),
    bn("SRF_TAKEUP", "nyfed", REPO_AT, (("2025-06-02", 0.0),), sparse=0.9, floor=0.001, cap=0.01),
    bn("TGA", "treasury", DTS_AT, (
        ("2025-06-02", 330.0), ("2025-06-16", 345.0), ("2025-07-01", 335.0), ("2025-07-15", 318.0),
        ("2025-08-19", 342.0),
    ), noise=5.0, floor=300.0, cap=350.0),
    bn("RESERVES", "fred", H41_AT, (
        ("2025-05-28", 3395.0), ("2025-06-04", 3381.0), ("2025-06-11", 3362.0),
        ("2025-06-18", 3318.0), ("2025-06-25", 3350.0), ("2025-07-02", 3372.0),
        ("2025-07-09", 3356.0), ("2025-07-16", 3342.0), ("2025-07-23", 3338.0),
        ("2025-07-30", 3321.0), ("2025-08-06", 3334.0), ("2025-08-13", 3315.0),
    ), weekly=True),
)  # fmt: skip

REGIMES = {"fall-2025": FALL_2025, "summer-2025": SUMMER_2025}


def publish_ms(observed: date, release: tuple[int, str]) -> int:
    next_day, hhmm = release
    return et_ms(next_business_day(observed) if next_day else observed, hhmm)


def anchor_level(series: SeriesDef, day: date) -> float:
    points = [(date.fromisoformat(d), v) for d, v in series.anchors]
    before = [(d, v) for d, v in points if d <= day] or points[:1]
    after = [(d, v) for d, v in points if d >= day] or points[-1:]
    (d0, v0), (d1, v1) = before[-1], after[0]
    if series.step or d0 == d1:
        return v0
    return v0 + (v1 - v0) * (day - d0).days / (d1 - d0).days


def clamp(value: float, lo: float | None, hi: float | None) -> float:
    value = value if lo is None else max(lo, value)
    return value if hi is None else min(hi, value)


def series_value(series: SeriesDef, day: date, regime: str) -> float:
    """Anchors are exact; days between get interpolation + noise (or sparse draws), seeded by
    (regime, series, date) so every scenario sharing a regime sees the same history."""
    anchors = dict(series.anchors)
    if day.isoformat() in anchors:
        return anchors[day.isoformat()]
    rng = random.Random(f"{regime}:{series.name}:{day.isoformat()}")
    if series.sparse:
        if rng.random() < series.sparse:
            return 0.0
        return round(rng.uniform(series.floor or 0.0, series.cap or 0.0), series.decimals)
    value = anchor_level(series, day) + (rng.gauss(0.0, series.noise) if series.noise else 0.0)
    return round(clamp(value, series.floor, series.cap), series.decimals)


def observation_days(series: SeriesDef, plan: FundingPlan) -> list[date]:
    first = plan.first_day - timedelta(days=7) if series.weekly else plan.first_day
    days = [first + timedelta(days=i) for i in range((plan.last_observation - first).days + 1)]
    if series.weekly:
        return [d for d in days if d.weekday() == 2]
    return [d for d in days if is_business_day(d)]


def funding_records(plan: FundingPlan) -> list[Record]:
    records = [
        {
            "schema_version": SCHEMA_VERSION,
            "ts_ms": publish_ms(day, series.release),
            "source": series.source,
            "series": series.name,
            "observation_date": day.isoformat(),
            "value": series_value(series, day, plan.regime),
            "unit": series.unit,
            "revision": 0,
        }
        for series in REGIMES[plan.regime]
        for day in observation_days(series, plan)
    ]
    return sorted(records, key=funding_key)


def funding_key(r: Record) -> tuple[int, int, str]:
    return r["ts_ms"], SERIES_ORDER.index(r["series"]), r["observation_date"]
