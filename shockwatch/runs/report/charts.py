"""The charts drawn from the detector's signals: the composite score and its components, the
alert timeline, the price paths by class and the core-class z-scores (what moved first).

The two charts drawn from the run's inputs (liquidation flow, funding panel) are in
``shockwatch.runs.report.charts_inputs``; the shared figure plumbing is in
``shockwatch.runs.report.figure``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from shockwatch.runs.report.analysis import Episode, class_moves, core_members, start_prices
from shockwatch.runs.report.figure import (
    Chart,
    new_figure,
    shade_alerts,
    time_axis,
    to_png,
    xnum,
)
from shockwatch.runs.report.narrative import alert_rules
from shockwatch.runs.report.run import RunData
from shockwatch.runs.report.style import (
    CLASS_STYLE,
    COMPONENT_STYLE,
    CORE_STYLE,
    DAY_MS,
    LINESTYLES,
    MIN_MS,
    REGIME_COLOR,
    SEVERITY_COLOR,
    STATE_COLOR,
    Clock,
)
from streams.records import AlertEvent, ShockSignal

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from common.settings import DetectionSettings

LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}


def _price_series(
    signals: Sequence[ShockSignal], start_ms: int
) -> dict[str, tuple[str, list[float], list[float]]]:
    """symbol -> (asset class, x, % from the price at the start), NaN across gaps."""
    raw: dict[str, list[tuple[int, float]]] = {}
    classes: dict[str, str] = {}
    for s in signals:
        for sym, view in s.assets.items():
            if view.fresh:
                raw.setdefault(sym, []).append((s.ts_ms, view.price_usd))
                classes[sym] = view.asset_class
    refs = start_prices(signals, start_ms)
    out: dict[str, tuple[str, list[float], list[float]]] = {}
    for sym, points in raw.items():
        ref = refs[sym]
        xs: list[float] = []
        ys: list[float] = []
        prev: int | None = None
        for t, p in points:
            if t < start_ms:
                continue
            if prev is not None and t - prev > 5 * MIN_MS:
                xs.append(math.nan)
                ys.append(math.nan)
            xs.append(xnum(t))
            ys.append((p / ref - 1.0) * 100.0)
            prev = t
        if xs:
            out[sym] = (classes[sym], xs, ys)
    return out


def _end_labels(ax: Axes, items: list[tuple[float, str, str]]) -> None:
    """Right-margin labels at each line's last value, nudged apart so none overlap."""
    if not items:
        return
    lo, hi = ax.get_ylim()
    gap = (hi - lo) * 0.055
    placed: list[float] = []
    for y, text, color in sorted(items):
        pos = max(y, placed[-1] + gap) if placed else y
        placed.append(pos)
        ax.annotate(
            text,
            xy=(1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(1.006, pos),
            textcoords=("axes fraction", "data"),
            color=color,
            fontsize=8.5,
            va="center",
            fontweight="bold",
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": color, "lw": 0.6, "alpha": 0.6},
        )


def chart_prices(data: RunData, clock: Clock, eps: Sequence[Episode]) -> Chart:
    series = _price_series(data.signals, data.start_ms)
    vol = {k: v for k, v in series.items() if v[0] == "volatility"}
    main = {k: v for k, v in series.items() if v[0] != "volatility"}
    fig = new_figure(6.2 if vol else 4.8)
    if vol:
        ax, axv = fig.subplots(2, 1, sharex=True, height_ratios=[3.2, 1.1])
        panels = [(ax, main), (axv, vol)]
    else:
        ax = fig.subplots()
        panels = [(ax, main)]
    for axis, group in panels:
        labels = _plot_price_group(axis, group)
        axis.axhline(0, color="#868e96", lw=0.8, zorder=1)
        axis.yaxis.set_major_formatter(_pct_formatter())
        shade_alerts(axis, eps, data.end_ms)
        time_axis(axis, data.start_ms, data.end_ms, label=axis is panels[-1][0])
        _end_labels(axis, labels)
    ax.set_ylabel(f"% from {clock.hhmm(data.start_ms)} UTC")
    handles = _class_handles([c for c in CLASS_STYLE if any(v[0] == c for v in main.values())])
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(handles))
    if vol:
        panels[1][0].set_ylabel("Volatility, %")
    return Chart(
        "prices",
        "Price paths by asset class",
        f"Minute closes the detector used, as % change from the last price at or before "
        f"{clock(data.start_ms)}; one line per symbol, coloured by class. Volatility (an index "
        f"that rises under stress) on its own panel. Shaded: alert open (amber warning, red "
        f"critical). Gaps are closed sessions.",
        to_png(fig),
    )


def _plot_price_group(ax: Axes, group: dict[str, tuple[str, list[float], list[float]]]) -> list:
    labels: list[tuple[float, str, str]] = []
    order = list(CLASS_STYLE)
    per_class: dict[str, int] = {}
    for sym in sorted(
        group, key=lambda s: (order.index(group[s][0]) if group[s][0] in order else 99, s)
    ):
        cls, xs, ys = group[sym]
        color = CLASS_STYLE.get(cls, (cls, "#868e96"))[1]
        i = per_class[cls] = per_class.get(cls, -1) + 1
        ax.plot(xs, ys, color=color, lw=1.5, ls=LINESTYLES[i % len(LINESTYLES)], label=sym)
        last = next((y for y in reversed(ys) if not math.isnan(y)), None)
        if last is not None:
            labels.append((last, f"{sym} {last:+.1f}%", color))
    return labels


def _class_handles(classes: Sequence[str]) -> list:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=CLASS_STYLE[c][1], lw=2.5, label=CLASS_STYLE[c][0]) for c in classes
    ]


def _pct_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda y, _: f"{y:+.0f}%" if abs(y) >= 1 or y == 0 else f"{y:+.1f}%")


def chart_score(
    data: RunData, cfg: DetectionSettings, clock: Clock, eps: Sequence[Episode]
) -> Chart:
    fig = new_figure(4.8)
    ax = fig.subplots()
    window = data.window
    x = [xnum(s.ts_ms) for s in window]
    stacks = [[s.components.get(f"{k}_points") or 0.0 for s in window] for k in COMPONENT_STYLE]
    ax.stackplot(
        x,
        stacks,
        colors=[c for _, c in COMPONENT_STYLE.values()],
        labels=[n for n, _ in COMPONENT_STYLE.values()],
        alpha=0.85,
        lw=0,
    )
    ax.plot(x, [s.score for s in window], color="#212529", lw=0.9, label="Score")
    a = cfg.alerts
    for level, name, color, style in (
        (a.critical_score, "critical", SEVERITY_COLOR["critical"], "--"),
        (a.warning_score, "warning", SEVERITY_COLOR["warning"], "--"),
        (a.resolve_score, "resolve below", "#868e96", ":"),
    ):
        ax.axhline(level, color=color, ls=style, lw=1.1)
        ax.annotate(
            f"{name} {level:.0f}",
            xy=(0.003, level),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize=8,
            color=color,
            fontweight="bold",
        )
    _alert_markers(ax, data.alerts, clock)
    shade_alerts(ax, eps, data.end_ms)
    ax.set_ylim(0, 100)
    ax.set_ylabel("Score (points)")
    time_axis(ax, data.start_ms, data.end_ms)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=5)
    return Chart(
        "score",
        "Composite score and its components",
        "Points each component adds to the 0-100 score (weights: "
        + ", ".join(f"{k} {w:.0f}" for k, w in cfg.score.weights.items())
        + f"). {alert_rules(a).capitalize()}, each held {a.for_s // 60} min; an alert "
        f"resolves after {a.resolve_for_s // 60} min below {a.resolve_score:.0f}. Triangles: "
        f"alert firing; circles: resolved.",
        to_png(fig),
    )


def _alert_markers(ax: Axes, alerts: Sequence[AlertEvent], clock: Clock) -> None:
    for i, e in enumerate(alerts):
        color = SEVERITY_COLOR["resolved" if e.state == "resolved" else e.severity]
        marker = "o" if e.state == "resolved" else "^"
        ax.plot(
            [xnum(e.ts_ms)],
            [e.score],
            marker=marker,
            ms=9,
            color=color,
            mec="white",
            mew=1.2,
            zorder=5,
        )
        label = "resolved" if e.state == "resolved" else e.severity
        ax.annotate(
            f"{label} {clock.hhmm(e.ts_ms)}",
            xy=(xnum(e.ts_ms), e.score),
            xytext=(6, 10 + 12 * (i % 2)),
            textcoords="offset points",
            fontsize=8,
            color=color,
            fontweight="bold",
            zorder=6,
            bbox=LABEL_BOX,
        )


def chart_core_z(data: RunData, cfg: DetectionSettings, clock: Clock) -> Chart:
    fig = new_figure(4.0)
    ax = fig.subplots()
    window = data.window
    x = [xnum(s.ts_ms) for s in window]
    for core, members in core_members(cfg).items():
        label, color = CORE_STYLE.get(core, (core, "#868e96"))
        ys = [s.classes.core_z.get(core) for s in window]
        live = [_trading(s, members) for s in window]
        solid = [y if (y is not None and ok) else math.nan for y, ok in zip(ys, live, strict=True)]
        idle = [
            y if (y is not None and not ok) else math.nan for y, ok in zip(ys, live, strict=True)
        ]
        ax.plot(x, solid, color=color, lw=1.6, label=label)
        ax.plot(x, idle, color=color, lw=1.0, ls=":", alpha=0.7)
    down = cfg.breadth.down_z
    ax.axhline(down, color="#495057", ls="--", lw=1.0)
    ax.annotate(
        f"down at {down:+.2f}σ",
        xy=(0.003, down),
        xycoords=("axes fraction", "data"),
        va="top",
        fontsize=8,
        color="#495057",
        xytext=(0, -2),
        textcoords="offset points",
    )
    ax.axhline(0, color="#adb5bd", lw=0.8)
    for m in class_moves(window, cfg):
        if m.first_down_ms is not None and m.z_at_first is not None:
            color = CORE_STYLE.get(m.core, (m.core, "#868e96"))[1]
            ax.plot([xnum(m.first_down_ms)], [m.z_at_first], "o", color=color, ms=7, mec="white")
            ax.annotate(
                clock.hhmm(m.first_down_ms),
                xy=(xnum(m.first_down_ms), m.z_at_first),
                xytext=(5, -13),
                textcoords="offset points",
                fontsize=8,
                color=color,
                fontweight="bold",
                bbox=LABEL_BOX,
            )
    _shade_runs(ax, window, lambda s: s.breadth >= 1.0 - 1e-9, "#e03131", "all core classes down")
    ax.set_ylabel("Day z-score (σ)")
    time_axis(ax, data.start_ms, data.end_ms)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4)
    return Chart(
        "core_z",
        "Core-class moves: what moved first",
        f"Mean day z-score of each core class (move since the previous close, or 24 h, in units "
        f"of its own volatility). Dots: first time each class reached {down:+.2f}σ, the breadth "
        f"threshold. Dotted: the class's market closed (last value held). Red background: all "
        f"core classes down at once (breadth 1.0).",
        to_png(fig),
    )


def _trading(signal: ShockSignal, members: Sequence[str]) -> bool:
    """Whether any asset of the class had a fresh price at this tick (its market was open)."""
    return any(v.fresh for v in signal.assets.values() if v.asset_class in members)


def _runs(
    window: Sequence[ShockSignal], key: Callable[[ShockSignal], Any]
) -> list[tuple[int, int, Any]]:
    """Consecutive ticks with the same key as (start_ms, end_ms, key); a tick covers its minute."""
    out: list[tuple[int, int, Any]] = []
    for s in window:
        k, t = key(s), s.ts_ms
        if out and out[-1][2] == k and out[-1][1] >= t - MIN_MS:
            out[-1] = (out[-1][0], t, k)
        else:
            out.append((t - MIN_MS, t, k))
    return out


def _shade_runs(
    ax: Axes,
    window: Sequence[ShockSignal],
    pred: Callable[[ShockSignal], bool],
    color: str,
    label: str,
) -> None:
    first = True
    for a, b, on in _runs(window, pred):
        if on:
            ax.axvspan(
                xnum(a),
                xnum(b),
                color=color,
                alpha=0.08,
                lw=0,
                zorder=0,
                label=label if first else None,
            )
            first = False


def chart_timeline(data: RunData, clock: Clock, eps: Sequence[Episode]) -> Chart:
    rows = 2 + len(eps)
    fig = new_figure(1.25 + 0.5 * rows)
    ax = fig.subplots()
    window = data.window
    _strip(ax, rows - 1, _runs(window, lambda s: s.regime), REGIME_COLOR)
    _strip(ax, rows - 2, _runs(window, lambda s: s.alert_state), STATE_COLOR)
    for i, ep in enumerate(eps):
        _episode_row(ax, rows - 3 - i, ep, data.end_ms, clock)
    labels = ["Regime", "Alert state", *[f"Episode {i + 1}" for i in range(len(eps))]]
    ax.set_yticks([rows - 1 - i for i in range(rows)], labels)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.grid(axis="y", visible=False)
    time_axis(ax, data.start_ms, data.end_ms)
    regimes = {s.regime for s in window}
    states = {s.alert_state for s in window}
    _legend_patches(
        ax,
        {
            **{f"regime {k}": c for k, c in REGIME_COLOR.items() if k in regimes},
            **{f"state {k}": c for k, c in STATE_COLOR.items() if k in states},
        },
    )
    if not eps:
        ax.text(
            0.5,
            0.5 / rows,
            "no alert fired",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="#495057",
        )
    return Chart(
        "timeline",
        "Alert timeline",
        "Regime and alert state at every minute, and each alert episode: hatched from when its "
        "condition began, amber while warning, red while critical, to its resolve (circle) or "
        "the end of the run.",
        to_png(fig),
    )


def _strip(
    ax: Axes, y: float, runs: Sequence[tuple[int, int, Any]], colors: dict[str, str]
) -> None:
    for a, b, k in runs:
        ax.broken_barh(
            [(xnum(a), (b - a) / DAY_MS)], (y - 0.35, 0.7), color=colors.get(k, "#ced4da"), lw=0
        )


def _episode_row(ax: Axes, y: float, ep: Episode, end_ms: int, clock: Clock) -> None:
    ax.annotate(
        ep.alert_id,
        xy=(0.004, y),
        xycoords=("axes fraction", "data"),
        va="center",
        fontsize=7.5,
        family="monospace",
        color="#343a40",
        bbox=LABEL_BOX,
        zorder=7,
    )
    resolved = ep.resolved
    end = resolved.ts_ms if resolved else end_ms
    crit = ep.first("firing", "critical")
    ax.broken_barh(
        [(xnum(ep.started_ts_ms), (ep.fired_ms - ep.started_ts_ms) / DAY_MS)],
        (y - 0.3, 0.6),
        facecolor="white",
        edgecolor=SEVERITY_COLOR["warning"],
        hatch="////",
        lw=0.6,
    )
    warn_end = crit.ts_ms if crit else end
    if ep.first("firing", "warning") or not crit:
        ax.broken_barh(
            [(xnum(ep.fired_ms), (warn_end - ep.fired_ms) / DAY_MS)],
            (y - 0.3, 0.6),
            color=SEVERITY_COLOR["warning"],
            lw=0,
        )
    if crit:
        ax.broken_barh(
            [(xnum(crit.ts_ms), (end - crit.ts_ms) / DAY_MS)],
            (y - 0.3, 0.6),
            color=SEVERITY_COLOR["critical"],
            lw=0,
        )
    for i, e in enumerate(ep.events):
        color = SEVERITY_COLOR["resolved" if e.state == "resolved" else e.severity]
        ax.plot(
            [xnum(e.ts_ms)],
            [y],
            marker="o" if e.state == "resolved" else "^",
            ms=8,
            color=color,
            mec="white",
            zorder=5,
        )
        above = i % 2 == 0
        ax.annotate(
            f"{e.state if e.state == 'resolved' else e.severity} {clock.hhmm(e.ts_ms)}",
            xy=(xnum(e.ts_ms), y + (0.32 if above else -0.32)),
            ha="left",
            va="bottom" if above else "top",
            fontsize=7.5,
            color=color,
            fontweight="bold",
            xytext=(3, 0),
            textcoords="offset points",
        )


def _legend_patches(ax: Axes, colors: dict[str, str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=k) for k, c in colors.items()]
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=len(handles),
        fontsize=7.5,
    )
