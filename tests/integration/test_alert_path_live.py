"""The alert path, live: real worker -> real Prometheus (the project's rules) -> real
Alertmanager (the project's routes and inhibition) -> Slack stand-in, with the real notifier
posting to the desk channel beside it.

The 2025-11-04 scenario runs through ``shockwatch.lab.alert_path.run_alert_path``: the load pauses
two event minutes after the detector's warning (14:37 UTC) until Prometheus shows
ShockwatchWarning firing — the rules keep their real ``for: 1m``, so the warning must rest on
the gauges for a minute of wall time — then the rest of the day follows and the worker keeps
serving its (critical) gauges until EverythingSells fires, Alertmanager inhibits the warning
and both Slack paths delivered. Assertions are on states and contents only; the timeline and
run time are printed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.settings import Settings
from shockwatch.lab.alert_path import (
    DESK_CHANNEL,
    OPS_CHANNEL,
    SHOCK_ALERTS,
    AlertPathRun,
    Seen,
    message_title,
    run_alert_path,
)
from shockwatch.local.ops import ALERTMANAGER_BINARIES
from streams.scenario import read_scenario
from tests.fixtures_alerts import EVERYTHING_SELLS, RUN_REPORT, require_tool

pytestmark = [
    pytest.mark.integration,
    pytest.mark.prometheus,
    pytest.mark.topology,
    pytest.mark.timeout(900),
]

SEVERITY = {"ShockwatchWarning": "warning", "EverythingSells": "critical"}


@pytest.fixture
def live(kafka_settings: Settings, tmp_path: Path) -> Iterator[AlertPathRun]:
    require_tool("prometheus")
    require_tool(*ALERTMANAGER_BINARIES)

    def seen(s: Seen) -> None:
        print(s.line(), flush=True)
        RUN_REPORT.append(s.line())

    started = time.monotonic()
    try:
        yield run_alert_path(
            kafka_settings, read_scenario(EVERYTHING_SELLS), tmp_path / "ops", on_seen=seen
        )
    finally:
        RUN_REPORT.append(f"run time {time.monotonic() - started:.1f} s (test_alert_path_live)")


def seen_at(live: AlertPathRun, source: str, what: str) -> float:
    seen = live.first(source, what)
    assert seen is not None, f"{source} never showed {what!r}; timeline:\n" + "\n".join(
        s.line() for s in live.timeline
    )
    return seen.t_s


def by_name(alerts: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (alert,) = [a for a in alerts if a["labels"]["alertname"] == name]
    return alert


def test_alert_path_live(live: AlertPathRun) -> None:
    # The worker ran the scenario as the offline detector does: warning, then critical.
    keys = [a.delivery_key for a in live.run.alerts]
    assert keys == [a.delivery_key for a in live.expected]
    assert [(a.state, a.severity) for a in live.expected] == [
        ("firing", "warning"),
        ("firing", "critical"),
    ]

    # Prometheus: each shock rule pending, then firing; the warning alone first (the pause).
    for name in SHOCK_ALERTS:
        pending = seen_at(live, "prometheus", f"{name} pending")
        firing = seen_at(live, "prometheus", f"{name} firing")
        assert pending < firing
        labels = live.first("prometheus", f"{name} firing").detail  # type: ignore[union-attr]
        assert labels["severity"] == SEVERITY[name]
        assert labels["alert_family"] == "shock" and labels["scope"] == "global"
    assert seen_at(live, "prometheus", "ShockwatchWarning firing") < seen_at(
        live, "prometheus", "EverythingSells pending"
    )
    firing_now = {a["labels"]["alertname"]: a for a in live.prometheus_alerts}
    for name in SHOCK_ALERTS:
        assert firing_now[name]["state"] == "firing"
        assert firing_now[name]["annotations"]["runbook_url"].endswith(f"#{name.lower()}")

    # Alertmanager received both with their labels (and Prometheus's external label) ...
    for name in SHOCK_ALERTS:
        alert = by_name(live.am_alerts, name)
        assert alert["labels"]["severity"] == SEVERITY[name]
        assert alert["labels"]["alert_family"] == "shock"
        assert alert["labels"]["scope"] == "global"
        assert alert["labels"]["monitor"] == "shockwatch"
        assert alert["generatorURL"].startswith(live.prometheus_url)
        assert [r["name"] for r in alert["receivers"]] == ["slack-ops"]
    # ... the critical inhibits the warning (same alert_family and scope) ...
    critical = by_name(live.am_alerts, "EverythingSells")
    warning = by_name(live.am_alerts, "ShockwatchWarning")
    assert critical["status"]["state"] == "active" and not critical["status"]["inhibitedBy"]
    assert warning["status"]["state"] == "suppressed"
    assert warning["status"]["inhibitedBy"] == [critical["fingerprint"]]
    assert seen_at(live, "alertmanager", "ShockwatchWarning active") < seen_at(
        live, "alertmanager", "ShockwatchWarning suppressed (inhibited)"
    )
    # ... grouped by alertname and scope: one group per rule, routed to slack-ops.
    groups = {
        g["labels"]["alertname"]: g
        for g in live.am_groups
        if g["labels"].get("alertname") in SHOCK_ALERTS
    }
    assert set(groups) == set(SHOCK_ALERTS)
    for name, group in groups.items():
        assert group["labels"] == {"alertname": name, "scope": "global"}
        assert group["receiver"]["name"] == "slack-ops"
        assert [a["labels"]["alertname"] for a in group["alerts"]] == [name]

    # Slack: the stand-in accepted every request (Alertmanager's attachments included).
    assert live.slack.rejected == []
    channels = {m.channel for m in live.slack.messages}
    assert channels <= {DESK_CHANNEL, OPS_CHANNEL}, channels

    # Ops: only Alertmanager's messages, one per shock rule (the warning was sent before the
    # critical inhibited it), as attachments.
    assert live.ops and all(
        m.format == "attachments" and m.user_agent.startswith("Alertmanager/") for m in live.ops
    )
    ops_titles = Counter(message_title(m) for m in live.ops)
    assert ops_titles["[WARNING] ShockwatchWarning (global)"] == 1
    assert ops_titles["[CRITICAL] EverythingSells (global)"] == 1
    # The warning went out after its 30 s group wait, before the critical inhibited it.
    warning_sent = f"{OPS_CHANNEL}: attachments message '[WARNING] ShockwatchWarning (global)'"
    assert seen_at(live, "slack", warning_sent) < seen_at(
        live, "alertmanager", "ShockwatchWarning suppressed (inhibited)"
    )
    (ops_critical,) = [m for m in live.ops if "EverythingSells" in message_title(m)]
    assert ops_critical.payload["channel"] == OPS_CHANNEL
    assert ops_critical.payload["username"] == "Alertmanager"
    (attachment,) = ops_critical.payload["attachments"]
    assert attachment["color"] == "danger" and attachment["fallback"]
    assert attachment["title_link"].startswith(f"{live.alertmanager_url}/#/alerts?receiver=")
    assert "Everything sells (global): score" in attachment["text"]
    assert "runbooks.md#everythingsells|Runbook" in attachment["text"]

    # Desk: only the notifier's Block Kit messages, exactly one per alert transition of the
    # episode (warning, then the escalation), never one from Alertmanager.
    assert all(
        m.format == "blocks" and not m.user_agent.startswith("Alertmanager") for m in live.desk
    )
    desk_keys = [m.payload["blocks"][0]["block_id"].removeprefix("shockwatch:") for m in live.desk]
    assert Counter(desk_keys) == Counter(keys)
    assert len({a.alert_id for a in live.expected}) == 1  # one episode

    # The webhook URLs are secrets: in no log and no rendered configuration.
    texts = {name: path.read_text(errors="replace") for name, path in live.logs.items()}
    rendered = live.logs["alertmanager"].parent / "alertmanager.yml"
    texts["alertmanager.yml"] = rendered.read_text()
    for url in (live.desk_url, live.ops_url):
        token = url.rsplit("/", 1)[1]
        leaked = [name for name, text in texts.items() if token in text]
        assert not leaked, f"a webhook URL is in {leaked}"
