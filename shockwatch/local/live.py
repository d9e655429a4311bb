"""`make run`: the live monitor — every producer, the worker and the notifier, supervised.

Against the configured cluster (SHOCKWATCH_KAFKA_BOOTSTRAP) or the local broker (started if
needed). Each job is its own `shockwatch ...` process with its own log under
``<state>/live/`` and its metrics on the port of its setting (``common.ports``); a job that
exits is restarted with a growing delay, and Ctrl-C (or SIGTERM) stops them all. Without a Slack
webhook or bot token the notifier is not started (said so). While they run it shows the
`shockwatch watch` view (``shockwatch.local.status``) with each job's state and, for a job that
exited, the last error line of its log: refreshed in place on a terminal, printed every
``PRINT_EVERY_S`` seconds otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import RenderableType

from common.backoff import calculate_backoff
from common.cli import result_console
from common.log import setup_logging
from common.settings import Settings, load_settings
from shockwatch.local.status_render import JobState

console = result_console()
MAX_RESTART_DELAY_S = 60.0
REFRESH_S = 2.0
PRINT_EVERY_S = 15.0
LOG_TAIL_BYTES = 64 * 1024
ERROR_LINE = re.compile(r"error|exception|failed|refused|cannot|unreachable", re.IGNORECASE)


def last_error_line(text: str, fallback: bool = True) -> str:
    """The line of a log tail that says why: the last one that reads as an error, else (with
    ``fallback``) the last line; a traceback's frames are skipped for the exception line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if ERROR_LINE.search(line) and not line.startswith(("File ", "Traceback")):
            return line
    return lines[-1] if lines and fallback else ""


def log_tail(path: Path, start: int = 0) -> str:
    """The end of a log, from byte ``start`` on at most (the start of the current run)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(path.stat().st_size - LOG_TAIL_BYTES, start, 0))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


@dataclass
class Job:
    name: str
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    last_error: str = ""
    log_start: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log_start = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shockwatch.cli.main", *self.args],
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
            delay = calculate_backoff(
                self.restarts, base_s=1.0, cap_s=MAX_RESTART_DELAY_S, jitter=0.0
            )
            self.next_start = now + delay
            self.last_error = last_error_line(log_tail(self.log, self.log_start))
            console.print(
                f"{self.name} exited ({code}): {self.last_error or 'no output'}; "
                f"restart in {delay:.0f} s",
                style="yellow",
                markup=False,
            )
        if self.proc is None and now >= self.next_start:
            self.start()

    def state(self) -> JobState:
        if self.proc is not None:
            # A running job's latest complaint (a feed that cannot reach its provider).
            latest = last_error_line(log_tail(self.log, self.log_start), fallback=False)
            again = f"restarted {self.restarts}x; last exit: {self.last_error}"
            return JobState(self.name, "running", again if self.restarts else latest)
        wait = max(self.next_start - time.monotonic(), 0.0)
        why = f"exited {self.restarts}x, restart in {wait:.0f} s: {self.last_error}"
        return JobState(self.name, "restarting", why)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def jobs(log_dir: Path, notify: bool, settings: Settings) -> list[Job]:
    """The live jobs, each on the metrics port of its own setting (0: a free one)."""

    def job(name: str, *args: str, port: int) -> Job:
        return Job(name, [*args, "--metrics-port", str(port)], log_dir / f"{name}.log")

    out = [
        job("worker", "worker", port=settings.metrics_port),
        job("liquidations", "produce", "liquidations", port=settings.liquidations_metrics_port),
        job("prices", "produce", "prices", port=settings.prices_metrics_port),
        job("funding", "produce", "funding", port=settings.funding_metrics_port),
    ]
    if notify:
        out.append(job("notifier", "alerts", "notify", port=settings.notifier_metrics_port))
    return out


def supervise(todo: list[Job], settings: Settings, stopping: Callable[[], bool]) -> None:
    """Keep the jobs running and show the status view until ``stopping()``."""
    from rich.live import Live

    from shockwatch.local.status_io import Watcher
    from shockwatch.local.status_render import render

    watcher = Watcher(settings)

    def view() -> RenderableType:
        return render(watcher.view(), [job.state() for job in todo])

    last_view = time.monotonic()
    live = Live(console=console, auto_refresh=False) if console.is_terminal else None
    with live or contextlib.nullcontext():
        while not stopping():
            for job in todo:
                job.check()
            time.sleep(0.5)
            now = time.monotonic()
            if live is not None and now - last_view >= REFRESH_S:
                live.update(view(), refresh=True)
                last_view = now
            elif live is None and now - last_view >= PRINT_EVERY_S:
                console.print(view())
                last_view = now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-notify", action="store_true", help="do not start the notifier")
    args = parser.parse_args()
    setup_logging("WARNING")
    settings = load_settings()
    env: dict[str, str] = {}
    if not settings.kafka_bootstrap:
        from shockwatch.local.broker import LocalBroker

        info = LocalBroker(settings).up()
        env["SHOCKWATCH_KAFKA_BOOTSTRAP"] = info["bootstrap"]
        console.print(f"local Kafka at {info['bootstrap']} (stop it with `make kafka-down`)")
    slack = settings.slack_webhook_url is not None or settings.slack_bot_token is not None
    if not slack and not args.no_notify:
        console.print(
            "[yellow]no SHOCKWATCH_SLACK_WEBHOOK_URL / _BOT_TOKEN: notifier not started[/]"
        )
    todo = jobs(settings.state_dir / "live", slack and not args.no_notify, settings)
    for job in todo:
        job.env = env
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(
        "metrics ports: the view below (`shockwatch status` elsewhere); Ctrl-C stops everything"
    )
    if env:
        settings = settings.model_copy(
            update={"kafka_bootstrap": env["SHOCKWATCH_KAFKA_BOOTSTRAP"]}
        )
    try:
        supervise(todo, settings, lambda: stopping)
    finally:
        for job in todo:
            job.stop()
        console.print("stopped all jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
