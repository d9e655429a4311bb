"""The worker's output records: signals, alerts and dead letters.

``ShockSignal`` (one evaluation tick, to ``shock.signals``), ``AlertEvent`` (an alert episode's
transitions, to ``shock.alerts``) and ``DeadLetter`` (a rejected message with its reason, to
``<topic>.dlq``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from common.fmt import fmt_time
from streams.records.fields import (
    SCHEMA_VERSION,
    AlertState,
    Regime,
    Severity,
    _Codec,
    _enum,
    _float,
    _get,
    _int,
    _PanelCodec,
    _str,
)
from streams.records.panels import AssetView, ClassPanel, Evidence, FundingPicture, LiqPanel


@dataclass(frozen=True, slots=True)
class ShockSignal(_PanelCodec):
    """One evaluation tick: the scored state of the world at ``ts_ms`` (event time)."""

    ts_ms: int
    scope: str
    score: float
    regime: Regime
    components: dict[str, float | None]
    breadth: float
    comovement: float | None
    classes: ClassPanel
    assets: dict[str, AssetView]
    liquidations: LiqPanel
    funding: FundingPicture
    alert_state: str  # "ok", "pending", or the open episode's severity
    alert_id: str | None = None
    source: str = "shockwatch"
    schema_version: int = SCHEMA_VERSION
    # Input partitions left out of this tick's watermark as idle (a silent feed; live only).
    idle_partitions: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.scope

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **_: Any) -> Self:
        return cls(
            ts_ms=_int(d, "ts_ms"),
            scope=_str(d, "scope"),
            score=float(_get(d, "score")),
            regime=_enum(d, "regime", Regime),
            components=dict(_get(d, "components")),
            breadth=float(_get(d, "breadth")),
            comovement=d.get("comovement"),
            classes=ClassPanel.from_dict(_get(d, "classes")),
            assets={s: AssetView.from_dict(v) for s, v in _get(d, "assets").items()},
            liquidations=LiqPanel.from_dict(_get(d, "liquidations")),
            funding=FundingPicture.from_dict(_get(d, "funding")),
            alert_state=_str(d, "alert_state"),
            alert_id=d.get("alert_id"),
            source=d.get("source", "shockwatch"),
            idle_partitions=list(d.get("idle_partitions") or []),
        )


@dataclass(frozen=True, slots=True)
class AlertEvent(_PanelCodec):
    """A state transition of one alert episode: ``firing`` (per severity) or ``resolved``."""

    ts_ms: int
    alert_id: str
    state: AlertState
    severity: Severity
    regime: Regime
    score: float
    started_ts_ms: int
    headline: str
    evidence: Evidence = field(default_factory=Evidence)
    scope: str = "global"
    source: str = "shockwatch"
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> str:
        return self.alert_id

    @property
    def delivery_key(self) -> str:
        """What Slack de-duplicates on: one message per alert id, state and severity."""
        return f"{self.alert_id}:{self.state}:{self.severity}"

    @property
    def event_time(self) -> str:
        """The transition's event time in UTC to the minute: "2025-11-04 15:15 UTC"."""
        return fmt_time(self.ts_ms)

    def line(self) -> str:
        """The transition in one line of plain text, its event time first (what the worker
        logs and the commands print)."""
        return (
            f"{self.event_time}  {str(self.state).upper():8} {self.severity!s:8} "
            f"{self.alert_id}  {self.headline}"
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **_: Any) -> Self:
        return cls(
            ts_ms=_int(d, "ts_ms"),
            alert_id=_str(d, "alert_id"),
            state=_enum(d, "state", AlertState),
            severity=_enum(d, "severity", Severity),
            regime=_enum(d, "regime", Regime),
            score=_float(d, "score"),
            started_ts_ms=_int(d, "started_ts_ms"),
            headline=_str(d, "headline"),
            evidence=Evidence.from_dict(d.get("evidence") or {}),
            scope=d.get("scope", "global"),
            source=d.get("source", "shockwatch"),
        )


@dataclass(frozen=True, slots=True)
class DeadLetter(_Codec):
    """A rejected message, kept whole (base64) with why and where it came from."""

    ts_ms: int
    source: str
    source_topic: str
    reason: str
    error: str
    error_field: str | None
    value_b64: str
    key_b64: str | None = None
    partition: int | None = None
    offset: int | None = None
    # Position in a framed message (a JSON array of records); value_b64 is then that item alone.
    frame_index: int | None = None
    # The kept value is at most ``dlq.MAX_VALUE_BYTES``: a longer one is cut, and its full
    # length and SHA-256 say what it was (topic, partition and offset say where to fetch it).
    value_len: int | None = None
    value_sha256: str | None = None
    truncated: bool = False
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **_: Any) -> Self:
        return cls(
            frame_index=d.get("frame_index"),
            ts_ms=_int(d, "ts_ms"),
            source=_str(d, "source"),
            source_topic=_str(d, "source_topic"),
            reason=_str(d, "reason"),
            error=_str(d, "error"),
            error_field=d.get("error_field"),
            value_b64=_get(d, "value_b64"),
            key_b64=d.get("key_b64"),
            partition=d.get("partition"),
            offset=d.get("offset"),
            value_len=d.get("value_len"),
            value_sha256=d.get("value_sha256"),
            truncated=bool(d.get("truncated", False)),
        )
