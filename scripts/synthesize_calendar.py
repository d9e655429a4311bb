#!/usr/bin/env python3
"""Synthesize the calibration calendar ``data/calendar/<day>/`` from sourced daily figures.

``data/calendar/days.json`` holds, for each real historical day, the sourced figures (previous
close, close and low per symbol; the day's liquidation total, long share and when it came;
the funding series of its era as dated anchors), each with its source, and the outcome the
day is expected to give (decided from what happened, before tuning). This script turns each
day into a scenario folder in the public scenario format (data/scenarios/README.md) with the
machinery of ``synthesize_scenarios.py`` (the ``synth`` package next to it): seeded random
walks bridged through the sourced knots, heavy-tailed liquidation prints scaled to the day's
budget per block, and funding observations stamped with their publication times.

What is synthesized: the intraday paths (the timing of each leg and low, unless sourced),
the per-minute volatility (from the size of the day's move, see ``day_sigma``), individual
liquidation prints, and funding values between the dated anchors (interpolated). Each day's
README says so, with the sources of every figure used.

Deterministic (fixed string seeds, gzip mtime 0). Standard library only.

    python scripts/synthesize_calendar.py                   # every day, into data/calendar
    python scripts/synthesize_calendar.py --only 2022-06-13-cpi-celsius --out /tmp/cal
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth.funding import (
    DTS_AT,
    EFFR_AT,
    H41_AT,
    RATE_AT,
    REPO_AT,
    SOFR_AT,
    SeriesDef,
    funding_key,
    publish_ms,
    series_value,
)
from synth.liquidations import LiqBlock, LiqSpec, make_liquidations, observed_spec
from synth.output import encode, write_gzip
from synth.prices import (
    ALTS,
    CALM_SIGMA,
    EQUITY_CLASS,
    RHO,
    bar_records,
    equity_sessions,
    gold_sessions,
    session_knots,
)
from synth.readme import toml_value
from synth.units import DAY_MS, SCHEMA_VERSION, et_ms, iso_utc, utc_ms
from synth.venues import VenueSplit, split_day
from synth.walk import Asset, Factors, Market, VolWindow, build_path

ROOT = Path(__file__).resolve().parent.parent
DAYS_FILE = ROOT / "data" / "calendar" / "days.json"
EQUITIES = ("SPX", "IXIC", "NVDA", "PLTR", "VIX")
SYMBOLS = (*EQUITIES, "XAU", "BTC", "ETH")
# Minutes in a "day" per group, to turn a daily volatility into a per-minute one.
DAY_MINUTES = {"equity": 390, "gold": 1380, "crypto": 1440}
# Per-minute volatility from the day's sourced range (Parkinson: sigma_day ~ 0.6 x ln(high /
# low) of the session's own trading, the opening gap excluded), floored at the calm level.
REALISED_SHARE = 0.6
FUNDING_WEEKS = 6
ALT_RATIOS = {"SOL": 0.0016, "XRP": 0.00002, "DOGE": 0.0000017, "BNB": 0.009}  # x BTC price
FUNDING_SERIES = (  # name, source, unit, release, step (hold the last anchor), sparse, weekly
    ("SOFR", "nyfed", "pct", SOFR_AT, False, 0.0, False),
    ("EFFR", "nyfed", "pct", EFFR_AT, False, 0.0, False),
    ("IORB", "fred", "pct", RATE_AT, True, 0.0, False),
    ("TARGET_UPPER", "fred", "pct", RATE_AT, True, 0.0, False),
    ("TARGET_LOWER", "fred", "pct", RATE_AT, True, 0.0, False),
    ("ON_RRP_AMOUNT", "nyfed", "usd_bn", REPO_AT, False, 0.0, False),
    # SRF take-up is zero on days without a sourced print (never interpolated between spikes)
    ("SRF_TAKEUP", "nyfed", "usd_bn", REPO_AT, False, 1.0, False),
    ("TGA", "treasury", "usd_bn", DTS_AT, False, 0.0, False),
    ("RESERVES", "fred", "usd_bn", H41_AT, False, 0.0, True),
)


def previous_weekday(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def day_sigma(symbol: str, group: str, start: float, close: float, low: float | None) -> float:
    """Per-minute volatility: Parkinson's estimate from the range the session trades over
    (``start``: its first price, after any opening gap; to the low and the close), or the calm
    level if that is more."""
    lowest = min(close, low) if low is not None else close
    span = max(abs(math.log(close / start)), abs(math.log(lowest / start)))
    daily = max(CALM_SIGMA[symbol] * math.sqrt(DAY_MINUTES[group]), REALISED_SHARE * span)
    return daily / math.sqrt(DAY_MINUTES[group])


def down_leg(prev: float, close: float, low: float | None) -> float | None:
    """The low to aim for when it is a real extreme (below both the reference and the close)."""
    if low is None or low >= min(prev, close) * 0.999:
        return None
    return low


# ---------------------------------------------------------------------------------------------
# Assets


def equity_asset(symbol: str, fig: dict[str, Any], prev_day: date, day: date) -> Asset:
    prev, close = fig["prev_close"], fig["close"]
    low = down_leg(prev, close, fig.get("low")) if symbol != "VIX" else None
    r = math.log(close / prev)
    points: list[tuple[str, float]] = [("09:30", prev * math.exp(0.35 * r))]
    if low is not None:
        # the open leg, the low late in the session (timing synthetic), then the close
        points += [("11:30", prev * math.exp(0.6 * r)), ("15:00", low * 1.001)]
    else:
        points += [("11:30", prev * math.exp(0.55 * r)), ("14:00", prev * math.exp(0.8 * r))]
    points.append(("16:00", close))
    sigma = day_sigma(symbol, "equity", points[0][1], close, low)
    knots = session_knots(prev_day, day, prev, 1.0 - 0.1 * r, points)
    return Asset(
        symbol, EQUITY_CLASS[symbol], "yfinance", "equity", sigma, RHO[symbol], knots,
        equity_sessions(prev_day, day), et_ms(prev_day, "16:00"),
    )  # fmt: skip


def gold_asset(fig: dict[str, Any], day: date, start: int, end: int) -> Asset:
    """Gold: the previous settlement held until the day's own session (midnight ET), a low
    in the New York morning if one is sourced, the settlement at 13:30 ET, then flat."""
    prev, close = fig["prev_close"], fig["close"]
    low = down_leg(prev, close, fig.get("low"))
    settle = et_ms(day, "13:30")  # COMEX settlement
    # flat to the day's own trading (over a weekend too), then its legs
    knots: list[tuple[int, float]] = [(start, prev), (et_ms(day, "00:00"), prev)]
    if low is not None:
        knots.append((et_ms(day, "10:00"), low * 1.001))
    knots += [(settle, close), (end, close)]
    sigma = day_sigma("XAU", "gold", prev, close, low)
    return Asset("XAU", "gold", "yfinance", "gold", sigma, 0.0, tuple(knots),
                 gold_sessions(start, end), start)  # fmt: skip


def crypto_asset(
    symbol: str, fig: dict[str, Any], spec: dict[str, Any], start: int, end: int, midnight: int
) -> Asset:
    prev, close = fig["prev_close"], fig["close"]
    low = down_leg(prev, close, fig.get("low"))
    knots: list[tuple[int, float]] = [(start, prev), (midnight, prev)]
    if low is not None:
        when = fig.get("low_time_utc") or spec.get("crypto_low_utc")
        blocks = spec.get("liq_blocks_utc") or []
        if when is None:  # the end of the day's main liquidation block, else the US afternoon
            main = max(blocks, key=lambda b: b[2]) if blocks else ("", "20:00", 0)
            when = main[1]
        low_ms = hhmm_ms(midnight, when)
        low_ms = min(max(low_ms, midnight + 30 * 60_000), end - 30 * 60_000)
        first = [b for b in blocks if hhmm_ms(midnight, b[0]) < low_ms]
        if first:  # most of the fall comes inside the first block that precedes the low
            leg = hhmm_ms(midnight, first[0][0])
            if midnight < leg < low_ms:
                knots.append((leg, prev * (low / prev) ** 0.15))
        knots.append((low_ms, low * 1.001))
    knots.append((end, close))
    knots.sort()
    sigma = day_sigma(symbol, "crypto", prev, close, low)
    return Asset(symbol, "crypto", "ccxt:binanceusdm", "crypto", sigma, RHO[symbol],
                 tuple(knots), ((start, end),), midnight)  # fmt: skip


def hhmm_ms(midnight: int, hhmm: str) -> int:
    """``"21:40"`` (or the first HH:MM of a sourced note like ``"~05:00-07:00 (approx)"``)."""
    found = re.search(r"(\d{1,2}):(\d{2})", hhmm)
    if found is None:
        raise ValueError(f"no HH:MM in {hhmm!r}")
    hour, minute = int(found[1]), int(found[2])
    return midnight + (hour * 60 + minute) * 60_000


def alt_assets(btc: Asset) -> list[Asset]:
    """Only used to price liquidation prints of SOL/XRP/DOGE/BNB (never published as bars)."""
    ref = btc.knots[0][1]
    return [
        replace(
            btc, symbol=sym, sigma=btc.sigma * vol, rho=0.8, emit=False, low=None,
            knots=tuple((t, ALT_RATIOS[sym] * ref * (p / ref) ** beta) for t, p in btc.knots),
        )
        for sym, beta, vol in ALTS
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Liquidations


def liquidation_spec(spec: dict[str, Any], start: int, midnight: int, end: int) -> LiqSpec:
    """The day's market-wide budget in blocks: the evening before (3%), the sourced
    concentration windows with their shares, and the rest spread over the other hours of the
    UTC day; drawn on the observed venues of the day's split only."""
    liq = spec["liquidations"]
    venues = venue_split(spec)
    total, longs = venues.total_usd, float(liq.get("long_share") or 0.5)
    eve = LiqBlock(start, midnight, total * 0.03, 0.5)
    day_total = total
    windows = sorted(
        (hhmm_ms(midnight, a), hhmm_ms(midnight, b), share)
        for a, b, share in spec["liq_blocks_utc"]
    )
    blocks: list[LiqBlock] = []
    rest_share = 1.0 - sum(s for *_, s in windows)
    cursor = midnight
    gaps: list[tuple[int, int]] = []
    for a, b, _ in windows:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        gaps.append((cursor, end))
    gap_ms = sum(b - a for a, b in gaps)
    for a, b, share in windows:
        blocks.append(LiqBlock(a, b, day_total * share, longs))
    for a, b in gaps:
        blocks.append(LiqBlock(a, b, day_total * rest_share * (b - a) / gap_ms, longs))
    blocks = sorted([eve, *blocks], key=lambda b: b.start)
    events = int(min(40_000, max(3_000, total / 250_000)))
    return observed_spec([b for b in blocks if b.notional_usd > 0], events, venues)


def venue_split(spec: dict[str, Any]) -> VenueSplit:
    return split_day(spec["liquidations"], int(spec["date"][:4]))


# ---------------------------------------------------------------------------------------------
# Funding


def era_series(era: dict[str, list[list[Any]]]) -> list[SeriesDef]:
    out: list[SeriesDef] = []
    for name, source, unit, release, step, sparse, weekly in FUNDING_SERIES:
        anchors = tuple((d, float(v)) for d, v, *_ in era.get(name, []) if v is not None)
        if not anchors:
            continue  # a series that did not exist then (the SRF before July 2021)
        out.append(
            SeriesDef(name, source, unit, release, anchors, step=step, sparse=sparse,
                      weekly=weekly)
        )  # fmt: skip
    return out


def funding_records(series: Sequence[SeriesDef], day: date, era: str) -> list[dict[str, Any]]:
    first = day - timedelta(weeks=FUNDING_WEEKS)
    records: list[dict[str, Any]] = []
    for s in series:
        begin = first - timedelta(days=7) if s.weekly else first
        for i in range((day - begin).days + 1):
            obs = begin + timedelta(days=i)
            if obs.weekday() >= 5 or (s.weekly and obs.weekday() != 2):
                continue
            records.append(
                {
                    "schema_version": SCHEMA_VERSION,
                    "ts_ms": publish_ms(obs, s.release),
                    "source": s.source,
                    "series": s.name,
                    "observation_date": obs.isoformat(),
                    "value": series_value(s, obs, f"calendar-{era}"),
                    "unit": s.unit,
                    "revision": 0,
                }
            )
    return sorted(records, key=funding_key)


# ---------------------------------------------------------------------------------------------
# A day


def build_day(spec: dict[str, Any], eras: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(spec["date"])
    prev_day = previous_weekday(day)
    start = et_ms(prev_day, "15:00")
    midnight = utc_ms(f"{day.isoformat()}T00:00")
    end = midnight + DAY_MS
    figs = spec["prices"]
    assets: list[Asset] = [equity_asset(s, figs[s], prev_day, day) for s in EQUITIES if s in figs]
    assets.append(gold_asset(figs["XAU"], day, start, end))
    btc = crypto_asset("BTC", figs["BTC"], spec, start, end, midnight)
    eth = crypto_asset("ETH", figs["ETH"], spec, start, end, midnight)
    assets += [btc, eth, *alt_assets(btc)]
    market = Market(Factors(spec["name"], start), tuple[VolWindow, ...]())
    paths = {a.symbol: build_path(a, market, spec["name"]) for a in assets}
    emitted = [s for s in SYMBOLS if s in paths]
    prices = sorted(
        (r for s in emitted for r in bar_records(paths[s])),
        key=lambda r: (r["ts_ms"], SYMBOLS.index(r["symbol"])),
    )
    liqs = make_liquidations(
        liquidation_spec(spec, start, midnight, end), paths, spec["name"], (start, end)
    )
    funding = funding_records(era_series(eras[spec["era"]]), day, spec["era"])
    return {"start": start, "end": end, "prices": prices, "liquidations": liqs,
            "funding": funding, "paths": paths}  # fmt: skip


def render_toml(spec: dict[str, Any], start: int, end: int) -> str:
    lines = [
        f"name = {toml_value(spec['name'])}",
        f"description = {toml_value(spec['what_happened'])}",
        f"kind = {toml_value(spec['kind'])}",
        f"start = {toml_value(iso_utc(start))}",
        f"end = {toml_value(iso_utc(end))}",
        "synthesized = true",
        f"calibration = {toml_value(calibration(spec))}",
        f"observed_share = {venue_split(spec).observed_share:.4f}",
        "",
        "[expect]",
        *(f"{k} = {toml_value(v)}" for k, v in spec["expect"].items()),
    ]
    return "\n".join(lines) + "\n"


def pct(fig: dict[str, Any]) -> float:
    return (fig["close"] / fig["prev_close"] - 1) * 100


def calibration(spec: dict[str, Any]) -> str:
    moves = ", ".join(f"{s} {pct(f):+.2f}%" for s, f in spec["prices"].items())
    liq = spec["liquidations"]
    return (
        f"Sourced {spec['date']} close-to-close moves ({moves}), liquidations "
        f"${liq['total_usd'] / 1e6:,.0f}m ({(liq.get('long_share') or 0.5) * 100:.0f}% longs; "
        f"{venue_split(spec).observed_share:.0%} of the market on the subscribed venues), "
        f"{spec['era']} funding anchors"
    )


def render_readme(spec: dict[str, Any], world: dict[str, Any], era_src: dict[str, Any]) -> str:
    liq = spec["liquidations"]
    rows = [
        f"| {s} | {f['prev_close']:,} | {f['close']:,} | {pct(f):+.2f}% | "
        f"{f.get('low', '')} | {f.get('src', '')} |"
        for s, f in spec["prices"].items()
    ]
    estimate = [
        f"- {liq[k]}" for k in ("estimate", "estimate_total", "estimate_long") if liq.get(k)
    ]
    funding = []
    for name, anchors in era_src.items():
        used = [a for a in anchors if a[1] is not None]
        sources = sorted({a[2] for a in used if len(a) > 2})
        values = ", ".join(f"{d} {v}" for d, v, *_ in used)
        funding.append(f"- **{name}**: {values}. Source: {'; '.join(sources)}")
    total = sum(r["notional_usd"] for r in world["liquidations"]) / 1e9
    venues = venue_split(spec)
    blocks = ", ".join(f"{a}-{b} UTC {s:.0%}" for a, b, s in spec["liq_blocks_utc"]) or "none"
    out = [
        f"# {spec['name']}",
        "",
        spec["what_happened"],
        "",
        f"**Kind:** {spec['kind']}. **Synthesized from sourced daily figures** by "
        "`scripts/synthesize_calendar.py` from `data/calendar/days.json` (deterministic). "
        f"Window: {iso_utc(world['start'])} to {iso_utc(world['end'])}.",
        "",
        "## Expected outcome (decided from what happened, before tuning)",
        "",
        spec["expected_text"],
        "",
        "`[expect]` in scenario.toml: "
        + ", ".join(f"`{k} = {toml_value(v)}`" for k, v in spec["expect"].items()),
        "",
        "## Sourced figures",
        "",
        "Equities and VIX: previous session close and close. Gold: COMEX settlements (see the "
        "source column). Crypto: the UTC day (00:00 to 24:00). `IXIC` is the Nasdaq Composite "
        "(Yahoo ^IXIC), not the Nasdaq-100.",
        "",
        "| symbol | previous close | close | move | low | source |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
        "",
        f"Liquidations: ${liq['total_usd'] / 1e6:,.0f}m, long share "
        f"{liq.get('long_share') if liq.get('long_share') is not None else 'not sourced'}; "
        f"window of the figure: {liq.get('window', 'n/a')}; when: "
        f"{liq.get('concentration') or 'not sourced'}. Source: {liq.get('src') or 'none'}.",
        "",
        *(["Not sourced (estimates):", "", *estimate, ""] if estimate else []),
        f"Sourcing confidence (from the research notes): {spec.get('confidence') or 'n/a'}",
        "",
        f"Funding anchors of the {spec['era']} era (observation date, value; percent or USD "
        "billions; IORB before 2021-07-29 is IOER; TGA and reserves are H.4.1 or Daily "
        "Treasury Statement figures as each source says):",
        "",
        *funding,
        "",
        "## Synthesized, and how",
        "",
        "- **Intraday paths** are seeded random walks bridged through knots: the previous close, "
        "an opening leg, the sourced low (placed at 15:00 ET for equities, 10:00 ET for gold, "
        "and for crypto at the sourced low time or else the end of the main liquidation block), "
        "and the sourced close (gold: at the 13:30 ET settlement). The timing of legs is "
        "synthetic.",
        f"- **Per-minute volatility** is Parkinson's estimate, {REALISED_SHARE} x the log "
        "range the session trades over (after any opening gap, down to the low and to the "
        "close), or the calm level if larger: big days are realised-volatile days.",
        f"- **Liquidation prints**: {len(world['liquidations']):,} prints totalling "
        f"${total:.2f}bn (3% of the budget the evening before); sourced concentration "
        f"windows: {blocks}; the rest spread evenly; sizes heavy-tailed; only the venues "
        "shockwatch subscribes, at their share of the day (below; the alt-coin prints are "
        "priced off BTC's path).",
        f"- **Venues** ({venues.basis} split, {venues.era}; scripts/synth/venues.py): of the "
        f"market-wide ${venues.total_usd / 1e6:,.0f}m the subscribed venues carry "
        f"{venues.observed_share:.1%} ({money(venues.observed_usd)}), and only that is in "
        f"`liquidations.jsonl.gz`; unobserved: {money(venues.unobserved_usd) or 'none'}. "
        f"Source of the split: {sourced_note(liq)}",
        f"- **Funding**: every business day of the {FUNDING_WEEKS} weeks before the day, "
        "interpolated between the dated anchors above (the SRF is zero except on sourced "
        "prints), stamped with each series' publication time (data/scenarios/README.md).",
        "",
    ]
    return "\n".join(out)


def money(usd: dict[str, float]) -> str:
    return ", ".join(f"{k} ${v / 1e6:,.0f}m" for k, v in usd.items())


def sourced_note(liq: dict[str, Any]) -> str:
    src = (liq.get("venues_sourced") or {}).get("src")
    if src:
        return f"{src}; the other venues era-typical."
    return "era-typical shares (no per-exchange breakdown of the day found)."


def write_day(spec: dict[str, Any], eras: dict[str, Any], out: Path) -> dict[str, int]:
    world = build_day(spec, eras)
    folder = out / spec["name"]
    folder.mkdir(parents=True, exist_ok=True)
    write_gzip(folder / "prices.jsonl.gz", encode(world["prices"]))
    write_gzip(folder / "liquidations.jsonl.gz", encode(world["liquidations"]))
    (folder / "funding.jsonl").write_bytes(encode(world["funding"]))
    (folder / "scenario.toml").write_text(render_toml(spec, world["start"], world["end"]))
    (folder / "README.md").write_text(render_readme(spec, world, eras[spec["era"]]))
    return {k: len(world[k]) for k in ("prices", "liquidations", "funding")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DAYS_FILE.parent)
    parser.add_argument("--only", action="append", metavar="NAME", help="one day (repeatable)")
    args = parser.parse_args(argv)
    data = json.loads(DAYS_FILE.read_text())
    for spec in data["days"]:  # the derived split, recorded beside its inputs
        spec["liquidations"]["venue_split"] = venue_split(spec).to_json()
    (args.out / DAYS_FILE.name).write_text(json.dumps(data, indent=1, ensure_ascii=False))
    for spec in data["days"]:
        if args.only and spec["name"] not in args.only:
            continue
        counts = write_day(spec, data["eras"], args.out)
        print(f"{args.out / spec['name']}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
