"""The records that travel on shockwatch's topics: defined once, imported by everyone.

Each record is a frozen, slotted dataclass whose field names carry units (``ts_ms``,
``price_usd``, ``notional_usd``). ``from_dict`` validates on the way in and raises a typed
``RecordError`` naming the field and the rule it broke; ``encode``/``decode`` are the wire codec
(compact JSON via orjson, one record per Kafka message).

Why not ``faust.Record``: validation with named, typed errors is the contract here (every reject
goes to a dead-letter topic with its reason), and faust's model machinery costs several times
more per event than these plain classes on the hot path (see docs/benchmarks.md).

The contract is this package: import every name from ``streams.records``. Its modules, each
importing only the ones before it:

- ``errors``: ``RecordError`` and its rules (``REJECT_REASONS``, the closed set of reasons);
- ``fields``: schema version, bounds, enumerations, the strict field readers, the codec mix-in;
- ``inputs``: ``PriceTick``, ``Liquidation``, ``FundingObservation``, ``Heartbeat``;
- ``panels``: the typed panels of the outputs (``AssetView``, ``ClassPanel``, ``LiqPanel``,
  ``FundingPicture``, ...) and an alert's ``Evidence``;
- ``outputs``: ``ShockSignal``, ``AlertEvent``, ``DeadLetter``;
- ``codec``: a message's bytes to records (``decode``, ``decode_frame``, frames, ``loads``);
- ``wire``: the worker's one-pass fast path (``wire_items``).
"""

from __future__ import annotations

from streams.records.codec import (
    RECORD_TYPES,
    InputRecord,
    decode,
    decode_frame,
    encode_frame,
    frame_items,
    from_obj,
    is_frame,
    loads,
)
from streams.records.errors import (
    REJECT_REASONS,
    DuplicateEvent,
    FarFuture,
    ImplausibleTime,
    ImplausibleValue,
    InvalidValue,
    LateEvent,
    MalformedRecord,
    MissingField,
    RecordError,
    TooLarge,
    TooLong,
    UnknownKind,
    WrongType,
)
from streams.records.fields import (
    DEFAULT_MAX_FUTURE_MS,
    MAX_FRAME_ITEMS,
    MAX_MESSAGE_BYTES,
    MAX_NUMBER,
    MAX_PRICE_USD,
    MAX_TEXT_LEN,
    MIN_PRICE_USD,
    MIN_TS_MS,
    SCHEMA_VERSION,
    AlertState,
    AssetClass,
    Regime,
    Severity,
    Side,
    Unit,
)
from streams.records.inputs import FundingObservation, Heartbeat, Liquidation, PriceTick
from streams.records.outputs import AlertEvent, DeadLetter, ShockSignal
from streams.records.panels import (
    AssetEvidence,
    AssetView,
    ClassPanel,
    ClassView,
    ComponentEvidence,
    Evidence,
    FundingComponent,
    FundingEvidence,
    FundingPicture,
    FundingValue,
    LiqEvidence,
    LiqPanel,
    VenueLiq,
    given,
)
from streams.records.wire import wire_items

__all__ = [
    "DEFAULT_MAX_FUTURE_MS",
    "MAX_FRAME_ITEMS",
    "MAX_MESSAGE_BYTES",
    "MAX_NUMBER",
    "MAX_PRICE_USD",
    "MAX_TEXT_LEN",
    "MIN_PRICE_USD",
    "MIN_TS_MS",
    "RECORD_TYPES",
    "REJECT_REASONS",
    "SCHEMA_VERSION",
    "AlertEvent",
    "AlertState",
    "AssetClass",
    "AssetEvidence",
    "AssetView",
    "ClassPanel",
    "ClassView",
    "ComponentEvidence",
    "DeadLetter",
    "DuplicateEvent",
    "Evidence",
    "FarFuture",
    "FundingComponent",
    "FundingEvidence",
    "FundingObservation",
    "FundingPicture",
    "FundingValue",
    "Heartbeat",
    "ImplausibleTime",
    "ImplausibleValue",
    "InputRecord",
    "InvalidValue",
    "LateEvent",
    "LiqEvidence",
    "LiqPanel",
    "Liquidation",
    "MalformedRecord",
    "MissingField",
    "PriceTick",
    "RecordError",
    "Regime",
    "Severity",
    "ShockSignal",
    "Side",
    "TooLarge",
    "TooLong",
    "Unit",
    "UnknownKind",
    "VenueLiq",
    "WrongType",
    "decode",
    "decode_frame",
    "encode_frame",
    "frame_items",
    "from_obj",
    "given",
    "is_frame",
    "loads",
    "wire_items",
]
