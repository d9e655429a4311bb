"""The records' vocabulary and field readers: what every record module builds on.

The schema version and the bounds of the input contract (the same in both validation paths:
the readers here and the msgspec wire pass in ``wire``), the enumerations, the strict field
readers (each names the field it read and raises the ``errors`` rule it broke) and ``_Codec``,
the compact JSON encoding every record shares.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import orjson

from streams.records.errors import FarFuture, InvalidValue, MissingField, TooLong, WrongType

SCHEMA_VERSION = 1
# Nothing shockwatch watches predates 2000-01-01; an older ts_ms is a unit error (seconds?).
MIN_TS_MS = 946_684_800_000
DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000

E = TypeVar("E", bound=StrEnum)
R = TypeVar("R")


class AssetClass(StrEnum):
    EQUITY_INDEX = "equity_index"
    AI_EQUITY = "ai_equity"
    GOLD = "gold"
    CRYPTO = "crypto"
    VOLATILITY = "volatility"


_ASSET_CLASSES = {m.value: m for m in AssetClass}


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"


_SIDES = {m.value: m for m in Side}


class Unit(StrEnum):
    PCT = "pct"
    USD_BN = "usd_bn"


# The funding series the detector reads and the exporter exports, by unit: rates in percent,
# amounts in billions of USD (the funding panel lists their values in this order).
RATE_SERIES: tuple[str, ...] = ("SOFR", "IORB", "EFFR", "TARGET_UPPER", "TARGET_LOWER")
AMOUNT_SERIES: tuple[str, ...] = ("SRF_TAKEUP", "ON_RRP_AMOUNT", "RESERVES", "TGA")
FUNDING_SERIES: tuple[str, ...] = RATE_SERIES + AMOUNT_SERIES


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Regime(StrEnum):
    PLUMBING = "plumbing"
    REPRICING = "repricing"
    MIXED = "mixed"
    CALM = "calm"


# ---------------------------------------------------------------------------------------------
# Field readers: small, strict, and each names the field it read.


def _get(d: Mapping[str, Any], name: str) -> Any:
    try:
        value = d[name]
    except KeyError:
        raise MissingField(name, "is required") from None
    if value is None:
        raise MissingField(name, "is required (got null)")
    return value


def _int(d: Mapping[str, Any], name: str) -> int:
    value = _get(d, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongType(name, f"must be an integer, got {type(value).__name__}")
    return value


# Bounds that no real observation reaches: beyond them a number is a unit or encoding error,
# and arithmetic on it (cents, logs) would overflow.
MAX_NUMBER = 1e15
# Bounds of the input contract, the same in both validation paths (the readers below and the
# msgspec wire pass): every string field, a whole message, the items of one frame.
MAX_TEXT_LEN = 128
MAX_MESSAGE_BYTES = 1_000_000
MAX_FRAME_ITEMS = 10_000
MAX_PRICE_USD = 1e9
MIN_PRICE_USD = 1e-12


def _float(
    d: Mapping[str, Any],
    name: str,
    *,
    positive: bool = False,
    lo: float = 0.0,
    hi: float = MAX_NUMBER,
) -> float:
    value = _get(d, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongType(name, f"must be a number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:
        raise InvalidValue(name, "is too large") from None
    if not math.isfinite(value):
        raise InvalidValue(name, f"must be finite, got {value}")
    if positive and value <= 0:
        raise InvalidValue(name, f"must be > 0, got {value}")
    if value < lo:
        raise InvalidValue(name, f"must be >= {lo:g}, got {value}")
    if value > hi:
        raise InvalidValue(name, f"must be <= {hi:g}, got {value}")
    return value


def _opt_float(d: Mapping[str, Any], name: str) -> float | None:
    if d.get(name) is None:
        return None
    return _float(d, name)


def _str(d: Mapping[str, Any], name: str) -> str:
    value = _get(d, name)
    if not isinstance(value, str):
        raise WrongType(name, f"must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidValue(name, "must not be empty")
    return value


def _text(d: Mapping[str, Any], name: str) -> str:
    """A string field of an input record: non-empty and at most ``MAX_TEXT_LEN`` long."""
    value = _str(d, name)
    if len(value) > MAX_TEXT_LEN:
        raise TooLong(name, f"{len(value)} characters, more than {MAX_TEXT_LEN}")
    return value


def _bool(d: Mapping[str, Any], name: str) -> bool:
    value = _get(d, name)
    if not isinstance(value, bool):
        raise WrongType(name, f"must be true or false, got {type(value).__name__}")
    return value


def _enum(d: Mapping[str, Any], name: str, enum: type[E]) -> E:
    value = _str(d, name)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidValue(name, f"unknown value {value!r} (allowed: {allowed})") from None


def _ts(d: Mapping[str, Any], now_ms: int | None, max_future_ms: int) -> int:
    ts = _int(d, "ts_ms")
    if ts < MIN_TS_MS:
        raise InvalidValue("ts_ms", f"{ts} is before 2000-01-01 (seconds instead of ms?)")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if ts > now + max_future_ms:
        raise FarFuture("ts_ms", f"{ts} is {(ts - now) / 1000:.0f} s in the future")
    return ts


def _header(d: Mapping[str, Any], now_ms: int | None, max_future_ms: int) -> tuple[int, str]:
    version = _int(d, "schema_version")
    if version != SCHEMA_VERSION:
        raise InvalidValue("schema_version", f"unsupported version {version}")
    return _ts(d, now_ms, max_future_ms), _text(d, "source")


def _date(d: Mapping[str, Any], name: str) -> str:
    value = _str(d, name)
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(name, f"must be a YYYY-MM-DD date, got {value!r}") from None
    if len(value) != 10:
        raise InvalidValue(name, f"must be a YYYY-MM-DD date, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# The codec mix-in of every record (``inputs``, ``outputs``)


def _plain(value: Any) -> Any:
    """A field's JSON form: a panel's (anything with ``to_dict``), or a dict or list of them."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Codec:
    """Mix-in: compact JSON encoding of a slotted dataclass, ``None`` optionals left out."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())


class _PanelCodec(_Codec):
    """The codec of a record that holds typed panels (``panels``: the outputs' signals and
    alerts): each panel is written as its ``to_dict``. The input records hold plain values
    only and keep the plain loop, which the producers run once per message."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = _plain(value)
        return out
