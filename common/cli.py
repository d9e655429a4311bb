"""What every command line of the project shares: the consoles, the one way to fail, and the
settings read from the environment with their secrets registered for redaction.

The domains' command apps (``producers.cli``, ``alerts.cli``) and the roof's own commands
(``shockwatch.cli.main``, ``shockwatch.cli.cluster``) build on these; ``shockwatch.cli.main``
mounts them all under one ``shockwatch`` command.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import Progress
from rich.table import Table

from common.log import register_secret
from common.settings import Settings, load_settings

# Output that is not a terminal (a file, a pipe, `make run > capture.txt`) gets the width the
# tables are laid out for, not rich's 80-column fallback, unless COLUMNS says otherwise.
REPORT_WIDTH = 100


def result_console() -> Console:
    """A console for a command's result: the terminal's width, or ``REPORT_WIDTH`` columns."""
    probe = Console()
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(width=REPORT_WIDTH)


console = Console(stderr=True)  # progress, warnings and errors
out = result_console()  # a command's result


def settings_from_env() -> Settings:
    """The settings (``SHOCKWATCH_*``); their secrets never reach a log line from here on."""
    settings = load_settings()
    for secret in (
        settings.slack_webhook_url,
        settings.slack_bot_token,
        settings.kafka_sasl_password,
    ):
        if secret is not None:
            register_secret(secret.get_secret_value())
    return settings


def minutes_bar(disable: bool = False) -> Progress:
    """The progress bar of a run over a recorded day, in event-time minutes (transient, on
    stderr; ``disable`` for machine-readable output)."""
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} min"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable,
    )


def days_bar() -> Progress:
    """The progress bar of a run over many recorded days (backtest, rehearsal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` and return the exit to raise (``raise fail(...)``). The message
    is plain text: brackets in it ("[expect]", a topic list) are printed, not read as markup."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # one line, any width
    return typer.Exit(code)


def print_table(table: Table, wide: bool = False) -> None:
    """A command's table on ``out``: fitted to the terminal (the columns a table marks
    ``no_wrap`` stay whole, the others wrap), or with ``wide`` every cell whole on one line
    however wide that makes it (``--wide``; for a pager or a file)."""
    if not wide:
        out.print(table)
        return
    for column in table.columns:
        column.no_wrap = True
    needed = Measurement.get(out, out.options.update(width=10_000), table).maximum
    Console(width=max(needed, out.width), file=out.file, soft_wrap=True).print(table)
