"""Dead letters: a rejected message kept whole, with the rule it broke and where it came from."""

from __future__ import annotations

import base64
import time

from streams.records import DeadLetter, RecordError


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
    return DeadLetter(
        ts_ms=int(time.time() * 1000) if ts_ms is None else ts_ms,
        source=source,
        source_topic=source_topic,
        reason=error.reason,
        error=str(error),
        error_field=error.field,
        value_b64=base64.b64encode(value).decode(),
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        partition=partition,
        offset=offset,
        frame_index=frame_index,
    )
