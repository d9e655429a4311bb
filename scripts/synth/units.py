"""Shared units, the record type and the US market clock of the synthesized data.

Everything here is fact, not calibration: epoch-millisecond units, the 10-second simulation
grid under the 1-minute bars, the record schema version of the public scenario format
(``data/scenarios/README.md``), New York wall time with the US DST rule (EDT from the 2nd
Sunday of March to the 1st Sunday of November), and the US bond-market holidays inside the
funding histories (no SOFR/EFFR/repo/DTS print on those days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

MINUTE_MS = 60_000
STEP_MS = 10_000
STEPS_PER_MINUTE = MINUTE_MS // STEP_MS
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SCHEMA_VERSION = 1
# US bond-market holidays inside the funding histories (no SOFR/EFFR/repo/DTS that day).
HOLIDAYS = frozenset(
    date.fromisoformat(d)
    for d in ("2025-05-26", "2025-06-19", "2025-07-04", "2025-09-01", "2025-10-13", "2025-11-11")
)

Knot = tuple[int, float]  # (UTC epoch ms, price)
Session = tuple[int, int]  # [start, end] in UTC epoch ms; bars end at start+60 s ... end
Record = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Time


def utc_ms(text: str) -> int:
    """``"2025-11-04T14:30"`` (UTC; a trailing ``Z`` is allowed) -> epoch milliseconds."""
    moment = datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%m-%d %H:%M")


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def et_offset_hours(day: date) -> int:
    """US Eastern offset from UTC: -4 (EDT) from the 2nd Sunday of March to the 1st of November."""
    return -4 if nth_sunday(day.year, 3, 2) <= day < nth_sunday(day.year, 11, 1) else -5


def et_ms(day: date, hhmm: str) -> int:
    """A New York wall-clock time on ``day`` -> UTC epoch milliseconds."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    return int((wall - timedelta(hours=et_offset_hours(day))).timestamp() * 1000)


def et_wall(ms: int) -> datetime:
    utc = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return utc + timedelta(hours=et_offset_hours(utc.date()))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def every(start: int, end: int, hours: float) -> list[int]:
    """Times after ``start`` every ``hours`` up to and including ``end``."""
    step = int(hours * HOUR_MS)
    times = list(range(start + step, end, step))
    return [*times, end]
