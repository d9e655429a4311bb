"""`make demo-ops`: the ops alert path live on the bundled 2025-11-04 scenario.

Debian's ``prometheus`` runs ``deploy/prometheus/prometheus.yml`` and its rules (scrape and
evaluation every second; ``for:`` as deployed), Debian's ``prometheus-alertmanager`` runs
``deploy/alertmanager/alertmanager.yml`` with its Slack receiver's webhook file pointing at a
local Slack stand-in, and the real worker and notifier run over the day
(``shockwatch.lab.alert_path.run_alert_path``). It prints what each part shows as it shows it — the
``ALERTS`` states, Alertmanager's alerts and inhibition, the messages of both channels — and
stops everything it started (the broker too, if it started it). About three minutes: the rules'
``for: 1m`` is real time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.console import Console

from common.log import setup_logging
from common.settings import PROJECT_ROOT, load_settings
from shockwatch.lab.alert_path import (
    DESK_CHANNEL,
    OPS_CHANNEL,
    AlertPathRun,
    Seen,
    message_title,
    run_alert_path,
)
from shockwatch.local.broker import LocalBroker
from shockwatch.local.ops import ALERTMANAGER_BINARIES, ToolMissing, find_tool
from streams.scenario import read_scenario
from streams.topics import run_stamp

SCENARIO = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"
console = Console()


def show(seen: Seen) -> None:
    colour = {"prometheus": "yellow", "alertmanager": "magenta", "slack": "green"}
    console.print(
        f"[{colour.get(seen.source, 'white')}]{seen.line()}[/]", highlight=False, soft_wrap=True
    )


def summary(live: AlertPathRun) -> bool:
    """Print what the path showed; True when every part did what docs/alerts.md says."""
    console.print("\n[bold cyan]▶ Alertmanager (/api/v2/alerts)[/]")
    for a in live.am_alerts:
        status = a["status"]
        by = " inhibited by the critical" if status.get("inhibitedBy") else ""
        console.print(f"  {a['labels']['alertname']:<20} {status['state']}{by}", highlight=False)
    console.print("\n[bold cyan]▶ Slack stand-in[/]")
    for channel, who in ((DESK_CHANNEL, "the notifier"), (OPS_CHANNEL, "Alertmanager")):
        msgs = live.slack.in_channel(channel)
        console.print(f"  {channel} ({who}): {len(msgs)} message(s)")
        for m in msgs:
            console.print(f"    {m.format:<11} {message_title(m)}", highlight=False)
    checks = {
        "EverythingSells pending -> firing in Prometheus": live.first(
            "prometheus", "EverythingSells firing"
        )
        is not None,
        "the warning inhibited by the critical": any(
            a["labels"]["alertname"] == "ShockwatchWarning" and a["status"].get("inhibitedBy")
            for a in live.am_alerts
        ),
        "ops got Alertmanager's messages only": bool(live.ops)
        and all(m.format == "attachments" for m in live.ops),
        "desk got the notifier's message once per transition, nothing else": sorted(
            m.payload["blocks"][0]["block_id"] for m in live.desk if m.format == "blocks"
        )
        == sorted(f"shockwatch:{a.delivery_key}" for a in live.run.alerts)
        and len(live.desk) == len(live.run.alerts),
    }
    console.print()
    for what, ok in checks.items():
        console.print(f"  {'[green]yes[/]' if ok else '[red]NO[/]'}  {what}")
    return all(checks.values())


def main() -> int:
    setup_logging("WARNING")
    try:
        find_tool("prometheus")
        find_tool(*ALERTMANAGER_BINARIES)
    except ToolMissing as exc:
        console.print(f"[red]{exc}[/] (`make tools` installs them)")
        return 2
    base = load_settings()
    broker = LocalBroker(base)
    started_broker = False
    if base.kafka_bootstrap:
        settings = base
    else:
        info = broker.up()
        started_broker = not info["already_running"]
        settings = load_settings(kafka_bootstrap=info["bootstrap"])
    workdir = Path(settings.state_dir) / "ops" / run_stamp()
    console.print(
        "[bold]shockwatch demo-ops[/]: worker -> Prometheus (deploy rules) -> Alertmanager "
        f"(deploy routes) -> Slack stand-in {OPS_CHANNEL}; the notifier -> {DESK_CHANNEL}\n"
        f"logs and rendered configurations under {workdir}\n"
    )
    started = time.monotonic()
    try:
        live = run_alert_path(settings, read_scenario(SCENARIO), workdir, on_seen=show)
    finally:
        if started_broker:
            broker.down()
    ok = summary(live)
    console.print(f"\nrun time {time.monotonic() - started:.1f} s; nothing left running")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
