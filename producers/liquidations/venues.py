"""Venue quirks as data: one row per venue; the adapters stay small and alike.

- Binance USD-M, all-market stream ``!forceOrder@arr``: ``S`` is the forced ORDER's side
  (SELL closes a long); quantity in the base coin; a snapshot feed (at most one event per
  symbol per second), so its sums are lower bounds.
- Bybit, ``allLiquidation.<symbol>`` for every linear USDT perpetual of the markets list
  (Bybit has no all-market topic; the topics go out in batches, ``bybit.TOPICS_PER_REQUEST``):
  ``S`` is the liquidated POSITION's side (Bybit's docs: "When you receive a Buy update, this
  means that a long position has been liquidated"); quantity in the base coin; every
  liquidation of the subscribed symbols, pushed every 500 ms. USDC perpetuals and inverse
  contracts are not subscribed, so the venue's totals stay a lower bound.
- OKX, ``liquidation-orders`` with instType SWAP: ``posSide`` long/short is the liquidated
  side (in net mode the order ``side`` tells: sell closes a long); ``sz`` in contracts, times
  the instrument's contract value ``ctVal``; several liquidations per push in ``details``.
  OKX documents that the data "doesn't represent the total number of liquidations" (a lower
  bound) and "is not necessarily in chronological order" (the producer's reorder buffer,
  ``producers/liquidations/order.py``). Nothing in OKX's docs says recent orders are re-sent
  on subscribe; de-duplication by event id covers any re-send anyway.
- Gate USDT futures, ``futures.public_liquidates`` with ``!all`` (native subscription over
  ccxt.pro's socket, which has no liquidation watcher for Gate): ``size`` in contracts (times
  ``quanto_multiplier``, ccxt's ``contractSize``), SIGNED by the liquidated position (negative
  = a short); since Gate's change of 2026-08-20 every liquidation of a contract in a 1 s window
  arrives as one array ("no longer dropping the others"), so not a lower bound.
- HTX USDT-margined swaps, ``public.*.liquidation_orders`` on the notification endpoint:
  ``direction`` is the liquidation ORDER's side (sell closes a long); ``amount`` in the base
  coin (``volume`` is contracts, ``trade_turnover`` USDT); ``price`` the bankruptcy price.
- Deribit futures and perpetuals, ``trades.future.any.100ms``: a trade carries ``liquidation``
  "T" (the taker was liquidated), "M" (the maker) or "MT" (both); ``direction`` is the taker's
  side. ``amount`` is USD for inverse contracts (BTC-PERPETUAL) and the base coin for linear
  ones. Every trade is public, so nothing is sampled: not a lower bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from producers.config import Endpoint
from streams.records import Side


class Venue(StrEnum):
    BINANCE = "binanceusdm"
    BYBIT = "bybit"
    OKX = "okx"
    GATE = "gate"
    HTX = "htx"
    DERIBIT = "deribit"


class SideField(StrEnum):
    ORDER_SIDE = "order_side"
    POSITION_SIDE = "position_side"
    POS_SIDE_ELSE_ORDER_SIDE = "pos_side_else_order_side"
    # The size's sign is the liquidated position: negative = a short (Gate).
    POSITION_SIZE_SIGN = "position_size_sign"


class QtyUnit(StrEnum):
    BASE = "base"
    CONTRACTS = "contracts"
    # USD for inverse contracts, the base coin for linear ones (Deribit's ``amount``).
    USD_IF_INVERSE_ELSE_BASE = "usd_if_inverse_else_base"


class Scope(StrEnum):
    ALL_MARKETS = "all_markets"
    # One subscription per listed linear USDT perpetual (the configured list, if one is set).
    LISTED_USDT_PERPETUALS = "listed_usdt_perpetuals"


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

    def ws_url(self, urls: Mapping[str, Any]) -> str:
        """The websocket base URL in a ccxt exchange's ``urls`` (at ``ws_url_path``)."""
        node: Any = urls
        for key in self.ws_url_path:
            node = node[key]
        return str(node)

    def set_ws_url(self, urls: dict[str, Any], url: str) -> None:
        """Point the exchange's websocket base URL elsewhere (a mirror, the fixture server)."""
        for key in self.ws_url_path[:-1]:
            urls = urls[key]
        urls[self.ws_url_path[-1]] = url


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
        lower_bound=True,  # partial: USDC perpetuals and inverse contracts not subscribed
        scope=Scope.LISTED_USDT_PERPETUALS,
        silence_s=600.0,
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
    Venue.GATE: VenueSpec(
        venue=Venue.GATE,
        ccxt_id="gate",
        stream="futures.public_liquidates/!all",
        ws_url_path=("api", "swap", "usdt"),
        ws_endpoint=Endpoint.GATE_WS,
        side_field=SideField.POSITION_SIZE_SIGN,
        qty_unit=QtyUnit.CONTRACTS,
        lower_bound=False,
        scope=Scope.ALL_MARKETS,
        silence_s=600.0,
        market_types=("swap",),
    ),
    Venue.HTX: VenueSpec(
        venue=Venue.HTX,
        ccxt_id="htx",
        stream="public.*.liquidation_orders",
        ws_url_path=("api", "ws", "api", "swap", "linear", "private"),
        ws_endpoint=Endpoint.HTX_WS,
        side_field=SideField.ORDER_SIDE,
        qty_unit=QtyUnit.BASE,
        lower_bound=False,
        scope=Scope.ALL_MARKETS,
        # About one liquidation every few minutes on a calm afternoon.
        silence_s=1800.0,
        market_types=("linear",),
    ),
    Venue.DERIBIT: VenueSpec(
        venue=Venue.DERIBIT,
        ccxt_id="deribit",
        stream="trades.future.any.100ms",
        ws_url_path=("api", "ws"),
        ws_endpoint=Endpoint.DERIBIT_WS,
        side_field=SideField.ORDER_SIDE,  # the adapter hands over the liquidated party's side
        qty_unit=QtyUnit.USD_IF_INVERSE_ELSE_BASE,
        lower_bound=False,
        scope=Scope.ALL_MARKETS,
        # Liquidation trades are rare on Deribit; ordinary trades keep the socket talking.
        silence_s=600.0,
        market_types=("future", "swap"),
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
    if field is SideField.POSITION_SIZE_SIGN:
        text = side.strip()
        if not text or text.lstrip("+-") in ("", "0"):
            return None
        return Side.SHORT if text.startswith("-") else Side.LONG
    return SIDE_TOKENS[field].get(side.lower())
