"""Venue quirks as data: one row per venue; the adapters stay small and alike.

- Binance USD-M, all-market stream ``!forceOrder@arr``: ``S`` is the forced ORDER's side
  (SELL closes a long); quantity in the base coin; a snapshot feed (at most one event per
  symbol per second), so its sums are lower bounds.
- Bybit, ``allLiquidation.<symbol>`` per configured symbol: ``S`` is the liquidated
  POSITION's side (Bybit's docs: "When you receive a Buy update, this means that a long
  position has been liquidated"); quantity in the base coin; every liquidation of the
  subscribed symbols, pushed every 500 ms. Only the configured symbols are subscribed (ccxt
  subscribes one ``allLiquidation.<id>`` per symbol; Bybit has no all-market topic), so the
  venue's totals are partial: flagged as a lower bound like Binance's.
- OKX, ``liquidation-orders`` with instType SWAP: ``posSide`` long/short is the liquidated
  side (in net mode the order ``side`` tells: sell closes a long); ``sz`` in contracts, times
  the instrument's contract value ``ctVal``; several liquidations per push in ``details``.
  OKX documents that the data "doesn't represent the total number of liquidations" (a lower
  bound) and "is not necessarily in chronological order" (the producer's reorder buffer,
  ``producers/liquidations/order.py``). Nothing in OKX's docs says recent orders are re-sent
  on subscribe; de-duplication by event id covers any re-send anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from producers.config import Endpoint
from streams.records import Side


class Venue(StrEnum):
    BINANCE = "binanceusdm"
    BYBIT = "bybit"
    OKX = "okx"


class SideField(StrEnum):
    ORDER_SIDE = "order_side"
    POSITION_SIDE = "position_side"
    POS_SIDE_ELSE_ORDER_SIDE = "pos_side_else_order_side"


class QtyUnit(StrEnum):
    BASE = "base"
    CONTRACTS = "contracts"


class Scope(StrEnum):
    ALL_MARKETS = "all_markets"
    CONFIGURED_SYMBOLS = "configured_symbols"


# What a side token means under each convention (tokens lower-cased).
SIDE_TOKENS: dict[SideField, dict[str, Side]] = {
    SideField.ORDER_SIDE: {"sell": Side.LONG, "buy": Side.SHORT},
    SideField.POSITION_SIDE: {"buy": Side.LONG, "sell": Side.SHORT},
}
POS_SIDES: dict[str, Side] = {"long": Side.LONG, "short": Side.SHORT}


@dataclass(frozen=True, slots=True)
class VenueSpec:
    venue: Venue
    ccxt_id: str
    stream: str
    # Where the websocket base URL lives in the ccxt exchange's ``urls`` (to point it elsewhere).
    ws_url_path: tuple[str, ...]
    ws_endpoint: Endpoint
    side_field: SideField
    qty_unit: QtyUnit
    lower_bound: bool
    scope: Scope
    # No liquidation message for this long on a live venue = a stale stream: reconnect.
    silence_s: float
    # Market types ``load_markets`` fetches (ccxt's ``options.fetchMarkets.types``).
    market_types: tuple[str, ...]

    @property
    def source(self) -> str:
        return f"ccxt:{self.ccxt_id}"


VENUES: dict[Venue, VenueSpec] = {
    Venue.BINANCE: VenueSpec(
        venue=Venue.BINANCE,
        ccxt_id="binanceusdm",
        stream="!forceOrder@arr",
        ws_url_path=("api", "ws", "linear"),
        ws_endpoint=Endpoint.BINANCE_WS,
        side_field=SideField.ORDER_SIDE,
        qty_unit=QtyUnit.BASE,
        lower_bound=True,
        scope=Scope.ALL_MARKETS,
        silence_s=120.0,
        market_types=("linear",),
    ),
    Venue.BYBIT: VenueSpec(
        venue=Venue.BYBIT,
        ccxt_id="bybit",
        stream="allLiquidation.<symbol>",
        ws_url_path=("api", "ws", "public", "linear"),
        ws_endpoint=Endpoint.BYBIT_WS,
        side_field=SideField.POSITION_SIDE,
        qty_unit=QtyUnit.BASE,
        lower_bound=True,  # partial: only the configured symbols are subscribed
        scope=Scope.CONFIGURED_SYMBOLS,
        # A handful of symbols can be quiet for minutes on a calm day.
        silence_s=900.0,
        market_types=("linear", "inverse"),
    ),
    Venue.OKX: VenueSpec(
        venue=Venue.OKX,
        ccxt_id="okx",
        stream="liquidation-orders/SWAP",
        ws_url_path=("api", "ws"),
        ws_endpoint=Endpoint.OKX_WS,
        side_field=SideField.POS_SIDE_ELSE_ORDER_SIDE,
        qty_unit=QtyUnit.CONTRACTS,
        lower_bound=True,
        scope=Scope.ALL_MARKETS,
        silence_s=300.0,
        market_types=("swap",),
    ),
}


def side_liquidated(field: SideField, side: str | None, pos_side: str | None) -> Side | None:
    """The liquidated position's side under the venue's convention, or None if unknown."""
    if field is SideField.POS_SIDE_ELSE_ORDER_SIDE:
        if pos_side and pos_side.lower() in POS_SIDES:
            return POS_SIDES[pos_side.lower()]
        field = SideField.ORDER_SIDE  # net mode: the order closing the position tells
    if side is None:
        return None
    return SIDE_TOKENS[field].get(side.lower())
