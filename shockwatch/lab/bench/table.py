"""The bench's rows: each figure with its value, unit, target and verdict (PASS/MISS), printed
as it is measured, as a table at the end, and written as JSON with the run's metadata."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from common.settings import Settings
from shockwatch.lab.bench.measure import peak_rss_mb
from streams.topics import TopicNames, create_topics, run_prefix

console = Console()


class Bench:
    def __init__(self, settings: Settings, quick: bool, broker_pid: int = -1) -> None:
        self.settings = settings
        self.broker_pid = broker_pid
        self.quick = quick
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        figure: str,
        value: float,
        unit: str,
        target: str = "",
        ok: bool | None = None,
        **extra: Any,
    ) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append(
            {
                "figure": figure,
                "value": value,
                "unit": unit,
                "target": target,
                "verdict": verdict,
                **extra,
            }
        )
        shown = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        console.print(f"  {figure}: {shown} {unit} {target} {verdict}")

    def fresh(self, label: str) -> tuple[Settings, TopicNames]:
        prefix = run_prefix("bench", f"{label}-{uuid.uuid4().hex[:6]}")
        settings = self.settings.model_copy(update={"topic_prefix": prefix, "input_partitions": 1})
        create_topics(settings, prefix, keep_all=True)
        return settings, TopicNames(prefix)


def print_table(rows: list[dict[str, Any]]) -> None:
    """The closing table: every row measured, in the order measured."""
    table = Table("figure", "value", "unit", "target", "verdict", title="shockwatch bench")
    for r in rows:
        table.add_row(r["figure"], f"{r['value']:,.2f}", r["unit"], r["target"], r["verdict"])
    console.print(table)


def write_json(rows: list[dict[str, Any]], out: Path, quick: bool) -> None:
    """The rows and the run's metadata (machine, Python, this process's peak RSS) to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "ts": time.time(),
        "quick": quick,
        "peak_rss_mb_bench_process": peak_rss_mb(),
    }
    out.write_bytes(orjson.dumps({"meta": meta, "figures": rows}, option=orjson.OPT_INDENT_2))
    console.print(f"written {out}")
