"""Post-mortem report of a run folder: one self-contained HTML page and a Markdown summary.

Input is a run folder written by ``shockwatch.runner.save_run`` (``run.json``, ``signals.jsonl``,
``alerts.jsonl``) and, when it can still be found, the scenario folder ``run.json`` names under
``inputs`` (its liquidation prints and funding observations). Price paths, class z-scores and
the score come from the signals, i.e. exactly what the detector saw each minute.

``report.html`` embeds its charts as base64 PNG ``data:`` URIs (matplotlib, Agg canvas, no
pyplot state) with inline CSS and nothing fetched when opened, so it can be mailed or attached
as is. ``report.md`` carries the same facts, narrative and every alert with its evidence.

The narrative is derived from the data; the thresholds it quotes (breadth z, warning/critical,
regime rules) come from the detection settings passed in, or the environment's.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streams.records import AlertEvent
from streams.scenario import Parsed, Scenario, ScenarioError, parse_feed, read_scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from common.settings import AlertSettings, DetectionSettings, Settings

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
DPI = 130
FIG_W = 11.6  # inches: ~1500 px at DPI, shown at the page's 1140 px content width
MARGIN_LEFT_IN = 1.05  # fixed margins so every time axis starts and ends at the same x
MARGIN_RIGHT_IN = 1.0  # room for the end-of-line labels of the price chart
FUNDING_LOOKBACK_DAYS = 56
FIRST_DROP_PCT = 1.0  # "what moved first" also reports when each class was down this much
STRESSED = 0.5  # a funding component at or above this stress is called stressed

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

LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}

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


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass
class LiqPrints:
    """The run's liquidation prints, column-wise (one entry per print)."""

    ts_ms: list[int] = field(default_factory=list)
    venue: list[str] = field(default_factory=list)
    is_long: list[bool] = field(default_factory=list)
    notional_usd: list[float] = field(default_factory=list)
    lower_bound: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts_ms)


# series -> sorted [(observation_date, value)], latest revision published by the run's end
FundingSeries = dict[str, list[tuple[date, float]]]


@dataclass
class RunData:
    run_dir: Path
    meta: dict[str, Any]
    signals: list[dict[str, Any]]
    alerts: list[AlertEvent]
    inputs: Path | None = None
    liquidations: LiqPrints | None = None
    funding: FundingSeries | None = None
    # The signals inside the run's time range (earlier ticks only warm the detector up).
    window: list[dict[str, Any]] = field(init=False)
    by_ts: dict[int, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        lo, hi = self.start_ms, self.end_ms
        self.window = [s for s in self.signals if lo <= s["ts_ms"] <= hi] or self.signals
        self.by_ts = {s["ts_ms"]: s for s in self.signals}

    @property
    def start_ms(self) -> int:
        return int(self.meta.get("start_ms") or self.signals[0]["ts_ms"])

    @property
    def end_ms(self) -> int:
        return int(self.meta.get("end_ms") or self.signals[-1]["ts_ms"])

    @property
    def name(self) -> str:
        return str(self.meta.get("scenario") or self.run_dir.name)

    def signal_at(self, ts_ms: int) -> dict[str, Any] | None:
        return self.by_ts.get(ts_ms)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, "rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def load_run(run_dir: Path) -> RunData:
    """Read a run folder and, if found, the liquidations and funding of its inputs."""
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no run.json)")
    meta = orjson.loads(meta_path.read_bytes())
    signals = sorted(_jsonl(run_dir / "signals.jsonl"), key=lambda s: s["ts_ms"])
    if not signals:
        raise ValueError(f"{run_dir}: signals.jsonl is empty; nothing to report")
    alerts = [AlertEvent.from_dict(a) for a in _jsonl(run_dir / "alerts.jsonl")]
    alerts.sort(key=lambda a: a.ts_ms)
    data = RunData(run_dir, meta, signals, alerts)
    scenario = _find_inputs(run_dir, meta)
    if scenario is not None:
        data.inputs = scenario.path
        data.liquidations = _load_liquidations(scenario, data.start_ms, data.end_ms)
        data.funding = _load_funding(scenario, data.end_ms)
    return data


def funding_from_signals(signals: Sequence[dict[str, Any]]) -> FundingSeries:
    """The funding values the detector held during the run (when the inputs are gone)."""
    seen: dict[str, dict[date, float]] = {}
    for s in signals:
        for name, v in (s["funding"].get("values") or {}).items():
            if v:
                seen.setdefault(name, {})[date.fromisoformat(v["date"])] = v["value"]
    return {name: sorted(rows.items()) for name, rows in seen.items()}


def _find_inputs(run_dir: Path, meta: dict[str, Any]) -> Scenario | None:
    candidates = [Path(meta["inputs"])] if meta.get("inputs") else []
    candidates.append(run_dir / "inputs")
    for folder in candidates:
        try:
            return read_scenario(folder)
        except (ScenarioError, OSError):
            continue
    return None


def _load_liquidations(scenario: Scenario, start_ms: int, end_ms: int) -> LiqPrints | None:
    if scenario.feed_file("liquidations") is None:
        return None
    out = LiqPrints()
    for _, parsed, _ in parse_feed(scenario, "liquidations", now_ms=end_ms):
        if not isinstance(parsed, Parsed):
            continue
        r = parsed.record
        if start_ms <= r.ts_ms < end_ms:
            out.ts_ms.append(r.ts_ms)
            out.venue.append(r.exchange)
            out.is_long.append(r.side_liquidated == "long")
            out.notional_usd.append(r.notional_usd)
            out.lower_bound.append(r.lower_bound)
    return out


def _load_funding(scenario: Scenario, end_ms: int) -> FundingSeries | None:
    """Every series as of the run's end: latest revision per date among those published by then."""
    if scenario.feed_file("funding") is None:
        return None
    best: dict[tuple[str, str], tuple[int, int, float]] = {}
    for _, parsed, _ in parse_feed(scenario, "funding", now_ms=end_ms):
        if not isinstance(parsed, Parsed) or parsed.record.ts_ms > end_ms:
            continue
        r = parsed.record
        key = (r.series, r.observation_date)
        rank = (r.revision, r.ts_ms)
        if key not in best or rank >= best[key][:2]:
            best[key] = (*rank, r.value)
    series: FundingSeries = {}
    for (name, day), (_, _, value) in best.items():
        series.setdefault(name, []).append((date.fromisoformat(day), value))
    for rows in series.values():
        rows.sort()
    return series


# ---------------------------------------------------------------------------------------------
# Formatting


def fmt_usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    if abs(x) >= 1e9:
        return f"${x / 1e9:.2f}bn"
    if abs(x) >= 1e6:
        return f"${x / 1e6:.0f}m" if abs(x) >= 1e8 else f"${x / 1e6:.1f}m"
    if abs(x) >= 1e3:
        return f"${x / 1e3:.0f}k"
    return f"${x:,.0f}"


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


def _hm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M")


def venue_name(venue: str) -> str:
    return VENUE_STYLE.get(venue, (venue, ""))[0]


def venue_colors(venues: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    spare = iter(SPARE_COLORS * 4)
    for v in venues:
        out[v] = VENUE_STYLE[v][1] if v in VENUE_STYLE else next(spare)
    return out


# ---------------------------------------------------------------------------------------------
# Analysis: the facts the narrative and the tables are made of (pure functions of the run)


@dataclass
class Episode:
    alert_id: str
    started_ts_ms: int
    events: list[AlertEvent]

    @property
    def fired_ms(self) -> int:
        return self.events[0].ts_ms

    @property
    def severity(self) -> str:
        return "critical" if any(e.severity == "critical" for e in self.events) else "warning"

    def first(self, state: str, severity: str | None = None) -> AlertEvent | None:
        for e in self.events:
            if e.state == state and (severity is None or e.severity == severity):
                return e
        return None

    @property
    def resolved(self) -> AlertEvent | None:
        return self.first("resolved")


def episodes(alerts: Sequence[AlertEvent]) -> list[Episode]:
    out: dict[str, Episode] = {}
    for a in alerts:
        ep = out.setdefault(a.alert_id, Episode(a.alert_id, a.started_ts_ms, []))
        ep.events.append(a)
    return sorted(out.values(), key=lambda e: e.fired_ms)


@dataclass
class Verdict:
    level: str  # critical | warning | none
    title: str
    alert: AlertEvent | None = None


def verdict(data: RunData, clock: Clock) -> Verdict:
    firing = [a for a in data.alerts if a.state == "firing"]
    if not firing:
        peak = max(data.window, key=lambda s: s["score"])
        return Verdict(
            "none",
            f"NO ALERT — peak score {peak['score']:.1f} at {clock(peak['ts_ms'])}",
        )
    level = "critical" if any(a.severity == "critical" for a in firing) else "warning"
    first = next(a for a in firing if a.severity == level)
    what = "everything sells" if level == "critical" else "cross-asset stress"
    return Verdict(
        level,
        f"{level.upper()} — {what}, regime {first.regime}, {clock(first.ts_ms)}",
        first,
    )


def core_members(detection: DetectionSettings) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in detection.breadth.core_classes.items()}


def core_return_pct(signal: dict[str, Any], members: Sequence[str]) -> float | None:
    """Mean day return (%) over the assets of a core class's member classes."""
    total, n = 0.0, 0.0
    for cls in members:
        view = signal["classes"].get(cls)
        if view:
            total += view["ret_day_pct"] * view["assets"]
            n += view["assets"]
    return total / n if n else None


@dataclass
class ClassMove:
    core: str
    first_down_ms: int | None = None
    z_at_first: float | None = None
    ret_at_first: float | None = None
    leader: str | None = None
    leader_z: float | None = None
    trough_ms: int | None = None
    trough_z: float | None = None


def _leader(signal: dict[str, Any], members: Sequence[str]) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for sym, view in signal["assets"].items():
        if view["asset_class"] in members and (best[1] is None or view["z_day"] < best[1]):
            best = (sym, view["z_day"])
    return best


def class_moves(signals: Sequence[dict[str, Any]], detection: DetectionSettings) -> list[ClassMove]:
    """Per core class: first tick at or below the breadth z, its day return then, the asset
    leading it, and the trough z.
    Sorted by first crossing (classes that never crossed last)."""
    down_z = detection.breadth.down_z
    moves: list[ClassMove] = []
    for core, members in core_members(detection).items():
        m = ClassMove(core)
        for s in signals:
            z = s["classes"].get("core_z", {}).get(core)
            if z is None:
                continue
            if m.trough_z is None or z < m.trough_z:
                m.trough_ms, m.trough_z = s["ts_ms"], z
            if m.first_down_ms is None and z <= down_z:
                m.first_down_ms, m.z_at_first = s["ts_ms"], z
                m.ret_at_first = core_return_pct(s, members)
                m.leader, m.leader_z = _leader(s, members)
        moves.append(m)
    never = 1 << 62
    moves.sort(key=lambda m: (m.first_down_ms or never, m.trough_z or 0.0))
    return moves


def start_prices(signals: Sequence[dict[str, Any]], start_ms: int) -> dict[str, float]:
    """Each symbol's reference price: its last fresh price at or before the start, else its
    first one after (what the price chart and the "% from start" figures are relative to)."""
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    for s in signals:
        for sym, view in s["assets"].items():
            if view.get("fresh", True):
                if s["ts_ms"] <= start_ms:
                    before[sym] = view["price_usd"]
                else:
                    after.setdefault(sym, view["price_usd"])
    return {**after, **before}


def first_drops(data: RunData, detection: DetectionSettings) -> dict[str, int]:
    """Core class -> first tick its trading members were down ``FIRST_DROP_PCT`` on average
    from their price at the start of the run."""
    ref = start_prices(data.signals, data.start_ms)
    out: dict[str, int] = {}
    for s in data.window:
        for core, members in core_members(detection).items():
            moves = [
                (v["price_usd"] / ref[sym] - 1.0) * 100.0
                for sym, v in s["assets"].items()
                if v["asset_class"] in members and v.get("fresh", True) and sym in ref
            ]
            if core not in out and moves and sum(moves) / len(moves) <= -FIRST_DROP_PCT:
                out[core] = s["ts_ms"]
    return out


def first_all_down(signals: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((s for s in signals if s["breadth"] >= 1.0 - 1e-9), None)


@dataclass
class LiqSummary:
    source: str  # "inputs" (every print) or "signals" (the detector's rolling windows)
    total_usd: float = 0.0
    long_usd: float = 0.0
    count: int = 0
    by_venue: dict[str, float] = field(default_factory=dict)
    lower_bound_venues: list[str] = field(default_factory=list)
    peak_hour_ms: int | None = None
    peak_hour_usd: float = 0.0
    peak_hour_long_share: float | None = None
    peak_window: dict[str, Any] | None = None  # the signal whose 60-min window was largest

    @property
    def long_share(self) -> float | None:
        return self.long_usd / self.total_usd if self.total_usd else None


def liquidation_summary(data: RunData) -> LiqSummary:
    window = data.window
    peak = max(window, key=lambda s: s["liquidations"]["notional_usd"])
    prints = data.liquidations
    if prints is None:
        first, last = window[0]["liquidations"], window[-1]["liquidations"]
        total = last["day_total_usd"] - first["day_total_usd"] + first["notional_usd"]
        return LiqSummary("signals", total_usd=max(total, 0.0), peak_window=peak)
    out = LiqSummary("inputs", count=len(prints), peak_window=peak)
    hours: dict[int, list[float]] = {}
    lower: set[str] = set()
    for ts, venue, is_long, usd, lb in zip(
        prints.ts_ms,
        prints.venue,
        prints.is_long,
        prints.notional_usd,
        prints.lower_bound,
        strict=True,
    ):
        out.total_usd += usd
        out.long_usd += usd if is_long else 0.0
        out.by_venue[venue] = out.by_venue.get(venue, 0.0) + usd
        h = hours.setdefault(ts // HOUR_MS, [0.0, 0.0])
        h[0] += usd
        h[1] += usd if is_long else 0.0
        if lb:
            lower.add(venue)
    out.by_venue = dict(sorted(out.by_venue.items(), key=lambda kv: -kv[1]))
    out.lower_bound_venues = sorted(lower)
    if hours:
        hour, (usd, long_usd) = max(hours.items(), key=lambda kv: kv[1][0])
        out.peak_hour_ms, out.peak_hour_usd = hour * HOUR_MS, usd
        out.peak_hour_long_share = long_usd / usd if usd else None
    return out


def reference_signal(data: RunData, verdict_: Verdict) -> dict[str, Any]:
    """The tick the funding narrative is told at: the first alert, else the peak score."""
    if data.alerts:
        found = data.signal_at(data.alerts[0].ts_ms)
        if found is not None:
            return found
    if verdict_.alert is not None:
        found = data.signal_at(verdict_.alert.ts_ms)
        if found is not None:
            return found
    return max(data.window, key=lambda s: s["score"])


def regime_reasons(
    regime: str, signal: dict[str, Any] | None, evidence: dict[str, Any], cfg: DetectionSettings
) -> str:
    """Why the regime is what it is, with the numbers the rule compared."""
    sc = cfg.score
    comps = evidence.get("components", {})
    fstress = (evidence.get("funding") or {}).get("stress")
    breadth = evidence.get("breadth", 0.0)
    lstress = comps.get("liquidations_stress") or 0.0
    checks = [
        (
            fstress is not None and fstress >= sc.plumbing_funding_min,
            f"funding stress {fmt_num(fstress)}",
            f"{sc.plumbing_funding_min:.2f}",
        ),
        (breadth >= 2 / 3 - 1e-9, f"breadth {breadth:.2f}", "0.67"),
        (
            lstress >= sc.plumbing_liq_min,
            f"liquidation stress {lstress:.2f}",
            f"{sc.plumbing_liq_min:.2f}",
        ),
    ]
    marked = "; ".join(
        f"{text} {'≥' if ok else '<'} {bar} {'✓' if ok else '✗'}" for ok, text, bar in checks
    )
    if regime == "plumbing":
        return f"plumbing: funding tight, broad selling and forced selling ({marked})"
    gap = _sector_gap(signal)
    gap_text = f"AI minus index z {fmt_z(gap)} vs -{sc.repricing_gap_z:.1f}σ"
    if regime == "repricing":
        return f"repricing: AI names fell far more than the index with funding calm ({gap_text})"
    return f"mixed: not all plumbing conditions held ({marked}); not a repricing ({gap_text})"


def _sector_gap(signal: dict[str, Any] | None) -> float | None:
    if signal is None:
        return None
    ai = signal["classes"].get("ai_equity", {}).get("z_day")
    index = signal["classes"].get("equity_index", {}).get("z_day")
    return ai - index if ai is not None and index is not None else None


def funding_lines(funding: dict[str, Any], clock: Clock) -> tuple[list[str], list[str]]:
    """(stressed components, the others) described with value, date and stress."""
    stressed, calm = [], []
    for name, c in funding.get("components", {}).items():
        text = _component_text(name, c)
        if c.get("stress") is not None and not c.get("stale") and c["stress"] >= STRESSED:
            stressed.append(text)
        else:
            calm.append(text)
    return stressed, calm


def _component_text(name: str, c: dict[str, Any]) -> str:
    label = FUNDING_LABELS.get(name, name)
    value = c.get("value")
    if value is None:
        return f"{label} missing"
    if name == "sofr_iorb":
        sofr, iorb = c.get("sofr_pct", 0.0), c.get("iorb_pct", 0.0)
        shown = f"{value:+.0f} bp (SOFR {sofr:.2f}% vs IORB {iorb:.2f}%)"
    elif name == "srf":
        shown = f"{fmt_bn(value)} peak over {c.get('lookback_days', '?')} business days"
    else:
        shown = fmt_bn(value)
    when = f", dated {c['date']}" if c.get("date") else ""
    stale = ", STALE" if c.get("stale") else ""
    stress = f"stress {c['stress']:.2f}" if c.get("stress") is not None else "stress n/a"
    return f"{label} {shown}{when} ({stress}{stale})"


@dataclass
class Narrative:
    """Sections of prose, each a list of sentences (plain text, rendered to HTML and Markdown)."""

    sections: list[tuple[str, list[str]]]


def narrative(data: RunData, cfg: DetectionSettings, clock: Clock, v: Verdict) -> Narrative:
    window = data.window
    return Narrative(
        [
            ("Outcome", _outcome_lines(data, clock, v)),
            ("What moved first", _moves_lines(window, cfg, clock, first_drops(data, cfg))),
            ("What the funding panel showed", _funding_story(data, clock, v)),
            ("Liquidations", _liq_lines(liquidation_summary(data), clock)),
            ("Alerts and why", _alert_lines(data, cfg, clock)),
        ]
    )


def _outcome_lines(data: RunData, clock: Clock, v: Verdict) -> list[str]:
    peak = max(data.window, key=lambda s: s["score"])
    pts = ", ".join(
        f"{name} {peak['components'].get(f'{name}_points', 0.0):.1f}" for name in COMPONENT_STYLE
    )
    eps = episodes(data.alerts)
    lines = []
    if not eps:
        lines.append("Nothing fired: no warning or critical alert during the run.")
    else:
        crit = sum(1 for e in eps if e.severity == "critical")
        lines.append(
            f"{plural(len(eps), 'alert episode')}, {crit} of them critical; "
            f"{plural(len(data.alerts), 'transition')} in alerts.jsonl."
        )
    lines.append(
        f"Peak score {peak['score']:.1f} at {clock(peak['ts_ms'])} (points: {pts}; "
        f"regime {peak['regime']}, breadth {peak['breadth']:.2f})."
    )
    return lines


def _drops_line(drops: dict[str, int], clock: Clock) -> str:
    start = f"Down {FIRST_DROP_PCT:.0f}% from the start of the run"
    if not drops:
        return f"{start}: no core class."
    ordered = sorted(drops.items(), key=lambda kv: kv[1])
    return (
        f"{start}: "
        + ", then ".join(f"{CORE_STYLE.get(c, (c, ''))[0]} at {clock(ms)}" for c, ms in ordered)
        + "."
    )


def _moves_lines(
    window: Sequence[dict[str, Any]], cfg: DetectionSettings, clock: Clock, drops: dict[str, int]
) -> list[str]:
    down_z = cfg.breadth.down_z
    moves = class_moves(window, cfg)
    lines: list[str] = []
    crossed = [m for m in moves if m.first_down_ms is not None]
    for i, m in enumerate(crossed):
        label = CORE_STYLE.get(m.core, (m.core, ""))[0]
        lead = f", led by {m.leader} ({fmt_z(m.leader_z)})" if m.leader else ""
        ret = f", {m.ret_at_first:+.2f}% on the day" if m.ret_at_first is not None else ""
        order = "First" if i == 0 else "Then"
        lines.append(
            f"{order}: {label} crossed {down_z:+.2f}σ at {clock(m.first_down_ms or 0)} "
            f"({fmt_z(m.z_at_first)}{ret}{lead}); deepest {fmt_z(m.trough_z)} at "
            f"{clock(m.trough_ms or 0)}."
        )
    for m in moves:
        if m.first_down_ms is None:
            label = CORE_STYLE.get(m.core, (m.core, ""))[0]
            deepest = f"deepest {fmt_z(m.trough_z)}" if m.trough_z is not None else "no data"
            lines.append(f"{label} never reached {down_z:+.2f}σ ({deepest}).")
    lines.append(_drops_line(drops, clock))
    together = first_all_down(window)
    if together is not None:
        lines.append(
            f"All core classes were down together (breadth 1.0) first at "
            f"{clock(together['ts_ms'])}, score {together['score']:.1f}."
        )
    else:
        top = max(window, key=lambda s: s["breadth"])
        lines.append(
            f"The core classes were never all down at once (max breadth {top['breadth']:.2f})."
        )
    return lines


def _funding_story(data: RunData, clock: Clock, v: Verdict) -> list[str]:
    ref = reference_signal(data, v)
    funding = ref["funding"]
    when = "the first alert" if data.alerts else "the peak score"
    stress = funding.get("stress")
    if stress is None:
        return [
            f"As of {when} ({clock(ref['ts_ms'])}) funding stress was unknown (no usable input)."
        ]
    stressed, calm = funding_lines(funding, clock)
    lines = [
        f"As of {when} ({clock(ref['ts_ms'])}) the funding stress was {stress:.2f} "
        f"({len(stressed)} of {len(stressed) + len(calm)} components at or above {STRESSED:.1f})."
    ]
    if stressed:
        lines.append("Stressed: " + "; ".join(stressed) + ".")
    if calm:
        lines.append("Not stressed: " + "; ".join(calm) + ".")
    rng = _range_text(funding)
    if rng:
        lines.append(rng)
    return lines


def _range_text(funding: dict[str, Any]) -> str | None:
    values = funding.get("values") or {}
    lo, hi, sofr = (values.get(k) for k in ("TARGET_LOWER", "TARGET_UPPER", "SOFR"))
    if not (lo and hi and sofr):
        return None
    where = "above the top of" if sofr["value"] > hi["value"] else "inside"
    return (
        f"SOFR {sofr['value']:.2f}% ({sofr['date']}) was {where} the target range "
        f"{lo['value']:.2f}-{hi['value']:.2f}%."
    )


def _liq_lines(liq: LiqSummary, clock: Clock) -> list[str]:
    lines: list[str] = []
    if liq.source == "inputs":
        share = f", {liq.long_share * 100:.0f}% of it longs" if liq.long_share is not None else ""
        venues = (
            ", ".join(
                f"{venue_name(v)} {usd / liq.total_usd * 100:.0f}%"
                for v, usd in liq.by_venue.items()
            )
            if liq.total_usd
            else "none"
        )
        lines.append(
            f"{fmt_usd(liq.total_usd)} liquidated over the run in {liq.count:,} prints{share} "
            f"(venues: {venues})."
        )
        if liq.peak_hour_ms is not None:
            end = liq.peak_hour_ms + HOUR_MS
            ls = liq.peak_hour_long_share
            lines.append(
                f"Peak clock hour {clock.hhmm(liq.peak_hour_ms)}-{_hm(end)} UTC: "
                f"{fmt_usd(liq.peak_hour_usd)}"
                + (f" ({ls * 100:.0f}% longs)." if ls is not None else ".")
            )
        if liq.lower_bound_venues:
            names = ", ".join(venue_name(v) for v in liq.lower_bound_venues)
            verb = (
                "publishes a snapshot stream"
                if len(liq.lower_bound_venues) == 1
                else "publish snapshot streams"
            )
            lines.append(
                f"{names} {verb} (at most one print per symbol per second): those figures, and "
                f"so the totals, are lower bounds."
            )
    else:
        lines.append(
            f"About {fmt_usd(liq.total_usd)} liquidated over the run (from the detector's running "
            f"total; the inputs folder was not found, so no per-print detail)."
        )
    p = liq.peak_window
    if p is not None:
        lp = p["liquidations"]
        lines.append(
            f"The detector's {lp['window_min']}-minute window peaked at "
            f"{fmt_usd(lp['notional_usd'])} at {clock(p['ts_ms'])} "
            f"({lp['surge_ratio']:.1f}x the trailing hourly baseline, "
            f"{lp['long_share'] * 100:.0f}% longs, {plural(lp['venues_reporting'], 'venue')})."
        )
    return lines


def alert_rules(a: AlertSettings) -> str:
    """The alert rules in one sentence (docs/detection.md, section 6)."""
    return (
        f"a warning needs score {a.warning_score:.0f} or every core class "
        f"{a.broad_warning_z:g} normal day down; a critical needs score {a.critical_score:.0f} "
        f"with breadth {a.critical_min_breadth:.2f} and funding or liquidation stress "
        f"{a.critical_amplifier_min:.2f}, or every core class {a.broad_critical_z:g} normal "
        f"days down"
    )


def _alert_lines(data: RunData, cfg: DetectionSettings, clock: Clock) -> list[str]:
    eps = episodes(data.alerts)
    if not eps:
        peak = max(data.window, key=lambda s: s["score"])
        a = cfg.alerts
        return [
            f"Nothing fired. Peak score {peak['score']:.1f} at {clock(peak['ts_ms'])}; "
            f"{alert_rules(a)}, each for {a.for_s // 60} min."
        ]
    lines = []
    for ep in eps:
        steps = []
        for e in ep.events:
            verb = "resolved" if e.state == "resolved" else f"fired {e.severity}"
            steps.append(f"{verb} at {clock(e.ts_ms)} (score {e.score:.1f}, regime {e.regime})")
        tail = "" if ep.resolved else "; still open at the end of the run"
        lines.append(
            f"{ep.alert_id}: condition from {clock(ep.started_ts_ms)}; "
            + ", ".join(steps)
            + tail
            + "."
        )
        for e in ep.events:
            if e.state == "firing":
                why = regime_reasons(e.regime, data.signal_at(e.ts_ms), e.evidence, cfg)
                lines.append(f"{e.severity.capitalize()} at {clock(e.ts_ms)} was {why}.")
    return lines


# ---------------------------------------------------------------------------------------------
# Charts


@dataclass
class Chart:
    key: str
    title: str
    caption: str
    png: bytes


def _xnum(ms: float) -> float:
    """Matplotlib date number (days since 1970-01-01, the default epoch) of an epoch-ms time."""
    return ms / DAY_MS


def _new_figure(height: float, *, top_in: float | None = 0.42, bottom_in: float = 0.62) -> Figure:
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


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _time_axis(ax: Axes, start_ms: int, end_ms: int, label: bool = True) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC, minticks=6, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC, show_offset=False))
    ax.set_xlim(_xnum(start_ms), _xnum(end_ms))
    if label:
        ax.set_xlabel("UTC")


def _shade_alerts(ax: Axes, eps: Sequence[Episode], end_ms: int) -> None:
    for ep in eps:
        end = ep.resolved.ts_ms if ep.resolved else end_ms
        crit = ep.first("firing", "critical")
        warn_end = crit.ts_ms if crit else end
        ax.axvspan(
            _xnum(ep.fired_ms),
            _xnum(warn_end),
            color=SEVERITY_COLOR["warning"],
            alpha=0.08,
            lw=0,
            zorder=0,
        )
        if crit:
            ax.axvspan(
                _xnum(crit.ts_ms),
                _xnum(end),
                color=SEVERITY_COLOR["critical"],
                alpha=0.07,
                lw=0,
                zorder=0,
            )


def _price_series(
    signals: Sequence[dict[str, Any]], start_ms: int
) -> dict[str, tuple[str, list[float], list[float]]]:
    """symbol -> (asset class, x, % from the price at the start), NaN across gaps."""
    raw: dict[str, list[tuple[int, float]]] = {}
    classes: dict[str, str] = {}
    for s in signals:
        for sym, view in s["assets"].items():
            if view.get("fresh", True):
                raw.setdefault(sym, []).append((s["ts_ms"], view["price_usd"]))
                classes[sym] = view["asset_class"]
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
            xs.append(_xnum(t))
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
    fig = _new_figure(6.2 if vol else 4.8)
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
        _shade_alerts(axis, eps, data.end_ms)
        _time_axis(axis, data.start_ms, data.end_ms, label=axis is panels[-1][0])
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
        _png(fig),
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
    fig = _new_figure(4.6)
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
    _shade_alerts(ax, eps, data.end_ms)
    _time_axis(ax, data.start_ms, data.end_ms)
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
        _png(fig),
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
    x = [_xnum(first + i * bin_ms) for i in range(n)]
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


def _liq_windows(ax: Axes, window: Sequence[dict[str, Any]]) -> None:
    venues = sorted({v for s in window for v in s["liquidations"]["by_venue"]})
    colors = venue_colors(venues)
    x = [_xnum(s["ts_ms"]) for s in window]
    longs = [
        [s["liquidations"]["by_venue"].get(v, {}).get("long_usd", 0.0) for s in window]
        for v in venues
    ]
    shorts = [
        [
            -(
                s["liquidations"]["by_venue"].get(v, {}).get("notional_usd", 0.0)
                - s["liquidations"]["by_venue"].get(v, {}).get("long_usd", 0.0)
            )
            for s in window
        ]
        for v in venues
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

    fig = _new_figure(5.6, top_in=None)
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
        f"detector's calm and full-stress levels; the shaded side is stress.{note}",
        _png(fig),
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
        f"Rates vs target range (SOFR {sofr[-1][1]:.2f}%)" if sofr else "Rates vs target range"
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
        ax.set_title(f"{title}  {shown} ({last_d:%b %-d})")
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
        ax.annotate(
            name,
            xy=(0.99, level),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=7,
            color="#868e96",
        )
    ax.set_ylim(ymin, ymax)


def chart_score(
    data: RunData, cfg: DetectionSettings, clock: Clock, eps: Sequence[Episode]
) -> Chart:
    fig = _new_figure(4.8)
    ax = fig.subplots()
    window = data.window
    x = [_xnum(s["ts_ms"]) for s in window]
    stacks = [[s["components"].get(f"{k}_points") or 0.0 for s in window] for k in COMPONENT_STYLE]
    ax.stackplot(
        x,
        stacks,
        colors=[c for _, c in COMPONENT_STYLE.values()],
        labels=[n for n, _ in COMPONENT_STYLE.values()],
        alpha=0.85,
        lw=0,
    )
    ax.plot(x, [s["score"] for s in window], color="#212529", lw=0.9, label="Score")
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
    _shade_alerts(ax, eps, data.end_ms)
    ax.set_ylim(0, 100)
    ax.set_ylabel("Score (points)")
    _time_axis(ax, data.start_ms, data.end_ms)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=5)
    return Chart(
        "score",
        "Composite score and its components",
        "Points each component adds to the 0-100 score (weights: "
        + ", ".join(f"{k} {w:.0f}" for k, w in cfg.score.weights.items())
        + f"). {alert_rules(a).capitalize()}, each held {a.for_s // 60} min; an alert "
        f"resolves after {a.resolve_for_s // 60} min below {a.resolve_score:.0f}. Triangles: "
        f"alert firing; circles: resolved.",
        _png(fig),
    )


def _alert_markers(ax: Axes, alerts: Sequence[AlertEvent], clock: Clock) -> None:
    for i, e in enumerate(alerts):
        color = SEVERITY_COLOR["resolved" if e.state == "resolved" else e.severity]
        marker = "o" if e.state == "resolved" else "^"
        ax.plot(
            [_xnum(e.ts_ms)],
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
            xy=(_xnum(e.ts_ms), e.score),
            xytext=(6, 10 + 12 * (i % 2)),
            textcoords="offset points",
            fontsize=8,
            color=color,
            fontweight="bold",
            zorder=6,
            bbox=LABEL_BOX,
        )


def chart_core_z(data: RunData, cfg: DetectionSettings, clock: Clock) -> Chart:
    fig = _new_figure(4.0)
    ax = fig.subplots()
    window = data.window
    x = [_xnum(s["ts_ms"]) for s in window]
    for core, members in core_members(cfg).items():
        label, color = CORE_STYLE.get(core, (core, "#868e96"))
        ys = [s["classes"].get("core_z", {}).get(core) for s in window]
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
            ax.plot([_xnum(m.first_down_ms)], [m.z_at_first], "o", color=color, ms=7, mec="white")
            ax.annotate(
                clock.hhmm(m.first_down_ms),
                xy=(_xnum(m.first_down_ms), m.z_at_first),
                xytext=(5, -13),
                textcoords="offset points",
                fontsize=8,
                color=color,
                fontweight="bold",
                bbox=LABEL_BOX,
            )
    _shade_runs(
        ax, window, lambda s: s["breadth"] >= 1.0 - 1e-9, "#e03131", "all core classes down"
    )
    ax.set_ylabel("Day z-score (σ)")
    _time_axis(ax, data.start_ms, data.end_ms)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4)
    return Chart(
        "core_z",
        "Core-class moves: what moved first",
        f"Mean day z-score of each core class (move since the previous close, or 24 h, in units "
        f"of its own volatility). Dots: first time each class reached {down:+.2f}σ, the breadth "
        f"threshold. Dotted: the class's market closed (last value held). Red background: all "
        f"core classes down at once (breadth 1.0).",
        _png(fig),
    )


def _trading(signal: dict[str, Any], members: Sequence[str]) -> bool:
    """Whether any asset of the class had a fresh price at this tick (its market was open)."""
    return any(
        v.get("fresh", True) for v in signal["assets"].values() if v["asset_class"] in members
    )


def _runs(
    window: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> list[tuple[int, int, Any]]:
    """Consecutive ticks with the same key as (start_ms, end_ms, key); a tick covers its minute."""
    out: list[tuple[int, int, Any]] = []
    for s in window:
        k, t = key(s), s["ts_ms"]
        if out and out[-1][2] == k and out[-1][1] >= t - MIN_MS:
            out[-1] = (out[-1][0], t, k)
        else:
            out.append((t - MIN_MS, t, k))
    return out


def _shade_runs(
    ax: Axes,
    window: Sequence[dict[str, Any]],
    pred: Callable[[dict[str, Any]], bool],
    color: str,
    label: str,
) -> None:
    first = True
    for a, b, on in _runs(window, pred):
        if on:
            ax.axvspan(
                _xnum(a),
                _xnum(b),
                color=color,
                alpha=0.08,
                lw=0,
                zorder=0,
                label=label if first else None,
            )
            first = False


def chart_timeline(data: RunData, clock: Clock, eps: Sequence[Episode]) -> Chart:
    rows = 2 + len(eps)
    fig = _new_figure(1.25 + 0.5 * rows)
    ax = fig.subplots()
    window = data.window
    _strip(ax, rows - 1, _runs(window, lambda s: s["regime"]), REGIME_COLOR)
    _strip(ax, rows - 2, _runs(window, lambda s: s["alert_state"]), STATE_COLOR)
    for i, ep in enumerate(eps):
        _episode_row(ax, rows - 3 - i, ep, data.end_ms, clock)
    labels = ["Regime", "Alert state", *[f"Episode {i + 1}" for i in range(len(eps))]]
    ax.set_yticks([rows - 1 - i for i in range(rows)], labels)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.grid(axis="y", visible=False)
    _time_axis(ax, data.start_ms, data.end_ms)
    regimes = {s["regime"] for s in window}
    states = {s["alert_state"] for s in window}
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
        _png(fig),
    )


def _strip(
    ax: Axes, y: float, runs: Sequence[tuple[int, int, Any]], colors: dict[str, str]
) -> None:
    for a, b, k in runs:
        ax.broken_barh(
            [(_xnum(a), (b - a) / DAY_MS)], (y - 0.35, 0.7), color=colors.get(k, "#ced4da"), lw=0
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
        [(_xnum(ep.started_ts_ms), (ep.fired_ms - ep.started_ts_ms) / DAY_MS)],
        (y - 0.3, 0.6),
        facecolor="white",
        edgecolor=SEVERITY_COLOR["warning"],
        hatch="////",
        lw=0.6,
    )
    warn_end = crit.ts_ms if crit else end
    if ep.first("firing", "warning") or not crit:
        ax.broken_barh(
            [(_xnum(ep.fired_ms), (warn_end - ep.fired_ms) / DAY_MS)],
            (y - 0.3, 0.6),
            color=SEVERITY_COLOR["warning"],
            lw=0,
        )
    if crit:
        ax.broken_barh(
            [(_xnum(crit.ts_ms), (end - crit.ts_ms) / DAY_MS)],
            (y - 0.3, 0.6),
            color=SEVERITY_COLOR["critical"],
            lw=0,
        )
    for i, e in enumerate(ep.events):
        color = SEVERITY_COLOR["resolved" if e.state == "resolved" else e.severity]
        ax.plot(
            [_xnum(e.ts_ms)],
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
            xy=(_xnum(e.ts_ms), y + (0.32 if above else -0.32)),
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


# ---------------------------------------------------------------------------------------------
# Evidence of one alert transition, as rows of (label, text)


def evidence_rows(e: AlertEvent) -> list[tuple[str, str]]:
    ev = e.evidence
    comps = ev.get("components", {})
    points = ", ".join(
        f"{k} {comps[f'{k}_points']:.1f}"
        for k in COMPONENT_STYLE
        if comps.get(f"{k}_points") is not None
    )
    core = ", ".join(f"{k} {fmt_z(z)}" for k, z in (ev.get("core_z") or {}).items())
    liq = ev.get("liquidations") or {}
    fund = ev.get("funding") or {}
    return [
        ("Score", f"{e.score:.1f} ({points})" if points else f"{e.score:.1f}"),
        ("Breadth", f"{fmt_num(ev.get('breadth'))}; co-movement {fmt_num(ev.get('comovement'))}"),
        ("Core class z", core or "n/a"),
        ("Liquidations", _liq_evidence(liq)),
        ("Funding", _funding_evidence(fund)),
    ]


def _liq_evidence(liq: dict[str, Any]) -> str:
    if not liq:
        return "n/a"
    by_venue = sorted(
        (liq.get("by_venue") or {}).items(), key=lambda kv: -(kv[1].get("notional_usd") or 0)
    )
    venues = ", ".join(f"{venue_name(v)} {fmt_usd(d.get('notional_usd'))}" for v, d in by_venue)
    bound = " (lower bound)" if liq.get("is_lower_bound") else ""
    return (
        f"{fmt_usd(liq.get('notional_usd'))}/{liq.get('window_min', 60)}m{bound}, surge "
        f"{fmt_num(liq.get('surge_ratio'), '.1f')}x, longs "
        f"{fmt_num((liq.get('long_share') or 0) * 100, '.0f')}%; {venues or 'no venues'}"
    )


def _funding_evidence(fund: dict[str, Any]) -> str:
    stress = fund.get("stress")
    parts = []
    for name, c in fund.items():
        if isinstance(c, dict):
            value = c.get("value")
            shown = (
                "missing"
                if value is None
                else (f"{value:+.0f} bp" if name == "sofr_iorb" else fmt_bn(value))
            )
            parts.append(f"{FUNDING_LABELS.get(name, name)} {shown} ({fmt_num(c.get('stress'))})")
    stale = f"; stale: {', '.join(fund['stale'])}" if fund.get("stale") else ""
    return f"stress {fmt_num(stress)}: " + "; ".join(parts) + stale


# ---------------------------------------------------------------------------------------------
# HTML


CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f1f3f5;color:#212529;font:15px/1.5 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
.page{max-width:1200px;margin:0 auto;padding:24px 30px 40px;background:#fff}
.hdr{border-left:8px solid var(--c);padding:14px 20px;background:var(--bg);border-radius:4px}
.kicker{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#495057}
h1{margin:4px 0 6px;font-size:27px;line-height:1.25;color:var(--c)}
.sub{color:#343a40;font-size:14px}
.critical{--c:#c92a2a;--bg:#fff5f5}.warning{--c:#d9480f;--bg:#fff4e6}.none{--c:#2b8a3e;--bg:#ebfbee}
.facts{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin:18px 0 6px}
.fact{border:1px solid #e9ecef;border-radius:6px;padding:9px 12px}
.fact .k{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:#868e96}
.fact .v{font-size:19px;font-weight:650;font-variant-numeric:tabular-nums}
.fact .n{font-size:12px;color:#495057}
h2{font-size:19px;margin:30px 0 8px;padding-bottom:5px;border-bottom:2px solid #e9ecef}
h3{font-size:15px;margin:18px 0 4px}
.story{columns:2;column-gap:32px}
.story section{break-inside:avoid;margin-bottom:10px}.story h3{margin-top:4px}
.story p{margin:0 0 6px}.story ul{margin:0;padding-left:18px}
.story li{margin:0 0 4px}
figure{margin:14px 0 22px}figure img{width:100%;height:auto;display:block;border:1px solid #f1f3f5}
figcaption{font-size:13px;color:#495057;margin-top:4px}
.card{border:1px solid #dee2e6;border-left:6px solid var(--c);border-radius:5px;margin:12px 0;
padding:10px 14px}
.card.resolved{--c:#2b8a3e}.card .top{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;
color:#fff;background:var(--c);text-transform:uppercase;letter-spacing:.04em}
.aid{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.headline{margin:4px 0 6px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
td,th{padding:4px 8px;border-bottom:1px solid #f1f3f5;text-align:left;vertical-align:top}
th{color:#495057;font-weight:600;white-space:nowrap}
.ev th{width:120px}.muted{color:#868e96}
footer{margin-top:30px;font-size:12px;color:#868e96;border-top:1px solid #e9ecef;padding-top:10px}
@media print{body{background:#fff}.page{padding:0}}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _img(chart: Chart) -> str:
    b64 = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure id="{chart.key}"><h3>{_e(chart.title)}</h3>'
        f'<img src="data:image/png;base64,{b64}" alt="{_e(chart.title)}">'
        f"<figcaption>{_e(chart.caption)}</figcaption></figure>"
    )


@dataclass
class Fact:
    key: str
    value: str
    note: str = ""


def facts(data: RunData, clock: Clock, v: Verdict, liq: LiqSummary) -> list[Fact]:
    peak = max(data.window, key=lambda s: s["score"])
    eps = episodes(data.alerts)
    ref = reference_signal(data, v)
    fstress = ref["funding"].get("stress")
    span_min = (data.end_ms - data.start_ms) // MIN_MS
    span = f"{span_min / 60:.0f} h" if span_min >= 120 else f"{span_min} min"
    breadth_max = max(s["breadth"] for s in data.window)
    return [
        Fact(
            "Alerts",
            plural(len(eps), "episode") if eps else "None",
            f"{plural(len(data.alerts), 'transition')}, top {v.level}" if eps else "nothing fired",
        ),
        Fact("Peak score", f"{peak['score']:.1f}", clock(peak["ts_ms"])),
        Fact("Max breadth", f"{breadth_max:.2f}", "share of core classes down"),
        Fact(
            "Liquidations",
            fmt_usd(liq.total_usd),
            f"{liq.long_share * 100:.0f}% longs" if liq.long_share is not None else liq.source,
        ),
        Fact(
            "Funding stress",
            fmt_num(fstress),
            "at the first alert" if data.alerts else "at the peak score",
        ),
        Fact("Window", span, f"{len(data.window):,} minute ticks"),
    ]


def render_html(data: RunData, cfg: DetectionSettings, charts: Sequence[Chart]) -> str:
    clock = Clock(data.start_ms, data.end_ms)
    v = verdict(data, clock)
    liq = liquidation_summary(data)
    story = narrative(data, cfg, clock, v)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(v.title)} · {_e(data.name)}</title><style>{CSS}</style></head><body>",
        "<div class='page'>",
        f"<div class='hdr {v.level}'><div class='kicker'>shockwatch post-mortem · run "
        f"{_e(data.meta.get('run_id', data.run_dir.name))}</div><h1>{_e(v.title)}</h1>"
        f"<div class='sub'><b>{_e(data.name)}</b> · {_e(clock(data.start_ms, True))} → "
        f"{_e(clock(data.end_ms, True))}</div></div>",
        "<div class='facts'>"
        + "".join(
            f"<div class='fact'><div class='k'>{_e(f.key)}</div><div class='v'>{_e(f.value)}"
            f"</div><div class='n'>{_e(f.note)}</div></div>"
            for f in facts(data, clock, v, liq)
        )
        + "</div>",
        "<h2>What happened</h2><div class='story'>",
        *(
            f"<section><h3>{_e(title)}</h3><ul>{''.join(f'<li>{_e(s)}</li>' for s in lines)}"
            f"</ul></section>"
            for title, lines in story.sections
        ),
        "</div><h2>Charts</h2>",
        *(_img(c) for c in charts),
        "<h2>Alerts and their evidence</h2>",
        _alert_cards(data, clock),
        _run_details(data, cfg),
        "<footer>Generated by <code>shockwatch report</code> from the run folder and its inputs; "
        "all times UTC; figures in US dollars. Self-contained: opens offline.</footer>",
        "</div></body></html>",
    ]
    return "\n".join(parts)


def _alert_cards(data: RunData, clock: Clock) -> str:
    if not data.alerts:
        peak = max(data.window, key=lambda s: s["score"])
        return (
            f"<p>Nothing fired during the run. The score peaked at {peak['score']:.1f} at "
            f"{_e(clock(peak['ts_ms']))}.</p>"
        )
    cards = []
    for e in data.alerts:
        cls = "resolved" if e.state == "resolved" else e.severity
        rows = "".join(
            f"<tr><th>{_e(k)}</th><td>{_e(val)}</td></tr>" for k, val in evidence_rows(e)
        )
        cards.append(
            f"<div class='card {cls}'><div class='top'><span class='badge'>{_e(e.state)} · "
            f"{_e(e.severity)}</span><b>{_e(clock(e.ts_ms, True))}</b><span>regime "
            f"<b>{_e(e.regime)}</b></span><span class='aid'>{_e(e.alert_id)}</span></div>"
            f"<div class='headline'>{_e(e.headline)}</div><table class='ev'>{rows}</table></div>"
        )
    return "".join(cards)


def _run_details(data: RunData, cfg: DetectionSettings) -> str:
    meta = data.meta
    loaded = meta.get("loaded") or {}
    feeds = "; ".join(
        f"{k}: {v.get('valid', 0):,} valid, {v.get('rejected', 0):,} rejected"
        + (
            f" ({', '.join(f'{r} {n}' for r, n in v['reasons'].items())})"
            if v.get("reasons")
            else ""
        )
        for k, v in loaded.items()
    )
    a = cfg.alerts
    rows = [
        ("Scenario", f"{data.name}: {meta.get('description', '')}"),
        ("Inputs", str(data.inputs) if data.inputs else f"not found ({meta.get('inputs', 'n/a')})"),
        ("Loaded", feeds or "n/a"),
        (
            "Run",
            f"id {meta.get('run_id', '')}, app {meta.get('app_id', '')}, prefix "
            f"{meta.get('prefix', '')}, {meta.get('signals', len(data.signals))} signals, "
            f"{meta.get('elapsed_s', 'n/a')} s",
        ),
        (
            "Thresholds",
            f"breadth down at {cfg.breadth.down_z:+.2f}σ; {alert_rules(a)}; "
            f"resolve below {a.resolve_score:.0f}; plumbing: funding stress >= "
            f"{cfg.score.plumbing_funding_min:.2f}, breadth >= 0.67, liquidation stress "
            f">= {cfg.score.plumbing_liq_min:.2f}",
        ),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<h2>Run details</h2><table class='ev'>{body}</table>"


# ---------------------------------------------------------------------------------------------
# Markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(data: RunData, cfg: DetectionSettings) -> str:
    clock = Clock(data.start_ms, data.end_ms)
    v = verdict(data, clock)
    liq = liquidation_summary(data)
    out = [
        f"# {v.title}",
        "",
        f"**{data.name}** · {clock(data.start_ms, True)} → {clock(data.end_ms, True)} · run "
        f"`{data.meta.get('run_id', data.run_dir.name)}`",
        "",
    ]
    if data.meta.get("description"):
        out += [f"> {data.meta['description']}", ""]
    out += [f"- **{f.key}**: {f.value} ({f.note})" for f in facts(data, clock, v, liq)]
    out.append("")
    for title, lines in narrative(data, cfg, clock, v).sections:
        out += [f"## {title}", "", *(f"- {s}" for s in lines), ""]
    out += ["## Alerts", ""]
    if not data.alerts:
        out += ["Nothing fired during the run.", ""]
    else:
        out += [
            "| time (UTC) | alert id | state | severity | regime | score | breadth | core z "
            "| liquidations | funding stress |",
            "|---|---|---|---|---|---:|---:|---|---|---:|",
            *(_md_row(e, clock) for e in data.alerts),
            "",
        ]
        for e in data.alerts:
            out += [
                f"### {e.alert_id} · {e.state} {e.severity} · {clock(e.ts_ms, True)}",
                "",
                f"> {e.headline}",
                "",
            ]
            out += [f"- **{k}**: {val}" for k, val in evidence_rows(e)]
            out.append("")
    out += ["The HTML report (report.html, same folder) has the charts.", ""]
    return "\n".join(out)


def _md_row(e: AlertEvent, clock: Clock) -> str:
    ev = e.evidence
    core = ", ".join(f"{k} {fmt_z(z)}" for k, z in (ev.get("core_z") or {}).items())
    liq = ev.get("liquidations") or {}
    longs = fmt_num((liq.get("long_share") or 0.0) * 100, ".0f")
    liq_text = (
        f"{fmt_usd(liq.get('notional_usd'))}/{liq.get('window_min', 60)}m, "
        f"{fmt_num(liq.get('surge_ratio'), '.1f')}x, longs {longs}%"
        if liq
        else "n/a"
    )
    cells = [
        clock(e.ts_ms, True),
        f"`{e.alert_id}`",
        e.state,
        e.severity,
        e.regime,
        f"{e.score:.1f}",
        fmt_num(ev.get("breadth")),
        core,
        liq_text,
        fmt_num((ev.get("funding") or {}).get("stress")),
    ]
    return "| " + " | ".join(_md(c) for c in cells) + " |"


# ---------------------------------------------------------------------------------------------
# Entry points


def build_charts(data: RunData, cfg: DetectionSettings) -> list[Chart]:
    import matplotlib as mpl

    clock = Clock(data.start_ms, data.end_ms)
    eps = episodes(data.alerts)
    liq = liquidation_summary(data)
    with mpl.rc_context(RC):
        return [
            chart_score(data, cfg, clock, eps),
            chart_timeline(data, clock, eps),
            chart_prices(data, clock, eps),
            chart_core_z(data, cfg, clock),
            chart_liquidations(data, clock, liq, eps),
            chart_funding(data, cfg, clock),
        ]


def build_report(
    run_dir: Path, out_dir: Path | None = None, detection: DetectionSettings | None = None
) -> ReportPaths:
    """Write ``report.html`` and ``report.md`` for a run folder (into it, or ``out_dir``)."""
    if detection is None:
        from common.settings import Settings

        detection = Settings().detection
    data = load_run(Path(run_dir))
    charts = build_charts(data, detection)
    target = Path(out_dir) if out_dir is not None else data.run_dir
    target.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(target / "report.html", target / "report.md")
    paths.html.write_text(render_html(data, detection, charts), encoding="utf-8")
    paths.markdown.write_text(render_markdown(data, detection), encoding="utf-8")
    return paths


def report_command(run_dir: Path, settings: Settings | None = None) -> ReportPaths:
    """What ``shockwatch report`` runs: the report of one run folder, with the app's settings."""
    if settings is None:
        from common.settings import Settings

        settings = Settings()
    return build_report(Path(run_dir), detection=settings.detection)
