"""Slack Block Kit messages built from an AlertEvent: the presentation of an alert.

Building is pure (``build_message``, ``build_resolved_update``): an alert and a few links in,
a payload out that respects Slack's limits (header <= 150 chars of plain_text, section text
<= 3000, <= 10 fields of <= 2000 each, <= 50 blocks). The evidence is read by attribute
(``streams.records.Evidence``); what an older alert did not record shows as "n/a". Tests check
the payloads against the stand-in in tests/slack_server.py, which validates the way Slack does.
Delivery is ``alerts.slack``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from common.fmt import fmt_time, fmt_usd
from common.settings import Settings
from streams.instruments import CLASS_OF
from streams.records import (
    AlertEvent,
    AssetClass,
    AssetEvidence,
    ComponentEvidence,
    LiqEvidence,
    given,
)

# Slack's documented limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BLOCK_ID_CHARS = 255
MAX_TEXT_CHARS = 3000  # top-level fallback text: Slack allows more, notifications show less

CORE_LABELS = {"equities": "Equities", "gold": "Gold", "crypto": "Crypto"}
CLASS_ORDER: tuple[AssetClass, ...] = tuple(AssetClass)
CLASS_LABELS = {
    "equity_index": "index",
    "ai_equity": "AI equity",
    "gold": "gold",
    "crypto": "crypto",
    "volatility": "vol",
}
FUNDING_PANEL: tuple[tuple[str, str], ...] = (
    ("sofr_iorb", "SOFR − IORB"),
    ("srf", "SRF take-up"),
    ("reserves", "Reserves"),
    ("tga", "TGA"),
    ("on_rrp", "ON RRP"),
)
REGIME_NOTES = {
    "plumbing": "funding-driven, broad, margin-call selling",
    "repricing": "a sector repricing, funding calm",
    "mixed": "broad stress, no single driver",
    "calm": "below the warning level",
}
SEVERITY_ICON = {"critical": "🔴", "warning": "🟠"}
RUNBOOK_ANCHORS = {"critical": "everythingsells", "warning": "shockwatchwarning"}


# -- formatting ---------------------------------------------------------------------------------


def esc(text: object) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_usd_bn(x: float | None) -> str:
    return "n/a" if x is None else fmt_usd(x * 1e9, trillions=True)


def fmt_signed(x: float | None, digits: int = 1, suffix: str = "") -> str:
    if x is None:
        return "n/a"
    return f"{x:+.{digits}f}{suffix}".replace("-", "−")


def fmt_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


# -- blocks -------------------------------------------------------------------------------------


def text_obj(text: str, kind: str = "mrkdwn", limit: int = MAX_SECTION_CHARS) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": kind, "text": truncate(text or " ", limit)}
    if kind == "plain_text":
        obj["emoji"] = True
    return obj


def header(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "header",
        "text": text_obj(text, "plain_text", MAX_HEADER_CHARS),
    }
    if block_id:
        block["block_id"] = block_id[:MAX_BLOCK_ID_CHARS]
    return block


def block_id_for(alert: AlertEvent) -> str:
    """The header's block_id names the transition, so a message says which one it is."""
    return f"shockwatch:{alert.delivery_key}"


def section(text: str | None = None, fields: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One section, or several when there are more than ten fields (Slack's limit)."""
    chunks = [list(fields[i : i + MAX_FIELDS]) for i in range(0, len(fields), MAX_FIELDS)] or [[]]
    out: list[dict[str, Any]] = []
    for i, chunk in enumerate(chunks):
        block: dict[str, Any] = {"type": "section"}
        if i == 0 and text:
            block["text"] = text_obj(text)
        if chunk:
            block["fields"] = [text_obj(f, limit=MAX_FIELD_CHARS) for f in chunk]
        if "text" in block or "fields" in block:
            out.append(block)
    return out


def context(parts: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [text_obj(p) for p in parts[:MAX_CONTEXT_ELEMENTS] if p],
    }


DIVIDER: dict[str, Any] = {"type": "divider"}


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks: keep the head and the final context block (the links)."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    tail = blocks[-1:] if blocks[-1]["type"] == "context" else []
    return blocks[: MAX_BLOCKS - len(tail)] + tail


# -- message content ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageLinks:
    """Where the message points to, and the score weights (to show "points / max")."""

    dashboard_url: str | None  # None: no Grafana configured, no Dashboard link
    runbook_url: str
    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> MessageLinks:
        return cls(
            dashboard_url=settings.dashboard_url,
            runbook_url=settings.runbook_url,
            weights=dict(settings.detection.score.weights),
        )

    def dashboard_for(self, alert: AlertEvent) -> str | None:
        """The dashboard over the episode: from an hour before it started to an hour after."""
        if not self.dashboard_url:
            return None
        sep = "&" if "?" in self.dashboard_url else "?"
        start = alert.started_ts_ms - 3_600_000
        end = alert.ts_ms + 3_600_000
        return f"{self.dashboard_url}{sep}from={start}&to={end}"

    def runbook_for(self, alert: AlertEvent) -> str:
        if "#" in self.runbook_url:
            return self.runbook_url
        return f"{self.runbook_url}#{RUNBOOK_ANCHORS.get(str(alert.severity), 'everythingsells')}"


def title(alert: AlertEvent) -> str:
    return "EVERYTHING SELLS" if alert.severity == "critical" else "Cross-asset stress"


def header_text(alert: AlertEvent) -> str:
    if alert.state == "resolved":
        return f"✅ Resolved: {title(alert)} · {alert.severity} · {alert.regime}"
    icon = SEVERITY_ICON.get(str(alert.severity), "⚪")
    return f"{icon} {title(alert)} · {str(alert.severity).upper()} · {alert.regime}"


def summary_text(alert: AlertEvent) -> str:
    ev = alert.evidence
    breadth = _num(ev.breadth)
    core = given(ev.core_z) or {}
    n_core = len(core) or 3
    down = f"{round(breadth * n_core)}/{n_core}" if breadth is not None else "n/a"
    comove = _num(ev.comovement)
    lines = [
        f"*Score {alert.score:.0f}/100* · breadth {down} core classes down · "
        f"co-movement {fmt_signed(comove, 2) if comove is not None else 'n/a'}",
        f"Regime *{esc(alert.regime)}* ({REGIME_NOTES.get(str(alert.regime), '')})",
        f"Started {fmt_time(alert.started_ts_ms)} · this transition {fmt_time(alert.ts_ms)}",
        f"Alert `{esc(alert.alert_id)}` · scope `{esc(alert.scope)}`",
    ]
    return "\n".join(lines)


def _asset_class(symbol: str, view: AssetEvidence) -> str:
    """The class the evidence names; an older AlertEvent that names none: the instrument table's."""
    return str(given(view.asset_class) or CLASS_OF.get(symbol, "other"))


def moves_blocks(alert: AlertEvent) -> list[dict[str, Any]]:
    ev = alert.evidence
    core = given(ev.core_z) or {}
    classes = " · ".join(
        f"{CORE_LABELS.get(name, esc(name))} {fmt_signed(_num(z), 1, 'σ')}"
        for name, z in core.items()
    )
    assets = given(ev.assets) or {}

    def order(item: tuple[str, AssetEvidence]) -> tuple[int, str]:
        cls = _asset_class(*item)
        return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), item[0])

    fields = []
    for symbol, view in sorted(assets.items(), key=order):
        cls = _asset_class(symbol, view)
        pct = _num(view.ret_day_pct)
        z = _num(view.z_day)
        fields.append(
            f"*{esc(symbol)}* ({CLASS_LABELS.get(cls, esc(cls))})\n"
            f"{fmt_signed(pct, 2, '%')} on the day · z {fmt_signed(z, 1)}"
        )
    text = f"*Cross-asset moves* — class z: {classes or 'n/a'}"
    return section(text, fields)


def venues_line(liq: LiqEvidence) -> str:
    """Which venues reported in the window and what share is a lower bound, e.g.
    "venues: binanceusdm, bybit, okx · 62% lower bound"."""
    names = given(liq.venues) or sorted(given(liq.by_venue) or {})
    text = f"venues: {', '.join(esc(str(n)) for n in names)}" if names else "venues: none"
    share = _num(liq.lower_bound_share)
    if share:
        text += f" · {share * 100:.0f}% lower bound"
    return text


def liquidation_blocks(alert: AlertEvent) -> list[dict[str, Any]]:
    liq = given(alert.evidence.liquidations)
    if liq is None or not liq.to_dict():
        return section("*Liquidations* — no data")
    usd = _num(liq.notional_usd)
    minutes = given(liq.window_min)
    window = "?" if minutes is None else minutes
    surge = _num(liq.surge_ratio)
    long_share = _num(liq.long_share)
    day = _num(liq.day_total_usd)
    parts = [
        f"*Liquidations* — {fmt_usd(usd, trillions=True)} in {window} min",
        f"{surge:.1f}× baseline" if surge is not None else "surge n/a",
        f"{long_share * 100:.0f}% longs" if long_share is not None else "long share n/a",
        venues_line(liq),
    ]
    if day is not None:
        parts.append(f"running total {fmt_usd(day, trillions=True)}")
    text = " · ".join(parts)
    if given(liq.is_lower_bound):
        text += "\n_Lower bound: a snapshot feed (Binance: one order per symbol per second)._"
    venues = given(liq.by_venue) or {}
    fields = []
    for venue, v in sorted(venues.items(), key=lambda kv: -kv[1].notional_usd):
        share = _num(v.long_share)
        count = _num(v.count)
        fields.append(
            f"*{esc(venue)}*\n{fmt_usd(v.notional_usd, trillions=True)}"
            + (f" · {share * 100:.0f}% long" if share is not None else "")
            + (f" · {count:.0f} orders" if count is not None else "")
        )
    return section(text, fields)


def _funding_value(name: str, comp: ComponentEvidence) -> str:
    value = _num(comp.value)
    if name == "sofr_iorb":
        return fmt_signed(value, 1, " bp")
    return fmt_usd_bn(value)


def funding_blocks(alert: AlertEvent) -> list[dict[str, Any]]:
    f = given(alert.evidence.funding)
    stress = _num(given(f.stress)) if f is not None else None
    text = f"*Funding* — stress {stress:.2f}" if stress is not None else "*Funding* — unknown"
    notes = []
    stale = given(f.stale) if f is not None else None
    missing = given(f.missing) if f is not None else None
    if stale:
        notes.append("stale: " + ", ".join(esc(s) for s in stale))
    if missing:
        notes.append("missing: " + ", ".join(esc(s) for s in missing))
    if notes:
        text += f" ({'; '.join(notes)})"
    fields = []
    for name, label in FUNDING_PANEL:
        comp = f.components.get(name) if f is not None else None
        if comp is None:
            continue
        cstress = _num(comp.stress)
        detail = []
        if cstress is not None:
            detail.append(f"stress {cstress:.2f}")
        if comp.date:
            detail.append(esc(comp.date))
        fields.append(
            f"*{label}*\n{_funding_value(name, comp)}"
            + (f" ({', '.join(detail)})" if detail else "")
        )
    return section(text, fields)


def score_blocks(alert: AlertEvent, links: MessageLinks) -> list[dict[str, Any]]:
    comps = given(alert.evidence.components) or {}
    parts = []
    for key, value in comps.items():
        if not key.endswith("_points"):
            continue
        name = key[: -len("_points")]
        points = _num(value)
        weight = links.weights.get(name)
        of = f"/{weight:.0f}" if weight is not None else ""
        parts.append(f"{esc(name)} {points:.1f}{of}" if points is not None else f"{name} n/a")
    text = f"*Score {alert.score:.1f}* = " + (" + ".join(parts) if parts else "n/a")
    return section(text)


def links_block(alert: AlertEvent, links: MessageLinks) -> dict[str, Any]:
    dashboard = links.dashboard_for(alert)
    runbook = f"<{links.runbook_for(alert)}|Runbook>"
    return context(
        [
            f"<{dashboard}|Dashboard> · {runbook}" if dashboard else runbook,
            f"shockwatch · {fmt_time(alert.ts_ms)}",
        ]
    )


def fallback_text(alert: AlertEvent) -> str:
    return truncate(esc(alert.headline), MAX_TEXT_CHARS)


def build_message(alert: AlertEvent, links: MessageLinks) -> dict[str, Any]:
    """The message for one transition: firing (the evidence) or resolved (a short note)."""
    if alert.state == "resolved":
        return build_resolved_message(alert, links)
    blocks: list[dict[str, Any]] = [header(header_text(alert), block_id_for(alert))]
    blocks += section(summary_text(alert))
    blocks.append(DIVIDER)
    blocks += moves_blocks(alert)
    blocks += liquidation_blocks(alert)
    blocks += funding_blocks(alert)
    blocks += score_blocks(alert, links)
    blocks.append(links_block(alert, links))
    return {"text": fallback_text(alert), "blocks": fit_blocks(blocks)}


def resolved_text(alert: AlertEvent) -> str:
    lasted = fmt_duration((alert.ts_ms - alert.started_ts_ms) / 1000)
    return (
        f"Episode `{esc(alert.alert_id)}` resolved at {fmt_time(alert.ts_ms)} after {lasted} "
        f"(started {fmt_time(alert.started_ts_ms)}). Highest severity *{esc(alert.severity)}*; "
        f"score now {alert.score:.0f}."
    )


def build_resolved_message(alert: AlertEvent, links: MessageLinks) -> dict[str, Any]:
    blocks = [header(header_text(alert), block_id_for(alert)), *section(resolved_text(alert))]
    blocks += score_blocks(alert, links)
    blocks.append(links_block(alert, links))
    return {"text": fallback_text(alert), "blocks": fit_blocks(blocks)}


def build_resolved_update(
    alert: AlertEvent, links: MessageLinks, original_blocks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The original firing message, edited: a resolved banner on top of its evidence."""
    kept = [b for b in original_blocks if b.get("type") != "header"]
    blocks = [
        header(header_text(alert), block_id_for(alert)),
        *section(resolved_text(alert)),
        DIVIDER,
        *kept,
    ]
    return {"text": fallback_text(alert), "blocks": fit_blocks(blocks)}
