"""Deribit ``trades.future.any.100ms``: every futures/perpetual trade; liquidations are flagged.

``{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.future.any.100ms",
"data":[{"trade_id":"48079270","timestamp":1590484513004,"price":8960,"direction":"buy",
"amount":20,"instrument_name":"BTC-PERPETUAL","liquidation":"T",...}]}}`` -- ``liquidation``
(only on liquidation trades): "T" the taker was liquidated, "M" the maker, "MT" both (one
liquidation each side). ``direction`` is the taker's side; the maker's is the opposite. The
liquidated party's ORDER side is handed over (sell closes a long). ``amount`` is USD for
inverse contracts, the base coin for linear ones (the venue table's unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq, entries
from producers.liquidations.venues import VENUES, Venue
from streams.records import MalformedRecord

CHANNEL = "trades.future.any.100ms"
OPPOSITE = {"buy": "sell", "sell": "buy"}


def is_push(message: Any) -> bool:
    if not isinstance(message, Mapping) or message.get("method") != "subscription":
        return False
    params = message.get("params")
    return isinstance(params, Mapping) and str(params.get("channel", "")).startswith("trades.")


def _party_side(party: str, direction: Any) -> Any:
    """The order side of the liquidated party: the taker's ``direction``, the maker's opposite."""
    if party == "T" or not isinstance(direction, str):
        return direction
    return OPPOSITE.get(direction.lower(), direction)


def extract(message: Mapping[str, Any]) -> list[RawLiq]:
    params = message.get("params")
    data = params.get("data") if isinstance(params, Mapping) else None
    out = []
    for trade in entries(data, "params.data", "trades", "trade"):
        flag = trade.get("liquidation")
        if not flag:
            continue  # an ordinary trade
        if not isinstance(flag, str) or set(flag) - {"M", "T"}:
            raise MalformedRecord("liquidation", f"unknown liquidation flag {flag!r}")
        for party in sorted(set(flag), reverse=True):  # "T" before "M"
            out.append(
                RawLiq(
                    market_id=trade.get("instrument_name"),
                    side=_party_side(party, trade.get("direction")),
                    pos_side=None,
                    qty=trade.get("amount"),
                    price=trade.get("price"),
                    ts_ms=trade.get("timestamp"),
                    raw=trade,
                    venue_event_id=f"{trade['trade_id']}:{party}"
                    if trade.get("trade_id")
                    else None,
                )
            )
    return out


def subscription(request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "public/subscribe",
        "params": {"channels": [CHANNEL]},
    }


async def watch(exchange: Any, symbols: list[str]) -> None:
    url = VENUES[Venue.DERIBIT].ws_url(exchange.urls)
    request = subscription(exchange.request_id())
    await exchange.watch(url, CHANNEL, request, CHANNEL)
