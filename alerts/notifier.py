"""The Slack notifier: ``shock.alerts`` -> one Slack message per alert transition.

Exactly one message per ``AlertEvent.delivery_key`` (alert id, state, severity), even across
crashes and restarts, from three pieces:

1. a consumer group (``<app_id>-notifier``) with auto-commit off: the offset of an alert is
   committed only after Slack accepted its message, so a crash or a Slack outage never loses
   one (it is read again from the last committed offset);
2. the delivered-keys store (``alerts.store``), written atomically *before* the commit, so an
   alert read again after a crash between "Slack accepted" and "offset committed" is skipped;
3. order per partition: a failed delivery rewinds the consumer to that alert (``seek``) and
   backs off; later alerts wait behind it (a resolve never overtakes its firing message).

What is left is the moment between Slack's 200 and the store's fsync (milliseconds): a crash
exactly there re-sends once. Slack webhooks have no idempotency key to close it further.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.blocks import MessageLinks, build_message, build_resolved_update
from alerts.metrics import Metrics
from alerts.slack import DeliveryFailed, RetryPolicy, SlackClient
from alerts.store import DeliveredStore
from common.backoff import calculate_backoff
from common.kafka import aiokafka_config
from common.log import retry_logger
from common.settings import Settings
from streams.dlq import dead_letter
from streams.records import AlertEvent, MalformedRecord, RecordError, loads
from streams.topics import GroupNames, TopicNames

log = logging.getLogger(__name__)
retry_log = retry_logger(__name__)


@dataclass(frozen=True)
class NotifierOptions:
    # Where a brand-new consumer group starts: "earliest" delivers what the topic retains
    # (nothing is missed on a first deployment); "latest" skips history.
    start: str = "earliest"
    poll_timeout_ms: int = 500
    max_records: int = 50
    # Between failed attempts (Slack down): exponential, full jitter, capped.
    outage_base_s: float = 1.0
    outage_cap_s: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def group_id(settings: Settings) -> str:
    return GroupNames(settings.app_id).notifier


def store_path(settings: Settings) -> Path:
    topic = TopicNames(settings.topic_prefix).alerts
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", f"{group_id(settings)}--{topic}")
    return settings.state_dir / "notifier" / f"delivered-{safe}.json"


class Notifier:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        slack: SlackClient | None = None,
        store: DeliveredStore | None = None,
        options: NotifierOptions | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or NotifierOptions()
        self.metrics = metrics or Metrics()
        self.slack = slack or SlackClient(
            settings, self.options.retry, on_result=self.metrics.observe_slack
        )
        self.store = store or DeliveredStore(store_path(settings))
        self.links = MessageLinks.from_settings(settings)
        self.topic = TopicNames(settings.topic_prefix).alerts
        self.rng = random.Random()
        self._producer: Any = None
        self.delivered = 0
        self.skipped = 0
        self.committed: dict[tuple[str, int], int] = {}

    # -- one alert -----------------------------------------------------------------------------
    async def deliver(self, alert: AlertEvent) -> None:
        """Send the message for one transition (raises DeliveryFailed) and record it."""
        payload = build_message(alert, self.links)
        resolved = alert.state == "resolved"
        message: dict[str, Any] | None = None
        ref = self.store.message_for(alert.alert_id) if resolved else None
        done = None
        if ref is not None and self.slack.uses_bot:
            update = build_resolved_update(alert, self.links, ref.get("blocks") or [])
            done = await self.slack.update(ref["channel"], ref["ts"], update)
        if done is None:
            done = await self.slack.post(payload)
        if done.ts is not None and not resolved:
            message = {"channel": done.channel, "ts": done.ts, "blocks": payload["blocks"]}
        self.store.record(
            alert.delivery_key, alert.ts_ms, alert.alert_id, message, resolved=resolved
        )
        now = time.time()
        self.metrics.observe_slack_delivery(now - alert.ts_ms / 1000.0, now)
        self.delivered += 1
        log.info("Slack accepted %s (%s)", alert.delivery_key, self.slack.mode)

    async def _process(self, consumer: Any, tp: Any, msg: Any) -> bool:
        """Handle one message; True when its offset may be committed."""
        try:
            alert = AlertEvent.from_dict(loads(msg.value or b""))
        except (RecordError, TypeError, ValueError) as exc:
            error = exc if isinstance(exc, RecordError) else MalformedRecord("$", str(exc))
            await self._dead_letter(msg, error)
            await self._commit(consumer, tp, msg.offset + 1)
            return True
        if alert.delivery_key in self.store:
            self.metrics.observe_slack("duplicate_skipped")
            self.skipped += 1
            log.info("already delivered %s; skipping", alert.delivery_key)
            await self._commit(consumer, tp, msg.offset + 1)
            return True
        age_s = time.time() - alert.ts_ms / 1000.0
        if beyond_horizon(age_s, self.settings.live_horizon_s):
            self._skip_stale(alert, age_s)
            await self._commit(consumer, tp, msg.offset + 1)
            return True
        try:
            await self._deliver_to_the_end(alert)
        except DeliveryFailed as exc:
            self.metrics.observe_slack("failed")
            self.metrics.set_pending(1)
            retry_log.warning("alert %s kept pending: %s", alert.delivery_key, exc)
            return False
        self.metrics.set_pending(0)
        await self._commit(consumer, tp, msg.offset + 1)
        return True

    def _skip_stale(self, alert: AlertEvent, age_s: float) -> None:
        """Old data cannot page: record the transition as handled (a re-read skips it as a
        duplicate), count it, say why once, post nothing."""
        self.store.record(
            alert.delivery_key, alert.ts_ms, alert.alert_id, resolved=alert.state == "resolved"
        )
        self.metrics.observe_slack("stale_skipped")
        self.skipped += 1
        log.warning(
            "alert %s not posted to Slack: its event time %s is %s old, beyond "
            "SHOCKWATCH_LIVE_HORIZON_S=%g (old data, e.g. a recorded day in the live topics; "
            "recorded as delivered)",
            alert.delivery_key,
            datetime.fromtimestamp(alert.ts_ms / 1000.0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            _duration(age_s),
            self.settings.live_horizon_s,
        )

    async def _deliver_to_the_end(self, alert: AlertEvent) -> None:
        """``deliver``, shielded from cancellation: when the notifier is cancelled while a
        request is in flight, Slack may already have accepted it, so the send is let finish
        (bounded by the HTTP timeout) and recorded before the cancellation goes on."""
        inner = asyncio.ensure_future(self.deliver(alert))
        try:
            await asyncio.shield(inner)
        except asyncio.CancelledError:
            if not inner.done():
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(inner, self.options.retry.timeout_s + 1.0)
            raise

    async def _commit(self, consumer: Any, tp: Any, offset: int) -> None:
        from aiokafka.errors import KafkaError

        try:
            await consumer.commit({tp: offset})
            self.committed[(tp.topic, tp.partition)] = offset
        except KafkaError as exc:
            # A rebalance took the partition: whoever gets it re-reads this alert and the
            # delivered-keys store (shared state_dir) or, at worst, Slack sees it once more.
            retry_log.warning(
                "offset commit failed (%s); the store de-duplicates", type(exc).__name__
            )

    async def _dead_letter(self, msg: Any, error: RecordError) -> None:
        from aiokafka import AIOKafkaProducer

        self.metrics.observe_rejected("alerts", error.reason)
        log.error("unreadable alert at %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, error)
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                **aiokafka_config(self.settings),
                acks="all",
                enable_idempotence=True,
                client_id="shockwatch-notifier-dlq",
            )
            await self._producer.start()
        letter = dead_letter(
            source_topic=msg.topic,
            value=msg.value or b"",
            error=error,
            source="shockwatch-notifier",
            key=msg.key,
            partition=msg.partition,
            offset=msg.offset,
        )
        await self._producer.send_and_wait(
            TopicNames.dlq(msg.topic), letter.encode(), key=msg.key, timestamp_ms=letter.ts_ms
        )

    # -- the loop ------------------------------------------------------------------------------
    def _outage_wait(self, failures: int) -> float:
        o = self.options
        return o.outage_base_s + calculate_backoff(
            failures, base_s=o.outage_base_s, cap_s=o.outage_cap_s, jitter=1.0, rng=self.rng.random
        )

    async def run(self, stop: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            self.topic,
            **aiokafka_config(self.settings),
            group_id=group_id(self.settings),
            client_id="shockwatch-notifier",
            enable_auto_commit=False,
            auto_offset_reset=self.options.start,
        )
        failures = 0
        try:
            await consumer.start()
            log.info(
                "notifier: %s -> Slack (%s), group %s, %d keys delivered so far",
                self.topic,
                self.slack.mode,
                group_id(self.settings),
                len(self.store),
            )
            while not stop.is_set():
                batches = await consumer.getmany(
                    timeout_ms=self.options.poll_timeout_ms, max_records=self.options.max_records
                )
                failed = False
                for tp, msgs in batches.items():
                    for msg in msgs:
                        if not await self._process(consumer, tp, msg):
                            consumer.seek(tp, msg.offset)  # read it again, after a pause
                            failed = True
                            break
                if failed:
                    failures += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._outage_wait(failures))
                elif batches:
                    failures = 0
        finally:
            await consumer.stop()
            await self.slack.close()
            if self._producer is not None:
                await self._producer.stop()


def beyond_horizon(age_s: float, horizon_s: float) -> bool:
    """Whether an alert ``age_s`` old (event time to now) is too old to push; 0 = no horizon."""
    return horizon_s > 0 and age_s > horizon_s


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:.0f} days"
    if seconds >= 2 * 3_600:
        return f"{seconds / 3_600:.0f} h"
    return f"{seconds / 60:.0f} min"


async def run_notifier(
    settings: Settings,
    metrics: Metrics,
    stop: asyncio.Event,
    options: NotifierOptions | None = None,
) -> Notifier:
    notifier = Notifier(settings, metrics, options=options)
    await notifier.run(stop)
    return notifier
