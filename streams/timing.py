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

Delays are from the end of a bar (prices), the event (liquidations) or the value's official
publication by its originator (funding: the New York Fed, the Treasury, the Board's H.4.1; the
times are ``producers.funding.series.PUBLICATION``) to when the producer can read it from this
source. Figures a provider does not document are assumptions, and docs/producers.md says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from datetime import time as dtime
from enum import StrEnum
from zoneinfo import ZoneInfo

MIN_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0
WEEK_S = 7 * DAY_S
# A bar arriving up to this long after its end still reaches its partition before the minute
# is sealed: the price producer sends each poll's bars in event-time order and its heartbeats
# lag 90 s behind the newest bar, so only a bar later than the next poll can find its minute
# sealed by another instrument's newer bar. Slower instruments are as-of inputs.
AS_OF_AFTER_S = 60.0
NEW_YORK = ZoneInfo("America/New_York")


class Hours(StrEnum):
    """When a source publishes, New York time (exchange holidays not modelled)."""

    ALWAYS = "always"  # 24/7 (crypto venues)
    US_EQUITY = "us_equity"  # 09:30-16:00 weekdays (NYSE/Nasdaq core session)
    # COMEX gold on CME Globex: Sun 18:00 - Fri 17:00, a 60-minute break from 17:00 each day
    CME_GLOBEX = "cme_globex"
    # VIX index dissemination: 03:00-09:15 (global trading hours) and 09:30-16:15, weekdays
    CBOE_GTH = "cboe_gth"
    BUSINESS_DAYS = "business_days"  # funding: a publication a business day


_US_OPEN, _US_CLOSE = dtime(9, 30), dtime(16, 0)
_GLOBEX_CLOSE, _GLOBEX_OPEN = dtime(17, 0), dtime(18, 0)
_VIX_WINDOWS = ((dtime(3, 0), dtime(9, 15)), (dtime(9, 30), dtime(16, 15)))
_SAT, _SUN, _FRI = 5, 6, 4


def is_open(hours: Hours, when: datetime) -> bool:
    """Whether a source of these hours publishes at ``when`` (an aware datetime)."""
    if hours is Hours.ALWAYS:
        return True
    local = when.astimezone(NEW_YORK)
    day, t = local.weekday(), local.time()
    if hours is Hours.CME_GLOBEX:
        if day == _SAT:
            return False
        if day == _SUN:
            return t >= _GLOBEX_OPEN
        if day == _FRI:
            return t < _GLOBEX_CLOSE
        return not _GLOBEX_CLOSE <= t < _GLOBEX_OPEN
    if day >= _SAT:
        return False
    if hours is Hours.US_EQUITY:
        return _US_OPEN <= t < _US_CLOSE
    if hours is Hours.CBOE_GTH:
        return any(a <= t < b for a, b in _VIX_WINDOWS)
    return True  # BUSINESS_DAYS (Federal Reserve holidays: producers.funding.series)


@dataclass(frozen=True, slots=True)
class SourceTiming:
    feed: str  # "prices", "liquidations" or "funding"
    source: str  # provider or venue: "yfinance", "ccxt:binanceusdm", "okx", "fred", ...
    items: tuple[str, ...]  # canonical symbols, venues or series it carries
    delay_s: float  # typical wait from the bar's end / event / publication until readable
    max_delay_s: float  # the documented worst case (or a marked assumption)
    cadence_s: float  # how often a new value can be read (the producer's poll or push rate)
    disorder_s: float  # how far out of event order the source may deliver (0: in order)
    hours: Hours
    ref: str  # where the figures come from (docs/producers.md, "Timing", has the full sources)

    @property
    def as_of(self) -> bool:
        """Arrives after its minute has sealed: joined as of its latest value, never late."""
        return self.feed == "prices" and self.max_delay_s >= AS_OF_AFTER_S

    @property
    def as_of_min(self) -> int:
        """How many minutes after its own minute a bar of this source can still arrive: the
        documented worst delay and a poll (its as-of reach; the detector itself waits only
        for the lag it observes, ``Detector.lag_min``)."""
        return math.ceil((self.max_delay_s + self.cadence_s) / MIN_S) + 1


# Sourced in docs/producers.md ("Timing"); "assumed" marks a figure no provider documents.
TIMINGS: tuple[SourceTiming, ...] = (
    # -- prices: Yahoo's chart API per exchange, Binance USD-M klines; polled every minute --
    SourceTiming(
        "prices", "yfinance", ("SPX", "IXIC", "NVDA", "PLTR"), 20.0, 45.0, MIN_S, 0.0,
        Hours.US_EQUITY,
        "Yahoo help SLN2310: Nasdaq, S&P indices real-time; minute-bar latency assumed",
    ),
    SourceTiming(
        "prices", "yfinance", ("XAU",), 10 * MIN_S, 30 * MIN_S, MIN_S, 0.0, Hours.CME_GLOBEX,
        "CME Group delayed quotes: 'delayed at least 10 minutes'; Yahoo SLN2310: COMEX 30 min",
    ),
    SourceTiming(
        "prices", "yfinance", ("VIX",), 15 * MIN_S, 16 * MIN_S, MIN_S, 0.0, Hours.CBOE_GTH,
        "assumed 15-min delayed (Cboe Indices' Yahoo delay not found); Cboe GTH dissemination",
    ),
    SourceTiming(
        "prices", "ccxt:binanceusdm", ("BTC", "ETH"), 1.0, 10.0, MIN_S, 0.0, Hours.ALWAYS,
        "Binance USD-M REST klines: a closed bar is served at once; latency assumed",
    ),
    # -- liquidations: websocket pushes --
    SourceTiming(
        "liquidations", "binanceusdm", ("binanceusdm",), 1.0, 2.0, 1.0, 1.0, Hours.ALWAYS,
        "Binance USD-M Liquidation Order Streams: latest per symbol within 1000ms; +1 s assumed",
    ),
    SourceTiming(
        "liquidations", "bybit", ("bybit",), 0.5, 1.0, 0.5, 0.5, Hours.ALWAYS,
        "Bybit v5 all-liquidation: push frequency 500ms; +0.5 s transit assumed",
    ),
    SourceTiming(
        "liquidations", "okx", ("okx",), 1.0, 5.0, 1.0, 5.0, Hours.ALWAYS,
        "OKX v5 liquidation-orders: <=1 order/contract/s, 'not necessarily in chronological "
        "order'; 5 s disorder assumed (the producer's hold)",
    ),
    SourceTiming(
        "liquidations", "gate", ("gate",), 1.0, 2.0, 1.0, 1.0, Hours.ALWAYS,
        "Gate futures WS public_liquidates: one push per contract per 1 s window (early at 20 "
        "orders); +1 s transit assumed",
    ),
    SourceTiming(
        "liquidations", "htx", ("htx",), 1.0, 5.0, 1.0, 1.0, Hours.ALWAYS,
        "HTX liquidation_orders: pushed per order, cadence undocumented; delay, max and "
        "disorder assumed",
    ),
    SourceTiming(
        "liquidations", "deribit", ("deribit",), 0.2, 1.0, 0.1, 0.1, Hours.ALWAYS,
        "Deribit trades.{kind}.{currency}.100ms: batched every 100 ms; transit assumed",
    ),
    # -- funding: business-day publications; delay behind the originator's release --
    SourceTiming(
        "funding", "nyfed", ("SOFR",), 0.0, 6.5 * HOUR_S, DAY_S, 0.0, Hours.BUSINESS_DAYS,
        "NY Fed: SOFR at ~08:00 ET; a revision at ~14:30 ET",
    ),
    SourceTiming(
        "funding", "nyfed", ("SRF_TAKEUP",), 0.0, 15 * MIN_S, DAY_S, 0.0, Hours.BUSINESS_DAYS,
        "NY Fed Desk: SRF operations 08:15-08:30 and 13:30-13:45 ET; results lag assumed",
    ),
    SourceTiming(
        "funding", "treasury", ("TGA",), 0.0, 1.5 * HOUR_S, DAY_S, 0.0, Hours.BUSINESS_DAYS,
        "Fiscal Service: DTS 'by 4:00 p.m.' next business day; lateness assumed",
    ),
    SourceTiming(
        "funding", "fred", ("SOFR", "EFFR"), MIN_S, 1.5 * HOUR_S, DAY_S, 0.0,
        Hours.BUSINESS_DAYS,
        "FRED mirrors NY Fed rates (SOFR avg stamped 08:01 ET); max = series.PUBLICATION",
    ),
    SourceTiming(
        "funding", "fred", ("IORB", "TARGET_UPPER", "TARGET_LOWER"), 0.0, 0.0, DAY_S, 0.0,
        Hours.BUSINESS_DAYS, "FOMC-set rates, known before the day they apply",
    ),
    SourceTiming(
        "funding", "fred", ("ON_RRP_AMOUNT", "SRF_TAKEUP"), 15 * MIN_S, 45 * MIN_S, DAY_S, 0.0,
        Hours.BUSINESS_DAYS, "FRED Temporary Open Market Operations stamped 14:01 ET",
    ),
    SourceTiming(
        "funding", "fred", ("RESERVES", "TGA"), 7 * MIN_S, HOUR_S, WEEK_S, 0.0,
        Hours.BUSINESS_DAYS, "H.4.1 Thursdays 16:30 ET; FRED H.4.1 series stamped 16:37 ET",
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
    "is_open",
    "price_timing",
]
