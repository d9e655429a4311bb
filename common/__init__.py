"""The floor: what every part of shockwatch stands on, importing nothing of the project.

``common.settings`` (the one frozen ``Settings``, from ``SHOCKWATCH_*``), ``common.kafka`` (each
client library's configuration and the Kafka client sizes, the admin client, clear refusals),
``common.backoff`` (the one retry backoff), ``common.log`` (logging, secret redaction, rate
limits), ``common.cli`` (consoles, ``fail``, settings from the environment), ``common.ports``
(the metrics ports, ``free_port``) and ``common.fmt`` (the one USD and event-time formatting).
See docs/architecture.md, "Layers".
"""
