"""Where normalised records go: Kafka (idempotent, acks=all, bounded) or stdout (``--dry-run``).

``KafkaSink``
- one ``AIOKafkaProducer`` with ``enable_idempotence=True`` and ``acks="all"``;
- a bounded ``asyncio.Queue``: ``send`` waits when it is full, so a slow broker slows the feed
  down instead of growing memory;
- one sender task drains the queue in rounds, packs each round into per-partition batches
  (``create_batch``/``send_batch``: several times faster than a ``send`` per record) and waits
  for the acknowledgements. A batch the broker did not take is re-sent after a backoff, before
  anything newer: records are never dropped, and ``flush`` returns only when all are acked;
- heartbeats (``streams.records.Heartbeat``) to every partition of the topic when it has been
  idle for ``heartbeat_s``: the detection worker's event-time watermark needs them;
- a broker that cannot be reached at start raises ``KafkaUnavailable`` (the CLI exits 1);
- a topic this principal may not write (an ACL is missing) is reported as such, once per
  topic and then at most every 30 s, naming the principal and the topic (``refusals``); its
  records wait for an operator to grant the ACL, like any other record Kafka did not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import orjson

from common.backoff import calculate_backoff
from common.kafka import KafkaUnavailable, aiokafka_config, is_authorization_error, not_authorized
from common.log import retry_logger
from common.settings import Settings
from producers.config import ProducerSettings
from producers.metrics import ProducerMetrics, default_metrics
from producers.watermark import EventClock, heartbeat_due, heartbeat_tick_s
from streams.dlq import dead_letter
from streams.records import InvalidValue, RecordError
from streams.records.inputs import heartbeat_messages
from streams.topics import TopicNames

log = logging.getLogger(__name__)
retry_log = retry_logger(__name__)

SENDER_BACKOFF_CAP_S = 10.0


def _lost_producer_state(exc: BaseException) -> bool:
    """The idempotent producer's sequence state no longer matches the broker's: after a long
    outage (measured: a 60 s broker stop at 2,000 events/s) every later batch of the partition
    gets ``OutOfOrderSequenceNumber``, whatever the record. The producer is at fault, not the
    record: a new producer (a new producer id, sequences from 0) re-sends it."""
    from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, ProducerFenced

    return isinstance(exc, OutOfOrderSequenceNumber | InvalidProducerEpoch | ProducerFenced)


def _is_rejection(exc: BaseException) -> bool:
    """The broker (or client) refuses this record for good: retrying cannot help.

    Timeouts and unreachable brokers are not rejections (retried, never dropped), nor are
    authorization errors (an operator fixes the ACLs; the records wait), nor a producer that
    lost its sequence state (``_lost_producer_state``: a new producer re-sends the record).
    """
    from aiokafka.errors import BrokerResponseError, RecordTooLargeError

    if isinstance(exc, RecordTooLargeError):
        return True
    if _lost_producer_state(exc):
        return False
    if isinstance(exc, BrokerResponseError):
        return not exc.retriable and "Authorization" not in type(exc).__name__
    return False


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Keyed(Protocol):
    ts_ms: int

    @property
    def key(self) -> str: ...

    def encode(self) -> bytes: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class OutMessage:
    topic: str
    key: bytes | None
    value: bytes
    ts_ms: int
    partition: int | None = None


class Sink(Protocol):
    """Where a feed's records go. ``close(final_heartbeat=True)`` ends a run: what is queued
    (or held) is sent, then, where the sink heartbeats, a last watermark at the newest event
    time so the worker can close the run's last minute; every sink takes the flag."""

    async def start(self) -> None: ...
    async def send(self, topic: str, record: Keyed) -> None: ...
    async def dead_letter(
        self, topic: str, raw: bytes, error: RecordError, source: str, key: str | None = None
    ) -> None: ...
    async def heartbeat(self, topic: str, ts_ms: int | None = None) -> None: ...
    async def flush(self) -> None: ...
    async def close(self, final_heartbeat: bool = False) -> None: ...


class DryRunSink:
    """``--dry-run``: one JSON object per line on stdout; dead letters on stderr."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.sent = 0
        self.dead = 0

    async def start(self) -> None:
        return None

    async def send(self, topic: str, record: Keyed) -> None:
        self.out.write(orjson.dumps(record.to_dict()).decode() + "\n")
        self.sent += 1

    async def dead_letter(
        self, topic: str, raw: bytes, error: RecordError, source: str, key: str | None = None
    ) -> None:
        letter = dead_letter(
            source_topic=topic,
            value=raw,
            error=error,
            source=source,
            key=key.encode() if key else None,
        )
        self.err.write(orjson.dumps({"dead_letter": letter.to_dict()}).decode() + "\n")
        self.dead += 1

    async def heartbeat(self, topic: str, ts_ms: int | None = None) -> None:
        return None

    async def flush(self) -> None:
        self.out.flush()

    async def close(self, final_heartbeat: bool = False) -> None:
        await self.flush()  # no heartbeats on stdout


class KafkaSink:
    def __init__(
        self,
        settings: Settings,
        psettings: ProducerSettings,
        *,
        client_id: str,
        source: str,
        heartbeat_topics: Sequence[str] = (),
        clock_lag_ms: int = 0,
        wall_clock_start: bool = True,
        metrics: ProducerMetrics | None = None,
        producer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.ps = psettings
        self.client_id = client_id
        self.source = source
        self.metrics = metrics or default_metrics()
        self.heartbeat_topics = tuple(heartbeat_topics)
        self.clocks = {
            t: EventClock(clock_lag_ms, wall_clock_start=wall_clock_start)
            for t in self.heartbeat_topics
        }
        self._overrides = producer_overrides or {}
        self._queue: asyncio.Queue[OutMessage] = asyncio.Queue(maxsize=psettings.queue_max)
        self._producer: Any = None
        self._partitions: dict[str, list[int]] = {}
        self._last_send: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.sent = 0
        self.failed_attempts = 0
        self.heartbeats_sent = 0
        self.refused = 0
        self.dropped = 0
        # topic -> how Kafka refused this principal writing to it (the newest refusal)
        self.refusals: dict[str, str] = {}
        self._partitioner: Any = None
        self._own_producer = False
        self._renew = False  # the producer lost its sequence state: replace it before re-sending
        self.renewals = 0

    # -- life cycle --------------------------------------------------------------------------
    async def start(self, producer: Any = None) -> None:
        """Connect (or use ``producer``: anything with aiokafka's producer interface, which is
        how the tests stand in a stalling or failing broker)."""
        from aiokafka.errors import KafkaError
        from aiokafka.partitioner import DefaultPartitioner

        self._partitioner = DefaultPartitioner()
        if producer is not None:
            self._producer = producer
            for topic in self.heartbeat_topics:
                await self._refresh_partitions(topic)
        else:
            cfg = aiokafka_config(self.settings)  # KafkaUnavailable when nothing is configured
            self._own_producer = True
            self._producer = self._new_producer(cfg)
            try:
                await asyncio.wait_for(self._producer.start(), timeout=self.ps.start_timeout_s)
                for topic in self.heartbeat_topics:
                    await self._refresh_partitions(topic)
            except (TimeoutError, KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await self._producer.stop()
                raise KafkaUnavailable(
                    f"cannot reach Kafka at {cfg['bootstrap_servers']} within "
                    f"{self.ps.start_timeout_s:.0f} s ({type(exc).__name__}); is the broker up "
                    "(`shockwatch kafka status`) and SHOCKWATCH_KAFKA_BOOTSTRAP right?"
                ) from exc
        now = time.monotonic()
        for topic in self.heartbeat_topics:
            self._last_send[topic] = now
        self._tasks.append(asyncio.create_task(self._sender(), name=f"{self.client_id}-sender"))
        if self.heartbeat_topics and self.ps.heartbeat_s > 0:
            self._tasks.append(
                asyncio.create_task(self._heartbeats(), name=f"{self.client_id}-heartbeats")
            )

    def _new_producer(self, cfg: dict[str, Any] | None = None) -> Any:
        """A producer over ``cfg``, else the client configuration read afresh (a renewal)."""
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(
            **(cfg if cfg is not None else aiokafka_config(self.settings)),
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=self.ps.linger_ms,
            max_batch_size=self.ps.max_batch_bytes,
            request_timeout_ms=self.ps.request_timeout_ms,
            retry_backoff_ms=200,
            **self._overrides,
        )

    async def _renew_producer(self) -> None:
        """Replace a producer that lost its sequence state (``_lost_producer_state``). Called
        between rounds, when none of its batches is in flight; a broker still away leaves the
        flag set and the next round tries again."""
        if not self._own_producer:
            self._renew = False  # a stand-in producer (tests): nothing to renew
            return
        old, new = self._producer, self._new_producer()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.stop(), timeout=self.ps.request_timeout_ms / 1000)
        try:
            await asyncio.wait_for(new.start(), timeout=self.ps.start_timeout_s)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await new.stop()
            self._producer = old  # stopped; the next round fails fast and renews again
            retry_log.warning("new Kafka producer not started yet (%s)", type(exc).__name__)
            return
        self._producer, self._renew = new, False
        self.renewals += 1
        log.warning("Kafka producer renewed (lost sequence state); re-sending its records")

    async def close(self, final_heartbeat: bool = False) -> None:
        """Flush (bounded by ``close_timeout_s``), then stop. Idempotent."""
        if self._closed or self._producer is None:
            return
        self._closed = True
        if final_heartbeat:
            for topic in self.heartbeat_topics:
                clock = self.clocks[topic]
                if clock.max_ts is not None:
                    await self.heartbeat(topic, clock.max_ts)
        try:
            await asyncio.wait_for(self.flush(), timeout=self.ps.close_timeout_s)
        except TimeoutError:
            log.error(
                "%d record(s) not acknowledged by Kafka within %.0f s of shutdown",
                self._queue.qsize(),
                self.ps.close_timeout_s,
            )
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._producer.stop()

    async def __aenter__(self) -> KafkaSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending -----------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        return self._queue.qsize()

    async def send(self, topic: str, record: Keyed) -> None:
        clock = self.clocks.get(topic)
        if clock is not None:
            clock.observe(record.ts_ms)
        self._last_send[topic] = time.monotonic()
        await self._put(OutMessage(topic, record.key.encode(), record.encode(), record.ts_ms))

    async def send_raw(
        self, topic: str, value: bytes, key: bytes | None, ts_ms: int, partition: int | None = None
    ) -> None:
        await self._put(OutMessage(topic, key, value, ts_ms, partition))

    async def dead_letter(
        self, topic: str, raw: bytes, error: RecordError, source: str, key: str | None = None
    ) -> None:
        k = key.encode() if key else None
        letter = dead_letter(source_topic=topic, value=raw, error=error, source=source, key=k)
        await self._put(OutMessage(TopicNames.dlq(topic), k, letter.encode(), letter.ts_ms))

    async def heartbeat(self, topic: str, ts_ms: int | None = None) -> None:
        """A watermark to every partition of ``topic`` (now, or at ``ts_ms``)."""
        clock = self.clocks.get(topic)
        if ts_ms is None:
            ts_ms = clock.watermark() if clock is not None else int(time.time() * 1000)
            if ts_ms is None:
                return
        if clock is not None:
            clock.mark(ts_ms)
        partitions = self._partitions.get(topic) or await self._refresh_partitions(topic)
        for partition, key, value in heartbeat_messages(ts_ms, self.source, partitions):
            await self._put(OutMessage(topic, key, value, ts_ms, partition))
        self._last_send[topic] = time.monotonic()
        self.heartbeats_sent += len(partitions)
        self.metrics.heartbeats.labels(topic).inc(len(partitions))

    async def flush(self) -> None:
        """Return when everything queued so far has been acknowledged by the broker."""
        await self._queue.join()

    async def _put(self, msg: OutMessage) -> None:
        if self._closed and not self._tasks:
            raise RuntimeError("sink is closed")
        await self._queue.put(msg)
        self.metrics.buffered.set(self._queue.qsize())

    # -- internals ---------------------------------------------------------------------------
    async def _refresh_partitions(self, topic: str) -> list[int]:
        parts = sorted(await self._producer.partitions_for(topic) or [0])
        self._partitions[topic] = parts
        return parts

    def _partition_of(self, msg: OutMessage) -> int:
        if msg.partition is not None:
            return msg.partition
        parts = self._partitions[msg.topic]
        return int(self._partitioner(msg.key, parts, parts))

    async def _heartbeats(self) -> None:
        tick = heartbeat_tick_s(self.ps.heartbeat_s)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for topic in self.heartbeat_topics:
                if heartbeat_due(now, self._last_send.get(topic, now), self.ps.heartbeat_s):
                    try:
                        await self.heartbeat(topic)
                    except Exception as exc:  # metadata while the broker is away
                        retry_log.warning("heartbeat to %s deferred: %s", topic, exc)
                        self._last_send[topic] = now

    async def _sender(self) -> None:
        pending: list[OutMessage] = []
        attempt = 0
        while True:
            if not pending:
                pending.append(await self._queue.get())
                while len(pending) < self.ps.send_round_max:
                    try:
                        pending.append(self._queue.get_nowait())
                    except asyncio.QueueEmpty:
                        break
            try:
                failed = await self._send_round(pending)
            except Exception:  # a bug must not kill the sender silently (flush would hang)
                log.exception("send round failed; re-sending %d record(s)", len(pending))
                failed = pending
            delivered = len(pending) - len(failed)
            for _ in range(delivered):
                self._queue.task_done()
            self.sent += delivered
            self.metrics.buffered.set(self._queue.qsize() + len(failed))
            if failed:
                self.failed_attempts += 1
                if self._renew:
                    await self._renew_producer()
                delay = calculate_backoff(attempt, cap_s=SENDER_BACKOFF_CAP_S)
                attempt += 1
                log.warning(
                    "Kafka did not take %d record(s); re-sending in %.1f s (attempt %d)",
                    len(failed),
                    delay,
                    attempt,
                )
                await asyncio.sleep(delay)
            else:
                attempt = 0
            pending = failed

    async def _send_round(self, msgs: list[OutMessage]) -> list[OutMessage]:
        """Send ``msgs``; return those to try again (transient failures), in their order.

        A batch the broker refuses outright (``_is_rejection``) is split into single records
        so one bad record cannot block the others; a single refused record goes to the
        dead-letter topic instead.
        """
        try:
            for topic in {m.topic for m in msgs} - self._partitions.keys():
                await self._refresh_partitions(topic)
        except Exception as exc:
            return self._no_metadata(msgs, exc)
        groups: dict[tuple[str, int], list[OutMessage]] = {}
        for m in msgs:
            groups.setdefault((m.topic, self._partition_of(m)), []).append(m)
        retry: list[OutMessage] = []
        for chunk, exc in await self._send_groups(list(groups.items())):
            if exc is None:
                continue
            if not _is_rejection(exc):
                retry.extend(chunk)
                continue
            singles = [((m.topic, self._partition_of(m)), [m]) for m in chunk]
            results = await self._send_groups(singles) if len(chunk) > 1 else [(chunk, exc)]
            for single, error in results:
                if error is None:
                    continue
                if _is_rejection(error):
                    await self._dead_letter_refused(single[0], error)
                else:
                    retry.extend(single)
        if not retry:
            return []
        again = {id(m) for m in retry}
        return [m for m in msgs if id(m) in again]

    async def _send_groups(
        self, groups: list[tuple[tuple[str, int], list[OutMessage]]]
    ) -> list[tuple[list[OutMessage], BaseException | None]]:
        sent: list[tuple[Any, list[OutMessage]]] = []
        out: list[tuple[list[OutMessage], BaseException | None]] = []
        for (topic, partition), group in groups:
            for chunk_msgs, batch in self._batches(group):
                try:
                    fut = await self._producer.send_batch(batch, topic, partition=partition)
                except Exception as exc:
                    out.append((chunk_msgs, exc))
                    continue
                # A round cut short (close) leaves its futures: their failure is seen here, not
                # printed at exit as "Future exception was never retrieved" with a traceback.
                fut.add_done_callback(_retrieve)
                sent.append((fut, chunk_msgs))
        results = await asyncio.gather(*(f for f, _ in sent), return_exceptions=True)
        for result, (_, chunk_msgs) in zip(results, sent, strict=True):
            if isinstance(result, BaseException):
                out.append((chunk_msgs, result))
            else:
                out.append((chunk_msgs, None))
                self.metrics.sent.labels(chunk_msgs[0].topic).inc(len(chunk_msgs))
        for chunk_msgs, error in out:
            if error is not None:
                log.debug("Kafka refused %d record(s): %r", len(chunk_msgs), error)
                self.metrics.send_failures.labels(chunk_msgs[0].topic).inc(len(chunk_msgs))
                if is_authorization_error(error):
                    self._not_authorized(chunk_msgs[0].topic, error, len(chunk_msgs))
                elif _lost_producer_state(error):
                    self._renew = True
        return out

    def _no_metadata(self, msgs: list[OutMessage], exc: BaseException) -> list[OutMessage]:
        if is_authorization_error(exc):
            for topic in {m.topic for m in msgs} - self._partitions.keys():
                self._not_authorized(topic, exc, sum(m.topic == topic for m in msgs))
        else:
            retry_log.warning("no metadata from Kafka (%s)", type(exc).__name__)
        for m in msgs:
            self.metrics.send_failures.labels(m.topic).inc()
        return msgs

    def _not_authorized(self, topic: str, error: BaseException, records: int) -> None:
        """No ACL lets this principal write ``topic``: say so plainly (no traceback); the
        records wait (rate-limited: once, then every 30 s while it lasts)."""
        message = not_authorized(self.settings, topic, "WRITE", error)
        self.refusals[topic] = message
        # one line per topic (the rate limit keys on it): the message itself, not a template
        retry_log.error(f"{message}; {'its records wait' if records else 'nothing sent'}")

    async def _dead_letter_refused(self, m: OutMessage, error: BaseException) -> None:
        """The broker refuses this record for good: keep it in the DLQ (or, for a refused dead
        letter, log it: the only record this sink ever gives up on)."""
        log.error("Kafka refused a record for %s: %s", m.topic, error)
        if m.topic.endswith(".dlq"):
            self.dropped += 1
            return
        letter = dead_letter(
            source_topic=m.topic,
            value=m.value,
            error=InvalidValue("$", f"refused by Kafka: {error}"),
            source=self.source,
            key=m.key,
        )
        dlq = TopicNames.dlq(m.topic)
        try:
            if dlq not in self._partitions:
                await self._refresh_partitions(dlq)
            msg = OutMessage(dlq, m.key, letter.encode(), letter.ts_ms)
            [(_, exc)] = await self._send_groups([((dlq, self._partition_of(msg)), [msg])])
        except Exception as exc2:
            exc = exc2
        if exc is not None:
            log.error("and its dead letter was refused too (%s): record dropped", exc)
            self.dropped += 1
        else:
            self.refused += 1

    def _batches(self, msgs: list[OutMessage]) -> list[tuple[list[OutMessage], Any]]:
        out: list[tuple[list[OutMessage], Any]] = []
        batch = self._producer.create_batch()
        members: list[OutMessage] = []
        for m in msgs:
            if batch.append(key=m.key, value=m.value, timestamp=m.ts_ms) is None:
                if not members:
                    raise ValueError(f"record of {len(m.value)} bytes exceeds max_batch_bytes")
                batch.close()
                out.append((members, batch))
                batch = self._producer.create_batch()
                members = []
                if batch.append(key=m.key, value=m.value, timestamp=m.ts_ms) is None:
                    raise ValueError(f"record of {len(m.value)} bytes exceeds max_batch_bytes")
            members.append(m)
        if members:
            batch.close()
            out.append((members, batch))
        return out
