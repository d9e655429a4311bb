"""Liquidation normalisation per venue (the quirks table), event ids, de-duplication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from producers.dedup import RecentIds
from producers.liquidations import binance, bybit, okx
from producers.liquidations.feed import VenueFeed
from producers.liquidations.markets import MarketIndex, load_snapshot
from producers.liquidations.normalise import RawLiq, normalise, stable_event_id
from producers.liquidations.venues import VENUES, SideField, Venue, side_liquidated
from producers.metrics import create_metrics
from streams.records import (
    InvalidValue,
    Liquidation,
    MalformedRecord,
    MissingField,
    RecordError,
    Side,
    WrongType,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
T = 1_762_266_603_000
ADAPTERS = {Venue.BINANCE: binance, Venue.BYBIT: bybit, Venue.OKX: okx}


def markets(venue: Venue) -> MarketIndex:
    return MarketIndex(load_snapshot(FIXTURES / VENUES[venue].ccxt_id / "markets.json"))


def run(venue: Venue, message: dict[str, Any]) -> list[Liquidation]:
    spec, index = VENUES[venue], markets(venue)
    return [normalise(spec, index, raw) for raw in ADAPTERS[venue].extract(message)]


def force_order(side: str, q: str = "0.014", ap: str = "9910", p: str = "9900", s: str = "BTCUSDT"):
    order = {"s": s, "S": side, "o": "LIMIT", "f": "IOC", "q": q, "p": p, "ap": ap}
    return {"e": "forceOrder", "E": T + 2, "o": {**order, "X": "FILLED", "l": q, "z": q, "T": T}}


def all_liquidation(side: str, v: str = "0.003", p: str = "43511.70", s: str = "BTCUSDT"):
    item = {"T": T, "s": s, "S": side, "v": v, "p": p}
    return {"topic": f"allLiquidation.{s}", "type": "snapshot", "ts": T + 5, "data": [item]}


def okx_push(inst: str, *details: dict[str, str]) -> dict[str, Any]:
    family = inst.removesuffix("-SWAP")
    return {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            {
                "details": list(details),
                "instFamily": family,
                "instId": inst,
                "instType": "SWAP",
                "uly": family,
            }
        ],
    }


def okx_detail(pos_side: str, side: str, sz: str = "13", px: str = "100000", ts: int = T):
    return {
        "bkLoss": "0",
        "bkPx": px,
        "ccy": "",
        "posSide": pos_side,
        "side": side,
        "sz": sz,
        "ts": str(ts),
    }


# -- the table: side conventions -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("venue", "message", "side"),
    [
        # Binance S is the forced ORDER's side: a SELL closes (liquidates) a long.
        (Venue.BINANCE, force_order("SELL"), Side.LONG),
        (Venue.BINANCE, force_order("BUY"), Side.SHORT),
        # Bybit S is the POSITION's side: Buy = a long was liquidated.
        (Venue.BYBIT, all_liquidation("Buy"), Side.LONG),
        (Venue.BYBIT, all_liquidation("Sell"), Side.SHORT),
        # OKX posSide names the liquidated position...
        (Venue.OKX, okx_push("BTC-USDT-SWAP", okx_detail("long", "sell")), Side.LONG),
        (Venue.OKX, okx_push("BTC-USDT-SWAP", okx_detail("short", "buy")), Side.SHORT),
        # ... and in net mode the closing order's side tells: sell => a long was liquidated.
        (Venue.OKX, okx_push("BTC-USDT-SWAP", okx_detail("net", "sell")), Side.LONG),
        (Venue.OKX, okx_push("BTC-USDT-SWAP", okx_detail("net", "buy")), Side.SHORT),
    ],
)
def test_side_liquidated_per_venue(venue: Venue, message: dict[str, Any], side: Side) -> None:
    [record] = run(venue, message)
    assert record.side_liquidated is side
    assert record.exchange == venue.value
    assert record.source == f"ccxt:{VENUES[venue].ccxt_id}"


@pytest.mark.parametrize(
    ("field", "side", "pos_side", "expected"),
    [
        (SideField.ORDER_SIDE, "SELL", None, Side.LONG),
        (SideField.POSITION_SIDE, "sell", None, Side.SHORT),
        (SideField.POS_SIDE_ELSE_ORDER_SIDE, "buy", "long", Side.LONG),
        (SideField.POS_SIDE_ELSE_ORDER_SIDE, "sell", "", Side.LONG),
        (SideField.ORDER_SIDE, "HOLD", None, None),
        (SideField.POSITION_SIDE, None, None, None),
    ],
)
def test_side_table(field: SideField, side: str, pos_side: str | None, expected: Side) -> None:
    assert side_liquidated(field, side, pos_side) is expected


# -- quantities, notional, lower bounds --------------------------------------------------------
def test_binance_quantity_in_base_and_average_price() -> None:
    [r] = run(Venue.BINANCE, force_order("SELL", q="0.014", ap="9910", p="9900"))
    assert (r.symbol, r.base, r.qty_base, r.price_usd) == ("BTC/USDT:USDT", "BTC", 0.014, 9910.0)
    assert r.notional_usd == pytest.approx(0.014 * 9910)
    assert r.lower_bound is True  # one event per symbol per second at most
    assert r.ts_ms == T


def test_binance_zero_average_price_falls_back_to_order_price() -> None:
    [r] = run(Venue.BINANCE, force_order("SELL", ap="0", p="9900"))
    assert r.price_usd == 9900.0


def test_binance_unknown_symbol_is_named_from_its_id() -> None:
    [r] = run(Venue.BINANCE, force_order("SELL", s="NEWUSDT", q="1200", ap="0.4"))
    assert (r.symbol, r.base) == ("NEW/USDT:USDT", "NEW")


def test_bybit_every_entry_is_a_record_and_a_lower_bound() -> None:
    msg = all_liquidation("Buy")
    msg["data"].append({"T": T + 1, "s": "BTCUSDT", "S": "Sell", "v": "0.5", "p": "43000"})
    records = run(Venue.BYBIT, msg)
    assert [(r.side_liquidated, r.qty_base) for r in records] == [
        (Side.LONG, 0.003),
        (Side.SHORT, 0.5),
    ]
    assert records[0].notional_usd == pytest.approx(0.003 * 43511.70)
    assert all(r.lower_bound is True for r in records)  # only the configured symbols


def test_okx_details_batch_gives_one_record_each() -> None:
    msg = okx_push(
        "BTC-USDT-SWAP",
        okx_detail("long", "sell", sz="13", ts=T),
        okx_detail("long", "sell", sz="2", ts=T - 1000),
        okx_detail("short", "buy", sz="7", ts=T - 2000),
    )
    records = run(Venue.OKX, msg)
    assert len(records) == 3  # ccxt's parser would keep only the first
    assert len({r.event_id for r in records}) == 3


def test_okx_contracts_times_contract_value() -> None:
    # BTC-USDT-SWAP: ctVal 0.01 BTC per contract.
    [r] = run(Venue.OKX, okx_push("BTC-USDT-SWAP", okx_detail("long", "sell", sz="13")))
    assert r.qty_base == pytest.approx(0.13)
    assert r.notional_usd == pytest.approx(0.13 * 100000)
    assert r.lower_bound is True


def test_okx_inverse_contract_value_is_in_usd() -> None:
    # BTC-USD-SWAP: ctVal 100 USD per contract.
    [r] = run(Venue.OKX, okx_push("BTC-USD-SWAP", okx_detail("long", "sell", sz="5", px="100000")))
    assert r.notional_usd == pytest.approx(500.0)
    assert r.qty_base == pytest.approx(0.005)
    assert r.symbol == "BTC/USD:BTC"


# -- bad provider data: named errors (the DLQ reason) ------------------------------------------
@pytest.mark.parametrize(
    ("venue", "message", "error", "field"),
    [
        (Venue.BINANCE, {"e": "forceOrder", "E": T}, MalformedRecord, "o"),
        (Venue.BINANCE, force_order("SELL", q="NaN"), InvalidValue, "qty_base"),
        (Venue.BINANCE, force_order("SELL", q="abc"), WrongType, "qty_base"),
        (Venue.BINANCE, force_order("SELL", ap="-3", p="-3"), InvalidValue, "price_usd"),
        (Venue.BINANCE, force_order("HOLD"), InvalidValue, "side_liquidated"),
        (Venue.BYBIT, {"topic": "allLiquidation.BTCUSDT", "data": "x"}, MalformedRecord, "data"),
        (Venue.BYBIT, all_liquidation("Buy", v=""), MissingField, "qty_base"),
        (Venue.OKX, okx_push("NEW-USDT-SWAP", okx_detail("long", "sell")), InvalidValue, "symbol"),
        (Venue.OKX, {"arg": {}, "data": [{"instId": "BTC-USDT-SWAP"}]}, MalformedRecord, "details"),
    ],
)
def test_bad_data_raises_named_errors(
    venue: Venue, message: dict[str, Any], error: type[RecordError], field: str
) -> None:
    with pytest.raises(error) as info:
        run(venue, message)
    assert info.value.field == field


def test_seconds_instead_of_milliseconds_is_rejected() -> None:
    msg = force_order("SELL")
    msg["o"]["T"] = T // 1000
    with pytest.raises(InvalidValue):
        run(Venue.BINANCE, msg)


# -- event ids ----------------------------------------------------------------------------------
def test_event_id_is_stable_and_distinguishes_events() -> None:
    a = run(Venue.BINANCE, force_order("SELL"))[0].event_id
    assert a == run(Venue.BINANCE, force_order("SELL"))[0].event_id
    assert a != run(Venue.BINANCE, force_order("SELL", q="0.015"))[0].event_id
    assert a != run(Venue.BINANCE, force_order("BUY"))[0].event_id
    assert stable_event_id("okx", "X", 1, "1", "1", "long") != stable_event_id(
        "bybit", "X", 1, "1", "1", "long"
    )


def test_venue_event_id_wins_when_given() -> None:
    raw = RawLiq("BTCUSDT", "Buy", None, "1", "100", T, {}, venue_event_id="abc")
    assert normalise(VENUES[Venue.BYBIT], markets(Venue.BYBIT), raw).event_id == "abc"


# -- de-duplication -----------------------------------------------------------------------------
def test_recent_ids_remembers_and_forgets_after_ttl() -> None:
    now = [0.0]
    ids = RecentIds(capacity=10, ttl_s=60, clock=lambda: now[0])
    assert ids.seen("a") is False
    assert ids.seen("a") is True
    now[0] = 61.0
    assert "a" not in ids
    assert ids.seen("a") is False  # expired: a genuinely new event with the same id
    assert len(ids) == 1


def test_recent_ids_is_bounded() -> None:
    ids = RecentIds(capacity=3, ttl_s=1e9)
    for x in "abcd":
        ids.seen(x)
    assert len(ids) == 3
    assert "a" not in ids and "d" in ids


class ListSink:
    def __init__(self) -> None:
        self.records: list[Any] = []
        self.dead: list[tuple[bytes, RecordError]] = []


def make_feed(venue: Venue) -> tuple[VenueFeed, CollectorRegistry]:
    registry = CollectorRegistry()
    feed = VenueFeed(
        VENUES[venue],
        sink=ListSink(),
        topic="t",
        metrics=create_metrics(registry),  # type: ignore[arg-type]
    )
    feed.markets = markets(venue)
    return feed, registry


def test_okx_events_sent_again_after_a_reconnect_are_dropped_as_duplicates() -> None:
    feed, registry = make_feed(Venue.OKX)
    replay = [json.loads(x) for x in (FIXTURES / "okx" / "replay.jsonl").read_text().splitlines()]
    n_details = sum(len(m["data"][0]["details"]) for m in replay)
    for message in replay:  # first subscribe
        feed.on_message(message)
    for message in replay:  # a reconnect that brings the same recent events again
        feed.on_message(message)
    records = [r for r, _, _ in feed._pending if r is not None]
    assert len(records) == n_details
    assert feed.stats.duplicates == n_details
    labels = {"feed": "liquidations", "venue": "okx"}
    assert registry.get_sample_value("shockwatch_producer_duplicates_total", labels) == n_details
    assert registry.get_sample_value("shockwatch_producer_messages_total", labels) == 2 * len(
        replay
    )


def test_rejects_are_queued_for_the_dlq_and_counted() -> None:
    feed, registry = make_feed(Venue.BINANCE)
    feed.on_message({"e": "forceOrder"})
    feed.on_message(force_order("SELL", q="NaN"))
    feed.on_message(force_order("SELL"))
    kinds = [(r is None, e.reason if e else None) for r, _, e in feed._pending]
    assert kinds == [(True, "malformed"), (True, "invalid_value"), (False, None)]
    labels = {"feed": "liquidations", "venue": "binanceusdm", "reason": "malformed"}
    assert registry.get_sample_value("shockwatch_producer_rejects_total", labels) == 1


@pytest.mark.parametrize(
    ("venue", "records", "rejects"),
    [(Venue.BINANCE, 151, 2), (Venue.BYBIT, 100, 0), (Venue.OKX, 115, 1)],
)
def test_recorded_streams_normalise(venue: Venue, records: int, rejects: int) -> None:
    """The fixture files: every push of the venue's real format goes through."""
    feed, _ = make_feed(venue)
    name = {"binanceusdm": "forceOrder", "bybit": "allLiquidation", "okx": "liquidation-orders"}
    path = FIXTURES / venue.value / f"{name[venue.value]}.jsonl"
    for line in path.read_text().splitlines():
        feed.on_message(json.loads(line))
    assert feed.stats.records == 0  # not pumped yet
    got = [r for r, _, _ in feed._pending if r is not None]
    assert (len(got), feed.stats.rejects) == (records, rejects)
    assert all(r.notional_usd > 0 for r in got)


# -- event-time order (OKX pushes "not necessarily in chronological order") ----------------


def test_okx_disorder_beyond_the_lateness_is_late_without_the_hold() -> None:
    from producers.liquidations.order import DEFAULT_HOLD_MS
    from shockwatch.lab.reorder_hold import measure_late

    assert measure_late(2_000, 0)[0] == 0  # within the worker's 2 s lateness: harmless
    late, total = measure_late(5_000, 0)
    assert late > 0 and total > 10_000  # up to 5 s out of order: dead-lettered as late
    assert measure_late(5_000, DEFAULT_HOLD_MS)[0] == 0  # the producer's hold absorbs it


async def test_reordering_sink_releases_in_event_time_order_and_never_drops() -> None:
    import io

    from producers.liquidations.order import ReorderingSink
    from producers.sink import DryRunSink

    out = io.StringIO()
    now = [T + 1_000]
    sink = ReorderingSink(DryRunSink(out, io.StringIO()), hold_ms=5_000, clock_ms=lambda: now[0])
    okx = run(Venue.OKX, okx_push("BTC-USDT-SWAP", okx_detail("long", "sell", ts=T + 900)))[0]
    bybit = run(Venue.BYBIT, all_liquidation("Buy"))[0]  # ts T: older, but arrives later
    for record in (okx, bybit):
        await sink.send("crypto.liquidations", record)
    assert out.getvalue() == "" and len(sink.buffer) == 2  # held
    now[0] = T + 5_500
    assert await sink.release_due() == 1  # only what has passed the hold: the older one
    await sink.flush()  # flush releases everything still held
    sent = [json.loads(line)["ts_ms"] for line in out.getvalue().splitlines()]
    assert sent == [T, T + 900]  # event-time order, though the OKX one arrived first
