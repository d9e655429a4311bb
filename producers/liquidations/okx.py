"""OKX ``liquidation-orders`` (instType SWAP): several liquidations per push.

``{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP",
..,"details":[{"bkPx":..,"sz":..,"side":"buy","posSide":"short","ts":..}, ...]}]}`` -- every
element of ``details`` is one liquidation (ccxt's parser keeps only the first, which is why the
raw push is handled here); ``sz`` is in contracts (times ``ctVal``); ``posSide`` is the
liquidated side, or ``net``, when the order ``side`` tells (sell closes a long).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq, entries
from streams.records import MalformedRecord


def extract(message: Mapping[str, Any]) -> list[RawLiq]:
    out = []
    for inst in entries(message.get("data"), "data", "liquidation-orders", "instrument"):
        details = inst.get("details")
        if not isinstance(details, list):
            raise MalformedRecord("details", "instrument entry without a details list")
        for d in entries(details, "details", "liquidation-orders", "detail"):
            out.append(
                RawLiq(
                    market_id=inst.get("instId"),
                    side=d.get("side"),
                    pos_side=d.get("posSide"),
                    qty=d.get("sz"),
                    price=d.get("bkPx"),
                    ts_ms=d.get("ts"),
                    raw={"instId": inst.get("instId"), **d},
                )
            )
    return out


async def watch(exchange: Any, symbols: list[str]) -> None:
    await exchange.watch_liquidations_for_symbols(None, params={"type": "swap"})
