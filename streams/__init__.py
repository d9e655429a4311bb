"""The stream domain: the topic contracts (records, topics, dlq, scenario, timing, instruments),
the detection core (``streams.detection``) and the worker that hosts it (``streams.app``,
``streams.worker``: stages with their own Kafka clients inside a faust app, no faust agents)."""
