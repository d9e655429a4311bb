"""The Slack notifier against the real broker and the local Slack stand-in.

Exactly one message per delivery key through 429s and 5xx, a cancel and a crash between Slack's
acceptance and the offset commit, and a Slack outage; resolves edit the original with a bot
token; unreadable alerts go to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from alerts.metrics import Metrics
from alerts.notifier import Notifier, NotifierOptions, group_id, store_path
from alerts.slack import RetryPolicy
from common.kafka import aiokafka_config
from common.settings import Settings
from shockwatch.cli.sample import sample_alert, sample_alerts
from shockwatch.runs.publish import Publisher
from streams.records import AlertEvent, DeadLetter
from streams.topics import TopicNames
from tests.slack_server import SlackStandIn

pytestmark = pytest.mark.integration

RUN_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
FAST = NotifierOptions(
    retry=RetryPolicy(max_tries=3, base_s=0.02, cap_s=0.1, max_retry_after_s=2.0),
    outage_base_s=0.1,
    outage_cap_s=0.5,
    poll_timeout_ms=200,
)


@pytest.fixture
def settings(kafka_settings: Settings, slack_stand_in: SlackStandIn, tmp_path: Path) -> Settings:
    """The test's topics, its own consumer group and state folder, the stand-in's webhook."""
    return kafka_settings.model_copy(
        update={
            "app_id": f"sw{kafka_settings.topic_prefix.strip('.')}",
            "state_dir": tmp_path / "state",
            "slack_webhook_url": SecretStr(slack_stand_in.webhook_url),
            "slack_max_per_minute": 6000,
            "live_horizon_s": 0,  # the sample alerts are from 2025-11-04
        }
    )


def episode(n: int) -> list[AlertEvent]:
    """``n`` distinct alert transitions (episodes named by n), critical firing each."""
    base = sample_alert("firing", "critical")
    return [replace(base, alert_id=f"sw-global-test-{i:02d}") for i in range(n)]


def produce(settings: Settings, alerts: list[AlertEvent], raw: list[bytes] = ()) -> None:
    topic = TopicNames(settings.topic_prefix).alerts
    with Publisher(settings, client_id="test-alerts") as pub:
        for value in raw:
            pub.send(topic, value, b"garbage", None)
        for alert in alerts:
            pub.send(topic, alert.encode(), alert.alert_id, alert.ts_ms)


def keys_of(server: SlackStandIn) -> list[str]:
    return [m.payload["blocks"][0]["block_id"].removeprefix("shockwatch:") for m in server.messages]


def committed(notifier: Notifier) -> int:
    return sum(notifier.committed.values())


async def wait_for(cond: Callable[[], bool], task: asyncio.Task[Any], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + RUN_TIMEOUT_S
    while not cond():
        if task.done():
            task.result()  # raise what stopped it
            raise AssertionError(f"notifier stopped before {what}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def start(notifier: Notifier) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(notifier.run(stop))


async def stop_gracefully(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, STOP_TIMEOUT_S)


async def run_until_committed(notifier: Notifier, n: int) -> None:
    stop, task = start(notifier)
    try:
        await wait_for(lambda: committed(notifier) >= n, task, f"{n} offsets committed")
    finally:
        await stop_gracefully(stop, task)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def group_offset(settings: Settings) -> int | None:
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(**aiokafka_config(settings), group_id=group_id(settings))
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(TopicNames(settings.topic_prefix).alerts, 0))
    finally:
        await consumer.stop()


# -- tests --------------------------------------------------------------------------------------


async def test_429_then_500_then_ok_delivers_each_transition_once(
    settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    alerts = sample_alerts()  # warning, critical, resolved of one episode
    produce(settings, alerts)
    slack_stand_in.fail_next(429, 1, retry_after=1)
    slack_stand_in.fail_next(500, 1)
    metrics = Metrics()
    notifier = Notifier(settings, metrics, options=FAST)
    await run_until_committed(notifier, len(alerts))
    assert keys_of(slack_stand_in) == [a.delivery_key for a in alerts]
    assert slack_stand_in.requests == len(alerts) + 2
    assert value(metrics, "shockwatch_slack_sends_total", result="ok") == 3
    assert value(metrics, "shockwatch_slack_sends_total", result="retry") == 2
    assert value(metrics, "shockwatch_slack_sends_total", result="failed") == 0
    assert value(metrics, "shockwatch_slack_delivery_seconds_count") == 3
    assert await group_offset(settings) == len(alerts)
    assert store_path(settings).exists()


class CrashBeforeCommit(Notifier):
    """Dies right after Slack accepted (and the store was written), before the commit."""

    async def _commit(self, consumer: Any, tp: Any, offset: int) -> None:
        if self.delivered >= 1:
            raise asyncio.CancelledError("simulated crash before the commit")
        await super()._commit(consumer, tp, offset)


async def test_cancel_and_crash_mid_way_still_exactly_once(
    settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    alerts = episode(6)
    produce(settings, alerts)

    # 1. cancelled abruptly once two messages are out: a slow Slack makes the third request
    #    be in flight then (the notifier lets it finish and records it before stopping)
    slack_stand_in.delay_s = 0.3
    first = Notifier(settings, Metrics(), options=FAST)
    _, task = start(first)
    await wait_for(lambda: len(slack_stand_in.messages) >= 2, task, "2 messages")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, STOP_TIMEOUT_S)
    slack_stand_in.delay_s = 0.0
    assert 2 <= first.delivered < len(alerts)
    # whatever Slack accepted, the notifier recorded (the in-flight send was let finish)
    assert first.delivered == len(slack_stand_in.messages)

    # 2. crashes between Slack's acceptance and the commit of its next alert
    second = CrashBeforeCommit(settings, Metrics(), options=FAST)
    _, task = start(second)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, RUN_TIMEOUT_S)
    assert second.delivered == 1

    # 3. restarted: re-reads that alert, finds it in the store, skips it, delivers the rest
    metrics = Metrics()
    third = Notifier(settings, metrics, options=FAST)
    await run_until_committed(third, len(alerts))
    counts = Counter(keys_of(slack_stand_in))
    assert counts == {a.delivery_key: 1 for a in alerts}
    assert value(metrics, "shockwatch_slack_sends_total", result="duplicate_skipped") >= 1
    assert third.skipped >= 1


async def test_slack_outage_holds_alerts_until_it_is_back(
    settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    alerts = episode(2)
    produce(settings, alerts)
    slack_stand_in.set_down(True)
    metrics = Metrics()
    notifier = Notifier(settings, metrics, options=FAST)
    stop, task = start(notifier)
    try:
        failed = lambda: value(metrics, "shockwatch_slack_sends_total", result="failed") >= 3  # noqa: E731
        await wait_for(failed, task, "three failed attempts")
        assert slack_stand_in.messages == []
        assert committed(notifier) == 0  # nothing is dropped: the offset stays put
        assert value(metrics, "shockwatch_notifier_pending_alerts") == 1
        slack_stand_in.set_down(False)
        await wait_for(lambda: committed(notifier) >= 2, task, "delivery after the outage")
    finally:
        await stop_gracefully(stop, task)
    assert keys_of(slack_stand_in) == [a.delivery_key for a in alerts]
    assert value(metrics, "shockwatch_notifier_pending_alerts") == 0

    # a restart afterwards sends nothing again
    again = Notifier(settings, Metrics(), options=FAST)
    produce(settings, [replace(alerts[0], alert_id="sw-global-test-after")])
    await run_until_committed(again, 3)
    assert len(slack_stand_in.messages) == 3


async def test_bot_token_resolve_edits_the_original(
    settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    bot = settings.model_copy(
        update={
            "slack_webhook_url": None,
            "slack_bot_token": SecretStr("xoxb-test-notifier"),
            "slack_channel": "#desk",
            "slack_api_base": slack_stand_in.api_base,
        }
    )
    alerts = sample_alerts()
    produce(bot, alerts)
    notifier = Notifier(bot, Metrics(), options=FAST)
    await run_until_committed(notifier, len(alerts))
    kinds = [m.kind for m in slack_stand_in.messages]
    assert kinds == ["chat.postMessage", "chat.postMessage", "chat.update"]
    critical_ts = slack_stand_in.messages[1].ts
    update = slack_stand_in.messages[2]
    assert update.payload["ts"] == critical_ts
    assert update.payload["blocks"][0]["text"]["text"].startswith("✅ Resolved")
    assert keys_of(slack_stand_in) == [a.delivery_key for a in alerts]
    assert notifier.store.message_for(alerts[0].alert_id) is None  # forgotten once resolved


async def test_unreadable_alert_goes_to_the_dlq(
    settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    alerts = episode(1)
    produce(settings, alerts, raw=[b"{not json"])
    metrics = Metrics()
    notifier = Notifier(settings, metrics, options=FAST)
    await run_until_committed(notifier, 2)
    assert keys_of(slack_stand_in) == [alerts[0].delivery_key]
    assert (
        value(metrics, "shockwatch_events_rejected_total", feed="alerts", reason="malformed") == 1
    )
    dlq = TopicNames.dlq(TopicNames(settings.topic_prefix).alerts)
    consumer = AIOKafkaConsumer(
        dlq, **aiokafka_config(settings), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), RUN_TIMEOUT_S)
    finally:
        await consumer.stop()
    letter = DeadLetter.from_dict(orjson.loads(msg.value))
    assert letter.reason == "malformed" and letter.offset == 0


async def test_an_alert_older_than_the_live_horizon_is_recorded_not_posted(
    settings: Settings, slack_stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Old data cannot page: the 2025-11-04 critical in the live topics is recorded (a re-read
    skips it), counted and logged once with why; a fresh alert after it is posted."""
    live = settings.model_copy(update={"live_horizon_s": 3600.0})
    old = sample_alert("firing", "critical")
    now_ms = int(time.time() * 1000)
    fresh = replace(
        sample_alert("firing", "warning"),
        alert_id="sw-global-test-fresh",
        ts_ms=now_ms,
        started_ts_ms=now_ms,
    )
    produce(live, [old, fresh])
    metrics = Metrics()
    notifier = Notifier(live, metrics, options=FAST)
    with caplog.at_level(logging.WARNING, logger="alerts.notifier"):
        await run_until_committed(notifier, 2)
    assert keys_of(slack_stand_in) == [fresh.delivery_key]
    assert slack_stand_in.requests == 1
    assert old.delivery_key in notifier.store and fresh.delivery_key in notifier.store
    assert value(metrics, "shockwatch_slack_sends_total", result="stale_skipped") == 1
    assert value(metrics, "shockwatch_slack_sends_total", result="ok") == 1
    said = [r.getMessage() for r in caplog.records if "not posted to Slack" in r.getMessage()]
    assert len(said) == 1, said
    assert old.delivery_key in said[0] and "2025-11-04T" in said[0], said[0]
    assert "days old" in said[0] and "SHOCKWATCH_LIVE_HORIZON_S=3600" in said[0], said[0]
    assert await group_offset(live) == 2


def test_notify_without_slack_fails_clearly(clean_env: None, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shockwatch.cli.main import app

    result = CliRunner().invoke(
        app, ["alerts", "notify"], env={"SHOCKWATCH_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "no Slack destination configured" in output
    assert "SHOCKWATCH_SLACK_WEBHOOK_URL" in output
