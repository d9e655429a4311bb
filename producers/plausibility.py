"""Plausibility bands: a value outside what the world allows is rejected, never published.

A unit that changes at the source (FRED moved its H.4.1 week averages from billions to
millions of dollars), a misread column or a bad print would otherwise flow into detection as a
silent 1000x. Each funding series has a band in its canonical unit; each price must stay
within a multiple of the symbol's last published close. A value outside goes to the
dead-letter topic as ``implausible_value`` (``ImplausibleValue``) with the series, is counted
(``shockwatch_producer_rejects{reason="implausible_value"}``) and is logged once per series
and day (``OncePerDay``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from streams.records import ImplausibleValue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Band:
    low: float
    high: float
    why: str


# A unit error is a factor of 1000 (FRED's H.4.1 series moved from billions to millions). For
# a stock that is never near zero (reserves, the TGA) a band with ``low * 1000 > high`` rejects
# every in-band value read 1000x too big (it passes ``high``) or 1000x too small (it falls
# below ``low``): ``UNIT_SAFE`` lists those series and a test holds the inequality.
UNIT_ERROR = 1000.0
UNIT_SAFE = ("RESERVES", "TGA")

# Canonical units: percent for rates, billions of USD for amounts (``streams.records.Unit``).
FUNDING_BANDS: dict[str, Band] = {
    "SOFR": Band(-1.0, 25.0, "percent: never below -1% nor above 25% (5.25% on 2019-09-17)"),
    "EFFR": Band(-1.0, 25.0, "percent"),
    "IORB": Band(-1.0, 25.0, "percent"),
    "TARGET_UPPER": Band(-1.0, 25.0, "percent"),
    "TARGET_LOWER": Band(-1.0, 25.0, "percent"),
    "ON_RRP_AMOUNT": Band(0.0, 5_000.0, "$bn: the record was $2.55tn (Dec 2022)"),
    "SRF_TAKEUP": Band(0.0, 2_000.0, "$bn: the Mar 2020 repo operations peaked near $500bn"),
    # Since 2009 (reserves were tens of $bn before 2008's QE): low 500 > 10,000 / 1000.
    "RESERVES": Band(500.0, 10_000.0, "$bn: $1.4tn at the 2019 low, $4.3tn at the 2021 high"),
    # Since Treasury moved its cash to the Fed in 2008 (~$5bn there before, the rest at banks):
    # the lowest balance was $23bn (DTS, 2023-06-01, the debt ceiling), so 5 leaves room and
    # still exceeds 3,000 / 1000 (a $0.9tn TGA read 1000x small is 0.9: rejected).
    "TGA": Band(5.0, 3_000.0, "$bn: $23bn at the 2023 low, the record was $1.8tn (Jul 2020)"),
}


def check_funding(series: str, value: float) -> ImplausibleValue | None:
    """The error for a value outside its series' band (None when plausible or unbanded)."""
    band = FUNDING_BANDS.get(series)
    if band is None or band.low <= value <= band.high:
        return None
    return ImplausibleValue(
        series, f"{value:g} is outside [{band.low:g}, {band.high:g}] ({band.why})"
    )


@dataclass
class PriceGuard:
    """Per symbol: the last published close; a close more than ``max_multiple`` away from it
    is implausible. ``rebase_after`` implausible closes in a row that agree with each other
    (within the same multiple) are taken as a new level and accepted from then on."""

    max_multiple: float = 1.5
    rebase_after: int = 5
    last: dict[str, float] = field(default_factory=dict)
    streak: dict[str, list[float]] = field(default_factory=dict)

    # Per asset class, where real moves are wider: VIX opened at 2.8x its previous close on
    # 2024-08-05 (23.4 -> 65.7 intraday) and doubled on 2018-02-05.
    class_multiple: dict[str, float] = field(default_factory=lambda: {"volatility": 5.0})

    def _far(self, a: float, b: float, multiple: float) -> bool:
        return max(a, b) / min(a, b) > multiple

    def check(self, symbol: str, close: float, asset_class: str = "") -> ImplausibleValue | None:
        multiple = max(self.max_multiple, self.class_multiple.get(asset_class, 0.0))
        ref = self.last.get(symbol)
        if ref is None or ref <= 0 or close <= 0 or not self._far(close, ref, multiple):
            self.last[symbol] = close
            self.streak.pop(symbol, None)
            return None
        run = self.streak.setdefault(symbol, [])
        if run and self._far(close, run[-1], multiple):
            run.clear()
        run.append(close)
        if len(run) >= self.rebase_after:
            log.warning(
                "%s: %d closes in a row near %g, %.2fx the last published %g: taken as a new "
                "level", symbol, len(run), close, close / ref, ref
            )  # fmt: skip
            self.last[symbol] = close
            self.streak.pop(symbol, None)
            return None
        return ImplausibleValue(
            "price_usd",
            f"{symbol} close {close:g} is {close / ref:.3g}x the last published {ref:g} "
            f"(allowed within {multiple:g}x)",
        )


class OncePerDay:
    """Log a warning once per (key, UTC day): a source that stays wrong does not flood logs."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()

    def warn(self, key: str, ts_ms: int, message: str, *args: object) -> None:
        day = ts_ms // 86_400_000
        if (key, day) in self.seen:
            return
        self.seen.add((key, day))
        if len(self.seen) > 10_000:
            self.seen = {k for k in self.seen if k[1] >= day - 1}
        log.warning(message, *args)
