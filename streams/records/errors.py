"""The record errors: every reject names its field and its rule.

A ``RecordError`` subclass per rule; its ``reason`` is the dead-letter reason and a metric label,
so the set (``REJECT_REASONS``) is closed. Raised by the field readers (``fields``), the records'
``from_dict`` (``inputs``, ``outputs``), the codec (``codec``) and the detector (``LateEvent``,
``ImplausibleTime``, ``DuplicateEvent``).
"""

from __future__ import annotations

from typing import ClassVar

# ---------------------------------------------------------------------------------------------
# Errors: every reject names its field and its rule (the rule is the DLQ "reason" and a metric
# label, so the set is closed).


class RecordError(ValueError):
    reason: ClassVar[str] = "invalid_record"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class MalformedRecord(RecordError):
    reason = "malformed"


class MissingField(RecordError):
    reason = "missing_field"


class WrongType(RecordError):
    reason = "wrong_type"


class InvalidValue(RecordError):
    reason = "invalid_value"


class FarFuture(InvalidValue):
    reason = "far_future"


class ImplausibleValue(InvalidValue):
    """A well-formed value outside what the world allows (a unit changed at the source, a
    bad print): raised by the producers' plausibility bands (``producers/plausibility.py``)."""

    reason = "implausible_value"


class TooLong(InvalidValue):
    """A string field longer than ``MAX_TEXT_LEN``: no symbol, venue or id is that long, and
    such values would otherwise reach state, logs and metric labels."""

    reason = "too_long"


class TooLarge(RecordError):
    """A message over ``MAX_MESSAGE_BYTES`` or a frame of more than ``MAX_FRAME_ITEMS``."""

    reason = "too_large"


class UnknownKind(RecordError):
    reason = "unknown_kind"


class LateEvent(RecordError):
    """Raised by the detector, not the codec: an event behind the evaluated watermark."""

    reason = "late_event"


class ImplausibleTime(InvalidValue):
    """Raised by the detector: a record far ahead of its partition's time that the records
    after it did not confirm (one bad clock would otherwise seal the partition's future)."""

    reason = "implausible_time"


class DuplicateEvent(RecordError):
    """Raised by the detector: a liquidation whose ``event_id`` its partition already filed
    (a producer re-sent its batch). Dropped and counted, not dead-lettered."""

    reason = "duplicate"


REJECT_REASONS: tuple[str, ...] = (
    MalformedRecord.reason,
    MissingField.reason,
    WrongType.reason,
    InvalidValue.reason,
    FarFuture.reason,
    ImplausibleValue.reason,
    TooLong.reason,
    TooLarge.reason,
    UnknownKind.reason,
    LateEvent.reason,
    DuplicateEvent.reason,
    ImplausibleTime.reason,
)
