"""What the figures are read with: a process's resident set now and at its peak (from
/proc/<pid>/status), this process's peak, percentiles."""

from __future__ import annotations

import math
import resource
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb(pid: int | str = "self") -> float:
    """VmRSS of a process: its resident set now."""
    return proc_status_mb(pid, "VmRSS")


def worker_peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process: its peak resident set so far."""
    return proc_status_mb(pid, "VmHWM")


def proc_status_mb(pid: int | str, field: str) -> float:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return math.nan


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[k]
