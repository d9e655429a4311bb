"""The one table from provider tickers to canonical symbols and asset classes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.records import AssetClass


class PriceProvider(StrEnum):
    YFINANCE = "yfinance"
    CCXT_BINANCEUSDM = "ccxt:binanceusdm"

    @property
    def source(self) -> str:
        return self.value


class Session(StrEnum):
    US_EQUITY = "us_equity"  # 09:30-16:00 America/New_York, weekdays
    ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class Instrument:
    provider: PriceProvider
    ticker: str
    symbol: str
    asset_class: AssetClass
    session: Session


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(PriceProvider.YFINANCE, "^GSPC", "SPX", AssetClass.EQUITY_INDEX, Session.US_EQUITY),
    Instrument(
        PriceProvider.YFINANCE, "^IXIC", "IXIC", AssetClass.EQUITY_INDEX, Session.US_EQUITY
    ),  # Nasdaq Composite
    Instrument(PriceProvider.YFINANCE, "NVDA", "NVDA", AssetClass.AI_EQUITY, Session.US_EQUITY),
    Instrument(PriceProvider.YFINANCE, "PLTR", "PLTR", AssetClass.AI_EQUITY, Session.US_EQUITY),
    Instrument(PriceProvider.YFINANCE, "GC=F", "XAU", AssetClass.GOLD, Session.US_EQUITY),
    Instrument(PriceProvider.YFINANCE, "^VIX", "VIX", AssetClass.VOLATILITY, Session.US_EQUITY),
    Instrument(
        PriceProvider.CCXT_BINANCEUSDM, "BTC/USDT:USDT", "BTC", AssetClass.CRYPTO, Session.ALWAYS
    ),
    Instrument(
        PriceProvider.CCXT_BINANCEUSDM, "ETH/USDT:USDT", "ETH", AssetClass.CRYPTO, Session.ALWAYS
    ),
)

BY_TICKER: dict[tuple[PriceProvider, str], Instrument] = {
    (i.provider, i.ticker): i for i in INSTRUMENTS
}


def instrument(provider: PriceProvider, ticker: str) -> Instrument:
    try:
        return BY_TICKER[(provider, ticker)]
    except KeyError:
        known = ", ".join(i.ticker for i in INSTRUMENTS if i.provider is provider)
        raise KeyError(f"{ticker!r} is not in the {provider} table (known: {known})") from None
