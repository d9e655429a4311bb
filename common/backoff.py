"""The one backoff of the project: exponential, capped, with a chosen share of jitter.

``calculate_backoff(attempt)`` is ``min(cap_s, base_s * factor**attempt)`` with its top
``jitter`` share random: ``jitter=0.5`` ("equal jitter", the producers' default) keeps the delay
between half and all of its nominal value, so clients that failed together do not retry
together; ``jitter=1.0`` is "full jitter" (Slack's retries, the notifier's outage waits);
``jitter=0.0`` is plain exponential (the worker re-reading its checkpoint). Pure: the random
draw comes from ``rng``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BACKOFF_BASE_S = 0.5
BACKOFF_FACTOR = 2.0
BACKOFF_MAX_S = 60.0
JITTER_FRACTION = 0.5


def calculate_backoff(
    attempt: int,
    *,
    base_s: float = BACKOFF_BASE_S,
    factor: float = BACKOFF_FACTOR,
    cap_s: float = BACKOFF_MAX_S,
    jitter: float = JITTER_FRACTION,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based).

    The nominal delay is ``min(cap_s, base_s * factor**attempt)``; the result lies in
    ``[nominal * (1 - jitter), nominal]``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    nominal = min(cap_s, base_s * factor ** min(attempt, 64))
    return nominal * (1.0 - jitter) + nominal * jitter * rng()
