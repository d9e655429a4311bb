"""The message codec: one input message's bytes to validated records (or named rejects).

``decode`` a single record message, ``decode_frame`` every item of a frame (a JSON array of
records), ``encode_frame`` to build one; ``RECORD_TYPES`` names every record type. This is the
per-item path, which names the field and rule of each reject; ``wire`` holds the worker's
one-pass fast path for messages of plain valid records.
"""

from __future__ import annotations

from typing import Any

import orjson

from streams.records.errors import MalformedRecord, RecordError, TooLarge, UnknownKind
from streams.records.fields import DEFAULT_MAX_FUTURE_MS, MAX_FRAME_ITEMS, MAX_MESSAGE_BYTES, R
from streams.records.inputs import FundingObservation, Heartbeat, Liquidation, PriceTick
from streams.records.outputs import AlertEvent, DeadLetter, ShockSignal

InputRecord = PriceTick | Liquidation | FundingObservation
RECORD_TYPES: dict[str, type[Any]] = {
    "price": PriceTick,
    "liquidation": Liquidation,
    "funding": FundingObservation,
    "signal": ShockSignal,
    "alert": AlertEvent,
    "dead_letter": DeadLetter,
}


def loads(raw: bytes | str) -> dict[str, Any]:
    """Parse one message's bytes into a JSON object, or raise ``MalformedRecord``."""
    obj = _parse(raw)
    if not isinstance(obj, dict):
        raise MalformedRecord("$", f"must be a JSON object, got {type(obj).__name__}")
    return obj


def _parse(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedRecord("$", f"not valid JSON ({exc.msg} at byte {exc.pos})") from None


def from_obj(
    record_type: type[R],
    obj: Any,
    now_ms: int | None = None,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
) -> R | Heartbeat:
    """Validate one parsed JSON value: a record of ``record_type`` or an in-band heartbeat."""
    if not isinstance(obj, dict):
        raise MalformedRecord("$", f"must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    if kind is not None:
        if kind == "heartbeat":
            return Heartbeat.from_dict(obj, now_ms, max_future_ms)
        raise UnknownKind("kind", f"unknown control record kind {kind!r}")
    return record_type.from_dict(obj, now_ms, max_future_ms)  # type: ignore[attr-defined, no-any-return]


def decode(
    record_type: type[R],
    raw: bytes | str,
    now_ms: int | None = None,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
) -> R | Heartbeat:
    """Decode and validate one record message of an input topic (a record or a heartbeat)."""
    return from_obj(record_type, loads(raw), now_ms, max_future_ms)


def is_frame(raw: bytes | None) -> bool:
    return bool(raw) and raw[:1] == b"["  # type: ignore[index]


def encode_frame(events: list[bytes]) -> bytes:
    """Frame several encoded records of one key into one message: a JSON array."""
    return b"[" + b",".join(events) + b"]"


def frame_items(raw: bytes) -> list[Any]:
    """The parsed items of one input message: a frame's, or the one record's (raises
    ``MalformedRecord`` when it is not JSON at all). Each item still has to be validated
    (``from_obj``, as ``decode_frame`` does)."""
    obj = _parse(raw)
    return obj if type(obj) is list else [obj]


def decode_frame(
    record_type: type[R],
    raw: bytes,
    now_ms: int | None = None,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
) -> list[tuple[Any, R | Heartbeat | RecordError]]:
    """Every item of a message, validated one by one: a plain record message is a frame of one.

    A frame (a JSON array of records sharing one key, one minute of event time) is how a source
    that naturally batches — a websocket push, a set of bars, a scenario load — sends several
    events in one Kafka message; each item is still validated, and rejected, on its own.
    Returns (parsed item, record or the error) pairs; a message that is not JSON at all is one
    item whose error is ``MalformedRecord``.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        return [(None, TooLarge("value", f"{len(raw)} bytes, more than {MAX_MESSAGE_BYTES}"))]
    try:
        items = frame_items(raw)
    except MalformedRecord as exc:
        return [(None, exc)]
    if len(items) > MAX_FRAME_ITEMS:
        return [(None, TooLarge("value", f"a frame of {len(items)} items, more than "
                                         f"{MAX_FRAME_ITEMS}"))]  # fmt: skip
    out: list[tuple[Any, R | Heartbeat | RecordError]] = []
    append, from_dict = out.append, record_type.from_dict  # type: ignore[attr-defined]
    for item in items:
        try:
            if type(item) is dict and "kind" not in item:  # a plain record: from_obj's common case
                append((item, from_dict(item, now_ms, max_future_ms)))
            else:
                append((item, from_obj(record_type, item, now_ms, max_future_ms)))
        except RecordError as exc:
            append((item, exc))
    return out
