"""The synthesis behind shockwatch's replay data, split by what it synthesizes.

``scripts/synthesize_scenarios.py`` (the bundled scenarios, ``data/scenarios/``) and
``scripts/synthesize_calendar.py`` (the calibration calendar, ``data/calendar/``) are built on
these modules, each depending only on those above it:

- ``units``: units, the record type, the US market clock (ET with DST, bond-market holidays).
- ``walk``: the seeded random-walk machinery (common factors, Brownian bridge through knots).
- ``prices``: sessions, calibration knots, the assets' path specs, the 1-minute bars.
- ``liquidations``: forced-liquidation prints scaled to per-block budgets.
- ``funding``: money-market series on their publication times, anchored on sourced prints.
- ``scenario``: the scenario spec (``Meta``, ``Recipe``) and the ``World`` built from it.
- ``calibration``: the calibration targets of each bundled scenario, with their sources.
- ``readme``: ``scenario.toml`` and the README (provenance and summaries of the files).
- ``output``: writing a scenario folder (JSON Lines, gzip with ``mtime=0``).

The scripts run as files, so ``scripts/`` is on ``sys.path`` and this package imports as
``synth``. Deterministic (fixed string seeds). Standard library only.
"""
