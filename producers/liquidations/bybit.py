"""Bybit ``allLiquidation.<symbol>``: every liquidation, batched per 500 ms push.

``{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":"BTCUSDT",
"S":"Sell","v":"0.003","p":"43511.70"}]}`` -- ``S`` is the POSITION side (Buy = a long was
liquidated), ``v`` the size in the base coin, ``p`` the bankruptcy price. The older
``liquidation.<symbol>`` topic sends one object with ``symbol/side/size/price/updatedTime``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq
from streams.records import MalformedRecord


def extract(message: Mapping[str, Any]) -> list[RawLiq]:
    data = message.get("data")
    if isinstance(data, Mapping):  # legacy ``liquidation.<symbol>``
        return [
            RawLiq(
                market_id=data.get("symbol"),
                side=data.get("side"),
                pos_side=None,
                qty=data.get("size"),
                price=data.get("price"),
                ts_ms=data.get("updatedTime"),
                raw=data,
            )
        ]
    if not isinstance(data, list):
        raise MalformedRecord("data", "allLiquidation push without a data list")
    out = []
    for item in data:
        if not isinstance(item, Mapping):
            raise MalformedRecord("data", f"liquidation entry is {type(item).__name__}")
        out.append(
            RawLiq(
                market_id=item.get("s"),
                side=item.get("S"),
                pos_side=None,
                qty=item.get("v"),
                price=item.get("p"),
                ts_ms=item.get("T"),
                raw=item,
            )
        )
    return out


async def watch(exchange: Any, symbols: list[str]) -> None:
    await asyncio.gather(*(exchange.watch_liquidations(s) for s in symbols))
