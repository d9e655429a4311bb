"""Dead letters: a rejected message, with the rule it broke and where it came from.

A letter always fits the topic: the value kept is at most ``MAX_VALUE_BYTES`` (a longer one is
cut, with its full length and SHA-256 beside it, and topic, partition and offset to fetch the
original), so a 1 MB poison message cannot make its own letter too large to write.
"""

from __future__ import annotations

import base64
import hashlib
import time

from streams.records import DeadLetter, RecordError

MAX_VALUE_BYTES = 64 * 1024  # base64 makes it ~87 KB: far under any broker's message limit


def dead_letter(
    *,
    source_topic: str,
    value: bytes,
    error: RecordError,
    source: str,
    key: bytes | None = None,
    partition: int | None = None,
    offset: int | None = None,
    ts_ms: int | None = None,
    frame_index: int | None = None,
) -> DeadLetter:
    truncated = len(value) > MAX_VALUE_BYTES
    kept = value[:MAX_VALUE_BYTES] if truncated else value
    return DeadLetter(
        ts_ms=int(time.time() * 1000) if ts_ms is None else ts_ms,
        source=source,
        source_topic=source_topic,
        reason=error.reason,
        error=str(error),
        error_field=error.field,
        value_b64=base64.b64encode(kept).decode(),
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        partition=partition,
        offset=offset,
        frame_index=frame_index,
        value_len=len(value),
        value_sha256=hashlib.sha256(value).hexdigest(),
        truncated=truncated,
    )
