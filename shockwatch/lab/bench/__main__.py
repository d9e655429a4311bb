"""`make bench`: every performance figure measured in one run, on one broker of its own.

Prints a table (figure, value, target, verdict) and writes the same as JSON to
``reports/bench/bench.json``. The method is documented in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.log import setup_logging
from common.settings import Settings
from shockwatch.lab.bench.core import step_core
from shockwatch.lab.bench.end_to_end import step_scale_out
from shockwatch.lab.bench.latency import step_latency, step_slack
from shockwatch.lab.bench.pipeline import step_throughput
from shockwatch.lab.bench.producer import step_producer
from shockwatch.lab.bench.replay import step_month, step_replay, step_scenario_replay
from shockwatch.lab.bench.table import Bench, console, print_table, write_json
from shockwatch.local.broker import LocalBroker


def run(quick: bool, only: set[str] | None = None, long: bool = False) -> list[dict[str, Any]]:
    base = Settings()
    state = Path(tempfile.mkdtemp(prefix="shockwatch-bench-"))
    broker = LocalBroker(base, state_dir=state)
    info = broker.up()
    console.print(
        f"[bold]bench broker[/] at {info['bootstrap']} (ready in {info['ready_s']:.1f} s)"
    )
    settings = base.model_copy(update={"kafka_bootstrap": info["bootstrap"], "state_dir": state})
    b = Bench(settings, quick, int(info["pid"]))
    try:
        steps: list[Callable[[Bench], None]] = [
            step_core,
            step_throughput,
            step_latency,
            step_slack,
            step_producer,
            step_scenario_replay,
            step_replay,
            step_scale_out,
            *([step_month] if long else []),
        ]
        for fn in steps:
            if only and fn.__name__.removeprefix("step_") not in only:
                continue
            console.print(f"[cyan]{fn.__doc__}[/]")
            fn(b)
    finally:
        broker.down()
    return b.rows


def main() -> int:
    # prog: the name the usage line showed when the bench was one module, bench.py (argparse
    # takes it from argv[0], which for a package run with -m is __main__.py)
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    parser.add_argument(
        "--long",
        action="store_true",
        help="also replay a synthetic month in place (30 x 1M-event days; ~15 min more)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/bench/bench.json"))
    parser.add_argument(
        "--only",
        help="comma-separated steps: core, throughput, latency, slack, producer, "
        "scenario_replay, replay, scale_out, month (default: all; month only with --long)",
    )
    args = parser.parse_args()
    setup_logging("WARNING")
    rows = run(args.quick, set(args.only.split(",")) if args.only else None, args.long)
    print_table(rows)
    write_json(rows, args.out, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
