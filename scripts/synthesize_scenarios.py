#!/usr/bin/env python3
"""Synthesize shockwatch's bundled replay scenarios into ``data/scenarios/<name>/``.

Every scenario folder gets ``scenario.toml``, ``README.md``, ``prices.jsonl.gz`` (1-minute bars
for SPX, IXIC, NVDA, PLTR, XAU, VIX, BTC, ETH), ``liquidations.jsonl.gz`` (forced-liquidation
prints from Binance USD-M, Bybit and OKX) and ``funding.jsonl`` (daily and weekly money-market
series stamped with their publication time), in the public scenario format described in
``data/scenarios/README.md``.

All records are synthesized, but calibrated to sourced figures (secondary sources: market
wrap-ups, FRED, NY Fed, Treasury DTS): each symbol's close-to-close move and day low, the day's
liquidation total and long share, and the published funding values named in each scenario's
README. Prices are geometric random walks on a 10-second grid (one common factor per asset
group) bridged through a deterministic piecewise drift path, so the previous close, every leg,
the day low and the close land on their targets; no record carries anything derived from later
data. Liquidation sizes are heavy-tailed (truncated lognormal) and scaled to per-block budgets.

Deterministic: fixed string seeds for ``random.Random`` and gzip with ``mtime=0``, so two runs
write byte-identical files. Standard library only.

The parts live in the ``synth`` package next to this script, split by what they synthesize:
``synth.walk`` (the seeded random walks), ``synth.prices``, ``synth.liquidations``,
``synth.funding``, ``synth.calibration`` (each scenario's sourced targets), ``synth.scenario``
(the spec and the world built from it), ``synth.readme`` and ``synth.output``; this file is the
command line.

    python scripts/synthesize_scenarios.py                       # all scenarios, data/scenarios
    python scripts/synthesize_scenarios.py --only calm-day --out /tmp/scenarios
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from synth.calibration import RECIPES, SCENARIOS, build_tiny
from synth.output import write_world
from synth.scenario import World, build_world


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Write shockwatch's bundled replay scenarios (scenario.toml, README.md, "
            "prices.jsonl.gz, liquidations.jsonl.gz, funding.jsonl per folder). Synthesized, "
            "calibrated to sourced figures; deterministic (byte-identical on every run)."
        ),
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data/scenarios"),
        help="folder that receives one sub-folder per scenario (default: data/scenarios)",
    )  # fmt: skip
    parser.add_argument(
        "--only", action="append", choices=SCENARIOS, metavar="NAME",
        help=f"write only this scenario (repeatable); one of: {', '.join(SCENARIOS)}",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = args.only or list(SCENARIOS)
    parent: World | None = None  # sample-tiny is cut from the first scenario
    for name in SCENARIOS:
        if name not in wanted and not (name == SCENARIOS[0] and "sample-tiny" in wanted):
            continue
        if name == "sample-tiny":
            world = build_tiny(parent or build_world(RECIPES[SCENARIOS[0]]()))
        else:
            world = build_world(RECIPES[name]())
            parent = world if name == SCENARIOS[0] else parent
        if name in wanted:
            counts = write_world(world, args.out)
            listed = ", ".join(f"{k} {v}" for k, v in counts.items())
            print(f"{args.out / name}: {listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
