"""The funding producer: fetch FRED, the New York Fed and the Treasury; send what is new.

``run_once`` fetches the sources (preferred first), decides per observation against the state
(new / revision / unchanged / superseded), sends, waits for Kafka's acknowledgement, then
saves the state. Live, ``ts_ms`` is the fetch time (the value was public by then); a backfill
uses each date's estimated publication time (``series.publication_ms``). ``run`` polls each
source at its scheduled New York times on business days (``series.POLL_TIMES``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson

from producers.config import Endpoint, ProducerSettings
from producers.funding.parse import (
    Observation,
    Parsed,
    dts_pages,
    parse_dts,
    parse_fred_csv,
    parse_nyfed_repo,
    parse_nyfed_sofr,
)
from producers.funding.series import FRED_IDS, FundingSource, next_poll, rank
from producers.funding.state import Action, FundingState, decide
from producers.http import HttpClient
from producers.metrics import ProducerMetrics
from producers.plausibility import OncePerDay, check_funding
from producers.sink import Sink
from streams.records import FundingObservation, RecordError

log = logging.getLogger(__name__)

FEED = "funding"
SOURCE_ORDER = (FundingSource.NYFED, FundingSource.TREASURY, FundingSource.FRED)
NYFED_MAX_N = 1000
REPO_OPS_PER_DAY = 3  # morning and afternoon standing repo operations, and a margin
DTS_PAGE_SIZE = 1000  # rows per fiscal data page (4 rows a day since 2022: ~1 year a page)
DTS_MAX_PAGES = 100


@dataclass
class FundingStats:
    sent: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n


class FundingProducer:
    def __init__(
        self,
        *,
        sink: Sink,
        topic: str,
        ps: ProducerSettings,
        metrics: ProducerMetrics,
        state_path: Path | None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        http: HttpClient | None = None,
    ) -> None:
        self.sink = sink
        self.topic = topic
        self.ps = ps
        self.metrics = metrics
        self.state = FundingState(state_path)
        self.clock_ms = clock_ms
        self.http = http or HttpClient(
            timeout_s=ps.http_timeout_s,
            attempts=ps.http_attempts,
            min_rate_limit_s=ps.rate_limit_min_s,
            backoff_base_s=min(1.0, ps.rate_limit_min_s),
        )
        self.stats = FundingStats()
        self.implausible = OncePerDay()

    async def close(self) -> None:
        await self.http.close()

    # -- fetching ----------------------------------------------------------------------------
    def _base(self, endpoint: Endpoint) -> str:
        return (self.ps.endpoint(endpoint) or "").rstrip("/")

    async def fetch(self, source: FundingSource, since: date, *, strict: bool = False) -> Parsed:
        """One source's observations from ``since``: the window asked of the provider, and with
        ``strict`` (backfills) also a filter on the answer."""
        days = max(1, (date.fromtimestamp(self.clock_ms() / 1000) - since).days + 1)
        cut = since.isoformat() if strict else None
        window = since.isoformat()
        out = Parsed()
        if source is FundingSource.NYFED:
            n = min(NYFED_MAX_N, days)
            base = self._base(Endpoint.NYFED)
            doc = orjson.loads(await self.http.get(f"{base}/api/rates/secured/sofr/last/{n}.json"))
            out.extend(parse_nyfed_sofr(doc, since=cut))
            n = min(NYFED_MAX_N, days * REPO_OPS_PER_DAY)
            doc = orjson.loads(await self.http.get(f"{base}/api/rp/repo/all/results/last/{n}.json"))
            out.extend(parse_nyfed_repo(doc, window=n, since=cut))
        elif source is FundingSource.TREASURY:
            base = self._base(Endpoint.TREASURY)
            url = f"{base}/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"
            page, pages = 1, 1
            while page <= pages:  # a long backfill spans pages: follow meta.total-pages
                params = {
                    "filter": f"record_date:gte:{window}",
                    "sort": "-record_date",
                    "page[size]": str(DTS_PAGE_SIZE),
                    "page[number]": str(page),
                }
                doc = orjson.loads(await self.http.get(url, params))
                out.extend(parse_dts(doc, since=cut))
                pages = min(dts_pages(doc) or 1, DTS_MAX_PAGES)
                page += 1
        else:
            base = self._base(Endpoint.FRED)
            for fred_id in FRED_IDS:
                text = await self.http.get(
                    f"{base}/graph/fredgraph.csv", {"id": fred_id, "cosd": window}
                )
                out.extend(parse_fred_csv(text, fred_id, since=cut))
        return out

    # -- publishing --------------------------------------------------------------------------
    async def publish(self, observations: Iterable[Observation], *, live: bool) -> int:
        """Send what is new or revised (preferred sources first); returns the count sent."""
        now = self.clock_ms()
        sent = 0
        ordered = sorted(
            observations,
            key=lambda o: (o.series, o.observation_date, rank(o.series, o.source)),
        )
        for obs in ordered:
            prev = self.state.get(obs.series, obs.observation_date)
            action, revision = decide(prev, obs)
            self.stats.count(self.stats.actions, action.value)
            if action in (Action.UNCHANGED, Action.SUPERSEDED):
                reason = "already_sent" if action is Action.UNCHANGED else "superseded"
                self.metrics.skipped.labels(FEED, obs.source.value, reason).inc()
                if action is Action.UNCHANGED and prev is not None and prev.source != obs.source:
                    self.state.put(obs, revision)  # the preferred source now owns the date
                continue
            ts = now if live else min(now, obs.published_ms)
            implausible = check_funding(obs.series, obs.value)
            if implausible is not None:
                # never published, never remembered: a corrected value is sent when it comes
                self.implausible.warn(
                    obs.series, now, "funding %s %s from %s rejected: %s",
                    obs.series, obs.observation_date, obs.source.value, implausible.message,
                )  # fmt: skip
                await self._reject(obs.source, orjson.dumps(asdict(obs)), implausible)
                continue
            try:
                record = FundingObservation.from_dict(
                    {
                        "schema_version": 1,
                        "ts_ms": ts,
                        "source": obs.source.value,
                        "series": obs.series,
                        "observation_date": obs.observation_date,
                        "value": obs.value,
                        "unit": obs.unit.value,
                        "revision": revision,
                    }
                )
            except RecordError as exc:
                await self._reject(obs.source, orjson.dumps(asdict(obs)), exc)
                continue
            await self.sink.send(self.topic, record)
            self.state.put(obs, revision)
            sent += 1
            self.stats.count(self.stats.sent, obs.series)
            self.metrics.records.labels(FEED, obs.source.value).inc()
            self.metrics.last_event.labels(FEED, obs.source.value).set(ts / 1000)
        return sent

    async def _reject(self, source: FundingSource, raw: bytes, exc: RecordError) -> None:
        self.stats.rejects += 1
        self.metrics.rejects.labels(FEED, source.value, exc.reason).inc()
        await self.sink.dead_letter(self.topic, raw, exc, source.value)

    async def run_once(
        self,
        sources: Iterable[FundingSource] = SOURCE_ORDER,
        *,
        since: date | None = None,
        live: bool = True,
        commit: bool = True,
    ) -> int:
        """Fetch ``sources``, publish, and (after Kafka acked) save the state."""
        today = date.fromtimestamp(self.clock_ms() / 1000)
        strict = since is not None
        since = since or today - timedelta(days=self.ps.funding_lookback_days)
        observations: list[Observation] = []
        for source in sorted(set(sources), key=SOURCE_ORDER.index):
            self.metrics.messages.labels(FEED, source.value).inc()
            try:
                parsed = await self.fetch(source, since, strict=strict)
            except Exception as exc:
                error = type(exc).__name__
                self.stats.count(self.stats.errors, error)
                self.metrics.poll_failed(FEED, source.value, error)
                log.warning("funding source %s failed: %s: %s", source, error, exc)
                continue
            self.metrics.message_seen(FEED, source.value)
            for reason, n in parsed.skipped.items():
                self.stats.count(self.stats.skipped, reason, n)
                self.metrics.skipped.labels(FEED, source.value, reason).inc(n)
            for raw, exc in parsed.rejects:
                await self._reject(source, raw, exc)
            observations.extend(parsed.observations)
        sent = await self.publish(observations, live=live)
        await self.sink.flush()
        if commit:
            self.state.save()
        return sent

    async def backfill(self, since: date, *, commit: bool = True) -> int:
        return await self.run_once(since=since, live=False, commit=commit)

    # -- the schedule ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, commit: bool = True) -> FundingStats:
        """Poll every source once now, then each at its scheduled times, until ``stop``."""
        try:
            await self.run_once(commit=commit)
            while not stop.is_set():
                now = datetime.fromtimestamp(self.clock_ms() / 1000).astimezone()
                due = {s: next_poll(s, now) for s in SOURCE_ORDER}
                when = min(due.values())
                wait_s = max(0.0, (when - now).total_seconds())
                log.info(
                    "next funding poll at %s (%s)",
                    when.isoformat(),
                    ", ".join(s.value for s, t in due.items() if t == when),
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait_s)
                if stop.is_set():
                    break
                await self.run_once([s for s, t in due.items() if t == when], commit=commit)
        finally:
            await self.close()
        return self.stats
