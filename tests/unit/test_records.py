"""Every record round-trips through its codec; every validation rule names its field."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import orjson
import pytest

from shockwatch.cli.sample import sample_outputs
from streams.records import (
    AlertEvent,
    DeadLetter,
    Evidence,
    FarFuture,
    FundingObservation,
    Heartbeat,
    InvalidValue,
    Liquidation,
    MalformedRecord,
    MissingField,
    PriceTick,
    ShockSignal,
    UnknownKind,
    WrongType,
    decode,
)

NOW = 1_762_300_000_000  # 2025-11-05

PRICE: dict[str, Any] = {
    "schema_version": 1,
    "ts_ms": 1_762_268_460_000,
    "source": "yfinance",
    "symbol": "SPX",
    "asset_class": "equity_index",
    "price_usd": 6771.55,
    "interval_s": 60,
    "open_usd": 6772.0,
    "high_usd": 6775.0,
    "low_usd": 6770.1,
}
LIQ: dict[str, Any] = {
    "schema_version": 1,
    "ts_ms": 1_762_268_460_123,
    "source": "ccxt:bybit",
    "exchange": "bybit",
    "symbol": "BTC/USDT:USDT",
    "base": "BTC",
    "side_liquidated": "long",
    "qty_base": 0.5,
    "price_usd": 101_000.0,
    "notional_usd": 50_500.0,
    "event_id": "bybit:1",
    "lower_bound": False,
}
FUND: dict[str, Any] = {
    "schema_version": 1,
    "ts_ms": 1_762_261_200_000,
    "source": "fred",
    "series": "SOFR",
    "observation_date": "2025-11-03",
    "value": 4.13,
    "unit": "pct",
    "revision": 0,
}


def enc(d: dict[str, Any]) -> bytes:
    return orjson.dumps(d)


@pytest.mark.parametrize(
    ("cls", "raw"), [(PriceTick, PRICE), (Liquidation, LIQ), (FundingObservation, FUND)]
)
def test_input_records_round_trip(cls: type, raw: dict[str, Any]) -> None:
    record = decode(cls, enc(raw), now_ms=NOW)
    assert isinstance(record, cls)
    again = decode(cls, record.encode(), now_ms=NOW)
    assert again == record
    assert orjson.loads(record.encode()) == raw


def test_keys_partition_state_cleanly() -> None:
    assert decode(PriceTick, enc(PRICE), now_ms=NOW).key == "SPX"
    assert decode(Liquidation, enc(LIQ), now_ms=NOW).key == "bybit:BTC/USDT:USDT"
    assert decode(FundingObservation, enc(FUND), now_ms=NOW).key == "SOFR:2025-11-03"


def test_output_records_round_trip() -> None:
    alert = AlertEvent(
        ts_ms=1,
        alert_id="sw-x",
        state="firing",
        severity="critical",
        regime="plumbing",  # type: ignore[arg-type]
        score=80.0,
        started_ts_ms=0,
        headline="h",
        evidence=Evidence(score=80.0),
    )
    assert AlertEvent.from_dict(orjson.loads(alert.encode())) == alert
    assert alert.delivery_key == "sw-x:firing:critical"
    assert (
        AlertEvent.from_dict(orjson.loads(replace(alert, evidence=Evidence()).encode())).evidence
        == Evidence()
    )
    for out in sample_outputs():  # every panel, as the detector fills them
        signal = out.signal
        assert ShockSignal.from_dict(orjson.loads(signal.encode())) == signal
        assert ShockSignal.from_dict(orjson.loads(signal.encode())).encode() == signal.encode()
        for a in out.alerts:
            assert AlertEvent.from_dict(orjson.loads(a.encode())).encode() == a.encode()
    letter = DeadLetter(
        ts_ms=1,
        source="s",
        source_topic="t",
        reason="r",
        error="e",
        error_field="f",
        value_b64="eA==",
        key_b64=None,
        partition=0,
        offset=3,
    )
    assert DeadLetter.from_dict(orjson.loads(letter.encode())) == letter


def bad(base: dict[str, Any], **changes: Any) -> bytes:
    d = dict(base)
    for k, v in changes.items():
        if v is ...:
            d.pop(k)
        else:
            d[k] = v
    return enc(d)


@pytest.mark.parametrize(
    ("cls", "raw", "error", "field"),
    [
        (PriceTick, bad(PRICE, price_usd=float("nan")), MissingField, "price_usd"),
        (PriceTick, bad(PRICE, price_usd=-1.0), InvalidValue, "price_usd"),
        (PriceTick, bad(PRICE, price_usd=0.0), InvalidValue, "price_usd"),
        (PriceTick, bad(PRICE, asset_class="bond"), InvalidValue, "asset_class"),
        (PriceTick, bad(PRICE, symbol=...), MissingField, "symbol"),
        (PriceTick, bad(PRICE, symbol=None), MissingField, "symbol"),
        (PriceTick, bad(PRICE, ts_ms="2025-11-04"), WrongType, "ts_ms"),
        (PriceTick, bad(PRICE, ts_ms=NOW + 3_600_000), FarFuture, "ts_ms"),
        (PriceTick, bad(PRICE, ts_ms=1_762_268_460), InvalidValue, "ts_ms"),
        (PriceTick, bad(PRICE, price_usd="1.0"), WrongType, "price_usd"),
        (PriceTick, bad(PRICE, price_usd=True), WrongType, "price_usd"),
        (PriceTick, bad(PRICE, interval_s=-60), InvalidValue, "interval_s"),
        (PriceTick, bad(PRICE, schema_version=2), InvalidValue, "schema_version"),
        (Liquidation, bad(LIQ, side_liquidated="buy"), InvalidValue, "side_liquidated"),
        (Liquidation, bad(LIQ, notional_usd=-5.0), InvalidValue, "notional_usd"),
        (Liquidation, bad(LIQ, lower_bound="yes"), WrongType, "lower_bound"),
        (Liquidation, bad(LIQ, event_id=""), InvalidValue, "event_id"),
        (Liquidation, bad(LIQ, exchange=...), MissingField, "exchange"),
        (FundingObservation, bad(FUND, unit="bps"), InvalidValue, "unit"),
        (
            FundingObservation,
            bad(FUND, observation_date="11/03/2025"),
            InvalidValue,
            "observation_date",
        ),
        (FundingObservation, bad(FUND, value=...), MissingField, "value"),
        (PriceTick, b'{"schema_version":1,', MalformedRecord, "$"),
        (PriceTick, b"[1,2,3]", MalformedRecord, "$"),
        (PriceTick, b'{"kind":"snapshot","ts_ms":1}', UnknownKind, "kind"),
    ],
)
def test_validation_rejects_with_named_field(
    cls: type, raw: bytes, error: type | None, field: str
) -> None:
    with pytest.raises(InvalidValue if error is None else error) as info:
        decode(cls, raw, now_ms=NOW)
    assert info.value.field == field
    assert field in str(info.value)


def test_nan_literal_is_malformed() -> None:
    # JSON has no NaN: a producer writing the literal sends malformed JSON, never a crash.
    with pytest.raises(MalformedRecord):
        decode(PriceTick, enc(PRICE).replace(b"6771.55", b"NaN"), now_ms=NOW)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_invalid(value: float) -> None:
    with pytest.raises(InvalidValue) as info:
        PriceTick.from_dict({**PRICE, "price_usd": value}, now_ms=NOW)
    assert info.value.field == "price_usd"


def test_heartbeat_is_recognised() -> None:
    hb = decode(PriceTick, Heartbeat(ts_ms=NOW, source="x").encode(), now_ms=NOW)
    assert isinstance(hb, Heartbeat)
    assert hb.ts_ms == NOW
