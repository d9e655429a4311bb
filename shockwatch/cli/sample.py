"""A small synthetic "everything sells" day, run through the real detector.

``shockwatch alerts test-slack`` sends the critical alert of this day, and tests use its
signals and alerts, so sample messages always have the exact shape the detector produces
(never a hand-written copy that drifts). The paths are shaped after 2025-11-04 (see
data/scenarios for the sourced version): equities, AI names, gold and crypto falling together
in the US morning, a long-liquidation wave across three venues, tight repo funding.

It runs the detector (``streams``) to feed the Slack message (``alerts``): composing two
domains, it sits in the roof, and so does the ``test-slack`` command it serves.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from typing import Annotated, Any

import typer

from common.settings import DetectionSettings
from streams.detection.detector import Detector, TickOutput
from streams.instruments import CLASS_OF
from streams.records import (
    AlertEvent,
    AssetClass,
    FundingObservation,
    Heartbeat,
    Liquidation,
    PriceTick,
    RecordError,
    Side,
    Unit,
)
from streams.scenario import FEEDS, parse_time_ms

MIN_MS = 60_000
START = "2025-11-03T14:30:00Z"
END = "2025-11-05T02:00:00Z"
# symbol: (price before the fall, move on the day in %); its class is the instrument table's
ASSETS: dict[str, tuple[float, float]] = {
    "SPX": (6851.97, -1.17),
    "IXIC": (23_834.72, -2.04),  # Nasdaq Composite
    "NVDA": (206.88, -3.96),
    "PLTR": (207.18, -7.94),
    "XAU": (4_014.0, -1.45),
    "BTC": (106_500.0, -5.9),
    "ETH": (3_600.0, -8.5),
}
# The liquidation rates below are market-wide, like the sourced totals; the feeds see the
# subscribed venues' share of them (the Hyperliquid era's 66%, docs/detection.md section 3).
OBSERVED_SHARE = 0.66
SESSION_OPEN_MIN = 14 * 60 + 30
SESSION_CLOSE_MIN = 21 * 60
# Funding rows: (series, observation date, value, unit, published at)
FUNDING: tuple[tuple[str, str, float, Unit, str], ...] = (
    ("IORB", "2025-10-30", 3.90, Unit.PCT, "2025-10-30T13:00:00Z"),
    ("TARGET_LOWER", "2025-10-30", 3.75, Unit.PCT, "2025-10-30T13:00:00Z"),
    ("TARGET_UPPER", "2025-10-30", 4.00, Unit.PCT, "2025-10-30T13:00:00Z"),
    ("SOFR", "2025-10-31", 4.22, Unit.PCT, "2025-11-03T13:00:00Z"),
    ("SOFR", "2025-11-03", 4.13, Unit.PCT, "2025-11-04T13:00:00Z"),
    ("EFFR", "2025-11-03", 3.87, Unit.PCT, "2025-11-04T13:00:00Z"),
    ("SRF_TAKEUP", "2025-10-31", 50.35, Unit.USD_BN, "2025-10-31T19:00:00Z"),
    ("SRF_TAKEUP", "2025-11-03", 14.75, Unit.USD_BN, "2025-11-03T19:00:00Z"),
    ("ON_RRP_AMOUNT", "2025-11-03", 35.9, Unit.USD_BN, "2025-11-03T18:00:00Z"),
    ("RESERVES", "2025-10-29", 2_850.0, Unit.USD_BN, "2025-10-30T20:30:00Z"),
    ("TGA", "2025-11-03", 1_000.0, Unit.USD_BN, "2025-11-04T20:00:00Z"),
    ("TGA", "2025-10-31", 985.0, Unit.USD_BN, "2025-11-03T20:00:00Z"),
)
VENUES = ("binanceusdm", "bybit", "okx")


def _trading(asset_class: AssetClass, minute_of_day: int, weekday: int) -> bool:
    if weekday >= 5 and asset_class != AssetClass.CRYPTO:
        return False
    if asset_class in (AssetClass.EQUITY_INDEX, AssetClass.AI_EQUITY):
        return SESSION_OPEN_MIN <= minute_of_day < SESSION_CLOSE_MIN
    if asset_class == AssetClass.GOLD:
        return not (21 * 60 <= minute_of_day < 22 * 60)
    return True


def _fall_fraction(ts_ms: int, day_start_ms: int, asset_class: AssetClass) -> float:
    """0 before 12:00 UTC on the day, rising to 1 by 17:00; gold and crypto (which trade
    overnight) recover from 21:00 to 23:00, so the episode resolves."""
    t = (ts_ms - day_start_ms) / MIN_MS
    fall = min(max((t - 12 * 60) / 300.0, 0.0), 1.0)
    if asset_class in (AssetClass.GOLD, AssetClass.CRYPTO):
        fall *= 1.0 - min(max((t - 21 * 60) / 120.0, 0.0), 1.0)
    return fall


def synthetic_records(seed: int = 20251104) -> Iterator[tuple[str, Any]]:
    """(feed, record) in event-time order: prices, liquidations and funding."""
    rng = random.Random(seed)
    start, end = parse_time_ms(START), parse_time_ms(END)
    day_start = parse_time_ms("2025-11-04T00:00:00Z")
    pending = sorted(FUNDING, key=lambda r: r[4])
    funding_i = 0
    for ts in range(start, end, MIN_MS):
        while funding_i < len(pending) and parse_time_ms(pending[funding_i][4]) <= ts:
            series, obs, value, unit, published = pending[funding_i]
            funding_i += 1
            yield (
                "funding",
                FundingObservation(
                    ts_ms=parse_time_ms(published),
                    source="sample",
                    series=series,
                    observation_date=obs,
                    value=value,
                    unit=unit,
                ),
            )
        dt = ts // MIN_MS % 1440
        weekday = (ts // (1440 * MIN_MS) + 3) % 7  # 1970-01-01 was a Thursday
        minute_of_day = (ts - day_start) // MIN_MS
        wave = 12 * 60 <= minute_of_day < 17 * 60
        for symbol, (p0, move_pct) in ASSETS.items():
            cls = CLASS_OF[symbol]
            if not _trading(cls, dt, weekday):
                continue
            fall = _fall_fraction(ts, day_start, cls)
            noise = rng.gauss(0.0, 0.0001 if cls != AssetClass.CRYPTO else 0.0003)
            price = p0 * math.exp(math.log1p(move_pct / 100.0) * fall + noise)
            yield (
                "prices",
                PriceTick(
                    ts_ms=ts + 59_000,
                    source="sample",
                    symbol=symbol,
                    asset_class=cls,
                    price_usd=round(price, 4),
                    interval_s=60,
                ),
            )
        per_min = (9e6 if wave else 2e5) * OBSERVED_SHARE
        for i, venue in enumerate(VENUES):
            base = "BTC" if i != 2 else "ETH"
            fall = _fall_fraction(ts, day_start, AssetClass.CRYPTO)
            px = ASSETS[base][0] * (1 + ASSETS[base][1] / 100.0 * fall)
            notional = per_min * (0.5, 0.3, 0.2)[i] * rng.uniform(0.7, 1.3)
            side = Side.LONG if rng.random() < (0.85 if wave else 0.5) else Side.SHORT
            yield (
                "liquidations",
                Liquidation(
                    ts_ms=ts + 1_000 + i,
                    source=f"ccxt:{venue}",
                    exchange=venue,
                    symbol=f"{base}/USDT:USDT",
                    base=base,
                    side_liquidated=side,
                    qty_base=round(notional / px, 6),
                    price_usd=round(px, 2),
                    notional_usd=round(notional, 2),
                    event_id=f"{venue}:{ts}:{i}",
                    lower_bound=venue == "binanceusdm",
                ),
            )


@lru_cache(maxsize=2)
def sample_outputs(cfg: DetectionSettings | None = None) -> tuple[TickOutput, ...]:
    """Every tick of the synthetic day (cached: tests and the CLI share one run)."""
    det = Detector(cfg or DetectionSettings())
    det.set_partitions(FEEDS)
    outputs: list[TickOutput] = []
    for n, (feed, record) in enumerate(synthetic_records()):
        try:
            det.ingest(record, feed)
        except RecordError:
            continue
        if n % 256 == 0:
            outputs.extend(det.advance())
    end = parse_time_ms(END)
    for feed in FEEDS:
        det.ingest(Heartbeat(ts_ms=end + 10 * MIN_MS, source="sample"), feed)
    outputs.extend(det.advance())
    return tuple(outputs)


def sample_alerts() -> list[AlertEvent]:
    """Every alert transition of the synthetic day, in order."""
    alerts: list[AlertEvent] = []
    for out in sample_outputs():
        for alert in out.alerts:
            if alert.state == "resolved" and alert.alert_id.endswith("-unknown") and alerts:
                # The detector names a resolve after the machine has already forgotten the
                # episode (reported upstream); carry the episode's id and start over.
                first = alerts[-1]
                alert = replace(alert, alert_id=first.alert_id, started_ts_ms=first.started_ts_ms)
            alerts.append(alert)
    return alerts


def sample_alert(state: str = "firing", severity: str = "critical") -> AlertEvent:
    """The synthetic day's first alert transition with this state and severity."""
    for alert in sample_alerts():
        if alert.state == state and alert.severity == severity:
            return alert
    raise LookupError(f"the sample day has no {state}/{severity} alert")


# -- `shockwatch alerts test-slack` (mounted on the alerts commands by shockwatch.cli.main) -------
def test_slack(
    severity: Annotated[str, typer.Option(help="critical or warning.")] = "critical",
    state: Annotated[str, typer.Option(help="firing or resolved.")] = "firing",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the Block Kit payload, send nothing.")
    ] = False,
) -> None:
    """Send a sample alert (a synthetic 2025-11-04 day run through the detector) to Slack."""
    from alerts.blocks import MessageLinks, build_message
    from alerts.slack import DeliveryFailed, SlackClient, SlackNotConfigured
    from common.cli import fail, out, settings_from_env

    settings = settings_from_env()
    try:
        alert = sample_alert(state, severity)
    except LookupError as exc:
        raise fail(str(exc)) from None
    payload = build_message(alert, MessageLinks.from_settings(settings))
    if dry_run:
        out.print_json(json.dumps(payload))
        return
    try:
        client = SlackClient(settings)
    except SlackNotConfigured as exc:
        raise fail(str(exc)) from None

    async def send() -> Any:
        async with client:
            return await client.post(payload)

    try:
        done = asyncio.run(send())
    except DeliveryFailed as exc:
        raise fail(str(exc)) from None
    where = f" (channel {done.channel}, ts {done.ts})" if done.ts else ""
    out.print(f"Slack accepted the sample {severity} {state} message via {client.mode}{where}")
