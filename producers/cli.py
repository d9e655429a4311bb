"""`shockwatch produce ...` and `shockwatch funding ...`: the live feeds into Kafka."""

from __future__ import annotations

import typer

produce_app = typer.Typer(help="Live feeds into Kafka: liquidations, prices, funding.")
funding_app = typer.Typer(help="Funding data (FRED, New York Fed, Treasury): backfill and poll.")
