"""The faust app: one factory, so the worker, replay and tests build the same topology.

Topology: an input stage hosted by the faust app reads the three input topics in ``getmany``
batches, decodes and validates each message with ``streams.records`` (rejects -> ``<topic>.dlq``
with the reason), files it into the ``Detector`` and sends what the ticks produce: a
``ShockSignal`` per event-time minute to ``shock.signals`` and each alert transition to
``shock.alerts``. One worker of a group is active, the others stand by (``ActiveStandbyAssignor``).

State: detection is global (every asset and venue at once), which does not fit faust's
co-partitioned Tables; the detector's whole state is checkpointed instead to the compacted
``shock.state`` topic (its changelog) together with the input offsets it covers. Offsets are
committed only after a checkpoint was acknowledged, so after a crash the worker restores the
checkpoint, re-reads from the committed offsets, and skips what the checkpoint already holds:
each event is applied exactly once and the same alerts fire (docs/architecture.md).

The parts it composes live in ``streams.worker`` (``runtime``: the detector runtime;
``clients``: the stages' Kafka clients and the checkpoint reader; ``stages``: the input and
shard stages); their names are re-exported here, so ``streams.app`` stays the one import for
the worker, replay, bench and tests.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
import mode
from faust.app.base import BootStrategy

from common.kafka import faust_config
from common.settings import Settings
from streams.detection.detector import TickOutput
from streams.topics import GroupNames, TopicNames
from streams.worker.clients import (
    READ_STATE_TIMEOUT_S,
    ActiveStandbyAssignor,
    CheckpointUnreadable,
    input_consumer,
    output_producer,
    read_checkpoint,
)
from streams.worker.runtime import (
    BatchResult,
    BatchStats,
    DetectorRuntime,
    MergeRuntime,
    MetricsSink,
    checkpoint_position,
    decode_checkpoint,
)
from streams.worker.stages import (
    CHECKPOINT_EVERY_S,
    POLL_TIMEOUT_MS,
    ShardStage,
    Stage,
    Topology,
)

__all__ = [
    "CHECKPOINT_EVERY_S",
    "POLL_TIMEOUT_MS",
    "READ_STATE_TIMEOUT_S",
    "ActiveStandbyAssignor",
    "BatchResult",
    "BatchStats",
    "CheckpointUnreadable",
    "DetectorRuntime",
    "HostApp",
    "InputService",
    "MergeRuntime",
    "MetricsSink",
    "ShardStage",
    "Stage",
    "Topology",
    "base_app",
    "checkpoint_position",
    "create_app",
    "decode_checkpoint",
    "input_consumer",
    "output_producer",
    "read_checkpoint",
    "run_worker",
    "trace_gc",
]

log = logging.getLogger(__name__)


class HostApp(faust.App):
    """A faust app whose own Kafka clients stay off: it hosts the input stage, which brings
    its consumer and producer (``Topology``), so faust does not join the group itself."""

    class BootStrategy(BootStrategy):
        enable_kafka = False


def base_app(settings: Settings, app_id: str, *, host_only: bool = False) -> faust.App:
    """A faust app configured for shockwatch's broker and serializers (``host_only``: without
    faust's own consumer and producer, see ``HostApp``; the stages configure their own clients,
    ``streams.worker.clients``, so no consumer or producer option is set here)."""
    datadir = settings.state_dir / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return (HostApp if host_only else faust.App)(
        app_id,
        **faust_config(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        # faust writes a data folder per app (default: ./<app_id>-data); keep it in our state.
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.input_partitions,
        topic_disable_leader=True,
    )


class InputService(mode.Service):
    """Runs the ``Topology`` inside the faust app's lifecycle (started and stopped with it)."""

    def __init__(self, topo: Topology | ShardStage, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topo = topo

    async def on_start(self) -> None:
        await self.topo.start()
        self.add_future(self.topo.run())

    async def on_stop(self) -> None:
        await self.topo.stop()


def trace_gc(threshold_ms: float) -> None:
    """Log every collector pass of at least ``threshold_ms`` with its generation: the worker's
    own pauses, for the bench to line up with slow ticks (``SHOCKWATCH_GC_TRACE_MS``)."""
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= threshold_ms:
            log.warning("gc pass: generation %d took %.1f ms", info["generation"], ms)

    gc.callbacks.append(on_gc)


def create_app(
    settings: Settings,
    *,
    app_id: str | None = None,
    prefix: str | None = None,
    metrics: MetricsSink | None = None,
    on_output: Callable[[TickOutput], None] | None = None,
) -> faust.App:
    """Build the worker's faust app for ``settings`` (own app id / topic prefix if given)."""
    names = TopicNames(settings.topic_prefix if prefix is None else prefix)
    app_id = app_id or settings.app_id
    app = base_app(settings, app_id, host_only=True)
    groups = GroupNames(app_id)
    stages: list[Topology | ShardStage] = []
    if settings.scale_out:
        # Stage one on every worker (the partitions shared out), the merge on one of them.
        shard = ShardStage(
            settings,
            names,
            DetectorRuntime(settings, names, metrics, shard_only=True),
            groups.shards,
        )
        runtime: DetectorRuntime = MergeRuntime(settings, names, metrics)
        topo = Topology(settings, names, runtime, groups.merge, on_output, topics=[names.summaries])
        stages = [shard, topo]
        app.shards = shard  # type: ignore[attr-defined]
    else:
        topo = Topology(
            settings, names, DetectorRuntime(settings, names, metrics), groups.detector, on_output
        )
        stages = [topo]
    app.shockwatch = topo  # type: ignore[attr-defined]

    @app.task
    async def start_input() -> None:
        # What startup built (faust, aiokafka, the modules: ~90k objects) lives as long as the
        # worker: frozen, the collector's full passes skip it. Measured: the first full pass
        # under load took 63 ms (an alert waits for it); frozen, 32 ms (docs/benchmarks.md).
        gc.freeze()
        if settings.gc_trace_ms > 0:
            trace_gc(settings.gc_trace_ms)
        for stage in stages:
            await app.add_runtime_dependency(InputService(stage, loop=app.loop, beacon=app.beacon))

    @app.timer(interval=CHECKPOINT_EVERY_S)
    async def idle_checkpoint() -> None:
        await topo.idle_checkpoint()

    return app


def run_worker(app: faust.App, loglevel: str = "WARNING") -> None:
    """Run the app as a faust worker in this process until SIGINT/SIGTERM."""
    from faust.worker import Worker

    from common.log import RateLimitFilter, RedactingFilter

    class RedactingWorker(Worker):
        """faust's worker installs its own root handlers; give each the redacting filter.
        No terminal spinner: a worker's output goes to log files and collectors, where the
        spinner wrote every log line a second time, wrapped in cursor escape codes."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.spinner = None

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            for handler in logging.getLogger().handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())
                if not any(isinstance(f, RateLimitFilter) for f in handler.filters):
                    handler.addFilter(RateLimitFilter())

    worker = RedactingWorker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
