"""What `shockwatch status` and `watch` show, from the processes' /metrics and Kafka.

Pure functions: ``parse_metrics`` turns Prometheus text into samples; ``build_view`` turns the
scrapes of each job (the worker, the producers, the notifier), the worker's consumer lag and the
newest alert on ``shock.alerts`` into a ``StatusView``. Nothing here reads a process's private
state or does I/O: ``shockwatch.local.status_io`` gathers, ``shockwatch.local.status_render``
draws, and the unit tests feed recorded /metrics text. A metric a process does not export (an
older producer) leaves its cell unknown, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from streams.scenario import FEEDS as FEED_RECORDS

Labels = dict[str, str]
Samples = dict[str, list[tuple[Labels, float]]]

FEEDS: tuple[str, ...] = tuple(FEED_RECORDS)
# A feed is stale once its newest event is this old: prices come every minute (the equities
# only in US hours), liquidations in bursts (a quiet venue can be silent minutes), funding
# once a business day (a long weekend is three days and a half).
STALE_AFTER_S: dict[str, float] = {
    "prices": 300.0,
    "liquidations": 900.0,
    "funding": 4.5 * 86400.0,
}
ALERT_STATE_NAMES: dict[int, str] = {0: "ok", 1: "pending", 2: "warning", 3: "critical"}
P = "shockwatch_producer_"


@dataclass(frozen=True, slots=True)
class Scrape:
    """One job's /metrics at ``at_s`` (wall clock): its samples, or why there are none."""

    job: str
    url: str
    at_s: float
    samples: Samples | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LatestAlert:
    """The newest record on shock.alerts (``shockwatch.local.status_io.latest_alert``)."""

    state: str  # firing | resolved
    severity: str
    ts_ms: int
    started_ts_ms: int
    regime: str
    headline: str


@dataclass(frozen=True, slots=True)
class Lag:
    """The worker's consumer group on the input topics: messages not yet committed."""

    group: str
    total: int | None = None
    by_topic: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobRow:
    job: str
    url: str
    state: str  # up | down
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FeedRow:
    feed: str
    venue: str  # a venue or provider; "-" for the worker's view of the whole feed
    state: str  # ok | stale | waiting | disconnected | down | errors
    connected: bool | None
    age_s: float | None
    rate_per_s: float | None
    events: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WorkerView:
    state: str  # up | down
    reason: str
    watermark_s: float | None  # event time of the newest signal
    lag: Lag | None
    feeds: list[FeedRow]


@dataclass(frozen=True, slots=True)
class ScoreView:
    score: float | None
    components: dict[str, tuple[float | None, float | None]]  # name -> (points, stress)
    breadth: float | None
    regime: str | None
    alert_state: str | None


@dataclass(frozen=True, slots=True)
class AlertView:
    state: str  # ok | pending | warning | critical | unknown
    since_ms: int | None
    headline: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class StatusView:
    at_s: float
    jobs: list[JobRow]
    producers: list[FeedRow]
    worker: WorkerView
    score: ScoreView
    alert: AlertView
    links: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return _clean(asdict(self))


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


# -- parsing ----------------------------------------------------------------------------------
def parse_metrics(text: str) -> Samples:
    """Prometheus text exposition -> {sample name: [(labels, value), ...]}.

    Raises ValueError on text that is not the exposition format."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return samples


def _series(samples: Samples | None, name: str) -> list[tuple[Labels, float]]:
    return [] if samples is None else samples.get(name, [])


def _value(samples: Samples | None, name: str, **match: str) -> float | None:
    for labels, value in _series(samples, name):
        if all(labels.get(k) == v for k, v in match.items()):
            return None if math.isnan(value) else value
    return None


def _by(samples: Samples | None, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    """Sum of ``name`` grouped by the label ``keys``."""
    out: dict[tuple[str, ...], float] = {}
    for labels, value in _series(samples, name):
        if math.isnan(value):
            continue
        key = tuple(labels.get(k, "") for k in keys)
        out[key] = out.get(key, 0.0) + value
    return out


def _rate(
    now: Mapping[tuple[str, ...], float],
    before: Mapping[tuple[str, ...], float],
    key: tuple[str, ...],
    dt_s: float,
) -> float | None:
    if dt_s <= 0 or key not in now or key not in before:
        return None
    return max(now[key] - before[key], 0.0) / dt_s


def _top_reason(samples: Samples | None, name: str, label: str, key: tuple[str, str]) -> str:
    """The most frequent value of ``label`` of counter ``name`` for (feed, venue) ``key``."""
    counts = {
        labels.get(label, ""): value
        for labels, value in _series(samples, name)
        if (labels.get("feed"), labels.get("venue")) == key and value > 0
    }
    if not counts:
        return ""
    top = max(counts, key=lambda k: counts[k])
    return f"{top} x{counts[top]:.0f}"


# -- the view ---------------------------------------------------------------------------------
def feed_state(feed: str, connected: bool | None, age_s: float | None, errors: str) -> str:
    if connected is False:
        return "disconnected"
    if age_s is None:
        return "errors" if errors else "waiting"
    if age_s > STALE_AFTER_S.get(feed, 900.0):
        return "stale"
    return "ok"


def producer_rows(scrape: Scrape, previous: Scrape | None, now_s: float) -> list[FeedRow]:
    """One row per (feed, venue) a producer reports; one "down" row when it cannot be read."""
    if scrape.samples is None:
        return [FeedRow(scrape.job, "-", "down", None, None, None, None, scrape.error or "")]
    s = scrape.samples
    records = _by(s, P + "records_total", "feed", "venue")
    messages = _by(s, P + "messages_total", "feed", "venue")
    last = _by(s, P + "last_event_timestamp_seconds", "feed", "venue")
    connected = _by(s, P + "connected", "feed", "venue")
    errors = _by(s, P + "poll_errors_total", "feed", "venue")
    reconnects = _by(s, P + "reconnects_total", "feed", "venue")
    keys = sorted({*records, *messages, *last, *connected, *errors, *reconnects})
    before = _by(previous.samples, P + "records_total", "feed", "venue") if previous else {}
    dt = scrape.at_s - previous.at_s if previous else 0.0
    rows: list[FeedRow] = []
    for key in keys:
        fv = (key[0], key[1])
        reason = _top_reason(s, P + "poll_errors_total", "error", fv) or _top_reason(
            s, P + "reconnects_total", "reason", fv
        )
        up = connected.get(key)
        conn = None if up is None else up >= 1.0
        ts = last.get(key)
        age = max(now_s - ts, 0.0) if ts else None
        rows.append(
            FeedRow(
                feed=key[0],
                venue=key[1],
                state=feed_state(key[0], conn, age, reason),
                connected=conn,
                age_s=age,
                rate_per_s=_rate(records, before, key, dt),
                events=records.get(key),
                reason=reason,
            )
        )
    if not rows:
        rows.append(FeedRow(scrape.job, "-", "waiting", None, None, None, None, "no events yet"))
    return rows


def worker_view(
    scrape: Scrape | None, previous: Scrape | None, lag: Lag | None, now_s: float
) -> WorkerView:
    """The worker's own view: each feed as it sees it, its watermark and its lag."""
    if scrape is None or scrape.samples is None:
        reason = "not running" if scrape is None else scrape.error or ""
        return WorkerView("down", reason, None, lag, [])
    s = scrape.samples
    processed = _by(s, "shockwatch_events_processed_total", "feed")
    last = _by(s, "shockwatch_last_event_timestamp_seconds", "feed")
    before = _by(previous.samples, "shockwatch_events_processed_total", "feed") if previous else {}
    dt = scrape.at_s - previous.at_s if previous else 0.0
    feeds = []
    for feed in FEEDS:
        ts = last.get((feed,))
        age = max(now_s - ts, 0.0) if ts else None
        feeds.append(
            FeedRow(
                feed,
                "-",
                feed_state(feed, None, age, ""),
                None,
                age,
                _rate(processed, before, (feed,), dt),
                processed.get((feed,)),
            )
        )
    signal = [v for _, v in _series(s, "shockwatch_last_signal_timestamp_seconds")]
    watermark = max(signal) if signal else None
    return WorkerView("up", "", watermark, lag, feeds)


def score_view(scrape: Scrape | None, scope: str = "global") -> ScoreView:
    s = scrape.samples if scrape is not None else None
    points = _by(s, "shockwatch_score_component_points", "component")
    stress = _by(s, "shockwatch_score_component_stress_ratio", "component")
    components = {k[0]: (points.get(k), stress.get(k)) for k in sorted({*points, *stress}, key=str)}
    regime = next(
        (
            labels.get("regime")
            for labels, v in _series(s, "shockwatch_regime")
            if labels.get("scope") == scope and v >= 1.0
        ),
        None,
    )
    state = _value(s, "shockwatch_alert_state", scope=scope)
    return ScoreView(
        score=_value(s, "shockwatch_composite_score", scope=scope),
        components=components,
        breadth=_value(s, "shockwatch_breadth_ratio", scope=scope),
        regime=regime,
        alert_state=None if state is None else ALERT_STATE_NAMES.get(int(state), "unknown"),
    )


def alert_view(score: ScoreView, latest: LatestAlert | None, kafka_error: str | None) -> AlertView:
    """The current alert: the worker's state (its gauge) with since when (shock.alerts)."""
    state = score.alert_state or "unknown"
    if latest is None:
        note = f"no alert read: {kafka_error}" if kafka_error else "no alert on shock.alerts yet"
        return AlertView(state, None, "", note)
    if latest.state == "firing":
        current = latest.severity if state in ("unknown", "ok", "pending") else state
        return AlertView(current, latest.started_ts_ms, latest.headline)
    return AlertView(state, latest.ts_ms, latest.headline, "last alert resolved")


def build_view(
    scrapes: Mapping[str, Scrape],
    previous: Mapping[str, Scrape],
    lag: Lag | None,
    latest: LatestAlert | None,
    kafka_error: str | None,
    links: Mapping[str, str],
    now_s: float,
) -> StatusView:
    """The whole view from one round of scrapes (``previous``: the round before, for rates)."""
    jobs = [
        JobRow(job, sc.url, "up" if sc.samples is not None else "down", sc.error or "")
        for job, sc in scrapes.items()
    ]
    producers: list[FeedRow] = []
    for feed in FEEDS:
        if feed in scrapes:
            producers += producer_rows(scrapes[feed], previous.get(feed), now_s)
    worker = scrapes.get("worker")
    score = score_view(worker)
    return StatusView(
        at_s=now_s,
        jobs=jobs,
        producers=producers,
        worker=worker_view(worker, previous.get("worker"), lag, now_s),
        score=score,
        alert=alert_view(score, latest, kafka_error),
        links=dict(links),
    )


__all__ = ["Lag", "LatestAlert", "Scrape", "StatusView", "build_view", "parse_metrics"]
