"""A scenario's ``scenario.toml`` and ``README.md``: provenance and what the files contain.

The README says what is sourced (the recipe's ``sourced`` figures), what is synthesized and
how (the recipe's notes, then ``METHOD``), the expected outcome, and summaries computed from
the written records (each symbol's move and low, the liquidation totals and splits, the funding
observations published inside the window).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from synth.liquidations import BASES
from synth.prices import SYMBOL_ORDER
from synth.scenario import Meta, World
from synth.units import DAY_MS, MINUTE_MS, Record, Session, iso_utc, short_utc, utc_ms

# ---------------------------------------------------------------------------------------------
# Summaries (for the READMEs)


@dataclass(frozen=True)
class Move:
    symbol: str
    ref_ms: int
    ref: float
    close_ms: int
    close: float
    low_ms: int
    low: float

    @property
    def pct(self) -> float:
        return (self.close / self.ref - 1) * 100


def symbol_move(records: Sequence[Record], ref_ms: int) -> Move:
    """Reference: the close of the bar ending at ``ref_ms`` (else the first bar's open)."""
    at_ref = [r for r in records if r["ts_ms"] == ref_ms]
    ref_ms, ref = (
        (ref_ms, at_ref[0]["price_usd"]) if at_ref
        else (records[0]["ts_ms"] - MINUTE_MS, records[0]["open_usd"])
    )  # fmt: skip
    after = [r for r in records if r["ts_ms"] > ref_ms]
    lowest = min(after, key=lambda r: r["low_usd"])
    last = records[-1]
    return Move(records[0]["symbol"], ref_ms, ref, last["ts_ms"], last["price_usd"],
                lowest["ts_ms"], lowest["low_usd"])  # fmt: skip


def moves(world: World) -> list[Move]:
    return [
        symbol_move([r for r in world.prices if r["symbol"] == sym], world.assets[sym].ref_ms)
        for sym in SYMBOL_ORDER
    ]


@dataclass(frozen=True)
class LiqSummary:
    events: int
    total: float
    long_share: float
    day_total: float
    day_long_share: float
    day_events: int
    venues: dict[str, float]
    bases: dict[str, float]
    median: float
    largest: float
    over_1m: int


def liq_summary(records: Sequence[Record], day: date, window: Session) -> LiqSummary:
    day_start = utc_ms(day.isoformat() + "T00:00")
    lo, hi = max(day_start, window[0]), min(day_start + DAY_MS, window[1])
    in_day = [r for r in records if lo <= r["ts_ms"] < hi]
    total = sum(r["notional_usd"] for r in records)
    day_total = sum(r["notional_usd"] for r in in_day)
    sizes = [r["notional_usd"] for r in records]

    def share(rows: Sequence[Record], key: str, value: str, of: float) -> float:
        return sum(r["notional_usd"] for r in rows if r[key] == value) / of

    return LiqSummary(
        events=len(records),
        total=total,
        long_share=share(records, "side_liquidated", "long", total),
        day_total=day_total,
        day_long_share=share(in_day, "side_liquidated", "long", day_total),
        day_events=len(in_day),
        venues={
            v: share(records, "exchange", v, total)
            for v in sorted({r["exchange"] for r in records})
        },
        bases={b.name: share(records, "base", b.name, total) for b in BASES},
        median=statistics.median(sizes),
        largest=max(sizes),
        over_1m=sum(1 for s in sizes if s >= 1e6),
    )


def usd(value: float) -> str:
    if value >= 1e9:
        return f"${value / 1e9:,.3f}bn"
    if value >= 1e6:
        return f"${value / 1e6:,.1f}m"
    return f"${value:,.0f}"


# ---------------------------------------------------------------------------------------------
# Rendering


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def render_toml(meta: Meta, observed_share: float) -> str:
    lines = [
        f"name = {toml_value(meta.name)}",
        f"description = {toml_value(meta.description)}",
        *([f"kind = {toml_value(meta.kind)}"] if meta.kind else []),
        f"start = {toml_value(iso_utc(meta.start))}",
        f"end = {toml_value(iso_utc(meta.end))}",
        "synthesized = true",
        f"calibration = {toml_value(meta.calibration)}",
        f"observed_share = {observed_share:.4f}",
    ]
    if meta.expect:
        lines += ["", "[expect]", *(f"{k} = {toml_value(v)}" for k, v in meta.expect)]
    return "\n".join(lines) + "\n"


def render_moves(world: World) -> list[str]:
    rows = [
        "| symbol | reference (UTC) | reference | close (UTC) | close | change | low | low at |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for m in moves(world):
        rows.append(
            f"| {m.symbol} | {short_utc(m.ref_ms)} | {m.ref:,.2f} | {short_utc(m.close_ms)} | "
            f"{m.close:,.2f} | {m.pct:+.2f}% | {m.low:,.2f} | {short_utc(m.low_ms)} |"
        )
    return rows


def render_liquidations(world: World) -> list[str]:
    s = liq_summary(world.liquidations, world.meta.day, (world.meta.start, world.meta.end))
    venues = ", ".join(f"{v} {share:.1%}" for v, share in s.venues.items())
    bases = ", ".join(f"{b} {share:.1%}" for b, share in s.bases.items())
    day = [
        f"- {world.meta.day.isoformat()} UTC (the scenario day, inside the window): "
        f"{s.day_events:,} events, {usd(s.day_total)}, longs {s.day_long_share:.1%}."
    ]
    spec = world.liq_spec
    market = sum(b.notional_usd for b in spec.blocks)
    unseen = ", ".join(f"{v} {share:.1%}" for v, share in spec.unobserved) or "none"
    return [
        f"- Market-wide budget {usd(market)}; the venues shockwatch subscribes carry "
        f"{spec.observed_share:.1%} of it ({spec.basis}), and only they are in the file. "
        f"Unobserved (share of the market): {unseen}.",
        f"- All {s.events:,} events: {usd(s.total)}, longs {s.long_share:.1%} of notional.",
        *(day if s.day_events != s.events else []),
        f"- Venue split of notional: {venues}.",
        f"- Base split of notional: {bases}.",
        f"- Print sizes: median {usd(s.median)}, largest {usd(s.largest)}, "
        f"{s.over_1m} prints of $1m or more.",
    ]


def render_funding(world: World) -> list[str]:
    inside = [r for r in world.funding if world.meta.start <= r["ts_ms"] <= world.meta.end]
    first = min(r["observation_date"] for r in world.funding)
    last = max(r["observation_date"] for r in world.funding)
    lines = [
        f"- {len(world.funding)} observations of {len({r['series'] for r in world.funding})} "
        f"series, observation dates {first} to {last}; "
        + (f"{len(inside)} published inside the window:" if inside else "none published "
           "inside the window (all are history known at the start).")
    ]  # fmt: skip
    lines += [
        f"  - {r['series']} {r['observation_date']} = {r['value']} {r['unit']} "
        f"(published {iso_utc(r['ts_ms'])})"
        for r in inside
    ]
    return lines


METHOD = (
    "- **Prices.** Each symbol is a geometric random walk on a 10-second grid with a per-minute "
    "volatility of {sigmas}, one common factor per asset group (equities and VIX - VIX loading "
    "negatively -, gold, crypto), added to a deterministic drift that is piecewise linear in log "
    "price through calibration knots (previous close, intraday legs, the day low, the close). "
    "The noise is a Brownian bridge between consecutive knots, so the path passes exactly "
    "through every knot and the last bar closes on its target. 1-minute OHLC bars are cut from "
    "the grid (open/close = first/last point of the minute, high/low = its extremes; ts_ms = "
    "bar end, price_usd = close), rounded to 2 decimals. Where a day low is a target, a path is "
    "kept only if nothing trades more than 0.1% below it; calm paths are kept only inside their "
    "band (deterministic retry with the next seed). Nothing in a bar depends on later data.",
    "- **Liquidations.** Each time block has a market-wide notional budget and a long share; "
    "each (block, side, observed venue) cell gets block x side share x the venue's share of the "
    "market (scripts/synth/venues.py: the era's typical split, sourced per era; only the venues "
    "shockwatch subscribes are drawn, so the files hold what the live feeds would see) and an "
    "event count proportional to its notional^0.85. Sizes are lognormal "
    "(median $3.5k, log-sd 2.4, truncated at $5m) scaled to the cell's notional (a print "
    "scaled past $5m is set between $2.5m and $5m instead). Minutes are drawn with weight "
    "0.5 + max(0, -z)^2 for longs (max(0, z)^2 for shorts), z = BTC's "
    "trailing 5-minute return in units of its volatility, plus a uniform millisecond inside the "
    "minute. Bases by count: BTC 40%, ETH 30%, SOL 12%, XRP 8%, DOGE 6%, BNB 4%. Price = that "
    "base's path at that moment x a lognormal slippage (sd 0.04%), clamped into the minute's "
    "high-low; qty_base rounded to the venue-style lot, notional_usd = qty_base x price_usd. "
    "SOL/XRP/DOGE/BNB paths (not published as bars) follow BTC's knots with betas "
    "1.5/1.3/1.5/1.0. Binance prints carry lower_bound = true and are moved to the nearest free "
    "second so no symbol has two in one second (Binance pushes at most one per symbol per "
    "second).",
    "- **Funding.** Daily series on US business days (bond-market holidays skipped), "
    "RESERVES weekly (Wednesday level). ts_ms is the publication time: SOFR D+1 08:00 ET, EFFR "
    "D+1 09:00 ET, IORB/TARGET_UPPER/TARGET_LOWER 00:00 ET on D (known in advance), ON RRP and "
    "SRF D 13:30 ET, TGA (Daily Treasury Statement) D+1 16:00 ET, RESERVES (H.4.1) Thursday "
    "16:30 ET; ET is converted to UTC with the US DST rule (EDT until Nov 2 2025). Named values "
    "are used exactly; days between are interpolated with small seeded noise (SRF: mostly "
    "zero with small draws). Every observation dated up to the scenario day is included, even "
    "if published after the window.",
)


def sigma_text(world: World) -> str:
    parts = [f"{s} {world.assets[s].sigma * 100:.3g}%" for s in SYMBOL_ORDER]
    return ", ".join(parts)


def render_readme(world: World, counts: dict[str, int]) -> str:
    meta = world.meta
    kind = "**Fictional and synthesized.**" if meta.fictional else "**Synthesized.**"
    out = [
        f"# {meta.name}",
        "",
        meta.description,
        "",
        f"{kind} Generated by `scripts/synthesize_scenarios.py` (deterministic: re-running it "
        "writes byte-identical files). Window: "
        f"{iso_utc(meta.start)} to {iso_utc(meta.end)}. Calibrated to: {meta.calibration}.",
        "",
        "## Sourced",
        "",
        "Figures taken from secondary sources (e.g. market wrap-ups, FRED, NY Fed, Treasury "
        "DTS); levels are approximate:",
        "",
        *(f"- {line}" for line in meta.sourced),
        "",
        "## Synthesized, and how",
        "",
        *(f"- {line}" for line in meta.notes),
        METHOD[0].format(sigmas=sigma_text(world)),
        *METHOD[1:],
        "",
        "## Expected outcome",
        "",
        meta.expected_text,
        "",
        "## What the files contain (computed from them)",
        "",
        *render_moves(world),
        "",
        "Change = last close vs the reference (equities and VIX: previous session close; "
        "crypto: the UTC-midnight bar that opens the scenario day; gold: first price of the "
        "window; when that bar is not in the file, as in sample-tiny, the first bar's open). "
        "Low = lowest bar low after the reference.",
        "",
        "Liquidations:",
        "",
        *render_liquidations(world),
        "",
        "Funding:",
        "",
        *render_funding(world),
        "",
        "| file | records |",
        "|---|---:|",
        *(f"| `{name}` | {count:,} |" for name, count in counts.items()),
        "",
    ]
    return "\n".join(out)
