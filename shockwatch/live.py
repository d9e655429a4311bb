"""`make run`: the live monitor — every producer, the worker and the notifier, supervised.

Against the configured cluster (SHOCKWATCH_KAFKA_BOOTSTRAP) or the local broker (started if
needed). Each job is its own `shockwatch ...` process with its own log under
``<state>/live/``; a job that exits is restarted with a growing delay, and Ctrl-C (or SIGTERM)
stops them all. Without a Slack webhook or bot token the notifier is not started (said so).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from common.log import setup_logging
from common.settings import load_settings

console = Console()
MAX_RESTART_DELAY_S = 60.0


@dataclass
class Job:
    name: str
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shockwatch.cli", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        console.print(f"started {self.name:<14} pid {self.proc.pid}  log {self.log}")

    def check(self) -> None:
        """Restart an exited job after a delay that doubles with each restart (capped)."""
        now = time.monotonic()
        if self.proc is not None and self.proc.poll() is not None:
            code = self.proc.returncode
            self.proc = None
            self.restarts += 1
            delay = min(MAX_RESTART_DELAY_S, 2.0 ** min(self.restarts, 6))
            self.next_start = now + delay
            console.print(f"[yellow]{self.name} exited ({code}); restart in {delay:.0f} s[/]")
        if self.proc is None and now >= self.next_start:
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def jobs(log_dir: Path, notify: bool, metrics_port: int) -> list[Job]:
    out = [
        Job("worker", ["worker", "--metrics-port", str(metrics_port)], log_dir / "worker.log"),
        Job(
            "liquidations",
            ["produce", "liquidations", "--metrics-port", str(metrics_port + 2)],
            log_dir / "liquidations.log",
        ),
        Job(
            "prices",
            ["produce", "prices", "--metrics-port", str(metrics_port + 3)],
            log_dir / "prices.log",
        ),
        Job(
            "funding",
            ["produce", "funding", "--metrics-port", str(metrics_port + 4)],
            log_dir / "funding.log",
        ),
    ]
    if notify:
        out.append(
            Job(
                "notifier",
                ["alerts", "notify", "--metrics-port", str(metrics_port + 1)],
                log_dir / "notifier.log",
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-notify", action="store_true", help="do not start the notifier")
    args = parser.parse_args()
    setup_logging("WARNING")
    settings = load_settings()
    env: dict[str, str] = {}
    if not settings.kafka_bootstrap:
        from shockwatch.broker import LocalBroker

        info = LocalBroker(settings).up()
        env["SHOCKWATCH_KAFKA_BOOTSTRAP"] = info["bootstrap"]
        console.print(f"local Kafka at {info['bootstrap']} (stop it with `make kafka-down`)")
    slack = settings.slack_webhook_url is not None or settings.slack_bot_token is not None
    if not slack and not args.no_notify:
        console.print(
            "[yellow]no SHOCKWATCH_SLACK_WEBHOOK_URL / _BOT_TOKEN: notifier not started[/]"
        )
    todo = jobs(settings.state_dir / "live", slack and not args.no_notify, settings.metrics_port)
    for job in todo:
        job.env = env
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(
        f"metrics: worker http://{settings.metrics_host}:{settings.metrics_port}/metrics; "
        "Ctrl-C stops everything"
    )
    try:
        while not stopping:
            for job in todo:
                job.check()
            time.sleep(0.5)
    finally:
        for job in todo:
            job.stop()
        console.print("stopped all jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
