"""The one instrument table: provider tickers to canonical symbols and asset classes.

A contract beside the records: the price producer reads its tickers from it, the Slack
message, the benchmarks and the tests their symbol -> class table (``CLASS_OF``). When an
instrument trades, how late its bars arrive and how far back the detector looks for them are
not here: they belong to the source that serves the symbol, in the feeds' one timing model
(``streams.timing``, docs/producers.md "Timing"); ``Instrument.timing`` looks it up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from streams.records import AssetClass
from streams.timing import Hours, SourceTiming, price_timing


class PriceProvider(StrEnum):
    YFINANCE = "yfinance"
    CCXT_BINANCEUSDM = "ccxt:binanceusdm"

    @property
    def source(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Instrument:
    provider: PriceProvider
    ticker: str
    symbol: str
    asset_class: AssetClass

    @property
    def timing(self) -> SourceTiming:
        """The timing of the source serving this symbol (its hours, delay, as-of reach)."""
        found = price_timing(self.symbol)
        if found is None or found.source != self.provider.source:
            raise LookupError(f"{self.symbol} ({self.provider}) has no entry in streams.timing")
        return found

    @property
    def hours(self) -> Hours:
        return self.timing.hours


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(PriceProvider.YFINANCE, "^GSPC", "SPX", AssetClass.EQUITY_INDEX),
    Instrument(PriceProvider.YFINANCE, "^IXIC", "IXIC", AssetClass.EQUITY_INDEX),  # Composite
    Instrument(PriceProvider.YFINANCE, "NVDA", "NVDA", AssetClass.AI_EQUITY),
    Instrument(PriceProvider.YFINANCE, "PLTR", "PLTR", AssetClass.AI_EQUITY),
    Instrument(PriceProvider.YFINANCE, "GC=F", "XAU", AssetClass.GOLD),  # COMEX, CME Globex
    Instrument(PriceProvider.YFINANCE, "^VIX", "VIX", AssetClass.VOLATILITY),
    Instrument(PriceProvider.CCXT_BINANCEUSDM, "BTC/USDT:USDT", "BTC", AssetClass.CRYPTO),
    Instrument(PriceProvider.CCXT_BINANCEUSDM, "ETH/USDT:USDT", "ETH", AssetClass.CRYPTO),
)

BY_TICKER: Mapping[tuple[PriceProvider, str], Instrument] = {
    (i.provider, i.ticker): i for i in INSTRUMENTS
}
# Symbol -> asset class, in the table's order.
CLASS_OF: Mapping[str, AssetClass] = {i.symbol: i.asset_class for i in INSTRUMENTS}


def known_tickers(provider: PriceProvider) -> tuple[str, ...]:
    return tuple(i.ticker for i in INSTRUMENTS if i.provider is provider)


def unknown_tickers(provider: PriceProvider, tickers: Iterable[str]) -> list[str]:
    """The ``tickers`` that are not in the table for ``provider`` (in the order given)."""
    return [t for t in tickers if (provider, t) not in BY_TICKER]


def instrument(provider: PriceProvider, ticker: str) -> Instrument:
    try:
        return BY_TICKER[(provider, ticker)]
    except KeyError:
        known = ", ".join(known_tickers(provider))
        raise KeyError(f"{ticker!r} is not in the {provider} table (known: {known})") from None
