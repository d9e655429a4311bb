"""Producer feed health (producers.metrics): connected, last message and its age, notional, per
feed and venue, filled by the real feeds over the recorded provider responses."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from common.settings import load_settings
from producers.config import ProducerSettings
from producers.liquidations.producer import RunLimits
from producers.liquidations.venues import Venue
from producers.metrics import create_metrics
from producers.run import produce_liquidations, produce_prices
from shockwatch.lab.fixtures import serve_fixtures

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_age_is_now_minus_the_last_message_at_scrape_time() -> None:
    now = [1_000.0]
    registry = CollectorRegistry()
    metrics = create_metrics(registry, clock=lambda: now[0])
    metrics.message_seen("liquidations", "okx", now_s=970.0)
    age = "shockwatch_producer_last_message_age_seconds"
    assert sample(registry, age, feed="liquidations", venue="okx") == 30.0
    now[0] = 1_600.0  # no message since: the age grows with the clock
    assert sample(registry, age, feed="liquidations", venue="okx") == 630.0
    assert sample(registry, "shockwatch_producer_connected", feed="liquidations", venue="okx") == 1


async def test_a_venue_feed_reports_messages_notional_and_its_stream_state() -> None:
    registry = CollectorRegistry()
    metrics = create_metrics(registry)
    out = io.StringIO()
    stats = await produce_liquidations(
        load_settings(),
        ProducerSettings(),
        venues=[Venue.OKX, Venue.BYBIT],
        dry_run=True,
        fixtures=FIXTURES,
        endpoints=serve_fixtures(FIXTURES),
        limits=RunLimits(duration_s=60, idle_exit_s=2.0),  # the recorded streams, then stop
        metrics=metrics,
        out=out,
    )
    records = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith('{"ts_ms"')]
    assert records
    for venue in ("okx", "bybit"):
        labels = {"feed": "liquidations", "venue": venue}
        mine = [r for r in records if r["exchange"] == venue]
        notional = sample(registry, "shockwatch_producer_notional_usd_total", **labels)
        assert notional == pytest.approx(sum(r["notional_usd"] for r in mine))
        assert sample(registry, "shockwatch_producer_records_total", **labels) == len(mine)
        assert stats[venue].messages > 0
        assert sample(registry, "shockwatch_producer_last_message_timestamp_seconds", **labels)
        # the replay's streams have ended: the venue reads disconnected
        assert sample(registry, "shockwatch_producer_connected", **labels) == 0
    assert (
        sample(registry, "shockwatch_producer_connected", feed="liquidations", venue="binanceusdm")
        is None
    )


async def test_a_price_source_that_answers_is_connected() -> None:
    registry = CollectorRegistry()
    metrics = create_metrics(registry)
    await produce_prices(
        load_settings(), ProducerSettings(), dry_run=True, fixtures=FIXTURES,
        endpoints=serve_fixtures(FIXTURES), metrics=metrics,
        out=io.StringIO(),
    )  # fmt: skip
    for venue in ("yfinance", "ccxt:binanceusdm"):
        assert sample(registry, "shockwatch_producer_connected", feed="prices", venue=venue) == 1
        assert sample(
            registry, "shockwatch_producer_last_message_timestamp_seconds", feed="prices",
            venue=venue,
        )  # fmt: skip
