"""Prices and funding from the recorded fixtures into the real broker.

Funding is idempotent across runs (the state file) and sends a changed value as a revision;
a backfill stamps each value with its estimated publication time.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from common.settings import Settings
from producers.config import ProducerSettings
from producers.metrics import create_metrics
from producers.run import produce_funding, produce_prices, state_path
from shockwatch.lab.fixtures import serve_fixtures
from streams.records import FundingObservation, Heartbeat, PriceTick, decode
from streams.topics import TopicNames
from tests.integration.test_producers_liquidations import read_topic

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
PRICE_TICKS = 479  # 8 instruments x 60 complete bars, less PLTR's minute without trades
FUNDING_RECORDS = 111


@pytest.fixture
def settings(kafka_settings: Settings, tmp_path: Path) -> Settings:
    """The test's topics, and its own state dir (what the producers remember)."""
    return kafka_settings.model_copy(update={"state_dir": tmp_path / "state"})


def ps(**kw: object) -> ProducerSettings:
    return ProducerSettings(rate_limit_min_s=0.05, heartbeat_s=0.5, **kw)  # type: ignore[arg-type]


async def test_prices_publish_completed_bars_once(settings: Settings) -> None:
    stats = await produce_prices(
        settings,
        ps(),
        fixtures=FIXTURES,
        endpoints=serve_fixtures(FIXTURES),
        metrics=create_metrics(CollectorRegistry()),
    )
    assert sum(stats.sent.values()) == PRICE_TICKS
    topic = TopicNames(settings.topic_prefix).prices
    messages = read_topic(settings, topic, PRICE_TICKS)
    ticks = [x for m in messages if isinstance(x := decode(PriceTick, m.value), PriceTick)]
    assert len(ticks) == PRICE_TICKS
    assert Counter(t.symbol for t in ticks)["PLTR"] == 59
    assert all(t.ts_ms % 60_000 == 0 and t.interval_s == 60 for t in ticks)
    # Per symbol, in event-time order on its partition (the detector's watermark needs it).
    for symbol in {t.symbol for t in ticks}:
        mine = [t.ts_ms for t in ticks if t.symbol == symbol]
        assert mine == sorted(mine)
    # Run again: the state says all was sent; nothing new goes out.
    again = await produce_prices(
        settings,
        ps(),
        fixtures=FIXTURES,
        endpoints=serve_fixtures(FIXTURES),
        metrics=create_metrics(CollectorRegistry()),
    )
    assert sum(again.sent.values()) == 0
    assert state_path(settings, "prices").exists()


def funding(messages: list) -> list[FundingObservation]:  # type: ignore[type-arg]
    out = []
    for m in messages:
        item = decode(FundingObservation, m.value)
        if not isinstance(item, Heartbeat):
            assert m.key.decode() == item.key
            out.append(item)
    return out


async def test_funding_is_idempotent_and_sends_revisions(
    settings: Settings, tmp_path: Path
) -> None:
    fixtures = tmp_path / "providers"
    shutil.copytree(FIXTURES, fixtures)
    topic = TopicNames(settings.topic_prefix).funding

    first = await produce_funding(
        settings,
        ps(),
        fixtures=fixtures,
        endpoints=serve_fixtures(fixtures),
        metrics=create_metrics(CollectorRegistry()),
    )
    assert sum(first.sent.values()) == FUNDING_RECORDS
    assert first.skipped == {"missing": 3}  # FRED's "." on a holiday and a not-yet-published day

    second = await produce_funding(
        settings,
        ps(),
        fixtures=fixtures,
        endpoints=serve_fixtures(fixtures),
        metrics=create_metrics(CollectorRegistry()),
    )
    assert second.sent == {}  # dates already published are not re-sent

    # The New York Fed revises SOFR for 2025-11-03.
    path = fixtures / "nyfed" / "sofr.json"
    doc = orjson.loads(path.read_bytes())
    for rate in doc["refRates"]:
        if rate["effectiveDate"] == "2025-11-03":
            rate["percentRate"], rate["revisionIndicator"] = 4.12, "Y"
    path.write_bytes(orjson.dumps(doc))
    third = await produce_funding(
        settings,
        ps(),
        fixtures=fixtures,
        endpoints=serve_fixtures(fixtures),
        metrics=create_metrics(CollectorRegistry()),
    )
    assert third.sent == {"SOFR": 1}

    records = funding(read_topic(settings, topic, FUNDING_RECORDS + 1))
    assert len(records) == FUNDING_RECORDS + 1
    sofr = [r for r in records if r.series == "SOFR" and r.observation_date == "2025-11-03"]
    assert [(r.value, r.revision, r.source) for r in sofr] == [
        (4.13, 0, "nyfed"),
        (4.12, 1, "nyfed"),
    ]
    tga = {r.observation_date: r.value for r in records if r.series == "TGA"}
    assert tga["2025-11-03"] == pytest.approx(1012.655)  # Treasury DTS, $mn -> $bn


async def test_funding_backfill_uses_publication_times(settings: Settings) -> None:
    stats = await produce_funding(
        settings,
        ps(),
        fixtures=FIXTURES,
        endpoints=serve_fixtures(FIXTURES),
        backfill_since=date(2025, 11, 3),
        metrics=create_metrics(CollectorRegistry()),
    )
    assert stats.sent["SOFR"] == 2  # 2025-11-03 and 2025-11-04 only
    topic = TopicNames(settings.topic_prefix).funding
    records = funding(read_topic(settings, topic, sum(stats.sent.values())))
    by = {(r.series, r.observation_date): r for r in records}
    sofr = by[("SOFR", "2025-11-04")]
    published = datetime.fromtimestamp(sofr.ts_ms / 1000, UTC)
    assert published == datetime(2025, 11, 5, 13, 0, tzinfo=UTC)  # 08:00 New York, next day
    assert by[("SRF_TAKEUP", "2025-11-03")].value == pytest.approx(14.75)


async def test_all_three_producers_publish_from_fixtures(settings: Settings) -> None:
    """What the demo runs (``python -m shockwatch.lab.fixtures DIR``); a detection-worker test
    can start from here: the test's topics hold the three feeds, each ending in heartbeats."""
    from shockwatch.lab.fixtures import publish_fixtures
    from tests.integration.test_producers_liquidations import EXPECTED, split

    stats = await publish_fixtures(
        settings, FIXTURES, ps=ps(), metrics=create_metrics(CollectorRegistry())
    )
    assert set(stats) == {"liquidations", "prices", "funding"}
    names = TopicNames(settings.topic_prefix)
    n_liq = sum(n for n, _ in EXPECTED.values())
    liquidations, beats = split(read_topic(settings, names.liquidations, n_liq))
    assert len(liquidations) == n_liq
    assert {p for p, _ in beats} == {0, 1, 2}
    prices = read_topic(settings, names.prices, PRICE_TICKS)
    kinds = Counter(type(decode(PriceTick, m.value)).__name__ for m in prices)
    assert kinds["PriceTick"] == PRICE_TICKS and kinds["Heartbeat"] >= 3
    records = funding(read_topic(settings, names.funding, FUNDING_RECORDS))
    assert len(records) == FUNDING_RECORDS
    # Backfilled: every value stamped no later than its estimated publication, in the past.
    assert max(r.ts_ms for r in records) < datetime(2025, 11, 6, tzinfo=UTC).timestamp() * 1000
