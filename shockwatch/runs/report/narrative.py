"""The narrative: the run told in sentences, derived from the analysis.

Sections of plain text (rendered to HTML and Markdown alike): the outcome, what moved first,
what the funding panel showed, the liquidations, and each alert with why its regime is what it
is. The thresholds it quotes (breadth z, warning/critical, regime rules) come from the
detection settings passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shockwatch.runs.report.analysis import (
    FIRST_DROP_PCT,
    LiqSummary,
    Verdict,
    class_moves,
    episodes,
    first_all_down,
    first_drops,
    liquidation_summary,
    reference_signal,
)
from shockwatch.runs.report.run import RunData
from shockwatch.runs.report.style import (
    COMPONENT_STYLE,
    CORE_STYLE,
    FUNDING_LABELS,
    HOUR_MS,
    Clock,
    fmt_bn,
    fmt_num,
    fmt_usd,
    fmt_z,
    plural,
    venue_name,
)
from streams.records import (
    AssetClass,
    Evidence,
    FundingComponent,
    FundingPicture,
    ShockSignal,
    given,
)

if TYPE_CHECKING:
    from common.settings import AlertSettings, DetectionSettings

STRESSED = 0.5  # a funding component at or above this stress is called stressed


def _hm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M")


def regime_reasons(
    regime: str, signal: ShockSignal | None, evidence: Evidence, cfg: DetectionSettings
) -> str:
    """Why the regime is what it is, with the numbers the rule compared."""
    sc = cfg.score
    comps = given(evidence.components) or {}
    funding = given(evidence.funding)
    fstress = given(funding.stress) if funding is not None else None
    breadth = given(evidence.breadth)
    breadth = 0.0 if breadth is None else breadth
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


def _sector_gap(signal: ShockSignal | None) -> float | None:
    if signal is None:
        return None
    ai = signal.classes.z_day(AssetClass.AI_EQUITY)
    index = signal.classes.z_day(AssetClass.EQUITY_INDEX)
    return ai - index if ai is not None and index is not None else None


def funding_lines(funding: FundingPicture, clock: Clock) -> tuple[list[str], list[str]]:
    """(stressed components, the others) described with value, date and stress."""
    stressed, calm = [], []
    for name, c in funding.components.items():
        text = _component_text(name, c)
        if c.stress is not None and not c.stale and c.stress >= STRESSED:
            stressed.append(text)
        else:
            calm.append(text)
    return stressed, calm


def _component_text(name: str, c: FundingComponent) -> str:
    label = FUNDING_LABELS.get(name, name)
    value = c.value
    if value is None:
        return f"{label} missing"
    if name == "sofr_iorb":
        sofr, iorb = given(c.sofr_pct) or 0.0, given(c.iorb_pct) or 0.0
        shown = f"{value:+.0f} bp (SOFR {sofr:.2f}% vs IORB {iorb:.2f}%)"
    elif name == "srf":
        days = given(c.lookback_days)
        shown = f"{fmt_bn(value)} peak over {'?' if days is None else days} business days"
    else:
        shown = fmt_bn(value)
    when = f", dated {c.date}" if c.date else ""
    stale = ", STALE" if c.stale else ""
    stress = f"stress {c.stress:.2f}" if c.stress is not None else "stress n/a"
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
    peak = max(data.window, key=lambda s: s.score)
    pts = ", ".join(
        f"{name} {peak.components.get(f'{name}_points', 0.0):.1f}" for name in COMPONENT_STYLE
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
        f"Peak score {peak.score:.1f} at {clock(peak.ts_ms)} (points: {pts}; "
        f"regime {peak.regime}, breadth {peak.breadth:.2f})."
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
    window: Sequence[ShockSignal], cfg: DetectionSettings, clock: Clock, drops: dict[str, int]
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
            f"{clock(together.ts_ms)}, score {together.score:.1f}."
        )
    else:
        top = max(window, key=lambda s: s.breadth)
        lines.append(
            f"The core classes were never all down at once (max breadth {top.breadth:.2f})."
        )
    return lines


def _funding_story(data: RunData, clock: Clock, v: Verdict) -> list[str]:
    ref = reference_signal(data, v)
    funding = ref.funding
    when = "the first alert" if data.alerts else "the peak score"
    stress = funding.stress
    if stress is None:
        return [f"As of {when} ({clock(ref.ts_ms)}) funding stress was unknown (no usable input)."]
    stressed, calm = funding_lines(funding, clock)
    lines = [
        f"As of {when} ({clock(ref.ts_ms)}) the funding stress was {stress:.2f} "
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


def _range_text(funding: FundingPicture) -> str | None:
    lo, hi, sofr = (funding.values.get(k) for k in ("TARGET_LOWER", "TARGET_UPPER", "SOFR"))
    if lo is None or hi is None or sofr is None:
        return None
    where = "above the top of" if sofr.value > hi.value else "inside"
    return (
        f"SOFR {sofr.value:.2f}% ({sofr.date}) was {where} the target range "
        f"{lo.value:.2f}-{hi.value:.2f}%."
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
        lp = p.liquidations
        lines.append(
            f"The detector's {lp.window_min}-minute window peaked at "
            f"{fmt_usd(lp.notional_usd)} at {clock(p.ts_ms)} "
            f"({lp.surge_ratio:.1f}x the trailing hourly baseline, "
            f"{lp.long_share * 100:.0f}% longs, {plural(lp.venues_reporting, 'venue')})."
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
        peak = max(data.window, key=lambda s: s.score)
        a = cfg.alerts
        return [
            f"Nothing fired. Peak score {peak.score:.1f} at {clock(peak.ts_ms)}; "
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
