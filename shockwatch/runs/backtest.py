"""``shockwatch backtest``: every calendar day and bundled scenario through detection.

Each scenario folder with an ``[expect]`` is run through the detector — offline (the worker's
own code, ``streams.detection.offline``), or with ``kafka=True`` through the real worker over
a broker (``runner.run_scenario``) — and its outcome is set against what the day was expected
to give: the highest severity fired, its regime and first-fire time, the peak score with its
components, and a one-line reason read from the tick that decided it. The summary counts the
right and wrong days, the false pages (a severity above what was expected) and the missed
pages (a page expected and none, or too low, fired).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from common.settings import PROJECT_ROOT, Settings
from streams.records import AlertEvent, ShockSignal
from streams.scenario import (
    SEVERITY_RANK,
    Scenario,
    ScenarioError,
    check_outcome,
    read_scenario,
    severity_bounds,
)

DEFAULT_DIRS = (PROJECT_ROOT / "data" / "calendar", PROJECT_ROOT / "data" / "scenarios")


@dataclass
class DayOutcome:
    name: str
    kind: str
    path: str
    expected: str
    fired: str  # "none" | "warning" | "critical": the highest severity fired
    regime: str | None
    first_fire_ms: int | None  # first alert of that severity
    peak_score: float
    peak_ms: int | None
    peak_points: dict[str, float]
    max_funding_stress: float | None
    max_depth: float
    reason: str
    problems: list[str] = field(default_factory=list)
    mode: str = "offline"
    observed_share: float | None = None  # of the day's liquidations, on the subscribed venues

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def fired_text(self) -> str:
        """``warning (mixed)``: the highest severity fired and its regime."""
        return self.fired + (f" ({self.regime})" if self.regime else "")

    @property
    def peak_text(self) -> str:
        """``54 (40/14/0/0)``: the peak score and its market/liquidation/funding/co-movement
        points."""
        p = self.peak_points
        return (
            f"{self.peak_score:.0f} ({p.get('market', 0):.0f}/{p.get('liquidations', 0):.0f}/"
            f"{p.get('funding', 0):.0f}/{p.get('comovement', 0):.0f})"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def discover(paths: Iterable[Path]) -> tuple[list[Scenario], list[Scenario]]:
    """Scenarios under ``paths`` (a folder that is one, or its sub-folders that are): (those
    with an ``[expect]``, those without — format samples, left out). Each is read once."""
    found: list[Path] = []
    for path in paths:
        if (path / "scenario.toml").exists():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if (p / "scenario.toml").exists())
        else:
            raise ScenarioError(f"{path}: not a scenario folder nor a folder of them")
    with_expect: list[Scenario] = []
    samples: list[Scenario] = []
    for folder in found:
        scenario = read_scenario(folder)
        (with_expect if scenario.expect else samples).append(scenario)
    return with_expect, samples


def expected_text(expect: dict[str, Any]) -> str:
    low, high = severity_bounds(expect)
    text = high if low == high else f"<= {high}" if low == "none" else f"{low}..{high}"
    if expect.get("regimes"):
        text += " (" + "|".join(expect["regimes"]) + ")"
    if expect.get("funding_stress"):
        text += f", funding {expect['funding_stress']}"
    return text


def utc_hm(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%m-%d %H:%M")


SHORT = {"equities": "eq", "gold": "au", "crypto": "cx"}


def normal_moves(signal: ShockSignal | None) -> str:
    """The core classes' day moves in normal days, e.g. ``eq -3.1 au -2.2 cx -7.0``."""
    normal = signal.classes.core_z_normal if signal is not None else {}
    return " ".join(f"{SHORT.get(k, k)} {v:+.1f}" for k, v in normal.items() if v is not None)


def reason(
    fired: str, signal: ShockSignal | None, settings: Settings, problems: Sequence[str]
) -> str:
    """Why the day came out as it did, read from the deciding tick (the first firing of the
    highest severity, or the peak-score tick when nothing fired)."""
    if signal is None:
        return "no signal"
    a = settings.detection.alerts
    c = signal.components
    depth = signal.classes.depth
    funding = c.get("funding_stress")
    parts = (
        f"mkt {c.get('market_stress', 0):.2f} liq {c.get('liquidations_stress', 0):.2f} "
        f"fund {'?' if funding is None else f'{funding:.2f}'}"
    )
    if fired == "critical":
        why = (
            f"crash: every class >= {a.broad_critical_z:g} normal days down"
            if depth >= a.broad_critical_z
            else f"score {signal.score:.0f}, breadth {signal.breadth:.2f}, amplifier ({parts})"
        )
    elif fired == "warning":
        why = (
            f"broad: every class >= {a.broad_warning_z:g} normal day down"
            if depth >= a.broad_warning_z
            else f"score {signal.score:.0f} ({parts})"
        )
    else:
        why = f"quiet: peak {signal.score:.0f} < {a.warning_score:g} ({parts})"
    why = f"{why}; shallowest {depth:+.1f} ({normal_moves(signal)})"
    if problems:
        why = "MISMATCH " + "; ".join(problems) + " - " + why
    return why


def outcome_of(
    scenario: Scenario,
    alerts: list[AlertEvent],
    signals: Sequence[ShockSignal],
    settings: Settings,
    mode: str,
) -> DayOutcome:
    firing = [a for a in alerts if a.state == "firing"]
    top = max((SEVERITY_RANK[a.severity] for a in firing), default=0)
    fired = next(k for k, v in SEVERITY_RANK.items() if v == top)
    first = next((a for a in firing if SEVERITY_RANK[a.severity] == top), None) if top else None
    funding = [s.funding.stress for s in signals]
    max_funding = max((f for f in funding if f is not None), default=None)
    problems = check_outcome(scenario.expect, alerts, max_funding)
    peak = max(signals, key=lambda s: s.score, default=None)
    by_ts = {s.ts_ms: s for s in signals}
    deciding = by_ts.get(first.ts_ms) if first is not None else peak
    return DayOutcome(
        name=scenario.name,
        kind=scenario.kind or "-",
        path=str(scenario.path),
        expected=expected_text(scenario.expect),
        fired=fired,
        regime=first.regime if first is not None else None,
        first_fire_ms=first.ts_ms if first is not None else None,
        peak_score=round(peak.score, 1) if peak else 0.0,
        peak_ms=peak.ts_ms if peak else None,
        peak_points={
            k.removesuffix("_points"): round(v, 1)
            for k, v in (peak.components.items() if peak else ())
            if k.endswith("_points") and v is not None
        },
        max_funding_stress=round(max_funding, 3) if max_funding is not None else None,
        max_depth=round(max((s.classes.depth for s in signals), default=0.0), 2),
        reason=reason(fired, deciding, settings, problems),
        problems=problems,
        mode=mode,
        observed_share=scenario.observed_share,
    )


def run_day(day: Path | Scenario, settings: Settings, kafka: bool = False) -> DayOutcome:
    return run_day_signals(day, settings, kafka)[0]


def run_day_signals(
    day: Path | Scenario, settings: Settings, kafka: bool = False
) -> tuple[DayOutcome, list[ShockSignal]]:
    """The day's outcome and the signals it was read from."""
    scenario = day if isinstance(day, Scenario) else read_scenario(day)
    if kafka:
        from shockwatch.runs.runner import run_scenario

        result = run_scenario(settings, scenario, keep_signals=True)
        signals = [ShockSignal.from_dict(s) for s in result.signal_log]
        return outcome_of(scenario, result.alerts, signals, settings, "kafka"), signals
    from streams.detection.offline import run_offline

    outputs, _ = run_offline(scenario, settings.detection)
    alerts = [a for o in outputs for a in o.alerts]
    signals = [o.signal for o in outputs]
    return outcome_of(scenario, alerts, signals, settings, "offline"), signals


@dataclass
class Summary:
    days: int
    right: int
    wrong: int
    false_pages: int  # fired above the expected ceiling
    missed_pages: int  # a page expected, fired below the expected floor

    def to_json(self) -> dict[str, Any]:
        return {"summary": True, **asdict(self)}

    def text(self) -> str:
        return (
            f"{self.days} days: {self.right} as expected, {self.wrong} not; false pages "
            f"{self.false_pages}, missed pages {self.missed_pages}"
        )


def summarize(outcomes: Sequence[DayOutcome], expects: Sequence[dict[str, Any]]) -> Summary:
    false_pages = missed = 0
    for o, expect in zip(outcomes, expects, strict=True):
        low, high = severity_bounds(expect)
        if SEVERITY_RANK[o.fired] > SEVERITY_RANK[high]:
            false_pages += 1
        if SEVERITY_RANK[o.fired] < SEVERITY_RANK[low]:
            missed += 1
    right = sum(1 for o in outcomes if o.ok)
    return Summary(len(outcomes), right, len(outcomes) - right, false_pages, missed)


def backtest(
    scenarios: Sequence[Scenario],
    settings: Settings,
    kafka: bool = False,
    progress: Callable[[DayOutcome], None] | None = None,
) -> tuple[list[DayOutcome], Summary]:
    outcomes: list[DayOutcome] = []
    for scenario in scenarios:
        outcome = run_day(scenario, settings, kafka)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes, summarize(outcomes, [s.expect for s in scenarios])


def observed_note(outcomes: Sequence[DayOutcome]) -> str:
    """The closing note: each day's share of the market-wide liquidations that the subscribed
    venues carry (the basis the liquidation measures are calibrated on)."""
    shares = [f"{o.name} {o.observed_share:.0%}" for o in outcomes if o.observed_share]
    if not shares:
        return ""
    return "Liquidations on the observed basis (subscribed venues' share of the market): " + (
        ", ".join(shares)
    )


def table(outcomes: Sequence[DayOutcome], wide: bool = False) -> Table:
    """The confusion table for a terminal: "ok" first and the day's name whole (what one
    reads first, what one looks up), the reason folding into what width is left; kind and
    the peak's points only with ``wide`` (the Markdown and JSON forms always have them)."""
    t = Table(title="backtest: expected vs fired", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("ok", no_wrap=True)
    t.add_column("day", no_wrap=True)
    if wide:
        t.add_column("kind", no_wrap=True)
    t.add_column("expected", min_width=8)
    t.add_column("fired", min_width=8)
    t.add_column("first fire UTC", no_wrap=True)
    if wide:
        t.add_column("peak m/l/f/c", no_wrap=True)
    t.add_column("why (at the deciding tick; class moves in normal days)", overflow="fold", ratio=1)
    for o in outcomes:
        mark = "[green]yes[/]" if o.ok else "[red]NO[/]"
        cells = [mark, o.name, *([o.kind] if wide else []), o.expected, o.fired_text,
                 utc_hm(o.first_fire_ms), *([o.peak_text] if wide else []), o.reason]  # fmt: skip
        t.add_row(*cells)
    return t


def markdown(outcomes: Sequence[DayOutcome], summary: Summary) -> str:
    """The confusion table as Markdown (docs/detection.md holds one, printed by ``--markdown``)."""
    rows = [
        "| day | kind | expected | fired | first fire (UTC) | peak score (m/l/f/c) | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        mark = "" if o.ok else " **MISMATCH**"
        rows.append(
            f"| {o.name} | {o.kind} | {o.expected} | {o.fired_text}{mark} "
            f"| {utc_hm(o.first_fire_ms)} | {o.peak_text} | {o.reason} |"
        )
    rows += ["", f"{summary.text()}."]
    note = observed_note(outcomes)
    if note:
        rows += ["", f"{note}."]
    return "\n".join(rows)
