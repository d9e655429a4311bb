"""The detection worker's parts, composed into a faust app by ``streams.app``.

- ``runtime``: the detector with what the input stage needs around it (decode, validate,
  file, tick; dead letters, per-batch metrics, the checkpoint codec): plain Python, no Kafka;
- ``clients``: the stages' Kafka clients (input consumer, output producer), the active/standby
  assignor, and reading the newest checkpoint back from the state topic;
- ``stages``: the consumer loops: the input stage (``Topology``: batches, outputs,
  checkpoints, rebalances, idle partitions) and the scale-out shard stage (``ShardStage``).

Each imports only the ones before it (and the contracts, the detection core, ``common``);
nothing here imports ``streams.app``.
"""

# The worker's log lines keep the logger name they had when all of this was ``streams/app.py``:
# it is in every line's output (log queries key on it) and in the rate limiter's keys.
LOGGER = "streams.app"
