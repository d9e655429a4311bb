"""Bybit ``allLiquidation.<symbol>``: every liquidation, batched per 500 ms push.

``{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":"BTCUSDT",
"S":"Sell","v":"0.003","p":"43511.70"}]}`` -- ``S`` is the POSITION side (Buy = a long was
liquidated), ``v`` the size in the base coin, ``p`` the bankruptcy price. The older
``liquidation.<symbol>`` topic sends one object with ``symbol/side/size/price/updatedTime``.

Every linear USDT perpetual is subscribed, ``TOPICS_PER_REQUEST`` topics per subscribe request:
Bybit's v5 "Connect" page limits a request's ``args`` to 21,000 characters for derivatives
(spot: 10 args); 200 topics of ``allLiquidation.<id>`` are about 5,500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq, entries


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
    out = []
    for item in entries(data, "data", "allLiquidation"):
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


TOPICS_PER_REQUEST = 200
ARGS_MAX_CHARS = 21_000


def topic_batches(market_ids: list[str]) -> list[list[str]]:
    """The ``allLiquidation`` topics of these instruments, in subscribe-request-sized batches."""
    topics = [f"allLiquidation.{mid}" for mid in market_ids]
    return [topics[i : i + TOPICS_PER_REQUEST] for i in range(0, len(topics), TOPICS_PER_REQUEST)]


async def watch(exchange: Any, symbols: list[str]) -> None:
    """One subscribe request per batch, all on the linear public socket; the captured handler
    receives the pushes, the watchers only keep the stream (none ever resolves)."""
    if not symbols:
        raise ValueError("bybit: no symbols to subscribe (no linear USDT perpetual listed?)")
    url = await exchange.get_url_by_market_type(symbols[0], False, "watchLiquidations", {})
    ids = [exchange.market(s)["id"] for s in symbols]
    await asyncio.gather(
        *(
            exchange.watch_topics(url, [f"liquidations::{t}" for t in batch], batch, {})
            for batch in topic_batches(ids)
        )
    )
