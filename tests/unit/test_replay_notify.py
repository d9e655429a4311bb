"""``replay --notify``'s one-shot send: the real detector's 2025-11-04 alerts, through the real
Slack client, to the local Slack stand-in (which validates Block Kit as Slack does)."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import SecretStr

from common.settings import Settings
from shockwatch.runs.replay import parse_when
from shockwatch.runs.replay_notify import REPLAY_MARK, ReplayLabel, send_replay_alerts
from tests.fixtures_alerts import ScenarioRun
from tests.slack_server import SlackStandIn

T1 = parse_when("2025-11-04T00:00:00Z")
T2 = parse_when("2025-11-04T21:00:00Z")


@pytest.fixture
def slack_settings(slack_stand_in: SlackStandIn) -> Settings:
    return Settings(slack_webhook_url=SecretStr(slack_stand_in.webhook_url))


def day_alerts(run: ScenarioRun) -> list:
    firing = [a for a in run.alerts if T1 <= a.ts_ms <= T2]
    assert firing, "the detector fired nothing on 2025-11-04"
    return firing


def test_each_transition_is_sent_once_marked_as_a_replay(
    everything_sells: ScenarioRun, slack_settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    alerts = day_alerts(everything_sells)
    label = ReplayLabel("r-test-1", T1, T2)
    # a restarted worker may emit a transition twice: it is still sent once
    sent = send_replay_alerts(slack_settings, [*alerts, alerts[0]], label)

    got = slack_stand_in.messages
    assert sent == len(got) == len({a.delivery_key for a in alerts})
    severities = [a.severity for a in alerts if a.state == "firing"]
    assert severities[:2] == ["warning", "critical"], severities
    for message, alert in zip(got, sorted(alerts, key=lambda a: a.ts_ms), strict=True):
        blocks = message.payload["blocks"]
        assert blocks[0]["type"] == "header"
        assert blocks[0]["text"]["text"].startswith(f"{REPLAY_MARK} · ")
        assert blocks[0]["block_id"] == f"shockwatch:{alert.delivery_key}"
        note = blocks[1]["elements"][0]["text"]
        assert "Replay* `r-test-1` of 2025-11-04 00:00 UTC to 2025-11-04 21:00 UTC" in note
        assert "not a live alert" in note
        assert message.payload["text"].startswith(f"[{REPLAY_MARK} r-test-1] ")


def test_a_refusal_stops_the_send_with_a_clear_error(
    everything_sells: ScenarioRun, slack_settings: Settings, slack_stand_in: SlackStandIn
) -> None:
    from alerts.slack import DeliveryFailed, RetryPolicy, SlackClient

    slack_stand_in.set_down()
    policy = dataclasses.replace(RetryPolicy(), max_tries=1)
    client = SlackClient(slack_settings, policy=policy)
    with pytest.raises(DeliveryFailed):
        send_replay_alerts(
            slack_settings, day_alerts(everything_sells), ReplayLabel("r", T1, T2), client
        )
    assert slack_stand_in.messages == []
