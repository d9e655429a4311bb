"""Hand-made scenarios for tests: small, exact, written in the public scenario format."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from streams.instruments import CLASS_OF
from streams.scenario import parse_time_ms

MIN_MS = 60_000


def write_scenario(
    folder: Path,
    *,
    start: str,
    minutes: int,
    moves_pct: dict[str, float],
    liq_usd_per_min: float = 0.0,
    liq_wave: tuple[int, int, float] | None = None,
    funding: list[dict[str, Any]] | None = None,
    expect: dict[str, Any] | None = None,
    name: str = "hand-made",
) -> Path:
    """Linear-in-log price paths reaching ``moves_pct`` at the end, one bar a minute for every
    symbol; ``liq_usd_per_min`` of liquidations a minute plus an optional wave
    (from_minute, to_minute, usd_per_min); funding rows as given."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = parse_time_ms(start)
    end_ms = t0 + minutes * MIN_MS
    prices, liqs = [], []
    for m in range(1, minutes + 1):
        ts = t0 + m * MIN_MS
        for sym, pct in moves_pct.items():
            p0 = 100.0
            price = p0 * math.exp(math.log1p(pct / 100.0) * m / minutes)
            prices.append(
                {
                    "schema_version": 1,
                    "ts_ms": ts,
                    "source": "test",
                    "symbol": sym,
                    "asset_class": CLASS_OF[sym].value,
                    "price_usd": round(price, 6),
                    "interval_s": 60,
                }
            )
        usd = liq_usd_per_min
        if liq_wave and liq_wave[0] <= m < liq_wave[1]:
            usd += liq_wave[2]
        if usd > 0:
            for i, venue in enumerate(("binanceusdm", "bybit", "okx")):
                share = usd / 3
                liqs.append(
                    {
                        "schema_version": 1,
                        "ts_ms": ts - 30_000 + i,
                        "source": f"ccxt:{venue}",
                        "exchange": venue,
                        "symbol": "BTC/USDT:USDT",
                        "base": "BTC",
                        "side_liquidated": "long",
                        "qty_base": share / 100_000,
                        "price_usd": 100_000.0,
                        "notional_usd": share,
                        "event_id": f"{venue}:{ts}:{i}",
                        "lower_bound": venue == "binanceusdm",
                    }
                )
    _write(folder / "prices.jsonl", prices)
    _write(folder / "liquidations.jsonl", liqs)
    _write(folder / "funding.jsonl", sorted(funding or [], key=lambda r: r["ts_ms"]))
    lines = [
        f'name = "{name}"',
        'description = "hand-made test scenario"',
        f'start = "{start}"',
        f'end = "{_iso(end_ms)}"',
        "synthesized = true",
        "",
    ]
    if expect:
        lines.append("[expect]")
        for k, v in expect.items():
            lines.append(f"{k} = {orjson.dumps(v).decode()}")
    (folder / "scenario.toml").write_text("\n".join(lines) + "\n")
    return folder


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def funding_row(series: str, date: str, value: float, published: str, unit: str = "pct") -> dict:
    return {
        "schema_version": 1,
        "ts_ms": parse_time_ms(published),
        "source": "test",
        "series": series,
        "observation_date": date,
        "value": value,
        "unit": unit,
        "revision": 0,
    }


def stressed_funding(day: str = "2025-11-03", published: str = "2025-11-04T00:00:00Z") -> list:
    rows = [
        funding_row("SOFR", day, 4.22, published),
        funding_row("IORB", day, 3.90, published),
        funding_row("TARGET_LOWER", day, 3.75, published),
        funding_row("TARGET_UPPER", day, 4.00, published),
        funding_row("SRF_TAKEUP", day, 50.35, published, "usd_bn"),
        funding_row("ON_RRP_AMOUNT", day, 20.0, published, "usd_bn"),
        funding_row("RESERVES", day, 2850.0, published, "usd_bn"),
        funding_row("TGA", day, 1000.0, published, "usd_bn"),
    ]
    return rows


SELLOFF = {"SPX": -2, "IXIC": -3, "NVDA": -5, "PLTR": -9, "XAU": -2, "BTC": -7, "ETH": -9}


def selloff_session(folder: Path, minutes: int = 390) -> Path:
    """A US session from 14:30 UTC in which every class falls, with a liquidation wave from
    minute 120 and stressed funding: it fires a critical alert."""
    return write_scenario(
        folder,
        start="2025-11-04T14:30:00Z",
        minutes=minutes,
        moves_pct=SELLOFF,
        liq_usd_per_min=200_000,
        liq_wave=(120, min(300, minutes - 20), 5_000_000),
        funding=stressed_funding(),
    )
