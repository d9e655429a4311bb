"""Minute bars: which are complete, which are new, and their ``PriceTick``.

``ts_ms`` of a tick is the bar's END (open + interval): the close is known only then, so an
event-time consumer never sees a price before it existed. Only complete bars are sent, each
once: ``LastSent`` remembers the end of the last bar sent per symbol (in the state dir, so a
restart does not re-send).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from streams.instruments import Instrument
from streams.records import PriceTick

INTERVAL_S = 60
INTERVAL_MS = INTERVAL_S * 1000


@dataclass(frozen=True, slots=True)
class Bar:
    start_ms: int
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None

    @property
    def end_ms(self) -> int:
        return self.start_ms + INTERVAL_MS


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def select_bars(
    bars: list[Bar], last_end_ms: int | None, clock_ms: int, close_print_ms: int | None = None
) -> tuple[list[Bar], dict[str, int]]:
    """The bars to send now (complete, new, with a close), in time order; and skip counts.

    Rows with the same start are one interval (Yahoo can return the forming interval twice,
    the live copy after the other: yfinance's ``fix_Yahoo_returning_live_separate``): the last
    one stands for it. A bar is complete when it ends at or before ``clock_ms`` (the
    provider's clock) or when a bar of a later interval exists. The bar that starts at the
    session's end (``close_print_ms``: Yahoo's row holding the closing-auction print) is
    complete once the clock has reached its start.
    """
    skipped: dict[str, int] = {}
    out: list[Bar] = []
    by_start: dict[int, Bar] = {}
    for bar in sorted(bars, key=lambda b: b.start_ms):  # stable: a later copy replaces
        if bar.start_ms in by_start:
            skipped["duplicate_interval"] = skipped.get("duplicate_interval", 0) + 1
        by_start[bar.start_ms] = bar
    ordered = list(by_start.values())
    for i, bar in enumerate(ordered):
        if last_end_ms is not None and bar.end_ms <= last_end_ms:
            continue  # sent before: not counted, every poll sees the whole day again
        closing_print = bar.start_ms == close_print_ms and clock_ms >= bar.start_ms
        if bar.end_ms > clock_ms and i == len(ordered) - 1 and not closing_print:
            skipped["incomplete_bar"] = skipped.get("incomplete_bar", 0) + 1
            continue
        if not _ok(bar.close):
            skipped["missing_values"] = skipped.get("missing_values", 0) + 1
            continue
        out.append(bar)
    return out, skipped


def to_tick(inst: Instrument, bar: Bar) -> PriceTick:
    """Validated through the record contract (raises ``RecordError`` on bad numbers)."""
    return PriceTick.from_dict(
        {
            "schema_version": 1,
            "ts_ms": bar.end_ms,
            "source": inst.provider.source,
            "symbol": inst.symbol,
            "asset_class": inst.asset_class.value,
            "price_usd": bar.close,
            "interval_s": INTERVAL_S,
            "open_usd": bar.open if _ok(bar.open) else None,
            "high_usd": bar.high if _ok(bar.high) else None,
            "low_usd": bar.low if _ok(bar.low) else None,
            "volume": bar.volume if bar.volume is not None and bar.volume >= 0 else None,
        }
    )


class LastSent:
    """End of the last bar sent, per canonical symbol; a JSON file written atomically."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.ends: dict[str, int] = {}
        if path is not None and path.exists():
            self.ends = {k: int(v) for k, v in json.loads(path.read_text()).items()}

    def get(self, symbol: str) -> int | None:
        return self.ends.get(symbol)

    def set(self, symbol: str, end_ms: int) -> None:
        if end_ms > self.ends.get(symbol, 0):
            self.ends[symbol] = end_ms

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.ends, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
