"""The stages' Kafka clients: how a stage reads, writes and finds its state.

``input_consumer`` and ``output_producer`` (a stage's consumer and producer, configured for
big batches and acknowledged outputs), ``ActiveStandbyAssignor`` (every input partition to one
member of the group, the others stand by) and ``read_checkpoint`` (the newest checkpoint of a
scope, read back from the state topic to its end).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

from common.kafka import (
    BATCH_MAX_RECORDS,
    BULK_FETCH,
    OUTPUT_BATCH_BYTES,
    OUTPUT_LINGER_MS,
    aiokafka_config,
)
from common.settings import Settings
from streams.topics import TopicNames

READ_STATE_TIMEOUT_S = 60.0  # reading the newest checkpoint back, at most


class CheckpointUnreadable(RuntimeError):
    """The state topic could not be read to its end: not the same as "no checkpoint"."""


async def read_checkpoint(
    settings: Settings, names: TopicNames, scope: str, timeout_s: float = READ_STATE_TIMEOUT_S
) -> bytes | None:
    """The newest checkpoint for ``scope`` on the state topic; None only when it holds none.

    Reads the tail (then further back if the scope's newest is not there) always up to the end
    offset. A read that cannot get there in ``timeout_s`` raises ``CheckpointUnreadable``: a
    slow fetch taken for "no checkpoint" would start an empty detector at the committed offsets
    and lose the history (it did, under load: the standby fault test scored differently)."""
    consumer = AIOKafkaConsumer(**aiokafka_config(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(names.state, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        key = scope.encode()
        deadline = time.monotonic() + timeout_s
        for window in (50, 5000, None):
            start = 0 if window is None else max(0, end - window)
            consumer.seek(tp, start)
            latest: bytes | None = None
            while await consumer.position(tp) < end:
                if time.monotonic() > deadline:
                    raise CheckpointUnreadable(
                        f"{names.state} not read to its end ({end}) within {timeout_s:.0f} s"
                    )
                batch = await consumer.getmany(tp, timeout_ms=500)
                for msg in batch.get(tp, []):
                    if msg.key == key and msg.offset < end:
                        latest = msg.value
            if latest is not None or start == 0:
                return latest
        return None
    finally:
        await consumer.stop()


class ActiveStandbyAssignor(AbstractPartitionAssignor):
    """Every input partition to one member of the group; the others stand by.

    Detection is global (the watermark is the minimum over all input partitions), so one
    worker must see every partition. A second worker in the same group is a hot standby: when
    the active one dies, its session expires, the group rebalances and the standby restores
    the last checkpoint and carries on from the committed offsets. The member that already
    holds the work keeps it (it says so in its join metadata), so a standby joining does not
    move the work."""

    name = "shockwatch-active-standby"
    version = 0

    def __init__(self) -> None:
        self.active = False

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(
            self.version, sorted(topics), b"active" if self.active else b""
        )

    def assign(
        self, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        ids = sorted(members)
        holders = [m for m in ids if members[m].user_data == b"active"]
        chosen = (holders or ids)[0]
        topics: set[str] = set()
        for meta in members.values():
            topics.update(meta.subscription)
        everything = sorted(
            (t, sorted(cluster.partitions_for_topic(t) or ()))
            for t in topics
            if cluster.partitions_for_topic(t)
        )
        return {
            m: ConsumerProtocolMemberAssignment(
                self.version, everything if m == chosen else [], b""
            )
            for m in ids
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        self.active = bool(assignment.partitions())


def output_producer(settings: Settings) -> AIOKafkaProducer:
    """A stage's producer: idempotent, every output acknowledged by the in-sync replicas."""
    return AIOKafkaProducer(
        **aiokafka_config(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=OUTPUT_LINGER_MS,
        max_batch_size=OUTPUT_BATCH_BYTES,
    )


def input_consumer(settings: Settings, group_id: str, assignor: Any) -> AIOKafkaConsumer:
    """A stage's consumer: offsets committed by the stage only, big batches and fetches."""
    return AIOKafkaConsumer(
        **aiokafka_config(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH_MAX_RECORDS,
        **BULK_FETCH,
        session_timeout_ms=10_000,  # a dead member's partitions move on in ~10 s
        heartbeat_interval_ms=3_000,
        partition_assignment_strategy=(assignor,),
    )
