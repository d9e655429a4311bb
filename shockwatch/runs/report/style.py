"""Units, the palette and the formatting every part of the report shares.

Time units in epoch milliseconds; one colour per asset class, core class, venue, score
component, severity, regime and alert state (the same in every chart); the funding series'
display names; number formatting (USD, $bn, z-scores) and the ``Clock`` that formats event
times in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from common.fmt import fmt_usd as usd

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# -- palette: one colour per class, venue, component and severity, used by every chart -------
CLASS_STYLE: dict[str, tuple[str, str]] = {
    "equity_index": ("Equity index", "#1c5fb4"),
    "ai_equity": ("AI equity", "#7b3fc4"),
    "gold": ("Gold", "#c08f00"),
    "crypto": ("Crypto", "#e8590c"),
    "volatility": ("Volatility", "#495057"),
}
CORE_STYLE: dict[str, tuple[str, str]] = {
    "equities": ("Equities", "#1c5fb4"),
    "gold": ("Gold", "#c08f00"),
    "crypto": ("Crypto", "#e8590c"),
}
VENUE_STYLE: dict[str, tuple[str, str]] = {
    "binanceusdm": ("Binance", "#e0a800"),
    "binance": ("Binance", "#e0a800"),
    "bybit": ("Bybit", "#343a40"),
    "okx": ("OKX", "#1098ad"),
    "hyperliquid": ("Hyperliquid", "#5f3dc4"),
    "deribit": ("Deribit", "#2b8a3e"),
}
SPARE_COLORS = ("#d6336c", "#74b816", "#4263eb", "#868e96", "#f76707")
COMPONENT_STYLE: dict[str, tuple[str, str]] = {
    "market": ("Market (breadth x depth)", "#3b5bdb"),
    "liquidations": ("Liquidations", "#e8590c"),
    "funding": ("Funding", "#9c36b5"),
    "comovement": ("Co-movement", "#adb5bd"),
}
SEVERITY_COLOR = {"critical": "#d62828", "warning": "#f08c00", "resolved": "#2b8a3e"}
REGIME_COLOR = {
    "calm": "#e9ecef",
    "mixed": "#ffc078",
    "repricing": "#74c0fc",
    "plumbing": "#e03131",
}
STATE_COLOR = {"ok": "#e9ecef", "pending": "#ffe066", "warning": "#f08c00", "critical": "#d62828"}
LINESTYLES = ("-", "--", ":", "-.")
FUNDING_LABELS = {
    "sofr_iorb": "SOFR - IORB",
    "srf": "SRF take-up",
    "on_rrp": "ON RRP",
    "reserves": "Reserves",
    "tga": "TGA",
}


def fmt_usd(x: float | None) -> str:
    """The report's dollar amounts: ``common.fmt.fmt_usd`` with a decimal under $100m."""
    return usd(x, fine_millions=True)


def fmt_bn(x: float | None) -> str:
    return "n/a" if x is None else (f"${x / 1000:.2f}tn" if abs(x) >= 1000 else f"${x:.1f}bn")


def fmt_z(z: float | None) -> str:
    if z is None:
        return "n/a"
    return "0.0σ" if abs(z) < 0.05 else f"{z:+.1f}σ"


def fmt_num(x: float | None, spec: str = ".2f") -> str:
    return "n/a" if x is None else format(x, spec)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


class Clock:
    """Formats event times in UTC; with the date when the run spans more than one day."""

    def __init__(self, start_ms: int, end_ms: int) -> None:
        first = datetime.fromtimestamp(start_ms / 1000, UTC).date()
        last = datetime.fromtimestamp((end_ms - 1) / 1000, UTC).date()
        self.with_date = first != last

    def __call__(self, ms: int, date_always: bool = False) -> str:
        dt = datetime.fromtimestamp(ms / 1000, UTC)
        if date_always:
            return dt.strftime("%Y-%m-%d %H:%M UTC")
        return dt.strftime("%b %-d %H:%M UTC" if self.with_date else "%H:%M UTC")

    def hhmm(self, ms: int) -> str:
        dt = datetime.fromtimestamp(ms / 1000, UTC)
        return dt.strftime("%b %-d %H:%M" if self.with_date else "%H:%M")


def venue_name(venue: str) -> str:
    return VENUE_STYLE.get(venue, (venue, ""))[0]


def venue_colors(venues: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    spare = iter(SPARE_COLORS * 4)
    for v in venues:
        out[v] = VENUE_STYLE[v][1] if v in VENUE_STYLE else next(spare)
    return out
