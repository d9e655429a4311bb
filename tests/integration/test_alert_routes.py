"""Which channel pages for what (docs/alerts.md), checked on the deploy files with the real
tools: every Prometheus rule routes to the ops receiver only, no Alertmanager receiver posts to
the desk channel, and the configurations the live alert path renders from the deploy files
differ from them only where a local run must (intervals, ports, rule path, the secret file).
The live half of the decision is tests/integration/test_alert_path_live.py."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.settings import PROJECT_ROOT
from shockwatch.lab.alert_path import DESK_CHANNEL, OPS_CHANNEL
from shockwatch.local.ops import (
    ALERTMANAGER_YML,
    PROMETHEUS_YML,
    RULES,
    render_alertmanager_config,
    render_prometheus_config,
    write_secret,
)
from tests.fixtures_alerts import require_tool

pytestmark = pytest.mark.prometheus

ALERTS_DOC = PROJECT_ROOT / "docs" / "alerts.md"
TOOL_TIMEOUT_S = 60


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool(tool), *args],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def rule_label_sets() -> list[tuple[str, dict[str, str]]]:
    """Each rule's labels as Alertmanager sees them (templated labels expanded to each value
    they can take; the shock rules' scope comes from the series: ``global``)."""
    out: list[tuple[str, dict[str, str]]] = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            labels = {"alertname": rule["alert"], "scope": "global", **rule["labels"]}
            family = labels["alert_family"]
            families = re.findall(r"\}\}(\w+)\{\{", family) if "{{" in family else [family]
            out += [(rule["alert"], {**labels, "alert_family": f}) for f in families]
    return out


@pytest.mark.parametrize(("name", "labels"), rule_label_sets(), ids=lambda v: str(v)[:40])
def test_every_rule_pages_ops_only(name: str, labels: dict[str, str]) -> None:
    args = [f"{k}={v}" for k, v in labels.items()]
    proc = run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_YML}",
        "--verify.receivers=slack-ops",
        *args,
    )
    assert proc.returncode == 0, f"{name} {labels}: {proc.stdout}{proc.stderr}"
    assert proc.stdout.split() == ["slack-ops"]


def test_no_alertmanager_receiver_posts_to_the_desk() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    channels = [
        slack.get("channel")
        for receiver in config["receivers"]
        for slack in receiver.get("slack_configs", [])
    ]
    assert channels and set(channels) == {OPS_CHANNEL}
    assert DESK_CHANNEL not in ALERTMANAGER_YML.read_text()
    # every kind of Alertmanager receiver that could reach the desk is absent
    kinds = {k for r in config["receivers"] for k in r if k.endswith("_configs")}
    assert kinds == {"slack_configs"}
    # the critical inhibits the warning of the same family and scope
    (inhibit,) = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity="critical"']
    assert inhibit["target_matchers"] == ['severity="warning"']
    assert set(inhibit["equal"]) == {"alert_family", "scope"}


def test_docs_name_the_channels_and_who_posts() -> None:
    text = ALERTS_DOC.read_text()
    section = text.split("## Which channel pages for what", 1)[1].split("\n## ", 1)[0]
    assert DESK_CHANNEL in section and OPS_CHANNEL in section
    for name, _ in rule_label_sets():
        assert name in section, f"docs/alerts.md does not say where {name} goes"


def test_rendered_prometheus_config_changes_only_what_a_local_run_must(tmp_path: Path) -> None:
    text = render_prometheus_config(
        worker="127.0.0.1:41001", notifier="127.0.0.1:41002", alertmanager="127.0.0.1:41003"
    )
    rendered, deployed = yaml.safe_load(text), yaml.safe_load(PROMETHEUS_YML.read_text())
    expected: dict[str, Any] = copy.deepcopy(deployed)
    expected["global"]["scrape_interval"] = expected["global"]["evaluation_interval"] = "1s"
    expected["rule_files"] = [str(RULES)]
    expected["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = ["127.0.0.1:41003"]
    ports = {"shockwatch-worker": ["127.0.0.1:41001"], "shockwatch-notifier": ["127.0.0.1:41002"]}
    ports["shockwatch-producers"] = []  # a run of recorded data has no producers to scrape
    for job in expected["scrape_configs"]:
        job["static_configs"][0]["targets"] = ports[job["job_name"]]
    assert rendered == expected
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    proc = run("promtool", "check", "config", str(config))
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout + proc.stderr, proc.stderr


def test_rendered_alertmanager_config_reads_the_url_from_a_file(tmp_path: Path) -> None:
    secret = write_secret(tmp_path / "secrets" / "url", "http://127.0.0.1:1/services/T/B/s3cr3t")
    assert secret.stat().st_mode & 0o777 == 0o600
    text = render_alertmanager_config(secret)
    assert "s3cr3t" not in text
    rendered, deployed = yaml.safe_load(text), yaml.safe_load(ALERTMANAGER_YML.read_text())
    expected = copy.deepcopy(deployed)
    expected["receivers"][0]["slack_configs"][0]["api_url_file"] = str(secret)
    assert rendered == expected
    config = tmp_path / "alertmanager.yml"
    config.write_text(text)
    proc = run("amtool", "check-config", str(config))
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr
