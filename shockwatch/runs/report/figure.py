"""Figure plumbing shared by every chart: the ``Chart`` a renderer embeds, the matplotlib style,
Agg figures with fixed margins so the time axes line up down the page, PNG bytes, the UTC time
axis and the shading of open alerts.

matplotlib is imported inside the functions: importing the report (the CLI does, for
``build_report``) does not load it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from shockwatch.runs.report.analysis import Episode
from shockwatch.runs.report.style import DAY_MS, SEVERITY_COLOR

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 130
FIG_W = 11.6  # inches: ~1500 px at DPI, shown at the page's 1140 px content width
MARGIN_LEFT_IN = 1.05  # fixed margins so every time axis starts and ends at the same x
MARGIN_RIGHT_IN = 1.0  # room for the end-of-line labels of the price chart

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.labelcolor": "#343a40",
    "axes.edgecolor": "#adb5bd",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e9ecef",
    "grid.linewidth": 0.8,
    "xtick.color": "#495057",
    "ytick.color": "#495057",
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "axes.axisbelow": True,
    "savefig.facecolor": "white",
}


@dataclass
class Chart:
    key: str
    title: str
    caption: str
    png: bytes


def xnum(ms: float) -> float:
    """Matplotlib date number (days since 1970-01-01, the default epoch) of an epoch-ms time."""
    return ms / DAY_MS


def new_figure(height: float, *, top_in: float | None = 0.42, bottom_in: float = 0.62) -> Figure:
    """A figure on an Agg canvas. Time charts get the same left/right margins in inches, so their
    time axes line up down the page; ``top_in=None`` lets constrained layout place everything."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if top_in is None:
        fig = Figure(figsize=(FIG_W, height), dpi=DPI, layout="constrained")
    else:
        fig = Figure(figsize=(FIG_W, height), dpi=DPI)
        fig.subplots_adjust(
            left=MARGIN_LEFT_IN / FIG_W,
            right=1 - MARGIN_RIGHT_IN / FIG_W,
            top=1 - top_in / height,
            bottom=bottom_in / height,
            hspace=0.12,
        )
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def time_axis(ax: Axes, start_ms: int, end_ms: int, label: bool = True) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC, minticks=6, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC, show_offset=False))
    ax.set_xlim(xnum(start_ms), xnum(end_ms))
    if label:
        ax.set_xlabel("UTC")


def shade_alerts(ax: Axes, eps: Sequence[Episode], end_ms: int) -> None:
    for ep in eps:
        end = ep.resolved.ts_ms if ep.resolved else end_ms
        crit = ep.first("firing", "critical")
        warn_end = crit.ts_ms if crit else end
        ax.axvspan(
            xnum(ep.fired_ms),
            xnum(warn_end),
            color=SEVERITY_COLOR["warning"],
            alpha=0.08,
            lw=0,
            zorder=0,
        )
        if crit:
            ax.axvspan(
                xnum(crit.ts_ms),
                xnum(end),
                color=SEVERITY_COLOR["critical"],
                alpha=0.07,
                lw=0,
                zorder=0,
            )
