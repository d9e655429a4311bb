"""Providers' own documented payloads and public captures, through the real parse paths.

Every sample under tests/fixtures/providers/documented/ (origins in its README.md) goes through
the functions the producers call, and the values are asserted: the liquidated side, USD
notional, UTC millisecond timestamps, percent vs basis points, billions vs millions. Each test
of one of the six defects of issue 14 names it and fails on the code before its fix.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from producers.config import ProducerSettings
from producers.funding.parse import (
    parse_dts,
    parse_fred_csv,
    parse_nyfed_repo,
    parse_nyfed_sofr,
)
from producers.funding.producer import FundingProducer
from producers.funding.series import FundingSource
from producers.liquidations import bybit, deribit, gate, htx, okx
from producers.liquidations.feed import ADAPTERS
from producers.liquidations.markets import MarketIndex, load_snapshot
from producers.liquidations.normalise import normalise
from producers.liquidations.venues import VENUES, Venue, side_liquidated
from producers.metrics import create_metrics
from producers.plausibility import PriceGuard, check_funding
from producers.prices.bars import LastSent, select_bars
from producers.prices.crypto import bars_from_ohlcv
from producers.prices.yahoo import parse_chart, provider_clock_ms, session_end_ms
from producers.sink import DryRunSink
from shockwatch.lab.fixtures import FixtureServer
from streams.records import ImplausibleValue, Liquidation, RecordError, Side

PROVIDERS = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
DOC = PROVIDERS / "documented"
MARKETS = {
    Venue.BINANCE: PROVIDERS / "binanceusdm" / "markets.json",
    Venue.BYBIT: DOC / "bybit" / "markets.json",
    Venue.OKX: PROVIDERS / "okx" / "markets.json",
    Venue.GATE: DOC / "gate" / "markets.json",
    Venue.HTX: DOC / "htx" / "markets.json",
    Venue.DERIBIT: DOC / "deribit" / "markets.json",
}


def load(rel: str) -> Any:
    return json.loads((DOC / rel).read_text())


def liquidations(venue: Venue, rel: str) -> list[Liquidation]:
    spec, index = VENUES[venue], MarketIndex(load_snapshot(MARKETS[venue]))
    return [normalise(spec, index, raw) for raw in ADAPTERS[venue].extract(load(rel))]


def utc_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# -- liquidations ---------------------------------------------------------------------------


def test_documented_binance_force_order() -> None:
    [doc] = liquidations(Venue.BINANCE, "binance/forceOrder.doc.json")
    assert doc.side_liquidated is Side.LONG  # a forced SELL order closes a long
    assert (doc.qty_base, doc.price_usd) == (0.014, 9910.0)  # z (filled), ap (average)
    assert doc.notional_usd == pytest.approx(138.74)
    assert doc.ts_ms == 1568014460893 and doc.lower_bound  # T, UTC ms; a snapshot stream
    [cap] = liquidations(Venue.BINANCE, "binance/forceOrder.capture.json")
    assert cap.side_liquidated is Side.SHORT and cap.symbol == "BTC/USDT:USDT"
    assert cap.notional_usd == pytest.approx(1.437 * 34959.70)  # ap, not the order price p
    assert cap.ts_ms == 1698871323059  # trade time T, not event time E


def test_documented_bybit_all_liquidation_and_legacy_topic() -> None:
    [rose] = liquidations(Venue.BYBIT, "bybit/allLiquidation.doc.json")
    # Bybit: "When you receive a Buy update, this means that a long position has been
    # liquidated": S is the position side, so Sell = a short was liquidated
    assert rose.side_liquidated is Side.SHORT and rose.base == "ROSE"
    assert rose.notional_usd == pytest.approx(20000 * 0.04499)
    assert rose.ts_ms == 1739502302929 and rose.lower_bound  # configured symbols only
    [legacy] = liquidations(Venue.BYBIT, "bybit/liquidation.legacy.doc.json")
    assert legacy.side_liquidated is Side.SHORT
    assert legacy.notional_usd == pytest.approx(0.003 * 43511.70)
    assert legacy.ts_ms == 1703485237953


def test_documented_okx_liquidation_orders_linear_and_inverse() -> None:
    [doc] = okx.extract(load("okx/liquidation-orders.doc.json"))
    assert (doc.market_id, doc.qty, doc.price, doc.ts_ms) == (
        "IOST-USDT-SWAP", "13", "0.007831", "1692266434010",
    )  # fmt: skip
    assert side_liquidated(VENUES[Venue.OKX].side_field, doc.side, doc.pos_side) is Side.SHORT
    [cap] = liquidations(Venue.OKX, "okx/liquidation-orders.capture.json")
    assert cap.side_liquidated is Side.LONG  # posSide long (order side sell)
    assert cap.qty_base == pytest.approx(10000 * 0.01)  # sz in contracts x ctVal 0.01 BTC
    assert cap.notional_usd == pytest.approx(100 * 57102.9)
    assert cap.ts_ms == 1723038122631
    [inv] = liquidations(Venue.OKX, "okx/liquidation-orders.inverse.derived.json")
    assert inv.symbol == "BTC/USD:BTC" and inv.notional_usd == pytest.approx(100 * 100.0)
    assert inv.qty_base == pytest.approx(100 * 100.0 / 57102.9)  # ctVal is $100 a contract


def test_documented_gate_public_liquidates_sign_is_the_position_contracts_x_multiplier() -> None:
    first, second = liquidations(Venue.GATE, "gate/public_liquidates.doc.json")
    # size -124.5 contracts: the sign is the position, so a short was liquidated
    assert first.side_liquidated is Side.SHORT and first.symbol == "BTC/USDT:USDT"
    assert first.qty_base == pytest.approx(124.5 * 0.0001)  # x quanto_multiplier 0.0001 BTC
    assert first.notional_usd == pytest.approx(124.5 * 0.0001 * 215.1)
    assert (first.ts_ms, second.ts_ms) == (1541486601123, 1541486601456)  # per entry, ms
    assert not first.lower_bound  # aggregated per second, nothing dropped since 2026-08-20
    assert first.event_id != second.event_id


def test_documented_gate_integer_size_without_the_decimal_header() -> None:
    first, second = liquidations(Venue.GATE, "gate/public_liquidates.integer-size.doc.json")
    assert first.side_liquidated is Side.SHORT and second.side_liquidated is Side.SHORT
    assert first.notional_usd == pytest.approx(124 * 0.0001 * 215.1)
    assert second.notional_usd == pytest.approx(10 * 0.0001 * 215.2)


def test_documented_gate_before_2026_08_20_time_in_seconds_is_read_as_ms() -> None:
    [old] = liquidations(Venue.GATE, "gate/public_liquidates.before-2026-08-20.doc.json")
    assert old.ts_ms == 1541486601 * 1000  # seconds then, never read as 1970
    assert datetime.fromtimestamp(old.ts_ms / 1000, UTC).year == 2018


def test_documented_gate_positive_size_is_a_long() -> None:
    doc = load("gate/public_liquidates.doc.json")
    doc["result"][0]["size"] = "124.5"  # the same entry with the opposite sign
    spec, index = VENUES[Venue.GATE], MarketIndex(load_snapshot(MARKETS[Venue.GATE]))
    record = normalise(spec, index, gate.extract(doc)[0])
    assert record.side_liquidated is Side.LONG
    assert record.notional_usd == pytest.approx(124.5 * 0.0001 * 215.1)
    assert gate.subscription(now_s=1)["payload"] == ["!all"]  # every contract
    assert gate.is_push(doc) and not gate.is_push({"channel": gate.CHANNEL, "event": "subscribe"})


def test_documented_htx_liquidation_orders_order_side_and_base_amount() -> None:
    [doc] = liquidations(Venue.HTX, "htx/liquidation_orders.doc.json")
    assert doc.side_liquidated is Side.LONG  # direction sell: the order closing a long
    assert doc.symbol == "O3/USDT:USDT" and doc.base == "O3"
    assert doc.qty_base == 432 and doc.price_usd == pytest.approx(0.7858)  # amount, token
    assert doc.notional_usd == pytest.approx(339.4656)  # = trade_turnover, USDT
    assert doc.ts_ms == 1639122193172 and not doc.lower_bound  # created_at, UTC ms


def test_documented_htx_unlisted_contract_is_named_from_its_id() -> None:
    msg = load("htx/liquidation_orders.doc.json")
    msg["data"][0].update(contract_code="NEWCOIN-USDT", symbol="NEWCOIN", direction="buy")
    [raw] = htx.extract(msg)
    record = normalise(VENUES[Venue.HTX], MarketIndex([]), raw)
    assert record.symbol == "NEWCOIN/USDT:USDT" and record.side_liquidated is Side.SHORT
    assert record.notional_usd == pytest.approx(432 * 0.7858)
    assert htx.is_push(msg) and not htx.is_push({"op": "ping", "ts": 1})
    assert htx.subscription()["topic"] == "public.*.liquidation_orders"


def test_documented_deribit_taker_liquidated_inverse_amount_is_usd() -> None:
    [doc] = liquidations(Venue.DERIBIT, "deribit/trades.liquidation.assembled.json")
    # "T": the taker was liquidated; it bought, so its short was closed
    assert doc.side_liquidated is Side.SHORT and doc.symbol == "BTC/USD:BTC"
    assert doc.notional_usd == pytest.approx(20.0)  # amount is USD on BTC-PERPETUAL
    assert doc.qty_base == pytest.approx(20.0 / 8960)  # 2 contracts of $10
    assert doc.ts_ms == 1590484513004 and not doc.lower_bound
    assert doc.event_id == "48079270:T"


def test_documented_deribit_maker_both_sides_and_linear_amount() -> None:
    maker, taker, maker_usdc = liquidations(
        Venue.DERIBIT, "deribit/trades.maker-both-linear.derived.json"
    )  # the ordinary USDC trade without a flag is not a liquidation
    assert maker.side_liquidated is Side.LONG  # "M": the taker bought, the maker sold: a long
    assert maker.notional_usd == pytest.approx(20.0)
    # "MT": both sides liquidated, the taker sold (a long), the maker bought (a short)
    assert (taker.side_liquidated, maker_usdc.side_liquidated) == (Side.LONG, Side.SHORT)
    assert taker.symbol == "BTC/USDC:USDC" and taker.qty_base == pytest.approx(0.049)
    assert taker.notional_usd == pytest.approx(0.049 * 21026)  # linear: amount is the coin
    assert {taker.event_id, maker_usdc.event_id} == {"USDC-2436804:T", "USDC-2436804:M"}
    assert taker.ts_ms == 1655397355998


def test_documented_deribit_unknown_flag_is_refused() -> None:
    msg = load("deribit/trades.liquidation.assembled.json")
    msg["params"]["data"][0]["liquidation"] = "X"
    with pytest.raises(RecordError) as err:
        deribit.extract(msg)
    assert err.value.field == "liquidation"
    assert deribit.is_push(msg) and not deribit.is_push({"jsonrpc": "2.0", "id": 1, "result": []})


def test_documented_bybit_subscribes_every_usdt_perpetual_in_batches() -> None:
    ids = [f"COIN{i:03d}USDT" for i in range(805)]
    batches = bybit.topic_batches(ids)
    assert [len(b) for b in batches] == [200, 200, 200, 200, 5]
    assert [t for b in batches for t in b] == [f"allLiquidation.{i}" for i in ids]
    assert all(len(json.dumps(b)) < bybit.ARGS_MAX_CHARS for b in batches)
    index = MarketIndex(load_snapshot(MARKETS[Venue.BYBIT]))
    assert index.usdt_perpetuals() == ["BTC/USDT:USDT", "ROSE/USDT:USDT"]


def test_documented_ccxt_floor_uses_binances_new_market_route() -> None:
    """Defect 6: Binance retired the old USD-M websocket routes on 2026-04-23; ccxt opens
    /market/ws for forceOrder from 4.5.44 on. The URL comes from ccxt's own configuration."""
    import ccxt
    import ccxt.pro

    major, minor, patch = (int(x) for x in ccxt.__version__.split(".")[:3])
    assert (major, minor, patch) >= (4, 5, 44)
    exchange = ccxt.pro.binanceusdm()
    url = exchange.get_ws_url("linear", exchange.get_future_ws_category("forceOrder"))
    assert url == "wss://fstream.binance.com/market/ws"
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert re.search(r'"ccxt>=4\.5\.(4[4-9]|[5-9]\d)', pyproject), "the floor must be >= 4.5.44"


# -- prices ---------------------------------------------------------------------------------


def test_documented_ccxt_ohlcv_rows_are_bar_starts() -> None:
    text = (DOC / "ccxt" / "ohlcv.manual.jsonc").read_text()
    clean = re.sub(r"//[^\n]*", "", text).replace("...", "")
    rows = json.loads(re.sub(r",\s*\]", "]", clean))
    [bar] = bars_from_ohlcv(rows)
    assert bar.start_ms == 1504541580000 and bar.end_ms == 1504541640000
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        4235.4, 4240.6, 4230.0, 4230.7, 37.72941911,
    )  # fmt: skip


def test_documented_yahoo_null_minute_and_live_row() -> None:
    doc = load("yahoo/PETR4.SA.1m.capture.json")
    meta, bars, unaligned = parse_chart(doc)
    assert unaligned == 1  # the live row at :36 (= regularMarketTime) is not a minute bar
    clock = provider_clock_ms(meta, now_ms=utc_ms("2030-01-01T00:00:00"))
    assert clock == 1678108476000
    chosen, skipped = select_bars(bars, None, clock)
    assert [b.start_ms // 1000 for b in chosen] == [1678108200, 1678108260, 1678108320,
                                                   1678108380]  # fmt: skip
    assert chosen[-1].close == pytest.approx(25.65, abs=0.001)
    assert skipped == {"incomplete_bar": 1}  # the null, forming 13:14 minute waits


def amzn_mid_session() -> dict[str, Any]:
    """The AMZN capture as Yahoo answers a poll at 15:58:30 ET: the rows up to 15:57, the
    forming 15:58 interval with its close so far (103.70), and that interval again with the
    live price (103.72) - yfinance's ``fix_Yahoo_returning_live_separate``: "the interval is
    simply duplicated"."""
    doc = load("yahoo/AMZN.1m.close-print.capture.json")
    result = doc["chart"]["result"][0]
    stamps = result["timestamp"]
    keep = stamps.index(1683057480)  # through 15:57
    result["timestamp"] = [*stamps[:keep], 1683057480, 1683057480]
    quote = result["indicators"]["quote"][0]
    for key, values in quote.items():
        forming = values[keep]
        partial, live = (0, 0) if key == "volume" else (103.70, 103.72)
        quote[key] = [*values[:keep], forming if key == "open" else partial, live]
    result["meta"]["regularMarketTime"] = 1683057510
    return doc


def test_documented_yahoo_duplicated_interval_is_sent_once_and_final() -> None:
    """Defect 2: with the forming interval returned twice, the first copy was taken as
    complete ("a later bar exists"), sent with a partial close, and the final bar of that
    minute was then suppressed as already sent."""
    last = LastSent(None)
    sent: dict[int, float] = {}
    for doc in (amzn_mid_session(), load("yahoo/AMZN.1m.close-print.capture.json")):
        meta, bars, _ = parse_chart(doc)
        clock = provider_clock_ms(meta, now_ms=utc_ms("2030-01-01T00:00:00"))
        chosen, _ = select_bars(bars, last.get("AMZN"), clock, session_end_ms(meta))
        for bar in chosen:
            assert bar.start_ms not in sent, "a minute sent twice"
            sent[bar.start_ms] = bar.close  # type: ignore[assignment]
            last.set("AMZN", bar.end_ms)
    final = load("yahoo/AMZN.1m.close-print.capture.json")["chart"]["result"][0]
    closes = dict(zip(final["timestamp"], final["indicators"]["quote"][0]["close"], strict=True))
    assert sent[1683057480_000] == closes[1683057480]  # 15:58: its final close, not 103.70
    assert closes[1683057480] not in (103.70, 103.72)
    # the 16:00 row holds the closing-auction print: sent once the clock is past 16:00
    assert sent[1683057600_000] == pytest.approx(103.63, abs=0.001)


def test_documented_price_guard_rejects_a_1000x_and_rebases_after_a_run() -> None:
    guard = PriceGuard(max_multiple=1.5, rebase_after=3)
    assert guard.check("NVDA", 180.6) is None
    err = guard.check("NVDA", 18.06)  # a 10:1 split, or a misread
    assert isinstance(err, ImplausibleValue) and err.reason == "implausible_value"
    assert guard.check("NVDA", 18.1) is not None
    assert guard.check("NVDA", 18.2) is None  # three agreeing closes: a new level
    assert guard.check("NVDA", 18.3) is None
    # VIX's real gaps are wider (2024-08-05: 23.39 close, 65.73 intraday high the next day)
    assert guard.check("VIX", 23.39, "volatility") is None
    assert guard.check("VIX", 65.73, "volatility") is None
    assert guard.check("VIX", 657.3, "volatility") is not None


# -- funding --------------------------------------------------------------------------------


def test_documented_fred_both_header_styles_and_missing_markers() -> None:
    old = parse_fred_csv((DOC / "fred/old_header_DATE_SOFR_dot_missing.csv").read_text(), "SOFR")
    by_date = {o.observation_date: o.value for o in old.observations}
    assert by_date["2019-09-17"] == 5.25 and by_date["2019-09-16"] == 2.43  # percent
    assert old.skipped == {"missing": 2} and not old.rejects  # "." on two holidays
    new = parse_fred_csv(
        (DOC / "fred/new_header_observation_date_SOFR_empty_missing.csv").read_text(), "SOFR"
    )
    assert len(new.observations) == 10 and new.skipped == {"missing": 1}  # empty field
    rrp = parse_fred_csv(
        (DOC / "fred/observation_date_RRPONTSYD_empty_missing.csv").read_text(), "RRPONTSYD"
    )
    assert rrp.observations[0].value == pytest.approx(1018.483)  # already billions


def test_documented_fred_reserves_and_tga_are_millions_today() -> None:
    """Defect 1: FRED serves WRESBAL and WTREGEN in millions; reserves were read as billions
    (~3,808,042 "bn"), so their funding component could never fire."""
    res = parse_fred_csv(
        (DOC / "fred/new_header_observation_date_WRESBAL_millions.csv").read_text(), "WRESBAL"
    )
    assert res.observations[0].value == pytest.approx(3808.042)  # $bn: $3.8tn
    assert all(check_funding("RESERVES", o.value) is None for o in res.observations)
    tga = parse_fred_csv((DOC / "fred/observation_date_WTREGEN_millions.csv").read_text(),
                         "WTREGEN")  # fmt: skip
    assert tga.observations[0].value == pytest.approx(731.405)
    # an old billions download read with today's factor is 1000x small: rejected, loudly
    stale = parse_fred_csv((DOC / "fred/old_header_DATE_WRESBAL_billions.csv").read_text(),
                           "WRESBAL")  # fmt: skip
    err = check_funding("RESERVES", stale.observations[0].value)
    assert err is not None and err.reason == "implausible_value"


def test_documented_nyfed_sofr_is_percent_published_next_morning() -> None:
    parsed = parse_nyfed_sofr(load("nyfed/sofr.search.capture.json"))
    first = {o.observation_date: o for o in parsed.observations}["2024-06-06"]
    assert first.value == 5.33  # percent, not basis points
    assert first.published_ms == utc_ms("2024-06-07T12:00:00")  # 08:00 New York (EDT)
    assert len(parsed.observations) == 4


def test_documented_nyfed_repo_small_value_exercise_is_not_srf_takeup() -> None:
    """Defect 5: a small value exercise ($1m per security type per counterparty) was counted
    as Standing Repo Facility take-up."""
    parsed = parse_nyfed_repo(load("nyfed/repo_results.assembled.json"))
    assert {o.observation_date: o.value for o in parsed.observations} == {
        "2025-10-31": pytest.approx(50.35)  # $bn: both operations of the day; RRP ignored
    }
    assert parsed.skipped == {"small_value_exercise": 1}


def test_documented_treasury_dts_rows_of_every_era() -> None:
    """Defect 4 (names): rows named "Federal Reserve Account" (to 2021-09) and "Treasury
    General Account (TGA)" (to 2022-04-15) were dropped silently."""
    rows = load("treasury/dts.2005-10-03.rows.json")
    [obs] = parse_dts({"data": rows}).observations
    assert (obs.observation_date, obs.value) == ("2005-10-03", pytest.approx(5.448))  # $mn->$bn
    page1 = parse_dts(load("treasury/operating_cash_balance.json"))
    page2 = parse_dts(load("treasury/operating_cash_balance.p2.json"))
    got = {o.observation_date: o.value for o in [*page1.observations, *page2.observations]}
    assert got == {
        "2022-04-18": 965.0,  # open_today_bal of the Closing Balance row
        "2022-04-15": 950.0,
        "2021-10-01": 172.0,
        "2021-09-30": 215.0,
    }
    assert page2.skipped == {"other_account": 1}  # an unknown account is counted, not silent


async def test_documented_treasury_backfill_follows_the_pages() -> None:
    """Defect 4 (paging): one page of 1,000 rows was asked for and the paging metadata
    ignored, so a long backfill lost its oldest days."""
    async with FixtureServer(DOC, {}) as server:
        out = io.StringIO()
        producer = FundingProducer(
            sink=DryRunSink(out, io.StringIO()),
            topic="funding.daily",
            ps=ProducerSettings(endpoints=server.endpoints()),
            metrics=create_metrics(CollectorRegistry()),
            state_path=None,
            clock_ms=lambda: utc_ms("2022-04-20T12:00:00"),
        )
        parsed = await producer.fetch(FundingSource.TREASURY, date(2021, 9, 1), strict=True)
        await producer.close()
    assert sorted(o.observation_date for o in parsed.observations) == [
        "2021-09-30", "2021-10-01", "2022-04-15", "2022-04-18",
    ]  # fmt: skip
    pages = [q for q in server.requests if "operating_cash_balance" in q]
    assert len(pages) == 2
    assert any(m in pages[1] for m in ("page%5Bnumber%5D=2", "page[number]=2"))


def test_documented_nasdaq_composite_is_labelled_truthfully() -> None:
    """Defect 3: Yahoo's ^IXIC is the Nasdaq Composite (the Nasdaq-100 is ^NDX), yet it was
    published as symbol NDX. It is IXIC everywhere now, bundled scenarios included."""
    from streams.instruments import PriceProvider, instrument

    assert instrument(PriceProvider.YFINANCE, "^IXIC").symbol == "IXIC"
    data = Path(__file__).resolve().parents[2] / "data"
    for prices in sorted(data.glob("*/*/prices.jsonl.gz")):
        with gzip.open(prices, "rt") as f:
            symbols = {json.loads(line)["symbol"] for line in f}
        assert "NDX" not in symbols, prices
        assert "IXIC" in symbols, prices


async def dry_run_funding(fixtures: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The funding producer, dry run, once, over the fixture server: (records, dead letters)."""
    out, err = io.StringIO(), io.StringIO()
    async with FixtureServer(fixtures, {}) as server:
        producer = FundingProducer(
            sink=DryRunSink(out, err),
            topic="funding.daily",
            ps=ProducerSettings(endpoints=server.endpoints()),
            metrics=create_metrics(CollectorRegistry()),
            state_path=None,
            clock_ms=lambda: utc_ms("2025-11-05T15:00:00"),
        )
        await producer.run_once(commit=False)
        await producer.close()
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    letters = [json.loads(x)["dead_letter"] for x in err.getvalue().splitlines()]
    return records, letters


async def test_documented_dry_run_reads_billions_and_rejects_a_1000x_series(
    tmp_path: Path,
) -> None:
    records, letters = await dry_run_funding(PROVIDERS)
    last = {r["series"]: r["value"] for r in sorted(records, key=lambda r: r["observation_date"])}
    assert 2_800 <= last["RESERVES"] <= 3_400 and 300 <= last["TGA"] <= 1_100  # $bn
    assert letters == []
    scaled = tmp_path / "providers"
    shutil.copytree(PROVIDERS, scaled, ignore=shutil.ignore_patterns("documented"))
    csv = scaled / "fred" / "WRESBAL.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join([rows[0], *(f"{d},{float(v) / 1000:g}" for d, v in
                                         (r.split(",") for r in rows[1:]))]) + "\n")  # fmt: skip
    records, letters = await dry_run_funding(scaled)
    assert not [r for r in records if r["series"] == "RESERVES"]
    assert {(x["reason"], x["error_field"]) for x in letters} == {("implausible_value", "RESERVES")}
