"""`make bench`: every performance figure measured in one run, on one broker of its own.

Run it as ``python -m shockwatch.lab.bench`` (``__main__``: the arguments, the steps, ``--only``,
``--quick``, ``--long``). One module per figure family:

* ``core``: the pure detection core's cost per event, no Kafka;
* ``pipeline``: the transport-only, msgspec and json anchors and the pipeline over the same
  topics, their ratios;
* ``producer``: the liquidation normaliser + producer path (producers/);
* ``latency``: closing event -> signal/alert latency at a sustained rate (the load in a
  spawned process of its own), the suspects of a slow tick, alert -> Slack POST latency;
* ``replay``: the bundled scenario's replay, the 1M-event day replayed in place, the month;
* ``end_to_end``: producer -> broker -> worker(s), single and scale-out, vs a bare consumer.

Shared by them: ``data`` (the synthetic day, how it is framed and sent), ``measure`` (/proc
readers, percentiles) and ``table`` (the rows, their targets and verdicts, the printed table
and the JSON). The method is documented in docs/benchmarks.md.
"""
