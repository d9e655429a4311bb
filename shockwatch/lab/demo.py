"""`make demo`: the whole job on the bundled 2025-11-04 scenario, start to finish.

1. the local Kafka broker (started here unless one runs already) and the topics;
2. a local Slack stand-in that prints each message (or the real webhook in
   SHOCKWATCH_SLACK_WEBHOOK_URL), and the notifier consuming ``shock.alerts``;
3. the scenario produced into fresh topics while the detection worker runs over it, serving
   its Prometheus metrics (scraped once into the report folder);
4. a replay of the whole day from those topics into an isolated run, and its report;
5. a summary: the alert(s), where the metrics were, the report's path. Everything started here
   is stopped again (the broker too, if this run started it), and the topics it created are
   deleted (the report folder holds what they held) unless ``--keep``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from common.log import setup_logging
from common.ports import free_port
from common.settings import PROJECT_ROOT, load_settings
from shockwatch.local.broker import LocalBroker
from shockwatch.runs.replay import replay
from shockwatch.runs.runner import NotifierProcess, WorkerProcess, run_scenario
from streams.scenario import first_event_ms, read_scenario
from streams.topics import create_topics, delete_prefix, run_prefix, run_stamp

SCENARIO = PROJECT_ROOT / "data" / "scenarios" / "2025-11-04-everything-sells"
NOTIFY_TIMEOUT_S = 60.0
# A line is a line: paths and alert lines are not wrapped at 80 columns when the output is a
# file or a pipe (the terminal wraps what it shows); the title panel is laid out as usual.
console = Console(soft_wrap=True)
log = logging.getLogger("shockwatch.lab.demo")


def step(text: str) -> None:
    console.print(f"\n[bold cyan]▶ {text}[/]")


def scrape(port: int, dest: Path) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        body = resp.read()
    dest.write_bytes(body)
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make demo",
        description="The full pipeline on the bundled 2025-11-04 scenario, ending with the "
        "alert and a post-mortem report.",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the demo's topics on the broker (default: deleted at the end; "
        "`shockwatch topics prune --prefix demo-` removes kept ones)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("WARNING")
    base = load_settings()
    scenario = read_scenario(SCENARIO)
    run = run_stamp() + "-" + uuid.uuid4().hex[:4]
    prefix = run_prefix("demo", run)
    console.print(
        Panel.fit(
            f"[bold]shockwatch demo[/]: {scenario.name}\n{scenario.description}",
            border_style="cyan",
        ),
        soft_wrap=False,
    )

    step("Kafka: the local single-node KRaft broker (Apache Kafka from Maven Central)")
    broker = LocalBroker(base)
    started_broker = False
    if base.kafka_bootstrap:
        settings = base
        console.print(f"using the configured cluster {base.kafka_bootstrap}")
    else:
        info = broker.up()
        started_broker = not info["already_running"]
        settings = load_settings(kafka_bootstrap=info["bootstrap"])
        how = "already running" if info["already_running"] else f"ready in {info['ready_s']:.1f} s"
        console.print(f"broker at {info['bootstrap']} ({how})")
    create_topics(settings, prefix, keep_all=True)
    console.print(f"topics created under the prefix [bold]{prefix}[/]")

    standin = None
    notifier = None
    reports = settings.reports_dir / f"demo-{run}"
    reports.mkdir(parents=True, exist_ok=True)
    try:
        step("Slack: notifier on shock.alerts")
        webhook = (
            settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url else None
        )
        if webhook is None:
            from shockwatch.lab.standin import start_slack_stand_in

            standin, webhook = start_slack_stand_in(port=0, verbose=True)
            console.print("no SHOCKWATCH_SLACK_WEBHOOK_URL: a local Slack stand-in prints messages")
        else:
            console.print("sending to the configured Slack webhook (URL not shown: a secret)")
        notifier = NotifierProcess(
            settings,
            prefix,
            webhook,
            f"shockwatch-{prefix.rstrip('.')}",
            reports / "notifier.log",
            {"SHOCKWATCH_STATE_DIR": str(settings.state_dir / "demo" / prefix.rstrip("."))},
        )

        step(f"Load {scenario.name} into Kafka while the detection worker runs over it")
        metrics_port = free_port()
        metrics_file = reports / "metrics.prom"
        scraped: list[int] = []

        def before_stop(worker: WorkerProcess) -> None:
            scraped.append(scrape(metrics_port, metrics_file))

        with console.status("worker: detecting over the day's events ..."):
            result = run_scenario(
                settings,
                scenario,
                prefix=prefix,
                app_id=f"shockwatch-{prefix.rstrip('.')}",
                metrics_port=metrics_port,
                before_stop=before_stop,
                run_id=f"demo-{run}",
                keep_topics=True,  # the replay below reads them
            )
        loaded = sum(r.valid for r in result.loaded.values())
        console.print(
            f"{loaded} events processed into {result.signals} signals in {result.elapsed_s:.1f} s"
        )
        console.print(
            f"metrics were served at http://127.0.0.1:{metrics_port}/metrics "
            f"({scraped[0] if scraped else 0} samples; snapshot: {metrics_file})"
        )

        step("Wait for the notifier to deliver each alert once")
        expected = len(result.alerts)
        deadline = time.monotonic() + NOTIFY_TIMEOUT_S
        while standin is not None and len(standin.messages) < expected:
            if time.monotonic() > deadline or notifier.proc.poll() is not None:
                console.print(
                    f"[red]notifier delivered {len(standin.messages)}/{expected}[/]; "
                    f"see {notifier.log_path}"
                )
                break
            time.sleep(0.2)
        if standin is not None:
            console.print(f"Slack stand-in accepted {len(standin.messages)} message(s)")

        step("Replay the whole day from Kafka into an isolated run, then the post-mortem report")
        with console.status("replaying ..."):
            # from the first event loaded (the files hold warm-up hours before the day starts)
            rep = replay(
                settings,
                first_event_ms(scenario),
                scenario.end_ms,
                source_prefix=prefix,
                run_id=f"demo-{run}-replay",
                save_inputs=True,  # the report's per-print detail
                keep_topics=args.keep,
            )
        from shockwatch.runs.report import build_report

        paths = build_report(rep.run_dir, fallback=settings.detection)
        same = [a.encode() for a in rep.run.alerts] == [a.encode() for a in result.alerts]
        console.print(
            f"replayed {rep.events} events in {rep.run.elapsed_s:.1f} s "
            f"({rep.events_per_s:,.0f} events/s, {rep.realtime_multiple:,.0f}x real time); "
            f"same alerts as the live run: {'yes' if same else 'NO'}"
        )
    finally:
        if notifier is not None:
            notifier.stop()
        if standin is not None:
            standin.stop()
        if not args.keep:
            delete_prefix(settings, prefix)
        if started_broker:
            broker.down()

    step("Result")
    for alert in result.alerts:
        colour = "red" if alert.severity == "critical" else "yellow"
        console.print(Text(alert.line(), style=f"bold {colour}"), soft_wrap=True)
    critical = [a for a in result.alerts if a.severity == "critical" and a.state == "firing"]
    console.print(f"\nreport:  {paths.html}\nsummary: {paths.markdown}")
    console.print(f"metrics: {metrics_file} (scraped from http://127.0.0.1:{metrics_port}/metrics)")
    stopped = "stopped (this demo started it)" if started_broker else "left running as found"
    console.print(f"Kafka broker {stopped}; nothing else is left running.")
    topics_note(args.keep, prefix, rep.run.prefix)
    return 0 if critical else 1


def topics_note(kept: bool, prefix: str, replay_prefix: str) -> None:
    if kept:
        console.print(
            f"topics kept under {prefix} and {replay_prefix}; remove them with "
            "`shockwatch topics prune --prefix demo-` and `--prefix replay-demo-`"
        )
    else:
        console.print(f"the demo's topics ({prefix}*, {replay_prefix}*) were deleted; "
                      "--keep keeps them")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
