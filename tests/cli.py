"""The shockwatch command in a process of its own: the real entry point, its exit code, its
output. The CLI tests call it instead of each spelling out the subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence


def run_shockwatch(
    args: Sequence[str], env: Mapping[str, str] | None, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """``python -m shockwatch.cli.main ARGS`` with ``env`` (None: this process's), output captured
    as text; a non-zero exit is the caller's to judge."""
    return subprocess.run(
        [sys.executable, "-m", "shockwatch.cli.main", *args],
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        timeout=timeout_s,
        check=False,
    )
