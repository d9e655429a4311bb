"""The detection core: pure functions and small state objects, no Kafka, no faust.

``market`` (returns, z, class moves, breadth, co-movement), ``liquidations`` (pressure),
``funding`` (stress from the daily series, as of a time), ``score`` (composite and regime),
``alerting`` (the hysteresis state machine) and ``detector`` (event-time ticks that tie them
together and checkpoint). The input stage in ``streams.worker`` only feeds it.
"""
