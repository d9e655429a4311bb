"""Writing a scenario folder: JSON Lines records, gzip, ``scenario.toml`` and ``README.md``.

Compact JSON (``separators=(",", ":")``), one record per line, as on its Kafka topic; gzip
with ``mtime=0`` and no file name, so two runs write byte-identical files.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path

from synth.readme import render_readme, render_toml
from synth.scenario import World
from synth.units import Record


def encode(records: Iterable[Record]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def write_gzip(path: Path, data: bytes) -> None:
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(data)


def write_world(world: World, out: Path) -> dict[str, int]:
    folder = out / world.meta.name
    folder.mkdir(parents=True, exist_ok=True)
    counts = {
        "prices.jsonl.gz": len(world.prices),
        "liquidations.jsonl.gz": len(world.liquidations),
        "funding.jsonl": len(world.funding),
    }
    write_gzip(folder / "prices.jsonl.gz", encode(world.prices))
    write_gzip(folder / "liquidations.jsonl.gz", encode(world.liquidations))
    (folder / "funding.jsonl").write_bytes(encode(world.funding))
    (folder / "scenario.toml").write_text(render_toml(world.meta, world.liq_spec.observed_share))
    (folder / "README.md").write_text(render_readme(world, counts))
    return counts
