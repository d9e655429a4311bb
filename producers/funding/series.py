"""Funding series as data: where each comes from, its unit, and when a value becomes public.

``FRED_IDS`` maps a FRED id to the canonical series and the factor to ``Unit``;
``PUBLICATION`` says when the value for observation date D is published (New York time), used
as ``ts_ms`` of a backfilled observation so an as-of join by event time never looks ahead:

| series | source | published (ET) |
|---|---|---|
| SOFR | NY Fed | next business day 08:00 (FRED: 09:30) |
| EFFR | FRED | next business day 10:00 (NY Fed publishes at 09:00) |
| IORB, TARGET_UPPER/LOWER | FRED | D 00:00: set by the FOMC before the day it applies |
| ON_RRP_AMOUNT | FRED (RRPONTSYD) | D 13:30 (the operation closes 13:15) |
| SRF_TAKEUP | NY Fed repo results, FRED RPONTSYD | D 14:00 (last operation closes 13:45) |
| RESERVES, TGA weekly | FRED WRESBAL, WTREGEN | H.4.1: next business day 16:30 |
| TGA daily | Treasury DTS | next business day 16:00 |

"Business day" follows the Federal Reserve holiday calendar (``fed_holidays``): a holiday on a
Sunday is observed on the Monday, one on a Saturday is not moved. SIFMA-only closures (Good
Friday in some years) are not modelled; they delay SOFR, so the estimate stays on the early
side only on those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from streams.records import Unit

NEW_YORK = ZoneInfo("America/New_York")


class FundingSource(StrEnum):
    NYFED = "nyfed"
    TREASURY = "treasury"
    FRED = "fred"


@dataclass(frozen=True, slots=True)
class PubRule:
    """Published ``lag_days`` (business days if ``business``) after D, at ``at`` New York time."""

    lag_days: int
    at: time
    business: bool = True


@dataclass(frozen=True, slots=True)
class FredSeries:
    series: str
    unit: Unit
    factor: float


FRED_IDS: dict[str, FredSeries] = {
    "SOFR": FredSeries("SOFR", Unit.PCT, 1.0),
    "EFFR": FredSeries("EFFR", Unit.PCT, 1.0),
    "IORB": FredSeries("IORB", Unit.PCT, 1.0),
    "DFEDTARU": FredSeries("TARGET_UPPER", Unit.PCT, 1.0),
    "DFEDTARL": FredSeries("TARGET_LOWER", Unit.PCT, 1.0),
    "RRPONTSYD": FredSeries("ON_RRP_AMOUNT", Unit.USD_BN, 1.0),  # billions
    "RPONTSYD": FredSeries("SRF_TAKEUP", Unit.USD_BN, 1.0),  # billions
    # The H.4.1 week averages: FRED serves both in MILLIONS of dollars (its series metadata
    # "units": "Millions of U.S. Dollars"; they were billions until FRED re-based them, e.g.
    # WRESBAL 2021-06-23 reads 3808.042 in old downloads and 3808042 now). Should FRED change
    # them again, either way, the plausibility bands (producers/plausibility.py: reserves
    # $0.5-10tn, TGA $5bn-3tn, each low above its high / 1000) reject the values as
    # ``implausible_value`` instead of publishing a 1000x.
    "WRESBAL": FredSeries("RESERVES", Unit.USD_BN, 0.001),
    "WTREGEN": FredSeries("TGA", Unit.USD_BN, 0.001),
}

UNITS: dict[str, Unit] = {s.series: s.unit for s in FRED_IDS.values()}

_NEXT_DAY_1600 = PubRule(1, time(16, 0))
PUBLICATION: dict[tuple[FundingSource, str], PubRule] = {
    (FundingSource.NYFED, "SOFR"): PubRule(1, time(8, 0)),
    (FundingSource.NYFED, "SRF_TAKEUP"): PubRule(0, time(14, 0)),
    (FundingSource.TREASURY, "TGA"): _NEXT_DAY_1600,
    (FundingSource.FRED, "SOFR"): PubRule(1, time(9, 30)),
    (FundingSource.FRED, "EFFR"): PubRule(1, time(10, 0)),
    (FundingSource.FRED, "IORB"): PubRule(0, time(0, 0), business=False),
    (FundingSource.FRED, "TARGET_UPPER"): PubRule(0, time(0, 0), business=False),
    (FundingSource.FRED, "TARGET_LOWER"): PubRule(0, time(0, 0), business=False),
    (FundingSource.FRED, "ON_RRP_AMOUNT"): PubRule(0, time(13, 30)),
    (FundingSource.FRED, "SRF_TAKEUP"): PubRule(0, time(14, 0)),
    (FundingSource.FRED, "RESERVES"): PubRule(1, time(16, 30)),
    (FundingSource.FRED, "TGA"): PubRule(1, time(16, 30)),
}

# When two sources publish one series, the first listed wins; a lower one never revises it.
PRIORITY: dict[str, tuple[FundingSource, ...]] = {
    "SOFR": (FundingSource.NYFED, FundingSource.FRED),
    "SRF_TAKEUP": (FundingSource.NYFED, FundingSource.FRED),
    "TGA": (FundingSource.TREASURY, FundingSource.FRED),
}

# Live polling: New York times on business days (after each source's publication).
POLL_TIMES: dict[FundingSource, tuple[time, ...]] = {
    FundingSource.NYFED: (time(8, 10), time(9, 0), time(14, 5), time(15, 30)),
    FundingSource.TREASURY: (time(16, 15), time(17, 30)),
    FundingSource.FRED: (time(9, 45), time(14, 30), time(17, 15)),
}


def rank(series: str, source: FundingSource) -> int:
    """Lower is better; a source not listed for the series ranks after the listed ones."""
    order = PRIORITY.get(series, (FundingSource.FRED,))
    return order.index(source) if source in order else len(order)


# -- the Federal Reserve holiday calendar ---------------------------------------------------------
def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta((weekday - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> date:
    d = date(year, month + 1, 1) - timedelta(1) if month < 12 else date(year, 12, 31)
    return d - timedelta((d.weekday() - weekday) % 7)


@lru_cache(maxsize=64)
def fed_holidays(year: int) -> frozenset[date]:
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    if year >= 2022:
        fixed.append(date(year, 6, 19))
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _last_weekday(year, 5, 0),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
    }
    for d in fixed:
        if d.weekday() == 6:
            days.add(d + timedelta(1))  # Sunday -> observed Monday
        elif d.weekday() < 5:
            days.add(d)  # Saturday: the Fed stays open on Friday
    return frozenset(days)


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in fed_holidays(d.year)


def add_business_days(d: date, n: int) -> date:
    while n > 0:
        d += timedelta(1)
        if is_business_day(d):
            n -= 1
    return d


def publication_ms(source: FundingSource, series: str, observation: date) -> int:
    """The estimated publication time of the value for ``observation`` (epoch ms)."""
    rule = PUBLICATION[(source, series)]
    day = (
        add_business_days(observation, rule.lag_days)
        if rule.business
        else observation + timedelta(rule.lag_days)
    )
    return int(datetime.combine(day, rule.at, tzinfo=NEW_YORK).timestamp() * 1000)


def next_poll(source: FundingSource, now: datetime) -> datetime:
    """The next scheduled poll of ``source`` strictly after ``now``."""
    local = now.astimezone(NEW_YORK)
    day = local.date()
    for _ in range(15):
        if is_business_day(day):
            for at in POLL_TIMES[source]:
                when = datetime.combine(day, at, tzinfo=NEW_YORK)
                if when > local:
                    return when
        day += timedelta(1)
    raise AssertionError("no business day within 15 days")  # pragma: no cover
