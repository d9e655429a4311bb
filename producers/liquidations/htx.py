"""HTX USDT-margined swaps ``public.*.liquidation_orders`` (notification endpoint, no key).

``{"op":"notify","topic":"public.O3-USDT.liquidation_orders","ts":..,"data":[{"symbol":"O3",
"contract_code":"O3-USDT","direction":"sell","offset":"close","volume":432,"price":0.7858,
"created_at":1639122193172,"amount":432,"trade_turnover":339.4656,...}]}`` -- ``direction`` is
the liquidation ORDER's side (sell closes a long), ``amount`` the size in the base coin
(``volume`` is contracts, ``trade_turnover`` USDT), ``price`` the bankruptcy price,
``created_at`` ms. ccxt.pro has no liquidation watcher for HTX: HTX's own ``sub`` is sent over
ccxt.pro's socket (which answers HTX's pings and un-gzips its frames).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq, entries
from producers.liquidations.venues import VENUES, Venue

TOPIC = "public.*.liquidation_orders"


def is_push(message: Any) -> bool:
    if not isinstance(message, Mapping) or message.get("op") != "notify":
        return False
    topic = message.get("topic")
    return isinstance(topic, str) and topic.endswith(".liquidation_orders")


def extract(message: Mapping[str, Any]) -> list[RawLiq]:
    out = []
    for item in entries(message.get("data"), "data", "liquidation_orders"):
        out.append(
            RawLiq(
                market_id=item.get("contract_code"),
                side=item.get("direction"),
                pos_side=None,
                qty=item.get("amount"),
                price=item.get("price"),
                ts_ms=item.get("created_at"),
                raw=item,
            )
        )
    return out


def subscription(cid: str = "shockwatch") -> dict[str, Any]:
    return {"op": "sub", "cid": cid, "topic": TOPIC}


async def watch(exchange: Any, symbols: list[str]) -> None:
    url = VENUES[Venue.HTX].ws_url(exchange.urls)
    await exchange.watch(url, TOPIC, subscription(), TOPIC)
