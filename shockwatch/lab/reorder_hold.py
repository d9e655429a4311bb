"""How long the liquidation producer holds events back, measured against the worker.

``measure_late`` runs a merged three-venue stream with a given OKX disorder through the
worker's own ``PartitionShard`` and counts the late events;
``python -m shockwatch.lab.reorder_hold`` prints the table in docs/producers.md. It puts the
producer's ``ReorderingSink`` (``producers.liquidations.order``) against the worker's shard
(``streams.detection``): a measurement across two domains, so it sits in the roof (its lab).
"""

from __future__ import annotations

import random

from streams.detection.shard import PartitionShard
from streams.records import LateEvent, Liquidation


def measure_late(
    disorder_ms: int,
    hold_ms: int,
    *,
    minutes: int = 60,
    per_venue_per_s: float = 2.0,
    lateness_ms: int = 2_000,
    seed: int = 7,
) -> tuple[int, int]:
    """(late events, events) when Binance and Bybit events reach one partition 50-300 ms after
    their event time and OKX's up to ``disorder_ms`` after (uniform), each held ``hold_ms``
    past its event time before it is sent (``ReorderingSink``), filed by the worker's
    ``PartitionShard`` with ``lateness_ms`` of allowed lateness."""
    rng = random.Random(seed)
    start = 1_762_268_400_000
    arrivals: list[tuple[int, int, int]] = []  # (sent at, event time, venue)
    n = int(minutes * 60 * per_venue_per_s)
    for venue in range(3):
        for _ in range(n):
            ts = start + rng.randrange(minutes * 60_000)
            delay = rng.randrange(50, 300) if venue < 2 else rng.randrange(disorder_ms + 1)
            arrival = ts + delay
            arrivals.append((max(arrival, ts + hold_ms), ts, venue))
    arrivals.sort()
    shard = PartitionShard(lateness_ms)
    late = 0
    for i, (_, ts, venue) in enumerate(arrivals):
        record = Liquidation(
            ts_ms=ts,
            source="sim",
            exchange=("binanceusdm", "bybit", "okx")[venue],
            symbol="BTC/USDT:USDT",
            base="BTC",
            side_liquidated="long",  # type: ignore[arg-type]
            qty_base=0.01,
            price_usd=100_000.0,
            notional_usd=1_000.0,
            event_id=f"sim:{i}",
        )
        try:
            shard.add(record)
        except LateEvent:
            late += 1
    return late, len(arrivals)


def main() -> None:
    holds = (0, 2_000, 5_000, 10_000)
    print("| OKX disorder (max) | " + " | ".join(f"hold {h / 1000:g} s" for h in holds) + " |")
    print("|---|" + "---:|" * len(holds))
    for disorder in (500, 1_000, 2_000, 3_000, 5_000, 10_000):
        cells = []
        for hold in holds:
            late, total = measure_late(disorder, hold)
            cells.append(f"{late} ({late / total:.2%})")
        print(f"| {disorder / 1000:g} s | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
