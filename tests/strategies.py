"""What the property tests share: hypothesis profiles, the checks every property makes, JSON
strategies, the worker-path documents and the document-mutation helpers.

The properties (tests/unit/test_*_properties.py, one file per module under test): malformed,
truncated, wrong-typed, NaN/inf/negative, huge, far-future and out-of-order input never crashes
anything; it is accepted, or rejected by the named rule.

Known bugs in code a property file does not own are pinned by ``xfail(strict=True)`` regression
tests in that file (each names the file, the input and the fix); fixed ones stay as
``test_fixed_bug_*`` regression tests. The properties keep testing everything else: the
producers' properties skip exactly those inputs with a named predicate (``known_bug_*``); the
worker-path streams keep good values in realistic ranges (no 1e307 USD notional) and put the
oldest event first (the detector's cold-start rule). When a fix lands, the regression test
XPASSes (a failure, as strict): remove its marker and widen the property.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from common.settings import AlertSettings, DetectionSettings, Settings
from streams.records import MIN_TS_MS, REJECT_REASONS, Heartbeat, RecordError, decode
from streams.topics import TopicNames

# Deterministic in CI (no flaky red builds); exploring with fresh seeds on developers' machines.
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
QUICK = settings(FAST, max_examples=120)
SLOW = settings(FAST, max_examples=25)

NOW = 1_762_300_000_000  # 2025-11-04 23:46 UTC: the codec's "now" for decoder tests
T0 = 1_762_268_400_000  # 2025-11-04 15:00 UTC: start of the worker-path event streams
MIN = 60_000
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "providers"
NAMES = TopicNames("p.")
# These properties model lateness and rejects over arbitrarily ordered streams, where jumps of
# many minutes are the norm: the hold of far-ahead records (``max_jump_s``) is tested apart.
RT_SETTINGS = Settings(detection=DetectionSettings(alerts=AlertSettings(max_jump_s=10**8)))


HEARTBEAT: dict[str, Any] = {
    "kind": "heartbeat",
    "schema_version": 1,
    "ts_ms": 1_762_268_460_000,
    "source": "t",
}


# ---------------------------------------------------------------------------------------------
# Checks shared by every property


def check_reject(exc: BaseException) -> RecordError:
    """Only a ``RecordError`` with a reason from the closed set and a named field is allowed."""
    assert isinstance(exc, RecordError), f"{type(exc).__name__}: {exc}"
    assert exc.reason in REJECT_REASONS, exc.reason
    assert isinstance(exc.field, str), exc.field
    assert exc.field, "a reject must name its field"
    return exc


def outcome(fn: Callable[[], Any]) -> Any:
    """``fn()``'s value, or the ``RecordError`` it raised; any other exception fails the test."""
    try:
        return fn()
    except RecordError as exc:
        return check_reject(exc)


def check_accepted(record_type: type, value: Any) -> None:
    """An accepted record is a fully validated instance that round-trips through the codec."""
    assert isinstance(value, record_type | Heartbeat), type(value)
    assert value.ts_ms >= MIN_TS_MS
    for name in ("price_usd", "qty_base", "notional_usd", "value", "open_usd", "volume"):
        x = getattr(value, name, None)
        if x is not None:
            assert math.isfinite(x) and x >= 0, (name, x)
    again = decode(type(value), value.encode(), now_ms=NOW)
    assert again == value


# ---------------------------------------------------------------------------------------------
# Strategies

# Values as JSON (orjson, the wire codec) can carry them, and then some Python can only hand in.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


# ---------------------------------------------------------------------------------------------
# Worker-path documents: valid events of each input topic


SYMBOLS = {
    "SPX": "equity_index",
    "NVDA": "ai_equity",
    "XAU": "gold",
    "BTC": "crypto",
    "ETH": "crypto",
    "VIX": "volatility",
}
SERIES = {
    "SOFR": "pct",
    "IORB": "pct",
    "SRF_TAKEUP": "usd_bn",
    "ON_RRP_AMOUNT": "usd_bn",
    "RESERVES": "usd_bn",
    "TGA": "usd_bn",
}


def price_doc(ts: int, symbol: str, price: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ts_ms": ts,
        "source": "t",
        "symbol": symbol,
        "asset_class": SYMBOLS[symbol],
        "price_usd": price,
    }


def liq_doc(ts: int, venue: str, long: bool, notional: float, n: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ts_ms": ts,
        "source": "t",
        "exchange": venue,
        "symbol": "BTC/USDT:USDT",
        "base": "BTC",
        "side_liquidated": "long" if long else "short",
        "qty_base": notional / 100_000.0,
        "price_usd": 100_000.0,
        "notional_usd": notional,
        "event_id": f"{venue}:{n}",
        "lower_bound": venue == "binanceusdm",
    }


def fund_doc(ts: int, series: str, day: int, value: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ts_ms": ts,
        "source": "t",
        "series": series,
        "observation_date": f"2025-11-{day:02d}",
        "value": value,
        "unit": SERIES[series],
    }


def hb_doc(ts: int) -> dict[str, Any]:
    return {**HEARTBEAT, "ts_ms": ts}


# ---------------------------------------------------------------------------------------------
# Provider documents: mutating one path of a sample push or document


def json_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(json_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(json_paths(v, (*prefix, i)))
    return out


def replace_at(obj: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(obj) if isinstance(obj, dict) else list(obj)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = replace_at(copy[head], rest, value, delete)
    return copy


venue_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "0",
            "-1",
            "1e999",
            "nan",
            "NaN",
            "inf",
            "",
            " ",
            "0x10",
            "1_000",
            "٣",
            "²",
            "①",
            "Sell",
            "net",
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)


def leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in leaves(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in leaves(v)]
    return [obj]
