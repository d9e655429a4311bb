"""A bounded memory of recently sent event ids (LRU by insertion, with a time to live).

Venues replay: OKX re-sends its recent liquidations on every subscribe, a reconnect may
overlap what was already received. ``RecentIds.seen(id)`` answers "already sent?" and
remembers the id; memory is bounded by ``capacity`` and ids expire after ``ttl_s``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RecentIds:
    def __init__(
        self,
        capacity: int = 200_000,
        ttl_s: float = 3_600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be > 0")
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._clock = clock
        self._ids: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, event_id: str) -> bool:
        seen_at = self._ids.get(event_id)
        return seen_at is not None and self._clock() - seen_at <= self.ttl_s

    def seen(self, event_id: str) -> bool:
        """True if ``event_id`` was seen within the TTL; otherwise remember it, return False."""
        now = self._clock()
        seen_at = self._ids.get(event_id)
        if seen_at is not None and now - seen_at <= self.ttl_s:
            return True
        if seen_at is not None:
            del self._ids[event_id]
        self._ids[event_id] = now
        self._evict(now)
        return False

    def _evict(self, now: float) -> None:
        ids = self._ids
        while len(ids) > self.capacity:
            ids.popitem(last=False)
        # Insertion order = time order: expired ids are at the front.
        while ids:
            oldest_id, oldest_at = next(iter(ids.items()))
            if now - oldest_at <= self.ttl_s:
                break
            del ids[oldest_id]
