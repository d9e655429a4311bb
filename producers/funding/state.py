"""What the funding producer has published: a date already sent is not sent again, a changed
value is sent as ``revision + 1``, and of two sources for one series the preferred one wins.

The state is a JSON file under ``<state_dir>/producers/``, written atomically and only after
Kafka acknowledged the records it describes: a crash in between re-sends the same revision
(idempotent on the compacted topic), never skips one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from producers.funding.parse import Observation
from producers.funding.series import FundingSource, rank

STATE_VERSION = 1
# Values equal to this many decimals are the same value (providers re-format numbers).
VALUE_DECIMALS = 6


class Action(StrEnum):
    NEW = "new"
    REVISION = "revision"
    UNCHANGED = "unchanged"
    SUPERSEDED = "superseded"  # a less preferred source: never revises the preferred one


@dataclass(frozen=True, slots=True)
class Sent:
    value: float
    revision: int
    source: str


def decide(prev: Sent | None, obs: Observation) -> tuple[Action, int]:
    """What to do with ``obs`` given what was sent for its series and date: (action, revision)."""
    if prev is None:
        return Action.NEW, 0
    same = round(prev.value, VALUE_DECIMALS) == round(obs.value, VALUE_DECIMALS)
    if prev.source != obs.source:
        better = rank(obs.series, obs.source) < rank(obs.series, FundingSource(prev.source))
        if not better:
            return Action.SUPERSEDED, prev.revision
    if same:
        return Action.UNCHANGED, prev.revision
    return Action.REVISION, prev.revision + 1


class FundingState:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.sent: dict[str, dict[str, Sent]] = {}
        if path is not None and path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            for series, dates in data.get("series", {}).items():
                self.sent[series] = {d: Sent(**v) for d, v in dates.items()}

    def get(self, series: str, observation_date: str) -> Sent | None:
        return self.sent.get(series, {}).get(observation_date)

    def put(self, obs: Observation, revision: int) -> None:
        self.sent.setdefault(obs.series, {})[obs.observation_date] = Sent(
            obs.value, revision, obs.source.value
        )

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "series": {
                series: {
                    d: {"value": s.value, "revision": s.revision, "source": s.source}
                    for d, s in sorted(dates.items())
                }
                for series, dates in sorted(self.sent.items())
            },
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)
