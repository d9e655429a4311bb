"""What a venue's instrument id means: ccxt symbol, base coin, contract value, linear/inverse.

Built from ccxt's unified markets (``exchange.markets``, loaded live with ``load_markets`` or
from a recorded snapshot of it). OKX sizes are in contracts, so its contract value (``ctVal``,
ccxt's ``contractSize``) must be known; Binance and Bybit linear sizes are in the base coin and
an instrument missing from the snapshot (a new listing) can still be named from its id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUOTES = ("USDT", "USDC", "USD")


@dataclass(frozen=True, slots=True)
class MarketInfo:
    id: str
    symbol: str
    base: str
    contract_size: float
    inverse: bool


class MarketIndex:
    def __init__(self, markets: Iterable[Mapping[str, Any]]) -> None:
        self._by_id: dict[str, MarketInfo] = {}
        for m in markets:
            if not m.get("contract") or not (m.get("swap") or m.get("future")):
                continue
            mid = str(m["id"])
            # A venue may list a dated future with the same id as nothing else; swaps win.
            if mid in self._by_id and not m.get("swap"):
                continue
            self._by_id[mid] = MarketInfo(
                id=mid,
                symbol=str(m["symbol"]),
                base=str(m["base"]),
                contract_size=float(m.get("contractSize") or 1.0),
                inverse=bool(m.get("inverse")),
            )

    def usdt_perpetuals(self) -> list[str]:
        """The ccxt symbols of every listed linear USDT perpetual (Bybit's subscription list)."""
        return sorted(m.symbol for m in self._by_id.values() if m.symbol.endswith("/USDT:USDT"))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, market_id: str) -> MarketInfo | None:
        return self._by_id.get(market_id)

    def derive_linear(self, market_id: str) -> MarketInfo | None:
        """Name an unknown linear perpetual from its id (``BTCUSDT`` or HTX's ``BTC-USDT`` ->
        ``BTC/USDT:USDT``)."""
        for quote in QUOTES:
            if market_id.endswith(quote) and len(market_id) > len(quote):
                base = market_id[: -len(quote)].removesuffix("-").removesuffix("_")
                if not base:
                    return None
                if quote == "USD":
                    return None  # inverse: sizes in USD contracts, not derivable
                return MarketInfo(market_id, f"{base}/{quote}:{quote}", base, 1.0, False)
        return None


def load_snapshot(path: Path) -> list[dict[str, Any]]:
    """A recorded ``load_markets()`` result: a JSON list of ccxt unified market dicts."""
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = list(data.values())
    return data
