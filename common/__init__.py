"""The floor: what every part of shockwatch stands on, importing nothing of the project.

``common.settings`` (the one frozen ``Settings``, from ``SHOCKWATCH_*``), ``common.kafka`` (each
client library's configuration, the admin client, clear refusals), ``common.log`` (logging,
secret redaction, rate limits) and ``common.cli`` (consoles, ``fail``, settings from the
environment). See docs/architecture.md, "Layers".
"""
