"""Binance USD-M ``forceOrder``: one liquidation order snapshot per message.

``{"e":"forceOrder","E":..,"o":{"s":"BTCUSDT","S":"SELL","q":..,"p":..,"ap":..,"X":"FILLED",
"l":..,"z":..,"T":..}}`` -- ``z`` is the filled quantity, ``ap`` its average price (``p`` the
order price, used when ``ap`` is zero), ``T`` the trade time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq
from streams.records import MalformedRecord

SUBSCRIBE_SYMBOLS: list[str] = []  # empty = the all-market stream ``!forceOrder@arr``


def extract(message: Mapping[str, Any]) -> list[RawLiq]:
    order = message.get("o")
    if not isinstance(order, Mapping):
        raise MalformedRecord("o", "forceOrder event without an order object")
    avg = order.get("ap")
    try:
        price = avg if avg is not None and float(avg) > 0 else order.get("p")
    except (TypeError, ValueError, OverflowError):
        price = avg
    qty = order.get("z")
    if qty in (None, "", "0"):
        qty = order.get("q")
    return [
        RawLiq(
            market_id=order.get("s"),
            side=order.get("S"),
            pos_side=None,
            qty=qty,
            price=price,
            ts_ms=order.get("T", message.get("E")),
            raw=message,
        )
    ]


async def watch(exchange: Any, symbols: list[str]) -> None:
    """Subscribe; the captured handler receives the messages, this only keeps the stream."""
    await exchange.watch_liquidations_for_symbols(SUBSCRIBE_SYMBOLS)
