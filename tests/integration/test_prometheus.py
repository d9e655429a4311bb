"""A real Prometheus scraping the real exporter, fed by the real detector over 2025-11-04.

Every dashboard query returns data through Prometheus's HTTP API, the variable label queries
have values, and the project's rules (loaded with `for:` shortened) bring EverythingSells to
`firing`. Prometheus is killed at the end by the fixture, whatever happens.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.exporter import serve, stop_server
from alerts.metrics import Metrics
from shockwatch.local.ops import render_rules
from tests.fixtures_alerts import (
    PrometheusProcess,
    ScenarioRun,
    load_dashboard_module,
)

pytestmark = [pytest.mark.integration, pytest.mark.prometheus]

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
VENUES = {"binanceusdm", "bybit", "okx"}  # the venues of the recorded responses
SCRAPE_TIMEOUT_S = 20
FIRING_TIMEOUT_S = 40
QUERY_TIMEOUT_S = 15


@pytest.fixture
def producers_exporter() -> Iterator[int]:
    """The three producers over the recorded provider responses (real clients, dry run), their
    metrics served on a free port as `shockwatch produce --metrics-port` serves them. The
    liquidation streams have ended by then: every venue reads disconnected."""
    import asyncio
    import io

    from prometheus_client import CollectorRegistry, start_http_server

    from common.settings import load_settings
    from producers.metrics import create_metrics
    from shockwatch.lab.fixtures import publish_fixtures

    registry = CollectorRegistry()
    metrics = create_metrics(registry)
    asyncio.run(
        publish_fixtures(
            load_settings(), FIXTURES, dry_run=True, metrics=metrics, out=io.StringIO()
        )
    )
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield server.server_port
    finally:
        stop_server(server, thread)


@pytest.fixture
def exporter() -> Iterator[tuple[Metrics, int]]:
    metrics = Metrics()
    server, thread = serve(metrics, "127.0.0.1", 0)
    try:
        yield metrics, server.server_port
    finally:
        stop_server(server, thread)


def prometheus_config(port: int, rules: Path, producers_port: int) -> str:
    targets = f'["127.0.0.1:{port}"]'
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: shockwatch-worker
    static_configs: [{{targets: {targets}}}]
  - job_name: shockwatch-notifier
    static_configs: [{{targets: {targets}}}]
  - job_name: shockwatch-producers
    static_configs: [{{targets: ["127.0.0.1:{producers_port}"]}}]
"""


def fast_rules(tmp_path: Path) -> Path:
    """The project's rules with every `for:` at 1 s (the expressions are unchanged)."""
    text = render_rules("https://docs.example/shockwatch/docs")
    fast, n = re.subn(r"(?m)^(\s+)for: \S+$", r"\1for: 1s", text)
    assert n >= 5
    path = tmp_path / "shockwatch.rules.yml"
    path.write_text(fast)
    return path


def feed_records(metrics: Metrics, records: Any, now_s: float) -> None:
    """What the worker reports for a batch of input records."""
    per_feed: dict[str, list[int]] = defaultdict(list)
    liq: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for feed, record in records:
        per_feed[feed].append(record.ts_ms)
        if feed == "liquidations":
            agg = liq[(record.exchange, record.base, str(record.side_liquidated))]
            agg[0] += 1
            agg[1] += record.notional_usd
    for feed, stamps in per_feed.items():
        lags = [now_s - ts / 1000 for ts in stamps[-500:]]
        metrics.observe_events(feed, len(stamps), max(stamps), lags)
    metrics.observe_liquidations({k: (int(v[0]), v[1]) for k, v in liq.items()})


def test_dashboard_queries_and_rules_on_a_real_prometheus(
    exporter: tuple[Metrics, int],
    producers_exporter: int,
    prometheus_factory: Any,
    everything_sells: ScenarioRun,
    tmp_path: Path,
) -> None:
    import time

    metrics, port = exporter
    run = everything_sells
    signals = [o.signal for o in run.outputs]
    critical_at = next(i for i, s in enumerate(signals) if s.alert_state == "critical")
    first_ts = signals[0].ts_ms
    # phase 1: the first tick, and the input before it
    metrics.observe_signal(signals[0])
    feed_records(metrics, [r for r in run.records if r[1].ts_ms < first_ts], time.time())
    prom: PrometheusProcess = prometheus_factory(
        prometheus_config(port, fast_rules(tmp_path), producers_exporter)
    )
    prom.wait_until(
        lambda: prom.query('shockwatch_alert_transitions_total{state="firing"}'),
        SCRAPE_TIMEOUT_S,
        "the first scrape of the exporter",
    )

    # phase 2: the day up to the first critical tick (and the alerts raised on the way)
    end_ts = signals[critical_at].ts_ms
    for out in run.outputs[1 : critical_at + 1]:
        metrics.observe_signal(out.signal)
        for alert in out.alerts:
            metrics.observe_alert(alert)
    feed_records(metrics, [r for r in run.records if first_ts <= r[1].ts_ms <= end_ts], time.time())
    metrics.observe_rejected("prices", "late_event", 2)
    metrics.observe_slack("retry")
    metrics.observe_slack("ok", 2)
    metrics.observe_slack_delivery(0.2, time.time())
    assert metrics.registry.get_sample_value("shockwatch_alert_state", {"scope": "global"}) == 3

    # the rules: EverythingSells reaches firing, with its labels and runbook
    def firing() -> list[dict[str, Any]]:
        return [
            a
            for a in prom.alerts()
            if a["labels"]["alertname"] == "EverythingSells" and a["state"] == "firing"
        ]

    (alert,) = prom.wait_until(firing, FIRING_TIMEOUT_S, "EverythingSells firing")
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["scope"] == "global"
    assert alert["annotations"]["runbook_url"].endswith("runbooks.md#everythingsells")
    assert float(alert["value"]) == pytest.approx(signals[critical_at].score)
    for group in prom.api("/api/v1/rules")["groups"]:
        for rule in group["rules"]:
            assert rule["health"] == "ok", rule
            assert rule["labels"]["severity"] in ("critical", "warning")
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])

    # the venues: the producer's streams have ended, so VenueStale fires for each venue, and
    # only for those; the price and funding sources answered, so ProducerFeedStale stays quiet
    def stale_venues() -> set[str]:
        return {
            a["labels"]["venue"]
            for a in prom.alerts()
            if a["labels"]["alertname"] == "VenueStale" and a["state"] == "firing"
        }

    assert prom.wait_until(lambda: stale_venues() == VENUES, FIRING_TIMEOUT_S, "VenueStale")
    assert not [a for a in prom.alerts() if a["labels"]["alertname"] == "ProducerFeedStale"]
    connected = prom.query('shockwatch_producer_connected{job="shockwatch-producers"}')
    assert {r["metric"]["venue"] for r in connected} >= VENUES | {"yfinance", "fred"}

    # every dashboard query returns data
    dashboard = load_dashboard_module()
    empty: list[str] = []
    for expr in dashboard.queries():
        query = dashboard.expand(expr)
        try:
            prom.wait_until(lambda q=query: prom.query(q), QUERY_TIMEOUT_S, query, every_s=0.5)
        except AssertionError:
            empty.append(query)
    assert not empty, f"queries without data ({run.name}): {empty}"
    for label, metric in (
        ("asset_class", "shockwatch_asset_zscore"),
        ("exchange", "shockwatch_liquidations_usd_total"),
    ):
        values = prom.api(f"/api/v1/label/{label}/values", **{"match[]": metric})
        assert values, f"the ${label} variable would be empty"


# -- the sidecar exporter -------------------------------------------------------------------------


async def test_sidecar_exporter_reads_the_output_topics(
    kafka_settings: Any, everything_sells: ScenarioRun
) -> None:
    import asyncio
    import urllib.request

    from alerts.exporter import run_signal_exporter
    from shockwatch.runs.publish import Publisher
    from streams.topics import TopicNames

    names = TopicNames(kafka_settings.topic_prefix)
    signals = [o.signal for o in everything_sells.outputs]
    critical = next(s for s in signals if s.alert_state == "critical")
    before = [signals[0], signals[len(signals) // 3], critical]
    (alert, *_) = everything_sells.alerts

    def publish(records: list[Any], topic: str) -> None:
        with Publisher(kafka_settings, client_id="test-sidecar") as pub:
            for r in records:
                pub.send(topic, r.encode(), r.key, r.ts_ms)

    publish(before, names.signals)
    publish([alert], names.alerts)

    async def run(from_beginning: bool, until: Any) -> Metrics:
        metrics = Metrics()
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_signal_exporter(kafka_settings, metrics, stop, from_beginning=from_beginning)
        )
        deadline = asyncio.get_running_loop().time() + QUERY_TIMEOUT_S * 2
        while not until(metrics):
            assert not task.done(), task.result()
            assert asyncio.get_running_loop().time() < deadline, "sidecar timed out"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, QUERY_TIMEOUT_S)
        return metrics

    def get(m: Metrics, name: str, **labels: str) -> float:
        return m.registry.get_sample_value(name, labels) or 0.0

    transitions = {"scope": "global", "state": str(alert.state), "severity": str(alert.severity)}
    # latest: the newest signal already there shows at once; older records are not replayed
    latest = await run(False, lambda m: get(m, "shockwatch_alert_state", scope="global") == 3)
    assert get(latest, "shockwatch_signals_total", scope="global") == 1
    assert get(latest, "shockwatch_composite_score", scope="global") == critical.score
    assert get(latest, "shockwatch_alert_transitions_total", **transitions) == 0
    # from the beginning: everything
    full = await run(
        True, lambda m: get(m, "shockwatch_alert_transitions_total", **transitions) == 1
    )
    assert get(full, "shockwatch_signals_total", scope="global") == 3
    # and it serves them over HTTP
    server, thread = serve(full, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read().decode()
    finally:
        stop_server(server, thread)
    assert f'shockwatch_composite_score{{scope="global"}} {critical.score}' in body
