"""A synchronous, idempotent Kafka publisher for tools (scenario loading, backfills).

``acks=all`` with idempotence on; in-flight futures are checked every 50,000 sends and at
``flush``, so a record the broker did not accept raises: it is never dropped silently.
Rejected input goes to ``<topic>.dlq`` through ``dead_letter``.
"""

from __future__ import annotations

import logging
from typing import Any

from common.kafka import KafkaUnavailable, kafka_python_config
from common.settings import Settings
from streams.dlq import dead_letter
from streams.records import RecordError, encode_frame
from streams.records.inputs import heartbeat_messages
from streams.topics import TopicNames

log = logging.getLogger(__name__)


class Publisher:
    def __init__(
        self, settings: Settings, client_id: str = "shockwatch-publisher", **overrides: Any
    ) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        cfg = kafka_python_config(settings)
        try:
            self._producer = KafkaProducer(
                **cfg,
                client_id=client_id,
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                batch_size=256 * 1024,
                max_block_ms=60_000,
                retries=2**31 - 1,
                **overrides,
            )
        except (KafkaError, OSError) as exc:
            raise KafkaUnavailable(
                f"cannot reach Kafka at {cfg['bootstrap_servers']} ({exc.__class__.__name__}); "
                "is the broker up (`shockwatch kafka status`)?"
            ) from exc
        self.settings = settings
        self._futures: list[tuple[str, Any]] = []
        self.sent = 0

    def send(
        self,
        topic: str,
        value: bytes,
        key: str | bytes | None,
        ts_ms: int | None,
        partition: int | None = None,
    ) -> None:
        """One message; ``partition`` None: the key's (Kafka's default partitioner)."""
        k = key.encode() if isinstance(key, str) else key
        future = self._producer.send(
            topic, value=value, key=k, partition=partition, timestamp_ms=ts_ms
        )
        self._futures.append((topic, future))
        self.sent += 1
        if len(self._futures) >= 50_000:
            self._check()

    def send_frame(self, topic: str, values: list[bytes], key: str, ts_ms: int) -> None:
        """Several records of one key in one message (a JSON array); timestamp = the newest."""
        self.send(topic, encode_frame(values) if len(values) > 1 else values[0], key, ts_ms)

    def send_dead_letter(
        self,
        topic: str,
        value: bytes,
        error: RecordError,
        source: str,
        key: bytes | None = None,
        **where: Any,
    ) -> None:
        letter = dead_letter(
            source_topic=topic, value=value, error=error, source=source, key=key, **where
        )
        self.send(TopicNames.dlq(topic), letter.encode(), key, letter.ts_ms)

    def heartbeat(self, topic: str, ts_ms: int, source: str) -> None:
        """Send a watermark to every partition of ``topic``: nothing older follows."""
        partitions = sorted(self._producer.partitions_for(topic) or {0})
        for partition, key, value in heartbeat_messages(ts_ms, source, partitions):
            self._futures.append(
                (
                    topic,
                    self._producer.send(
                        topic, value=value, key=key, partition=partition, timestamp_ms=ts_ms
                    ),
                )
            )

    def _check(self) -> None:
        from common.kafka import KafkaNotAuthorized, is_authorization_error, not_authorized

        futures, self._futures = self._futures, []
        for topic, future in futures:
            try:
                future.get(timeout=120)  # raises the broker's error: nothing is dropped silently
            except Exception as exc:
                if is_authorization_error(exc):  # an ACL is missing: say which, no traceback
                    raise KafkaNotAuthorized(
                        not_authorized(self.settings, topic, "WRITE", exc)
                    ) from None
                raise

    def flush(self) -> None:
        self._producer.flush()
        self._check()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
