"""``shockwatch replay --notify`` end to end: 2025-11-04 loaded on the real broker, replayed in
place by the real command, its two alert transitions (warning, then critical) delivered once
each to the local Slack stand-in, each marked as a replay."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from common.settings import Settings
from streams.topics import delete_prefix
from tests.cli import run_shockwatch
from tests.fixtures_alerts import EVERYTHING_SELLS
from tests.slack_server import SlackStandIn

pytestmark = pytest.mark.integration
CLI_TIMEOUT_S = 300


def shockwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = run_shockwatch(args, env, CLI_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_replay_notify_sends_each_alert_once_marked_as_a_replay(
    kafka_settings: Settings, slack_stand_in: SlackStandIn, tmp_path: Path
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "100",
        "SHOCKWATCH_KAFKA_BOOTSTRAP": str(kafka_settings.kafka_bootstrap),
        "SHOCKWATCH_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "SHOCKWATCH_STATE_DIR": str(kafka_settings.state_dir),
        "SHOCKWATCH_REPORTS_DIR": str(tmp_path / "reports"),
        "SHOCKWATCH_SLACK_WEBHOOK_URL": slack_stand_in.webhook_url,
    }
    loaded = shockwatch(env, "load", str(EVERYTHING_SELLS))
    found = re.search(r"loaded under prefix (\S+\.)", loaded.stdout)
    assert found, loaded.stdout
    prefix = found.group(1)
    try:
        replayed = shockwatch(
            env,
            "replay",
            "--from", "2025-11-04",
            "--to", "2025-11-04T21:00Z",
            "--source-prefix", prefix,
            "--run-id", "notify-test",
            "--notify",
        )  # fmt: skip
    finally:
        delete_prefix(kafka_settings, prefix)
    assert "sent 2 Slack message(s) for the replay's alerts" in replayed.stdout, replayed.stdout
    # each alert line carries its event time in UTC
    assert re.search(r"2025-11-04 14:\d\d UTC  FIRING\s+warning ", replayed.stdout)
    assert re.search(r"2025-11-04 15:\d\d UTC  FIRING\s+critical ", replayed.stdout)

    got = slack_stand_in.messages
    assert [m.payload["blocks"][0]["block_id"].rsplit(":", 1)[-1] for m in got] == [
        "warning",
        "critical",
    ]
    for message in got:
        assert message.payload["text"].startswith("[REPLAY notify-test] ")
        assert message.payload["blocks"][0]["text"]["text"].startswith("REPLAY · ")
        assert "not a live alert" in message.payload["blocks"][1]["elements"][0]["text"]
