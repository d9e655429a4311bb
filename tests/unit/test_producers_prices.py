"""Prices: the symbol table, chart parsing, completed bars only, no bar sent twice."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from producers.config import InvalidProducerSettings, ProducerSettings, load_producer_settings
from producers.metrics import create_metrics
from producers.prices.bars import Bar, LastSent, select_bars, to_tick
from producers.prices.producer import PriceProducer, poll_due, session_open
from producers.prices.yahoo import parse_chart, provider_clock_ms
from producers.retry import ProviderError
from producers.sink import DryRunSink
from shockwatch.lab.fixtures import FixtureServer
from streams.instruments import CLASS_OF, INSTRUMENTS, PriceProvider, instrument
from streams.records import AssetClass
from streams.timing import Hours

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
M = 60_000
T0 = 1_762_266_600_000  # 2025-11-04 14:30 UTC


def test_symbol_table() -> None:
    got = {(i.provider.value, i.ticker): (i.symbol, i.asset_class) for i in INSTRUMENTS}
    assert got == {
        ("yfinance", "^GSPC"): ("SPX", AssetClass.EQUITY_INDEX),
        ("yfinance", "^IXIC"): ("IXIC", AssetClass.EQUITY_INDEX),
        ("yfinance", "NVDA"): ("NVDA", AssetClass.AI_EQUITY),
        ("yfinance", "PLTR"): ("PLTR", AssetClass.AI_EQUITY),
        ("yfinance", "GC=F"): ("XAU", AssetClass.GOLD),
        ("yfinance", "^VIX"): ("VIX", AssetClass.VOLATILITY),
        ("ccxt:binanceusdm", "BTC/USDT:USDT"): ("BTC", AssetClass.CRYPTO),
        ("ccxt:binanceusdm", "ETH/USDT:USDT"): ("ETH", AssetClass.CRYPTO),
    }
    with pytest.raises(KeyError, match="known"):
        instrument(PriceProvider.YFINANCE, "TSLA")
    assert {i.symbol: i.asset_class for i in INSTRUMENTS} == CLASS_OF


def test_an_unknown_ticker_is_refused_at_start_up_naming_it_and_the_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOCKWATCH_PRODUCERS__YAHOO_TICKERS", '["^GSPC", "TSLA"]')
    with pytest.raises(InvalidProducerSettings) as refused:
        load_producer_settings()
    message = str(refused.value)
    assert message.startswith(
        "SHOCKWATCH_PRODUCERS__YAHOO_TICKERS: unknown yfinance ticker(s) TSLA"
    )
    assert "known: ^GSPC, ^IXIC, NVDA, PLTR, GC=F, ^VIX" in message
    with pytest.raises(InvalidProducerSettings, match=r"CRYPTO_SYMBOLS.*SOL/USDT:USDT.*known: BTC"):
        load_producer_settings(crypto_symbols=("SOL/USDT:USDT",))
    monkeypatch.setenv("SHOCKWATCH_PRODUCERS__YAHOO_TICKERS", '["NVDA"]')
    assert load_producer_settings().yahoo_tickers == ("NVDA",)  # a known subset narrows


def test_parse_chart_fixture() -> None:
    doc = json.loads((FIXTURES / "yahoo" / "PLTR.json").read_text())
    meta, bars, unaligned = parse_chart(doc)
    assert meta["symbol"] == "PLTR" and unaligned == 0
    assert len(bars) == 61 and bars[0].start_ms == T0
    assert bars[17].close is None  # a minute without trades


def test_parse_chart_unaligned_point_and_error_document() -> None:
    doc = {
        "chart": {
            "result": [
                {
                    "meta": {},
                    "timestamp": [T0 // 1000, T0 // 1000 + 42],
                    "indicators": {"quote": [{"close": [1.0, 2.0]}]},
                }
            ],
            "error": None,
        }
    }
    _, bars, unaligned = parse_chart(doc)
    assert len(bars) == 1 and unaligned == 1
    err = {"chart": {"result": None, "error": {"code": "Not Found", "description": "delisted"}}}
    with pytest.raises(ProviderError, match="Not Found"):
        parse_chart(err)


def bar(i: int, close: float | None = 100.0) -> Bar:
    return Bar(T0 + i * M, 99.0, 101.0, 98.0, close, 10.0)


def test_only_completed_new_bars_are_selected() -> None:
    bars = [bar(0), bar(1), bar(2, close=None), bar(3), bar(4)]
    clock = T0 + 4 * M + 42_000  # bar 4 still forming
    chosen, skipped = select_bars(bars, None, clock)
    assert [b.start_ms for b in chosen] == [T0, T0 + M, T0 + 3 * M]
    assert skipped == {"incomplete_bar": 1, "missing_values": 1}
    # Next poll: bar 4 has completed, earlier ones are not re-sent (nor counted).
    chosen, skipped = select_bars([*bars, bar(5)], T0 + 4 * M, T0 + 5 * M + 10_000)
    assert [b.start_ms for b in chosen] == [T0 + 4 * M]
    assert skipped == {"incomplete_bar": 1}


def test_tick_is_stamped_at_the_bar_end() -> None:
    tick = to_tick(instrument(PriceProvider.YFINANCE, "^GSPC"), bar(0, close=6790.1))
    d = tick.to_dict()
    assert d["ts_ms"] == T0 + M and d["interval_s"] == 60
    assert (d["symbol"], d["asset_class"], d["source"]) == ("SPX", "equity_index", "yfinance")
    assert (d["price_usd"], d["open_usd"], d["high_usd"], d["low_usd"]) == (6790.1, 99, 101, 98)
    assert tick.key == "SPX"


def test_provider_clock() -> None:
    assert provider_clock_ms({"regularMarketTime": 1_000}, 5_000_000) == 1_000_000
    assert provider_clock_ms({}, 5_000) == 5_000


def _et(y: int, mo: int, d: int, h: int, mi: int) -> datetime:
    """A New York wall-clock time (EST in November 2025, EDT in July)."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo("America/New_York"))


# 2025-11-02 Sunday, 11-04 Tuesday, 11-07 Friday, 11-08 Saturday; 2025-07-06 Sunday (EDT).
SESSIONS = [
    (Hours.US_EQUITY, _et(2025, 11, 4, 9, 30), True),
    (Hours.US_EQUITY, _et(2025, 11, 4, 9, 29), False),
    (Hours.US_EQUITY, _et(2025, 11, 4, 16, 4), True),  # the last bars: 16:05 grace
    (Hours.US_EQUITY, _et(2025, 11, 4, 16, 6), False),
    (Hours.US_EQUITY, _et(2025, 7, 1, 9, 30), True),
    (Hours.US_EQUITY, _et(2025, 11, 8, 10, 0), False),  # Saturday
    (Hours.CME_GLOBEX, _et(2025, 11, 2, 18, 30), True),  # Sunday evening: the week opens
    (Hours.CME_GLOBEX, _et(2025, 7, 6, 18, 30), True),  # the same in summer time
    (Hours.CME_GLOBEX, _et(2025, 11, 2, 17, 30), False),  # Sunday before the open
    (Hours.CME_GLOBEX, _et(2025, 11, 4, 17, 30), False),  # the daily 17:00-18:00 break
    (Hours.CME_GLOBEX, _et(2025, 11, 4, 18, 0), True),
    (Hours.CME_GLOBEX, _et(2025, 11, 4, 3, 0), True),  # overnight: ~23 hours a day
    (Hours.CME_GLOBEX, _et(2025, 11, 7, 16, 59), True),
    (Hours.CME_GLOBEX, _et(2025, 11, 7, 17, 30), False),  # Friday close
    (Hours.CME_GLOBEX, _et(2025, 11, 8, 12, 0), False),  # Saturday
    (Hours.CBOE_GTH, _et(2025, 11, 4, 3, 0), True),
    (Hours.CBOE_GTH, _et(2025, 11, 4, 2, 59), False),
    (Hours.CBOE_GTH, _et(2025, 11, 4, 16, 14), True),
    (Hours.CBOE_GTH, _et(2025, 11, 4, 16, 25), False),
    (Hours.CBOE_GTH, _et(2025, 11, 8, 10, 0), False),
    (Hours.ALWAYS, _et(2025, 11, 8, 3, 0), True),
    (Hours.BUSINESS_DAYS, _et(2025, 11, 4, 3, 0), True),
    (Hours.BUSINESS_DAYS, _et(2025, 11, 8, 12, 0), False),
]


@pytest.mark.parametrize(("hours", "when", "expected"), SESSIONS)
def test_session_open_per_hours(hours: Hours, when: datetime, expected: bool) -> None:
    assert session_open(hours, when) is expected
    assert session_open(hours, when.astimezone(UTC)) is expected  # any zone, same instant


@pytest.mark.parametrize(
    ("ticker", "when", "expected"),
    [
        ("GC=F", _et(2025, 11, 2, 18, 30), True),  # gold on a Sunday evening, not only US hours
        ("GC=F", _et(2025, 11, 4, 3, 0), True),
        ("^GSPC", _et(2025, 11, 4, 3, 0), False),
        ("GC=F", _et(2025, 11, 4, 17, 30), True),  # in the break: bars up to 30 min late
        ("GC=F", _et(2025, 11, 4, 17, 40), False),
        ("GC=F", _et(2025, 11, 7, 17, 40), False),
        ("^VIX", _et(2025, 11, 4, 9, 20), True),  # between Cboe's sessions, delayed bars
        ("^VIX", _et(2025, 11, 4, 4, 0), True),
        ("NVDA", _et(2025, 11, 4, 16, 6), False),
    ],
)
def test_poll_due_per_instrument(ticker: str, when: datetime, expected: bool) -> None:
    assert poll_due(instrument(PriceProvider.YFINANCE, ticker), when) is expected


def test_crypto_is_polled_around_the_clock() -> None:
    btc = instrument(PriceProvider.CCXT_BINANCEUSDM, "BTC/USDT:USDT")
    assert btc.hours is Hours.ALWAYS
    assert all(poll_due(btc, _et(2025, 11, 8, h, 0)) for h in range(24))


def test_last_sent_persists(tmp_path: Path) -> None:
    path = tmp_path / "p" / "prices_state.json"
    last = LastSent(path)
    last.set("BTC", 5)
    last.set("BTC", 3)  # never backwards
    last.save()
    assert LastSent(path).get("BTC") == 5


async def test_poll_from_fixtures_once_then_nothing_new(tmp_path: Path) -> None:
    """The real clients (aiohttp for the chart API, ccxt for klines) against local fixtures,
    including a 429 with Retry-After that the backoff absorbs."""
    async with FixtureServer(FIXTURES) as server:
        server.fail_next("/v8/finance/chart/NVDA", 429, **{"Retry-After": "0"})
        ps = ProducerSettings(endpoints=server.endpoints(), rate_limit_min_s=0.05)
        out = io.StringIO()
        metrics = create_metrics(CollectorRegistry())

        def producer() -> PriceProducer:
            return PriceProducer(
                sink=DryRunSink(out, io.StringIO()),
                topic="market.prices",
                ps=ps,
                metrics=metrics,
                state_path=tmp_path / "prices_state.json",
                fixtures=FIXTURES,
            )

        first = producer()
        stats = await first.run(_never(), once=True)
        assert stats.sent == {
            "SPX": 60,
            "IXIC": 60,
            "NVDA": 60,
            "PLTR": 59,
            "XAU": 60,
            "VIX": 60,
            "BTC": 60,
            "ETH": 60,
        }
        assert stats.skipped == {"incomplete_bar": 8, "missing_values": 1}
        ticks = [json.loads(x) for x in out.getvalue().splitlines()]
        assert len(ticks) == 479
        nvda = [t for t in ticks if t["symbol"] == "NVDA"]
        assert [t["ts_ms"] for t in nvda] == sorted({t["ts_ms"] for t in nvda})
        assert {t["source"] for t in ticks} == {"yfinance", "ccxt:binanceusdm"}
        assert sum(1 for r in server.requests if r.startswith("/v8/finance/chart/NVDA")) == 2

        again = producer()  # a restart: the state file says what was sent
        stats = await again.run(_never(), once=True)
        assert sum(stats.sent.values()) == 0
        assert len(out.getvalue().splitlines()) == 479


def _never():  # type: ignore[no-untyped-def]
    import asyncio

    return asyncio.Event()
