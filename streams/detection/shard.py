"""One input partition's share of detection: validate-and-file, seal minutes, summarize.

A ``PartitionShard`` files the events of one input partition into one-minute buckets and seals
a minute once the partition's own event time has passed the minute's end plus the allowed
lateness. What it seals goes out as a ``Summary``: per sealed minute the newest price of each
symbol and the liquidations summed in whole cents, the funding observations seen, and how far
the partition has got (``through_ms``, its watermark). The detector merges summaries from every
partition and ticks when all of them have sealed the minute (``Detector.apply``).

Both worker modes run this same code: a single worker keeps one shard per partition inside its
detector; scaled out, each worker of the shard group runs the shards of the partitions it was
given and sends their summaries to ``shock.summaries``, where one merging detector reads them
(docs/architecture.md, "Scale-out"). Summaries are a few hundred bytes per partition-minute,
whatever the event rate.

Late events are judged per partition: an event is late when its own partition has already
sealed its minute. That depends only on the partition's order, never on how partitions
interleave or where a batch ends, so every mode, restart and replay rejects the same events.

A sealed minute is final: it is summarized once, and a shard restarted from an earlier offset
(``resume``) may summarize it again from a subset of its events; the merging side keeps only
the first (``sealed_before`` tells it which minutes of a partition it already has).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.detection.liquidations import MinuteLiq
from streams.records import (
    DuplicateEvent,
    FundingObservation,
    LateEvent,
    Liquidation,
    PriceTick,
    decode,
)
from streams.timing import as_of_symbols

MIN_MS = 60_000
# The far-ahead hold's defaults (``AlertSettings.max_jump_s``, ``jump_confirm_events``).
MAX_JUMP_MS = 120_000
JUMP_CONFIRM = 3
# Instruments whose bars arrive after their minute has sealed (delayed quotes): joined as of
# their latest bar instead of dead-lettered (streams/timing.py; docs/architecture.md,
# "Delayed inputs").
AS_OF: frozenset[str] = frozenset(as_of_symbols())
# minute -> symbol -> [ts_ms, price_usd, asset_class]; the newest tick of a minute wins and
# equal times tie-break on price, never on arrival.
PriceBucket = dict[str, list[Any]]


def newer(row: list[Any], prev: list[Any] | None) -> bool:
    return prev is None or (row[0], row[1]) > (prev[0], prev[1])


def _put_price(bucket: PriceBucket, record: PriceTick) -> None:
    row = [record.ts_ms, record.price_usd, str(record.asset_class)]
    if newer(row, bucket.get(record.symbol)):
        bucket[record.symbol] = row


@dataclass(slots=True)
class Summary:
    """What one partition sealed since its last summary (the shard -> merge contract)."""

    tp: str
    through_ms: int  # the partition's newest event time: its watermark
    sealed_before: int  # every minute before this one is sealed for the partition
    minutes: list[tuple[int, PriceBucket, MinuteLiq]] = field(default_factory=list)
    # [series, observation_date, ts_ms, value, revision]: an as-of join, never late
    funding: list[list[Any]] = field(default_factory=list)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "tp": self.tp,
                "through_ms": self.through_ms,
                "sealed_before": self.sealed_before,
                "minutes": [[m, p, q.to_list()] for m, p, q in self.minutes],
                "funding": self.funding,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Summary:
        d = orjson.loads(raw)
        return cls(
            d["tp"],
            int(d["through_ms"]),
            int(d["sealed_before"]),
            [(int(m), p, MinuteLiq.from_list(q)) for m, p, q in d["minutes"]],
            d["funding"],
        )


@dataclass(slots=True)
class PartitionShard:
    lateness_ms: int
    ts: int = -1  # newest event time seen on the partition
    # Minutes before this are closed: sealed by the partition, or already ticked by the
    # detector (``close``; matters only for a partition the watermark did not yet wait for).
    open_from: int = -(2**62)
    floor: int = -(2**62)
    prices: dict[int, PriceBucket] = field(default_factory=dict)
    liq: dict[int, MinuteLiq] = field(default_factory=dict)
    funding: list[list[Any]] = field(default_factory=list)
    # Where a restarted shard must re-read from to rebuild what is not yet summarized:
    # per open minute (and for unsent funding) the first message's offset and the partition's
    # event time before it. Kept only when offsets are given (the shard group's stage).
    firsts: dict[int, tuple[int, int]] = field(default_factory=dict)
    msg: tuple[int, int] | None = None  # (offset, ts before it) of the message being filed
    next_offset: int | None = None
    reported_ms: int = -1  # through_ms of the last summary
    # The event ids of the liquidations filed in each open minute: a re-sent one is dropped
    # (``DuplicateEvent``). A re-send arriving once its minute is sealed is late anyway, so
    # the ids of sealed minutes are let go: the set is bounded by the open minutes.
    ids: dict[int, set[str]] = field(default_factory=dict)
    # Records far ahead of the partition's time, held until confirmed (``max_jump_ms``), with
    # their message's offset; those found implausible wait in ``implausible`` for the caller.
    max_jump_ms: int = MAX_JUMP_MS
    jump_confirm: int = JUMP_CONFIRM
    held: list[tuple[Any, int | None]] = field(default_factory=list)
    implausible: list[tuple[Any, int | None]] = field(default_factory=list)
    # Price symbols that are as-of inputs: a bar of one behind the sealed minutes is filed
    # into the earliest open minute with its own event time (the tick uses the latest bar).
    as_of: frozenset[str] = AS_OF

    @classmethod
    def resumed(
        cls,
        lateness_ms: int,
        ts: int,
        max_jump_ms: int = MAX_JUMP_MS,
        jump_confirm: int = JUMP_CONFIRM,
    ) -> PartitionShard:
        """A shard restarting at a committed resume point where the partition was at ``ts``."""
        shard = cls(lateness_ms, max_jump_ms=max_jump_ms, jump_confirm=jump_confirm)
        if ts >= 0:
            shard.ts = ts
            shard.open_from = shard.sealed_before()
        return shard

    def begin(self, offset: int) -> None:
        """A new message of the partition starts (its items follow)."""
        self.msg = (offset, self.ts)
        self.next_offset = offset + 1

    def add(self, record: Any) -> None:
        """File one record; raises ``LateEvent`` when the partition has sealed its minute."""
        kind = type(record)
        if kind is Liquidation or kind is PriceTick:
            for _, late in self.file([record]):
                raise late
            return
        if self.held:  # a heartbeat (trusted) confirms the held records, or shows them wrong
            if record.ts_ms >= self.held[0][0].ts_ms - self.max_jump_ms:
                self._release()
            else:
                self._drop_held()
        self._saw(record.ts_ms)
        if kind is FundingObservation:
            if not self.funding:
                self._opened(-1)
            self.funding.append(
                [record.series, record.observation_date, record.ts_ms, record.value,
                 record.revision]
            )  # fmt: skip
        # a heartbeat only moves the partition's event time

    def file(self, records: list[Any]) -> list[tuple[int, LateEvent | DuplicateEvent]]:
        """File one message's records, all of one type (liquidations or price ticks: what the
        worker's wire path gives); returns the late and the duplicate ones (index, why), which
        are not filed. One call per message: the per-record work is the loop below. (A price
        tick sent twice needs no such check: the newest tick of a minute wins, and the same
        tick again changes nothing.)"""
        late: list[tuple[int, LateEvent | DuplicateEvent]] = []
        if not records:
            return late
        liquidations = type(records[0]) is Liquidation
        buckets: dict[int, Any] = self.liq if liquidations else self.prices
        minute, bucket = None, None
        jump = self.max_jump_ms
        as_of = () if liquidations else self.as_of
        for index, record in enumerate(records):
            ts = record.ts_ms
            if as_of and ts // MIN_MS < self.open_from and record.symbol in as_of:
                self._file_as_of(record)
                minute = None
                continue
            if self.held and ts - self.ts <= jump:
                self._drop_held()  # back at the partition's time: the held ones were wrong
            if ts > self.ts:
                if self.ts >= 0 and ts - self.ts > jump:
                    self._hold(record)
                    minute = None  # filing the released ones may have moved the buckets
                    continue
                self._saw(ts)
            m = ts // MIN_MS
            if m < self.open_from:
                late.append((index, self._late(ts)))
                continue
            if m != minute:  # a message's records mostly share their minute: one lookup
                minute = m
                bucket = buckets.get(minute)
                if bucket is None:
                    bucket = buckets[minute] = MinuteLiq() if liquidations else {}
                    self._opened(minute)
            if liquidations:
                if not self._add_liquidation(bucket, minute, record):
                    late.append((index, DuplicateEvent("event_id", f"{record.event_id} again")))
            else:
                _put_price(bucket, record)
        return late

    def _file_as_of(self, record: PriceTick) -> None:
        """A delayed instrument's bar behind the sealed minutes is knowable now, not late: it
        goes into the earliest open minute with its own event time, and the tick that closes
        that minute folds it in at its own minute (``Detector._close_minute``). It neither
        moves the partition nor confirms or refutes held records."""
        minute = self.open_from
        bucket = self.prices.get(minute)
        if bucket is None:
            bucket = self.prices[minute] = {}
            self._opened(minute)
        _put_price(bucket, record)

    def _add_liquidation(self, bucket: MinuteLiq, minute: int, record: Liquidation) -> bool:
        """Add a liquidation to its minute unless its event id is already there (False)."""
        seen = self.ids.get(minute)
        if seen is None:
            seen = self.ids[minute] = set()
        if record.event_id in seen:
            return False
        seen.add(record.event_id)
        bucket.add(record.exchange, record.notional_usd,
                   record.side_liquidated == "long", record.lower_bound)  # fmt: skip
        return True

    def _hold(self, record: Any) -> None:
        """Hold a record far ahead of the partition; ``jump_confirm`` in a row are the
        partition's new time: filed then, in order."""
        if not self.held:
            self._opened(-2)  # a restarted shard must re-read the held records' messages
        self.held.append((record, self.msg[0] if self.msg is not None else None))
        if len(self.held) >= self.jump_confirm:
            self._release()

    def _release(self) -> None:
        held, self.held = self.held, []
        self.firsts.pop(-2, None)
        for record, _ in held:
            self._saw(record.ts_ms)
            self.file([record])  # within reach now; a duplicate among them is simply dropped

    def _drop_held(self) -> None:
        self.implausible.extend(self.held)
        self.held = []
        self.firsts.pop(-2, None)

    def take_implausible(self) -> list[tuple[Any, int | None]]:
        """The held records found implausible since the last call: (record, offset)."""
        out, self.implausible = self.implausible, []
        return out

    def _saw(self, ts: int) -> None:
        """The partition's event time moves on to ``ts`` (if later): more minutes seal."""
        if ts > self.ts:
            self.ts = ts
            sealed = (ts - self.lateness_ms) // MIN_MS
            self.open_from = sealed if sealed > self.floor else self.floor

    def _late(self, ts: int) -> LateEvent:
        return LateEvent(
            "ts_ms", f"{ts} is behind the closed minutes (< {self.open_from * MIN_MS}, late event)"
        )

    def _opened(self, minute: int) -> None:
        """A bucket (or the funding list: -1) opens with the message being filed."""
        if self.msg is not None:
            self.firsts.setdefault(minute, self.msg)

    def close(self, minute: int) -> None:
        """The detector has ticked every minute before ``minute``: nothing older is taken."""
        if minute > self.floor:
            self.floor = minute
            self.open_from = max(self.open_from, minute)

    def sealed_before(self) -> int:
        return (self.ts - self.lateness_ms) // MIN_MS

    def seal(self, tp: str) -> Summary | None:
        """The minutes sealed since the last call, the funding seen; None when nothing moved."""
        if self.ts == self.reported_ms and not self.funding:
            return None
        before = self.sealed_before()
        done = sorted(m for m in {*self.prices, *self.liq} if m < before)
        minutes = [(m, self.prices.pop(m, {}), self.liq.pop(m, None) or MinuteLiq()) for m in done]
        for m in done:
            self.firsts.pop(m, None)
        for m in [m for m in self.ids if m < before]:
            del self.ids[m]
        self.firsts.pop(-1, None)
        funding, self.funding = self.funding, []
        self.reported_ms = self.ts
        return Summary(tp, self.ts, before, minutes, funding)

    def resume(self) -> tuple[int, int] | None:
        """(offset, event time before it) to restart from so nothing unsummarized is lost."""
        if self.firsts:
            return min(self.firsts.values())
        if self.next_offset is None:
            return None
        return (self.next_offset, self.ts)

    # -- checkpoint (inside the detector's) --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "open_from": self.open_from,
            "floor": self.floor,
            "prices": {str(m): b for m, b in self.prices.items()},
            "liq": {str(m): b.to_list() for m, b in self.liq.items()},
            "funding": self.funding,
            "reported_ms": self.reported_ms,
            "ids": {str(m): sorted(ids) for m, ids in self.ids.items()},
            "held": [_held_row(r, o) for r, o in self.held],
            "implausible": [_held_row(r, o) for r, o in self.implausible],
        }

    @classmethod
    def from_dict(
        cls,
        lateness_ms: int,
        d: dict[str, Any],
        max_jump_ms: int = MAX_JUMP_MS,
        jump_confirm: int = JUMP_CONFIRM,
    ) -> PartitionShard:
        return cls(
            lateness_ms,
            max_jump_ms=max_jump_ms,
            jump_confirm=jump_confirm,
            held=[_held_record(x) for x in d.get("held", [])],
            implausible=[_held_record(x) for x in d.get("implausible", [])],
            ts=d["ts"],
            open_from=d["open_from"],
            floor=d["floor"],
            prices={int(m): b for m, b in d["prices"].items()},
            liq={int(m): MinuteLiq.from_list(b) for m, b in d["liq"].items()},
            funding=d["funding"],
            reported_ms=d["reported_ms"],
            ids={int(m): set(ids) for m, ids in d.get("ids", {}).items()},
        )


_KINDS: dict[str, type[Any]] = {"price": PriceTick, "liquidation": Liquidation}


def _held_row(record: Any, offset: int | None) -> list[Any]:
    kind = "liquidation" if type(record) is Liquidation else "price"
    return [kind, record.encode().decode(), offset]


def _held_record(row: list[Any]) -> tuple[Any, int | None]:
    kind, raw, offset = row
    return decode(_KINDS[kind], raw.encode(), now_ms=2**62), offset
