"""Number and time formatting shared by every text shockwatch writes: the alert headline (on
the wire), the alert lines, the Slack message and the report.

Pure functions of their arguments; the options keep each reader's established output."""

from __future__ import annotations

from datetime import UTC, datetime


def fmt_time(ts_ms: int) -> str:
    """An event time in UTC to the minute: "2025-11-04 15:15 UTC"."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_usd(
    x: float | None, *, trillions: bool = False, thousands: bool = True, fine_millions: bool = False
) -> str:
    """A dollar amount at a glance: "$1.23bn", "$45m", "$12k", "$950"; None is "n/a".

    ``trillions``: "$1.23tn" from $1tn (else "$1234.00bn"). ``thousands``: "$12k" from $1k
    (else "$12,345"). ``fine_millions``: one decimal under $100m ("$45.3m")."""
    if x is None:
        return "n/a"
    a = abs(x)
    if trillions and a >= 1e12:
        return f"${x / 1e12:.2f}tn"
    if a >= 1e9:
        return f"${x / 1e9:.2f}bn"
    if a >= 1e6:
        return f"${x / 1e6:.1f}m" if fine_millions and a < 1e8 else f"${x / 1e6:.0f}m"
    if thousands and a >= 1e3:
        return f"${x / 1e3:.0f}k"
    return f"${x:,.0f}"
