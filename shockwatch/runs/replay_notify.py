"""``shockwatch replay --notify``: the replay's alert transitions sent to the configured Slack
once each, every message marked as a replay so no one takes it for a live page.

The live notifier (``alerts.notifier``) follows a topic with a consumer group and an at-least-
once store; a replay has its alerts in hand when it ends, so this sends them in event order
through the same Slack client and message builder, one message per delivery key (alert id,
state, severity), and stops at the first refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.blocks import (
    MAX_HEADER_CHARS,
    MessageLinks,
    build_message,
    context,
    fit_blocks,
    header,
    truncate,
)
from alerts.slack import SlackClient
from common.fmt import fmt_time
from common.settings import Settings
from streams.records import AlertEvent

REPLAY_MARK = "REPLAY"


@dataclass(frozen=True)
class ReplayLabel:
    """What every message of a replay says about it: the run and the range it replayed."""

    run_id: str
    t1_ms: int
    t2_ms: int

    def note(self) -> str:
        return (
            f":rewind: *Replay* `{self.run_id}` of {fmt_time(self.t1_ms)} to "
            f"{fmt_time(self.t2_ms)}: not a live alert (sent by `shockwatch replay --notify`)"
        )


def once_each(alerts: Iterable[AlertEvent]) -> list[AlertEvent]:
    """The transitions in event order, one per delivery key (a restarted worker may have
    emitted one twice)."""
    seen: set[str] = set()
    kept: list[AlertEvent] = []
    for alert in sorted(alerts, key=lambda a: a.ts_ms):
        if alert.delivery_key not in seen:
            seen.add(alert.delivery_key)
            kept.append(alert)
    return kept


def replay_message(alert: AlertEvent, links: MessageLinks, label: ReplayLabel) -> dict[str, Any]:
    """The live message for ``alert``, marked: "REPLAY" first in its header and its fallback
    text, and a context line under the header naming the run and its range."""
    payload = build_message(alert, links)
    blocks: list[dict[str, Any]] = list(payload["blocks"])
    head = blocks[0]
    marked = f"{REPLAY_MARK} · {head['text']['text']}"
    blocks[0] = header(truncate(marked, MAX_HEADER_CHARS), head.get("block_id"))
    blocks.insert(1, context([label.note()]))
    text = f"[{REPLAY_MARK} {label.run_id}] {payload['text']}"
    return {"text": text, "blocks": fit_blocks(blocks)}


def send_replay_alerts(
    settings: Settings,
    alerts: Sequence[AlertEvent],
    label: ReplayLabel,
    client: SlackClient | None = None,
) -> int:
    """Send each transition of a replay once (``once_each``), marked (``replay_message``);
    the number sent. Raises ``SlackNotConfigured`` or ``DeliveryFailed`` (after the client's
    retries) with the messages before it already sent."""
    slack = client or SlackClient(settings)
    links = MessageLinks.from_settings(settings)

    async def send_all() -> int:
        sent = 0
        async with slack:
            for alert in once_each(alerts):
                await slack.post(replay_message(alert, links, label))
                sent += 1
        return sent

    return asyncio.run(send_all())
