"""Drawing a ``StatusView`` with rich: the tables `status` prints and `watch` and `make run`
refresh. Formatting only; every figure comes from the view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from shockwatch.local.status import FeedRow, StatusView

STYLE = {
    "ok": "green",
    "up": "green",
    "running": "green",
    "waiting": "yellow",
    "stale": "yellow",
    "starting": "yellow",
    "pending": "yellow",
    "warning": "yellow",
    "restarting": "red",
    "errors": "red",
    "disconnected": "red",
    "down": "red",
    "critical": "bold red",
}


@dataclass(frozen=True, slots=True)
class JobState:
    """A supervised job (`make run`): its state and, when restarting, its last error line."""

    name: str
    state: str  # running | restarting | stopped
    detail: str = ""


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def utc(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def _state(state: str, reason: str = "") -> Text:
    text = Text(state, style=STYLE.get(state, ""))
    if reason:
        text.append(f" ({reason})", style="dim" if state in ("ok", "up") else "")
    return text


def _feeds(title: str, rows: Sequence[FeedRow]) -> Table:
    table = Table(title=title, title_justify="left", expand=False, pad_edge=False)
    # Short headers: at 100 columns the reason (the provider's error) must still fit.
    for name in ("feed", "venue", "state", "conn", "age", "/s", "events"):
        table.add_column(name, no_wrap=True)
    table.add_column("reason", overflow="fold")
    for r in rows:
        connected = "-" if r.connected is None else ("yes" if r.connected else "no")
        table.add_row(
            r.feed,
            r.venue,
            _state(r.state),
            connected,
            age(r.age_s),
            _num(r.rate_per_s, "{:.2f}"),
            _num(r.events, "{:.0f}"),
            r.reason,
        )
    return table


def _worker(view: StatusView) -> RenderableType:
    w = view.worker
    lines = Text("worker: ")
    lines.append_text(_state(w.state, w.reason))
    lines.append(f"   watermark (newest signal): {utc(w.watermark_s)}")
    if w.lag is not None:
        lag = "-" if w.lag.total is None else f"{w.lag.total} messages"
        extra = f" ({w.lag.error})" if w.lag.error else ""
        lines.append(f"   lag of group {w.lag.group}: {lag}{extra}")
    if not w.feeds:
        return lines
    return Group(lines, _feeds("the worker's inputs", w.feeds))


def _score(view: StatusView) -> Text:
    s, a = view.score, view.alert
    text = Text(f"score {_num(s.score)}")
    parts = [
        f"{name} {_num(points)} pts ({_num(stress, '{:.2f}')})"
        for name, (points, stress) in s.components.items()
    ]
    if parts:
        text.append(" = " + " + ".join(parts))
    text.append(f"\nbreadth {_num(s.breadth, '{:.2f}')}  regime {s.regime or '-'}\nalert: ")
    text.append(a.state, style=STYLE.get(a.state, ""))
    if a.since_ms is not None:
        text.append(f" since {utc(a.since_ms / 1000.0)} (event time)")
    if a.headline:
        text.append(f"  {a.headline}")
    if a.note:
        text.append(f"\n  {a.note}", style="dim")
    return text


def _jobs(view: StatusView, supervised: Sequence[JobState]) -> Table:
    table = Table(title="processes", title_justify="left", pad_edge=False)
    table.add_column("job", no_wrap=True)
    table.add_column("metrics", no_wrap=True)
    table.add_column("state")
    by_name = {j.name: j for j in supervised}
    for row in view.jobs:
        job = by_name.get(row.job)
        if supervised and job is None:
            continue  # not started by this supervisor (e.g. the notifier without Slack)
        state = _state(row.state, row.reason)
        if job is not None and (job.state != "running" or job.detail):
            state = _state(job.state if job.state != "running" else row.state, job.detail)
        table.add_row(row.job, row.url, state)
    return table


def render(view: StatusView, supervised: Sequence[JobState] = ()) -> RenderableType:
    """Everything, top to bottom: processes, producers' feeds, the worker, score and alert."""
    header = Text(f"shockwatch status at {utc(view.at_s)}", style="bold")
    link_lines = Text("\n".join(f"{k}: {v}" for k, v in view.links.items()), style="dim")
    parts: list[RenderableType] = [header, _jobs(view, supervised)]
    if view.producers:
        parts.append(_feeds("feeds (producers)", view.producers))
    parts += [_worker(view), _score(view), link_lines]
    return Group(*parts)


__all__ = ["JobState", "render"]
