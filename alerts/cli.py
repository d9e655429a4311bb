"""`shockwatch alerts ...`: the Slack notifier and the metrics exporter."""

from __future__ import annotations

import typer

alerts_app = typer.Typer(help="Slack notifications and Prometheus metrics for alerts.")
