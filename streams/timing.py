"""How each live feed really arrives: delay, cadence, disorder and hours, per source.

The one timing model of the feeds (docs/producers.md, "Timing"), each figure with its source.
Three parts read it:

* the detector: an instrument whose bars arrive after their minute has sealed (a delayed quote,
  e.g. COMEX gold on Yahoo, at least 10 minutes late) is an *as-of* input, joined like funding:
  a tick uses its latest bar, labelled with its age, instead of dead-lettering it
  (docs/architecture.md, "Delayed inputs");
* the producers: which hours to poll each instrument in;
* the rehearsal (``shockwatch rehearse``, ``backtest --rehearse``): it feeds a recorded day to
  the worker in the order the live feeds would deliver it.

Delays are from the end of a bar (prices), the event (liquidations) or the publication
(funding) to when the producer can read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

MIN_S = 60.0
# A bar arriving this long after its minute's end can still reach the worker before its
# partition seals the minute: the price producer's heartbeats lag 90 s behind the newest bar,
# and bars are stamped at their minute's start. Slower instruments are as-of inputs.
AS_OF_AFTER_S = 60.0


class Hours(StrEnum):
    """When a source publishes (holidays not modelled)."""

    ALWAYS = "always"  # 24/7 (crypto venues)
    US_EQUITY = "us_equity"  # 09:30-16:00 America/New_York, weekdays
    CME_GLOBEX = "cme_globex"  # Sun 18:00 - Fri 17:00 America/New_York, 17:00-18:00 break
    CBOE_GTH = "cboe_gth"  # VIX: 03:00-09:15 and 09:30-16:15 America/New_York, weekdays
    BUSINESS_DAYS = "business_days"  # funding: a publication a business day


@dataclass(frozen=True, slots=True)
class SourceTiming:
    feed: str  # "prices", "liquidations" or "funding"
    source: str  # provider or venue: "yfinance", "ccxt:binanceusdm", "okx", "fred", ...
    items: tuple[str, ...]  # canonical symbols, venues or series it carries
    delay_s: float  # typical wait from the bar's end / event / publication until readable
    max_delay_s: float  # the documented worst case
    cadence_s: float  # how often a new value can be read (the producer's poll or push rate)
    disorder_s: float  # how far out of event order the source may deliver (0: in order)
    hours: Hours
    ref: str  # where the figures come from

    @property
    def as_of(self) -> bool:
        """Arrives after its minute has sealed: joined as of its latest value, never late."""
        return self.feed == "prices" and self.max_delay_s >= AS_OF_AFTER_S

    @property
    def as_of_min(self) -> int:
        """Minutes a tick may wait for this source's bar of a minute (its as-of reach)."""
        return math.ceil((self.max_delay_s + self.cadence_s) / MIN_S) + 1


# Provisional figures: filled in with their sources in docs/producers.md ("Timing").
TIMINGS: tuple[SourceTiming, ...] = (
    SourceTiming(
        "prices", "yfinance", ("SPX", "IXIC", "NVDA", "PLTR"), 20.0, 45.0, 60.0, 0.0,
        Hours.US_EQUITY, "provisional",
    ),
    SourceTiming(
        "prices", "yfinance", ("XAU",), 600.0, 660.0, 60.0, 0.0, Hours.CME_GLOBEX,
        "CME Group delayed quotes: 'prices are delayed at least 10 minutes'",
    ),
    SourceTiming(
        "prices", "yfinance", ("VIX",), 900.0, 960.0, 60.0, 0.0, Hours.CBOE_GTH, "provisional",
    ),
    SourceTiming(
        "prices", "ccxt:binanceusdm", ("BTC", "ETH"), 3.0, 10.0, 60.0, 0.0, Hours.ALWAYS,
        "provisional",
    ),
    SourceTiming(
        "liquidations", "binanceusdm", ("binanceusdm",), 1.0, 2.0, 1.0, 1.0, Hours.ALWAYS,
        "provisional",
    ),
    SourceTiming(
        "liquidations", "bybit", ("bybit",), 0.5, 1.0, 0.5, 0.5, Hours.ALWAYS, "provisional",
    ),
    SourceTiming(
        "liquidations", "okx", ("okx",), 1.0, 5.0, 1.0, 5.0, Hours.ALWAYS, "provisional",
    ),
    SourceTiming(
        "funding", "fred", ("SOFR", "EFFR", "IORB", "ON_RRP_AMOUNT", "SRF_TAKEUP", "RESERVES",
                            "TGA"), 0.0, 3600.0, 3600.0, 0.0, Hours.BUSINESS_DAYS, "provisional",
    ),
)  # fmt: skip


def price_timing(symbol: str) -> SourceTiming | None:
    """The timing of the source that serves a canonical price symbol (None: unknown)."""
    for t in TIMINGS:
        if t.feed == "prices" and symbol in t.items:
            return t
    return None


def as_of_symbols(timings: tuple[SourceTiming, ...] = TIMINGS) -> dict[str, int]:
    """Canonical price symbols joined as of their latest bar -> their reach in minutes."""
    return {s: t.as_of_min for t in timings if t.as_of for s in t.items}


__all__ = [
    "AS_OF_AFTER_S",
    "TIMINGS",
    "Hours",
    "SourceTiming",
    "as_of_symbols",
    "price_timing",
]
