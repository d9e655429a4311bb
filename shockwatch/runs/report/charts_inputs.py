"""The charts drawn from the run's inputs: the liquidation flow (every print, by venue and side)
and the funding panel (the weeks before and during the run). When the inputs folder is gone,
both fall back to what the detector held: its rolling liquidation windows and the funding
values in its signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shockwatch.runs.report.analysis import Episode, LiqSummary
from shockwatch.runs.report.figure import (
    Chart,
    new_figure,
    shade_alerts,
    time_axis,
    to_png,
    xnum,
)
from shockwatch.runs.report.run import FundingSeries, LiqPrints, RunData, funding_from_signals
from shockwatch.runs.report.style import (
    DAY_MS,
    MIN_MS,
    Clock,
    fmt_bn,
    fmt_usd,
    venue_colors,
    venue_name,
)
from streams.records import ShockSignal, VenueLiq

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from common.settings import DetectionSettings

FUNDING_LOOKBACK_DAYS = 56


def _usd_axis(y: float) -> str:
    y = abs(y)
    if y >= 1e9:
        return f"${y / 1e9:g}bn"
    if y >= 1e6:
        return f"${y / 1e6:g}m"
    return f"${y / 1e3:g}k" if y else "0"


def _usd_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda y, _: _usd_axis(y))


def _bin_ms(span_ms: int) -> int:
    """The smallest round bar width that keeps the chart to at most ~120 bars."""
    for minutes in (1, 5, 15, 60, 240):
        if span_ms / (minutes * MIN_MS) <= 120:
            return minutes * MIN_MS
    return DAY_MS


def chart_liquidations(
    data: RunData, clock: Clock, liq: LiqSummary, eps: Sequence[Episode]
) -> Chart:
    fig = new_figure(4.6)
    ax = fig.subplots()
    bin_ms = _bin_ms(data.end_ms - data.start_ms)
    if data.liquidations is not None and len(data.liquidations):
        _liq_bars(ax, data.liquidations, data.start_ms, bin_ms, liq)
        how = f"{bin_ms // MIN_MS}-minute bars of every print in the inputs"
    else:
        _liq_windows(ax, data.window)
        how = "the detector's rolling 60-minute window (the inputs folder was not found)"
    ax.axhline(0, color="#495057", lw=0.8)
    ax.yaxis.set_major_formatter(_usd_formatter())
    ax.set_ylabel("Notional liquidated")
    ax.text(
        0.005,
        0.97,
        "▲ longs liquidated",
        transform=ax.transAxes,
        va="top",
        fontsize=8.5,
        color="#495057",
    )
    ax.text(
        0.005,
        0.03,
        "▼ shorts liquidated",
        transform=ax.transAxes,
        va="bottom",
        fontsize=8.5,
        color="#495057",
    )
    shade_alerts(ax, eps, data.end_ms)
    time_axis(ax, data.start_ms, data.end_ms)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4)
    lb = ""
    if liq.lower_bound_venues:
        names = ", ".join(venue_name(v) for v in liq.lower_bound_venues)
        lb = (
            f" {names}: snapshot stream (at most one print per symbol per second), so its bars "
            f"are lower bounds."
        )
    return Chart(
        "liquidations",
        "Liquidation flow by venue and side",
        f"{how.capitalize()}: longs liquidated above zero, shorts below, stacked by venue.{lb}",
        to_png(fig),
    )


def _liq_bars(ax: Axes, prints: LiqPrints, start_ms: int, bin_ms: int, liq: LiqSummary) -> None:
    import numpy as np

    ts = np.asarray(prints.ts_ms, dtype=np.int64)
    usd = np.asarray(prints.notional_usd, dtype=float)
    longs = np.asarray(prints.is_long, dtype=bool)
    venues = np.asarray(prints.venue, dtype=object)
    first = start_ms - start_ms % bin_ms
    idx = (ts - first) // bin_ms
    n = int(idx.max()) + 1 if len(idx) else 1
    x = [xnum(first + i * bin_ms) for i in range(n)]
    width = bin_ms / DAY_MS * 0.88
    colors = venue_colors(liq.by_venue)
    up, down = np.zeros(n), np.zeros(n)
    for venue in liq.by_venue:
        mask = venues == venue
        lv = np.bincount(idx[mask & longs], weights=usd[mask & longs], minlength=n)
        sv = np.bincount(idx[mask & ~longs], weights=usd[mask & ~longs], minlength=n)
        name = venue_name(venue) + (" (lower bound)" if venue in liq.lower_bound_venues else "")
        ax.bar(x, lv, width, bottom=up, align="edge", color=colors[venue], label=name, lw=0)
        ax.bar(x, -sv, width, bottom=-down, align="edge", color=colors[venue], alpha=0.55, lw=0)
        up += lv
        down += sv
    if n and up.max() > 0:
        i = int(up.argmax())
        ax.annotate(
            f"peak {fmt_usd(float(up[i]))}",
            xy=(x[i] + width / 2, up[i]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            color="#212529",
        )
        ax.set_ylim(top=float(up.max()) * 1.15)


_NO_VENUE = VenueLiq(notional_usd=0.0, long_usd=0.0, count=0.0, long_share=0.0)


def _venue(signal: ShockSignal, venue: str) -> VenueLiq:
    """A venue's share of the signal's liquidation window (nothing if it did not report)."""
    return signal.liquidations.by_venue.get(venue, _NO_VENUE)


def _liq_windows(ax: Axes, window: Sequence[ShockSignal]) -> None:
    venues = sorted({v for s in window for v in s.liquidations.by_venue})
    colors = venue_colors(venues)
    x = [xnum(s.ts_ms) for s in window]
    longs = [[_venue(s, v).long_usd for s in window] for v in venues]
    shorts = [
        [-(_venue(s, v).notional_usd - _venue(s, v).long_usd) for s in window] for v in venues
    ]
    if venues:
        ax.stackplot(
            x,
            longs,
            colors=[colors[v] for v in venues],
            labels=[venue_name(v) for v in venues],
            lw=0,
        )
        ax.stackplot(x, shorts, colors=[colors[v] for v in venues], alpha=0.55, lw=0)


def _funding_panels(cfg: DetectionSettings) -> list[tuple[str, str, str, float, float]]:
    """(key, title, unit, calm, full) of each small multiple after the rates panel."""
    f = cfg.funding
    return [
        ("sofr_iorb", "SOFR - IORB", "bp", f.sofr_iorb_calm_bp, f.sofr_iorb_full_bp),
        ("SRF_TAKEUP", "SRF take-up", "$bn", f.srf_calm_usd_bn, f.srf_full_usd_bn),
        ("ON_RRP_AMOUNT", "ON RRP", "$bn", f.on_rrp_calm_usd_bn, f.on_rrp_full_usd_bn),
        ("RESERVES", "Reserves", "$bn", f.reserves_ample_usd_bn, f.reserves_full_usd_bn),
        ("TGA", "TGA", "$bn", f.tga_calm_usd_bn, f.tga_full_usd_bn),
    ]


def _as_of(rows: Sequence[tuple[date, float]], day: date) -> float | None:
    """The value for ``day`` or the latest date before it (rates that persist)."""
    best = None
    for d, v in rows:
        if d > day:
            break
        best = v
    return best


def sofr_iorb_bp(series: FundingSeries) -> list[tuple[date, float]]:
    iorb = series.get("IORB", [])
    out = []
    for d, sofr in series.get("SOFR", []):
        i = _as_of(iorb, d)
        if i is not None:
            out.append((d, (sofr - i) * 100.0))
    return out


def chart_funding(data: RunData, cfg: DetectionSettings, clock: Clock) -> Chart:
    import matplotlib.dates as mdates

    fig = new_figure(5.6, top_in=None)
    axes = fig.subplots(2, 3).ravel()
    series = data.funding if data.funding is not None else funding_from_signals(data.signals)
    run_first = datetime.fromtimestamp(data.start_ms / 1000, UTC).date()
    run_last = datetime.fromtimestamp(data.end_ms / 1000, UTC).date()
    earliest = min((rows[0][0] for rows in series.values() if rows), default=run_first)
    lo = max(run_first - timedelta(days=FUNDING_LOOKBACK_DAYS), earliest - timedelta(days=2))
    clipped = {k: [(d, v) for d, v in rows if d >= lo] for k, rows in series.items()}
    _rates_panel(axes[0], clipped)
    for ax, (key, title, unit, calm, full) in zip(axes[1:], _funding_panels(cfg), strict=True):
        rows = sofr_iorb_bp(clipped) if key == "sofr_iorb" else clipped.get(key, [])
        _funding_panel(ax, rows, title, unit, calm, full, bars=key == "SRF_TAKEUP")
    for ax in axes:
        ax.axvspan(
            mdates.date2num(run_first),
            mdates.date2num(run_last + timedelta(days=1)),
            color="#e03131",
            alpha=0.10,
            lw=0,
            zorder=0,
        )
        ax.set_xlim(mdates.date2num(lo), mdates.date2num(run_last + timedelta(days=1)))
        locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    if data.funding is None:
        note = " The inputs were not found: only the values the detector held during the run."
    else:
        note = "" if series else " No funding observations were found in the inputs."
    return Chart(
        "funding",
        "Funding panel: the weeks before and during the run",
        f"Daily and weekly series by observation date, as published by {clock(data.end_ms)} "
        f"(no look-ahead: what the detector could know). Red band: the run. Dashed lines: the "
        f"detector's calm and full-stress levels; the shaded side is stress. Titles give each "
        f"series' last value, at the end of the run; the narrative quotes the values at the "
        f"alert.{note}",
        to_png(fig),
    )


def _rates_panel(ax: Axes, series: FundingSeries) -> None:
    import matplotlib.dates as mdates

    lower, upper = series.get("TARGET_LOWER", []), series.get("TARGET_UPPER", [])
    if lower and upper:
        days = sorted({d for d, _ in lower} | {d for d, _ in upper})
        lo = [_as_of(lower, d) for d in days]
        hi = [_as_of(upper, d) for d in days]
        ok = [i for i in range(len(days)) if lo[i] is not None and hi[i] is not None]
        ax.fill_between(
            [mdates.date2num(days[i]) for i in ok],
            [lo[i] for i in ok],
            [hi[i] for i in ok],
            step="post",
            color="#dee2e6",
            alpha=0.8,
            label="Target range",
            lw=0,
        )
    for name, color, style in (
        ("IORB", "#212529", "--"),
        ("EFFR", "#868e96", "-"),
        ("SOFR", "#9c36b5", "-"),
    ):
        rows = series.get(name, [])
        if rows:
            ax.plot(
                [mdates.date2num(d) for d, _ in rows],
                [v for _, v in rows],
                color=color,
                ls=style,
                lw=1.6 if name == "SOFR" else 1.1,
                label=name,
                marker="o" if len(rows) < 4 else None,
                ms=3,
                drawstyle="steps-post" if name == "IORB" else "default",
            )
    sofr = series.get("SOFR")
    ax.set_title(
        f"Rates vs target (SOFR {sofr[-1][1]:.2f}% at the end)" if sofr else "Rates vs target"
    )
    ax.set_ylabel("%")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7.5, ncols=2)


def _funding_panel(
    ax: Axes,
    rows: Sequence[tuple[date, float]],
    title: str,
    unit: str,
    calm: float,
    full: float,
    bars: bool,
) -> None:
    import matplotlib.dates as mdates

    color = "#9c36b5"
    if rows:
        xs = [mdates.date2num(d) for d, _ in rows]
        ys = [v for _, v in rows]
        if bars:
            ax.bar(xs, ys, width=0.8, color=color, lw=0)
        else:
            ax.plot(xs, ys, color=color, lw=1.6, marker="o" if len(rows) < 4 else None, ms=3)
        last_d, last_v = rows[-1]
        shown = f"{last_v:+.0f} bp" if unit == "bp" else fmt_bn(last_v)
        ax.set_title(f"{title}: {shown} at the end ({last_d:%b %-d})")
    else:
        ax.set_title(f"{title}  (no data)")
    ax.set_ylabel(unit)
    _stress_zones(ax, [v for _, v in rows], calm, full)


def _stress_zones(ax: Axes, values: Sequence[float], calm: float, full: float) -> None:
    lo = min([*values, calm, full])
    hi = max([*values, calm, full])
    pad = (hi - lo) * 0.08 or 1.0
    ymin, ymax = lo - pad, hi + pad
    worse_up = full > calm
    edge = ymax if worse_up else ymin
    ax.axhspan(calm, full, color="#ffa94d", alpha=0.07, lw=0, zorder=0)
    ax.axhspan(full, edge, color="#fa5252", alpha=0.10, lw=0, zorder=0)
    for level, name in ((calm, "calm"), (full, "full stress")):
        ax.axhline(level, color="#868e96", ls="--", lw=0.8)
        # At the left edge on a white box: the run (and so the tallest bars) is at the right.
        ax.annotate(
            name,
            xy=(0.01, level),
            xycoords=("axes fraction", "data"),
            ha="left",
            va="bottom",
            fontsize=7,
            color="#868e96",
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85},
            zorder=5,
        )
    ax.set_ylim(ymin, ymax)
