"""The heartbeat watermark of a topic: when a sink heartbeats, and at which event time.

``EventClock`` follows the newest event time sent (not the wall clock), ``heartbeat_due`` says
when an idle topic is due a heartbeat and ``heartbeat_tick_s`` how often a sink looks. The
producers' ``KafkaSink`` and the rehearsal (which replays a live day's arrivals) share them.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def heartbeat_tick_s(heartbeat_s: float) -> float:
    """How often a sink looks for an idle topic to heartbeat."""
    return min(1.0, heartbeat_s / 2)


def heartbeat_due(now_s: float, last_send_s: float, heartbeat_s: float) -> bool:
    """A topic is due a heartbeat once nothing was sent to it for ``heartbeat_s``."""
    return now_s - last_send_s >= heartbeat_s


class EventClock:
    """The heartbeat watermark of one topic: "nothing older than this will follow".

    It follows event time, not the wall clock: the newest event time sent, advanced by the idle
    time since, minus ``lag_ms`` (the disorder allowed between sources that share a
    partition). A replay of old data therefore heartbeats in its own past. Before any event,
    ``wall_clock_start`` decides: live feeds use the wall clock, replays send nothing.
    """

    def __init__(
        self,
        lag_ms: int,
        *,
        wall_clock_start: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.lag_ms = lag_ms
        self.wall_clock_start = wall_clock_start
        self._mono = monotonic
        self._wall_ms = wall_ms
        self.max_ts: int | None = None
        self._seen_at = 0.0
        self.last: int | None = None

    def observe(self, ts_ms: int) -> None:
        if self.max_ts is None or ts_ms > self.max_ts:
            self.max_ts = ts_ms
            self._seen_at = self._mono()

    def watermark(self) -> int | None:
        if self.max_ts is None:
            if not self.wall_clock_start:
                return None
            wm = self._wall_ms() - self.lag_ms
        else:
            idle_ms = int((self._mono() - self._seen_at) * 1000)
            wm = min(self.max_ts + idle_ms, max(self._wall_ms(), self.max_ts)) - self.lag_ms
        if self.last is not None and wm <= self.last:
            return None
        return wm

    def mark(self, ts_ms: int) -> None:
        self.last = ts_ms
