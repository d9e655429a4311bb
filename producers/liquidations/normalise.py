"""From a venue's raw liquidation to a ``Liquidation`` record, driven by the venue table.

The adapters (``binance``, ``bybit``, ``okx``) only find the fields in their venue's message
shape and hand over ``RawLiq`` items; everything with a meaning (side convention, contract
value, notional, event id, lower bound) happens here, once, from ``VenueSpec``. Bad provider
data raises a ``RecordError`` (its ``reason`` is the DLQ reason).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from producers.liquidations.markets import MarketIndex, MarketInfo
from producers.liquidations.venues import QtyUnit, SideField, VenueSpec, side_liquidated
from streams.records import (
    DEFAULT_MAX_FUTURE_MS,
    InvalidValue,
    Liquidation,
    MalformedRecord,
    MissingField,
    WrongType,
)


@dataclass(slots=True)
class RawLiq:
    """One liquidation as the venue wrote it (strings as sent), before any interpretation."""

    market_id: Any
    side: Any
    pos_side: Any
    qty: Any
    price: Any
    ts_ms: Any
    raw: Mapping[str, Any]
    venue_event_id: str | None = None


def entries(
    value: Any, field: str, push: str, entry: str = "liquidation"
) -> list[Mapping[str, Any]]:
    """A push's list of entries, each a JSON object, or ``MalformedRecord`` naming ``field``
    (every venue adapter's first check of a push)."""
    if not isinstance(value, list):
        raise MalformedRecord(field, f"{push} push without a {field.rsplit('.', 1)[-1]} list")
    for item in value:
        if not isinstance(item, Mapping):
            raise MalformedRecord(field, f"{entry} entry is {type(item).__name__}")
    return value


def _number(value: Any, name: str) -> float:
    if value is None or value == "":
        raise MissingField(name, "is required")
    if isinstance(value, bool):
        raise WrongType(name, "must be a number, got bool")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise WrongType(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise InvalidValue(name, f"must be finite, got {value!r}")
    if x <= 0:
        raise InvalidValue(name, f"must be > 0, got {value!r}")
    return x


def _ts(value: Any) -> int:
    if value is None or value == "":
        raise MissingField("ts_ms", "is required")
    if isinstance(value, bool):
        raise WrongType("ts_ms", "must be an integer, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise WrongType("ts_ms", f"must be epoch milliseconds, got {value!r}")


def _str(value: Any, name: str) -> str:
    if value is None or value == "":
        raise MissingField(name, "is required")
    if not isinstance(value, str):
        raise WrongType(name, f"must be a string, got {type(value).__name__}")
    return value


def stable_event_id(venue: str, market_id: str, ts_ms: int, price: str, qty: str, side: str) -> str:
    """A venue gives no id: hash what identifies the event, exactly as the venue wrote it."""
    text = f"{venue}|{market_id}|{ts_ms}|{price}|{qty}|{side}"
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def resolve_market(spec: VenueSpec, markets: MarketIndex, market_id: str) -> MarketInfo:
    market = markets.get(market_id)
    if market is None and spec.qty_unit is QtyUnit.BASE:
        market = markets.derive_linear(market_id)
    if market is None:
        raise InvalidValue(
            "symbol", f"unknown {spec.venue} instrument {market_id!r} (no contract value)"
        )
    return market


def _unsigned(value: Any) -> Any:
    """A signed size (Gate: the sign is the side) as its magnitude, in the type it came in."""
    if isinstance(value, str):
        return value.strip().lstrip("+-")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return abs(value)
    return value


def _sizes(unit: QtyUnit, market: MarketInfo, qty: float, price: float) -> tuple[float, float]:
    """(quantity in the base coin, USD notional) of a size in the venue's unit."""
    if unit is QtyUnit.CONTRACTS:
        if market.inverse:  # contract value in USD
            notional = qty * market.contract_size
            return notional / price, notional
        qty_base = qty * market.contract_size  # contract value in the base coin
        return qty_base, qty_base * price
    if unit is QtyUnit.USD_IF_INVERSE_ELSE_BASE and market.inverse:
        return qty / price, qty
    return qty, qty * price


def normalise(
    spec: VenueSpec,
    markets: MarketIndex,
    raw: RawLiq,
    now_ms: int | None = None,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
) -> Liquidation:
    market_id = _str(raw.market_id, "symbol")
    ts = _ts(raw.ts_ms)
    signed = spec.side_field is SideField.POSITION_SIZE_SIGN
    qty = _number(_unsigned(raw.qty) if signed else raw.qty, "qty_base")
    price = _number(raw.price, "price_usd")
    side = side_liquidated(
        spec.side_field,
        str(raw.qty) if signed else raw.side if isinstance(raw.side, str) else None,
        raw.pos_side if isinstance(raw.pos_side, str) else None,
    )
    if side is None:
        raise InvalidValue(
            "side_liquidated",
            f"cannot tell the liquidated side from side={raw.side!r} posSide={raw.pos_side!r}",
        )
    market = resolve_market(spec, markets, market_id)
    qty_base, notional = _sizes(spec.qty_unit, market, qty, price)
    event_id = raw.venue_event_id or stable_event_id(
        spec.venue, market_id, ts, str(raw.price), str(raw.qty), str(raw.pos_side or raw.side)
    )
    # The record contract validates the rest (ts range, far future, finiteness).
    return Liquidation.from_dict(
        {
            "schema_version": 1,
            "ts_ms": ts,
            "source": spec.source,
            "exchange": spec.venue.value,
            "symbol": market.symbol,
            "base": market.base,
            "side_liquidated": side.value,
            "qty_base": qty_base,
            "price_usd": price,
            "notional_usd": round(notional, 8),
            "event_id": event_id,
            "lower_bound": spec.lower_bound,
        },
        now_ms=now_ms,
        max_future_ms=max_future_ms,
    )
