"""The feed timing model: sane figures, the as-of set, and complete against what producers read.

``streams.timing`` is the one place the feeds' delays, cadences and hours live
(docs/producers.md, "Timing"); these tests keep it consistent with itself and with the
producers' own tables, so a new instrument, venue or series cannot go live without a timing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from producers.config import ProducerSettings
from producers.funding.series import FRED_IDS, PRIORITY, PUBLICATION, FundingSource
from producers.liquidations.venues import VENUES, Venue
from streams.instruments import INSTRUMENTS
from streams.timing import (
    AS_OF_AFTER_S,
    TIMINGS,
    Hours,
    SourceTiming,
    as_of_symbols,
    price_timing,
)

FEEDS = {"prices", "liquidations", "funding"}


def _covering(feed: str, source: str, item: str) -> list[SourceTiming]:
    return [t for t in TIMINGS if t.feed == feed and t.source == source and item in t.items]


@pytest.mark.parametrize("t", TIMINGS, ids=lambda t: f"{t.feed}:{t.source}:{t.items[0]}")
def test_figures_are_sane(t: SourceTiming) -> None:
    assert t.feed in FEEDS
    assert t.items and len(set(t.items)) == len(t.items)
    assert 0 <= t.delay_s <= t.max_delay_s
    assert t.cadence_s > 0 and t.disorder_s >= 0
    assert isinstance(t.hours, Hours)
    assert t.ref and "provisional" not in t.ref


def test_each_item_has_one_timing_per_source() -> None:
    seen = Counter((t.feed, t.source, item) for t in TIMINGS for item in t.items)
    assert [key for key, n in seen.items() if n > 1] == []
    # A price symbol is served by one source: the detector asks by symbol alone.
    symbols = Counter(s for t in TIMINGS if t.feed == "prices" for s in t.items)
    assert [s for s, n in symbols.items() if n > 1] == []


def test_as_of_set_is_exactly_the_delayed_yahoo_instruments() -> None:
    delayed = {
        s for t in TIMINGS if t.source == "yfinance" and t.max_delay_s >= AS_OF_AFTER_S
        for s in t.items
    }  # fmt: skip
    assert set(as_of_symbols()) == delayed == {"XAU", "VIX"}
    assert all(t.feed == "prices" for t in TIMINGS if t.as_of)
    # Real-time instruments stay event-time inputs: their bars seal with their minute.
    for symbol in ("SPX", "IXIC", "NVDA", "PLTR", "BTC", "ETH"):
        timing = price_timing(symbol)
        assert timing is not None and not timing.as_of


def test_as_of_reach_covers_the_worst_delay_and_a_poll() -> None:
    reach = as_of_symbols()
    assert reach == {"XAU": 32, "VIX": 18}  # ceil((1800 + 60) / 60) + 1, ceil(1020 / 60) + 1
    for symbol, minutes in reach.items():
        timing = price_timing(symbol)
        assert timing is not None
        assert minutes * 60 >= timing.max_delay_s + timing.cadence_s


def test_gold_trades_in_cme_globex_hours_not_us_equity_hours() -> None:
    gold, vix = price_timing("XAU"), price_timing("VIX")
    assert gold is not None and gold.hours is Hours.CME_GLOBEX
    assert vix is not None and vix.hours is Hours.CBOE_GTH
    assert price_timing("UNKNOWN") is None


def test_every_price_instrument_has_a_timing_of_its_provider() -> None:
    for inst in INSTRUMENTS:
        timing = price_timing(inst.symbol)
        assert timing is not None, inst.symbol
        assert timing.source == inst.provider.source
        assert inst.timing is timing and inst.hours is timing.hours


def test_every_liquidation_venue_has_a_timing() -> None:
    assert set(VENUES) == set(Venue)
    for venue in Venue:
        assert len(_covering("liquidations", venue.value, venue.value)) == 1, venue


def test_every_funding_series_and_source_has_a_timing() -> None:
    read = {(source.value, series) for source, series in PUBLICATION}
    read |= {(FundingSource.FRED.value, spec.series) for spec in FRED_IDS.values()}
    read |= {(source.value, series) for series, order in PRIORITY.items() for source in order}
    missing = sorted(pair for pair in read if not _covering("funding", *pair))
    assert missing == []
    modelled = {(t.source, s) for t in TIMINGS if t.feed == "funding" for s in t.items}
    assert modelled == read  # nothing modelled that no producer reads
    assert all(t.hours is Hours.BUSINESS_DAYS for t in TIMINGS if t.feed == "funding")


def test_fred_mirror_delay_covers_the_publication_estimates() -> None:
    """FRED serves the NY Fed's rates after the NY Fed: the estimate the backfill stamps
    (``series.PUBLICATION``) must lie within the model's worst case."""
    fred = _covering("funding", "fred", "SOFR")[0]

    def gap_s(series: str, origin_at: tuple[int, int]) -> float:
        rule = PUBLICATION[(FundingSource.FRED, series)]
        fred_at = datetime.combine(datetime(2025, 11, 4), rule.at)
        return (fred_at - datetime(2025, 11, 4, *origin_at)).total_seconds()

    assert gap_s("SOFR", (8, 0)) <= fred.max_delay_s  # NY Fed ~08:00, FRED estimate 09:30
    assert gap_s("EFFR", (9, 0)) <= fred.max_delay_s  # NY Fed ~09:00, FRED estimate 10:00


def test_the_liquidation_reorder_hold_covers_every_venue_disorder() -> None:
    hold_s = ProducerSettings().liquidation_reorder_ms / 1000
    for t in TIMINGS:
        if t.feed == "liquidations":
            assert t.disorder_s <= hold_s, t.source


def test_prices_arrive_in_event_order_per_source() -> None:
    # The price producer sends each poll's bars in event-time order; a source is in order.
    assert all(t.disorder_s == 0 for t in TIMINGS if t.feed == "prices")
