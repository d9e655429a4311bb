"""deploy/: Prometheus config, rules and rule unit tests (promtool), Alertmanager config
(amtool), and the Grafana dashboard against the metric names the exporter really serves."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from alerts.metrics import Metrics, metric_names
from common.settings import DASHBOARD_PATH, PROJECT_ROOT
from shockwatch.cli.sample import sample_alert, sample_outputs
from tests.fixtures_alerts import load_dashboard_module, promql_metric_names, require_tool

pytestmark = pytest.mark.prometheus

DEPLOY = PROJECT_ROOT / "deploy"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "rules" / "shockwatch.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "rules" / "shockwatch.rules.test.yml"
ALERTMANAGER_YML = DEPLOY / "alertmanager" / "alertmanager.yml"
DASHBOARD_JSON = DEPLOY / "grafana" / "dashboards" / "shockwatch.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks.md"
TOOL_TIMEOUT_S = 60
# Series Prometheus itself provides.
PROMETHEUS_NAMES = {"up", "ALERTS", "ALERTS_FOR_STATE"}


def run(tool: str, *args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [require_tool(tool), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{tool} {' '.join(args)} failed:\n{output}"
    return output


def exported_names() -> set[str]:
    metrics = Metrics()
    signal = max((o.signal for o in sample_outputs()), key=lambda s: s.score)
    metrics.observe_signal(signal)
    metrics.observe_alert(sample_alert())
    metrics.observe_events("prices", 1, signal.ts_ms, [0.1])
    metrics.observe_liquidations({("bybit", "BTC", "long"): (1, 1.0)})
    return metric_names(metrics) | producer_metric_names()


def producer_metric_names() -> set[str]:
    """What a producer serves once each feed has seen a message and sent a record."""
    from prometheus_client import CollectorRegistry

    from producers.metrics import create_metrics

    registry = CollectorRegistry()
    pm = create_metrics(registry)
    for feed in ("liquidations", "prices", "funding"):
        pm.message_seen(feed, "okx")
        pm.records.labels(feed, "okx").inc()
        pm.notional.labels(feed, "okx").inc(1.0)
        pm.last_event.labels(feed, "okx").set(1.0)
    return {s.name for family in registry.collect() for s in family.samples}


# -- promtool / amtool --------------------------------------------------------------------------


def test_prometheus_config_is_valid() -> None:
    out = run("promtool", "check", "config", str(PROMETHEUS_YML))
    assert "SUCCESS" in out


def test_rules_are_valid() -> None:
    out = run("promtool", "check", "rules", str(RULES))
    assert "SUCCESS" in out


def test_rule_unit_tests_pass() -> None:
    out = run("promtool", "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert "SUCCESS" in out


def test_alertmanager_config_is_valid() -> None:
    out = run("amtool", "check-config", str(ALERTMANAGER_YML))
    assert "SUCCESS" in out
    text = ALERTMANAGER_YML.read_text()
    assert "api_url_file:" in text and "hooks.slack.com" not in text  # the URL is a secret


# -- the rules ----------------------------------------------------------------------------------


def rule_blocks() -> dict[str, str]:
    """alertname -> the rule's text (from `- alert:` to the next rule)."""
    blocks: dict[str, str] = {}
    parts = re.split(r"^\s*- alert: ", RULES.read_text(), flags=re.M)
    for part in parts[1:]:
        name, _, body = part.partition("\n")
        blocks[name.strip()] = body
    return blocks


def test_rules_cover_the_design() -> None:
    names = set(rule_blocks())
    required = {"EverythingSells", "ShockwatchWarning", "FeedStale", "ConsumerLag"}
    assert required | {"DeadLetterRate", "NotifierFailing"} <= names


@pytest.mark.parametrize("name", sorted(rule_blocks()))
def test_every_rule_is_labelled_and_has_a_runbook_section(name: str) -> None:
    body = rule_blocks()[name]
    assert re.search(r"severity: (critical|warning)\b", body)
    for key in ("alert_family:", "summary:", "description:", "runbook_url:"):
        assert key in body, f"{name} lacks {key}"
    anchor = re.search(r"runbook_url: \S+#(\S+)", body)
    assert anchor is not None
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^## (.+)$", RUNBOOKS.read_text(), flags=re.M)
    }
    assert anchor.group(1) in headings, f"docs/runbooks.md has no section #{anchor.group(1)}"
    # each rule is tested firing and not firing
    tests = RULE_TESTS.read_text()
    assert f"alertname: {name}\n        exp_alerts: []" in tests
    assert re.search(rf"alertname: {name}\n        exp_alerts:\n          - exp_labels:", tests)


def test_rule_metrics_are_exported() -> None:
    names = exported_names()
    used = set(re.findall(r"\bshockwatch_[a-z0-9_]+", RULES.read_text()))
    assert used and used <= names, sorted(used - names)


# -- Grafana ------------------------------------------------------------------------------------


def test_dashboard_json_is_generated_from_the_query_list() -> None:
    module = load_dashboard_module()
    assert DASHBOARD_JSON.read_text() == module.render(), "run deploy/grafana/build_dashboard.py"


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD_JSON.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    return exprs


def test_every_panel_target_is_in_the_query_list() -> None:
    module = load_dashboard_module()
    exprs = dashboard_exprs()
    assert len(exprs) >= 30
    assert sorted(exprs) == sorted(module.queries())


def test_every_dashboard_metric_is_exported() -> None:
    names = exported_names()
    module = load_dashboard_module()
    missing: dict[str, set[str]] = {}
    for expr in dashboard_exprs():
        unknown = promql_metric_names(expr) - names - PROMETHEUS_NAMES
        if unknown:
            missing[expr] = unknown
    assert not missing, missing
    for query in module.variable_queries():
        metric = re.search(r"label_values\((\w+),", query)
        assert metric is not None and metric.group(1) in names


def test_dashboard_covers_the_panels_the_desk_needs() -> None:
    text = " ".join(dashboard_exprs())
    for metric in (
        "shockwatch_composite_score",
        "shockwatch_core_class_zscore",
        "shockwatch_asset_return_ratio",
        "shockwatch_liquidations_usd_total",
        "shockwatch_liquidations_surge_ratio",
        "shockwatch_funding_spread_ratio",
        "shockwatch_funding_amount_usd",
        "shockwatch_funding_stress_ratio",
        "shockwatch_last_event_timestamp_seconds",
        "shockwatch_events_rejected_total",
        "shockwatch_event_lag_seconds_bucket",
        "shockwatch_alert_transitions_total",
    ):
        assert metric in text
    board = json.loads(DASHBOARD_JSON.read_text())
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"asset_class", "exchange"} <= variables


def test_grafana_provisioning_matches_the_dashboard() -> None:
    module = load_dashboard_module()
    board = json.loads(DASHBOARD_JSON.read_text())
    assert f"uid: {module.DATASOURCE_UID}" in DATASOURCES.read_text()
    assert DASHBOARD_PATH.split("/d/")[1].startswith(board["uid"] + "/")


def test_a_missing_tool_skips_locally_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.fixtures_alerts as fx

    monkeypatch.setattr(fx.shutil, "which", lambda _name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        fx.require_tool("promtool")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        fx.require_tool("promtool")
