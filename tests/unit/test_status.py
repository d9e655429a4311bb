"""The status view model, from recorded /metrics text (tests/fixtures/status/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from shockwatch.local.live import last_error_line
from shockwatch.local.status import (
    STALE_AFTER_S,
    LatestAlert,
    Scrape,
    build_view,
    parse_metrics,
    producer_rows,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "status"
LINKS = {"dashboard": "http://grafana.local/d/shockwatch/shockwatch", "runbook": "file:///r.md"}


def recorded(name: str) -> str:
    return (FIXTURES / f"{name}.prom").read_text()


def scrape(job: str, text: str | None, at_s: float, error: str | None = None) -> Scrape:
    samples = parse_metrics(text) if text is not None else None
    return Scrape(job, f"http://127.0.0.1:1/{job}", at_s, samples, error)


def gauge(text: str, name: str, **labels: str) -> float:
    for sample_labels, value in parse_metrics(text)[name]:
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            return value
    raise KeyError(name)


def test_worker_view_reads_score_components_breadth_regime_and_alert() -> None:
    text = recorded("worker")
    watermark = gauge(text, "shockwatch_last_signal_timestamp_seconds", scope="global")
    started = int(watermark * 1000) - 600_000
    latest = LatestAlert("firing", "critical", started + 60_000, started, "plumbing", "sells")
    view = build_view(
        {"worker": scrape("worker", text, watermark + 5)}, {}, None, latest, None, LINKS,
        watermark + 5,
    )  # fmt: skip
    score = view.score
    assert score.score == gauge(text, "shockwatch_composite_score", scope="global")
    points = [p for p, _ in score.components.values()]
    assert set(score.components) == {"market", "liquidations", "funding", "comovement"}
    assert sum(p for p in points if p is not None) == pytest.approx(score.score, abs=0.01)
    assert score.breadth == gauge(text, "shockwatch_breadth_ratio", scope="global")
    regime = next(lab["regime"] for lab, v in parse_metrics(text)["shockwatch_regime"] if v == 1.0)
    assert score.regime == regime
    assert score.alert_state == "critical"  # alert_state 3
    assert view.alert.state == "critical" and view.alert.since_ms == started
    assert view.worker.state == "up" and view.worker.watermark_s == watermark
    assert view.links == LINKS


def test_feed_ages_and_staleness_follow_the_clock() -> None:
    text = recorded("worker")
    prices_ts = gauge(text, "shockwatch_last_event_timestamp_seconds", feed="prices")
    at = prices_ts + 30
    view = build_view({"worker": scrape("worker", text, at)}, {}, None, None, None, LINKS, at)
    rows = {r.feed: r for r in view.worker.feeds}
    assert rows["prices"].age_s == pytest.approx(30) and rows["prices"].state == "ok"
    later = prices_ts + STALE_AFTER_S["prices"] + 1
    view = build_view({"worker": scrape("worker", text, later)}, {}, None, None, None, LINKS, later)
    assert {r.feed: r.state for r in view.worker.feeds}["prices"] == "stale"


def test_rates_come_from_two_reads() -> None:
    text = recorded("worker")
    before = gauge(text, "shockwatch_events_processed_total", feed="prices")
    line = f'shockwatch_events_processed_total{{feed="prices"}} {before}'
    assert line in text
    after_text = text.replace(
        line, f'shockwatch_events_processed_total{{feed="prices"}} {before + 50}'
    )
    first, second = scrape("worker", text, 100.0), scrape("worker", after_text, 110.0)
    view = build_view({"worker": second}, {"worker": first}, None, None, None, LINKS, 110.0)
    rates = {r.feed: r.rate_per_s for r in view.worker.feeds}
    assert rates["prices"] == pytest.approx(5.0)
    assert rates["liquidations"] == 0.0
    alone = build_view({"worker": second}, {}, None, None, None, LINKS, 110.0)
    assert all(r.rate_per_s is None for r in alone.worker.feeds)


def test_producer_errors_give_the_feed_state_and_reason() -> None:
    text = recorded("funding")
    rows = {r.venue: r for r in producer_rows(scrape("funding", text, 1.0), None, 1.0)}
    errors = parse_metrics(text)["shockwatch_producer_poll_errors_total"]
    failing = {lab["venue"]: lab["error"] for lab, v in errors if v > 0}
    assert failing, "the recorded producer had provider errors"
    for venue, error in failing.items():
        assert rows[venue].state == "errors"
        assert error in rows[venue].reason
        assert rows[venue].age_s is None


def test_liquidation_venues_without_events_are_waiting() -> None:
    rows = producer_rows(scrape("liquidations", recorded("liquidations"), 1.0), None, 1.0)
    assert {r.venue for r in rows} == {"binanceusdm", "bybit", "okx"}
    assert all(r.state == "waiting" and r.connected is None for r in rows)


def test_a_connected_gauge_is_read_when_a_producer_exports_it() -> None:
    text = (
        "# TYPE shockwatch_producer_connected gauge\n"
        'shockwatch_producer_connected{feed="liquidations",venue="okx"} 0.0\n'
        'shockwatch_producer_connected{feed="liquidations",venue="bybit"} 1.0\n'
        "# TYPE shockwatch_producer_last_event_timestamp_seconds gauge\n"
        'shockwatch_producer_last_event_timestamp_seconds{feed="liquidations",venue="bybit"} 90\n'
    )
    rows = {r.venue: r for r in producer_rows(scrape("liquidations", text, 100.0), None, 100.0)}
    assert rows["okx"].connected is False and rows["okx"].state == "disconnected"
    assert rows["bybit"].connected is True and rows["bybit"].state == "ok"
    assert rows["bybit"].age_s == pytest.approx(10.0)


def test_unreachable_endpoints_show_as_down_with_their_reason() -> None:
    down = {
        job: scrape(job, None, 1.0, error="connection refused")
        for job in ("worker", "liquidations", "prices", "funding")
    }
    view = build_view(down, {}, None, None, "cannot reach Kafka at x:1", LINKS, 1.0)
    assert {j.state for j in view.jobs} == {"down"}
    assert view.worker.state == "down" and view.worker.reason == "connection refused"
    assert [(r.feed, r.state, r.reason) for r in view.producers] == [
        (feed, "down", "connection refused") for feed in ("prices", "liquidations", "funding")
    ]
    assert view.alert.state == "unknown" and "cannot reach Kafka" in view.alert.note


def test_json_has_no_nan() -> None:
    text = recorded("worker")
    view = build_view({"worker": scrape("worker", text, 1.0)}, {}, None, None, None, LINKS, 1.0)
    nan_gauges = [v for _, v in parse_metrics(text)["shockwatch_comovement_correlation"]]
    payload = json.dumps(view.to_json(), allow_nan=False)
    assert json.loads(payload)["score"]["regime"] == view.score.regime
    assert all(isinstance(v, float) for v in nan_gauges) and not any(
        math.isinf(v) for v in nan_gauges
    )


def test_not_metrics_text_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_metrics("<html>this is not metrics{</html>\n")


def test_last_error_line_of_a_log() -> None:
    log = (
        "worker metrics on http://127.0.0.1:9464/metrics\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "kafka.errors.NoBrokersAvailable: NoBrokersAvailable\n"
    )
    assert last_error_line(log) == "kafka.errors.NoBrokersAvailable: NoBrokersAvailable"
    assert last_error_line("started\nall good\n") == "all good"
    assert last_error_line("started\nall good\n", fallback=False) == ""
    assert last_error_line("") == ""
