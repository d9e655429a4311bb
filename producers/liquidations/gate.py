"""Gate USDT futures ``futures.public_liquidates``: every contract with the ``!all`` payload.

``{"channel":"futures.public_liquidates","event":"update","time":..,"time_ms":..,"result":[
{"price":"215.1","size":"-124.5","time":1541486601123,"contract":"BTC_USDT"}, ...]}`` --
``size`` is in contracts (``quanto_multiplier``), its sign the liquidated position (negative =
a short); ``time`` is the liquidation's time in ms. Before Gate's change of 2026-08-20 the
docs' example carried ``time`` in seconds (its table named ``time_ms``): ``time_ms`` is read
first, and a ``time`` below ``SECONDS_BELOW`` is taken as seconds. ccxt.pro has no liquidation
watcher for Gate, so the subscription is Gate's own, sent over ccxt.pro's socket.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from producers.liquidations.normalise import RawLiq, entries
from producers.liquidations.venues import VENUES, Venue

CHANNEL = "futures.public_liquidates"
# Epoch milliseconds passed 1e11 in 1973; an epoch below it is seconds.
SECONDS_BELOW = 100_000_000_000


def _ms(item: Mapping[str, Any]) -> Any:
    if item.get("time_ms") is not None:
        return item["time_ms"]
    value = item.get("time")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < SECONDS_BELOW:
        return value * 1000
    return value


def is_push(message: Any) -> bool:
    return (
        isinstance(message, Mapping)
        and message.get("channel") == CHANNEL
        and message.get("event") == "update"
    )


def extract(message: Mapping[str, Any]) -> list[RawLiq]:
    out = []
    for item in entries(message.get("result"), "result", "public_liquidates"):
        out.append(
            RawLiq(
                market_id=item.get("contract"),
                side=None,
                pos_side=None,
                qty=item.get("size"),
                price=item.get("price"),
                ts_ms=_ms(item),
                raw=item,
            )
        )
    return out


def subscription(now_s: int | None = None) -> dict[str, Any]:
    return {
        "time": int(time.time()) if now_s is None else now_s,
        "channel": CHANNEL,
        "event": "subscribe",
        "payload": ["!all"],
    }


async def watch(exchange: Any, symbols: list[str]) -> None:
    url = VENUES[Venue.GATE].ws_url(exchange.urls)
    await exchange.watch(url, "liquidations::gate", subscription(), "liquidations::gate")
