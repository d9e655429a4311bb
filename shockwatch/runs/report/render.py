"""Rendering: the HTML page and the Markdown summary of a run, and what both show (the key
facts, the evidence of each alert transition).

The HTML is built with f-strings and ``html.escape`` rather than a template engine such as
Jinja2. The page is a few dozen lines of markup around the narrative, the charts and the alert
cards, each value escaped where it is interpolated, so a template would not read much better;
it would add a runtime dependency, and its autoescape (markupsafe) writes ``'`` as ``&#39;``
and ``"`` as ``&#34;`` where ``html.escape`` writes ``&#x27;`` and ``&quot;``, so the page would
change byte for byte (captions carry apostrophes).

``report.html`` embeds its charts as base64 PNG ``data:`` URIs with inline CSS and nothing
fetched when opened; ``report.md`` carries the same facts, narrative and every alert with its
evidence.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shockwatch.runs.report.analysis import (
    LiqSummary,
    Verdict,
    episodes,
    liquidation_summary,
    reference_signal,
    verdict,
)
from shockwatch.runs.report.figure import Chart
from shockwatch.runs.report.narrative import alert_rules, narrative
from shockwatch.runs.report.run import RunData
from shockwatch.runs.report.style import (
    COMPONENT_STYLE,
    FUNDING_LABELS,
    MIN_MS,
    Clock,
    fmt_bn,
    fmt_num,
    fmt_usd,
    fmt_z,
    plural,
    venue_name,
)
from streams.records import AlertEvent, FundingEvidence, LiqEvidence, given

if TYPE_CHECKING:
    from common.settings import DetectionSettings


# ---------------------------------------------------------------------------------------------
# Evidence of one alert transition, as rows of (label, text)


def evidence_rows(e: AlertEvent) -> list[tuple[str, str]]:
    ev = e.evidence
    comps = given(ev.components) or {}
    points = ", ".join(
        f"{k} {comps[f'{k}_points']:.1f}"
        for k in COMPONENT_STYLE
        if comps.get(f"{k}_points") is not None
    )
    core = ", ".join(f"{k} {fmt_z(z)}" for k, z in (given(ev.core_z) or {}).items())
    liq = given(ev.liquidations) or LiqEvidence()
    fund = given(ev.funding) or FundingEvidence()
    breadth, comove = fmt_num(given(ev.breadth)), fmt_num(given(ev.comovement))
    return [
        ("Score", f"{e.score:.1f} ({points})" if points else f"{e.score:.1f}"),
        ("Breadth", f"{breadth}; co-movement {comove}"),
        ("Core class z", core or "n/a"),
        ("Liquidations", _liq_evidence(liq)),
        ("Funding", _funding_evidence(fund)),
    ]


def _liq_text(liq: LiqEvidence, detail: bool = False) -> str:
    """The liquidation window of an alert's evidence: "$354m/60m, 11.0x, longs 88%"; with
    ``detail``, "$354m/60m (lower bound), surge 11.0x, longs 88%"."""
    window = given(liq.window_min)
    bound = " (lower bound)" if detail and given(liq.is_lower_bound) else ""
    return (
        f"{fmt_usd(given(liq.notional_usd))}/{60 if window is None else window}m{bound}, "
        f"{'surge ' if detail else ''}{fmt_num(given(liq.surge_ratio), '.1f')}x, longs "
        f"{fmt_num((given(liq.long_share) or 0.0) * 100, '.0f')}%"
    )


def _liq_evidence(liq: LiqEvidence) -> str:
    if not liq.to_dict():
        return "n/a"
    by_venue = sorted((given(liq.by_venue) or {}).items(), key=lambda kv: -kv[1].notional_usd)
    venues = ", ".join(f"{venue_name(v)} {fmt_usd(d.notional_usd)}" for v, d in by_venue)
    return f"{_liq_text(liq, detail=True)}; {venues or 'no venues'}"


def _funding_evidence(fund: FundingEvidence) -> str:
    stress = given(fund.stress)
    parts = []
    for name, c in fund.components.items():
        value = c.value
        shown = (
            "missing"
            if value is None
            else (f"{value:+.0f} bp" if name == "sofr_iorb" else fmt_bn(value))
        )
        parts.append(f"{FUNDING_LABELS.get(name, name)} {shown} ({fmt_num(c.stress)})")
    stale_names = given(fund.stale)
    stale = f"; stale: {', '.join(stale_names)}" if stale_names else ""
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
    peak = max(data.window, key=lambda s: s.score)
    eps = episodes(data.alerts)
    ref = reference_signal(data, v)
    fstress = ref.funding.stress
    span_min = (data.end_ms - data.start_ms) // MIN_MS
    span = f"{span_min / 60:.0f} h" if span_min >= 120 else f"{span_min} min"
    breadth_max = max(s.breadth for s in data.window)
    return [
        Fact(
            "Alerts",
            plural(len(eps), "episode") if eps else "None",
            f"{plural(len(data.alerts), 'transition')}, top {v.level}" if eps else "nothing fired",
        ),
        Fact("Peak score", f"{peak.score:.1f}", clock(peak.ts_ms)),
        Fact("Max breadth", f"{breadth_max:.2f}", "share of core classes down"),
        Fact(
            "Liquidations",
            fmt_usd(liq.total_usd),
            liq.long_share_label,
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
        peak = max(data.window, key=lambda s: s.score)
        return (
            f"<p>Nothing fired during the run. The score peaked at {peak.score:.1f} at "
            f"{_e(clock(peak.ts_ms))}.</p>"
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
    core = ", ".join(f"{k} {fmt_z(z)}" for k, z in (given(ev.core_z) or {}).items())
    liq = given(ev.liquidations)
    liq_text = _liq_text(liq) if liq is not None and liq.to_dict() else "n/a"
    funding = given(ev.funding)
    cells = [
        clock(e.ts_ms, True),
        f"`{e.alert_id}`",
        e.state,
        e.severity,
        e.regime,
        f"{e.score:.1f}",
        fmt_num(given(ev.breadth)),
        core,
        liq_text,
        fmt_num(given(funding.stress) if funding is not None else None),
    ]
    return "| " + " | ".join(_md(c) for c in cells) + " |"
