"""Logging: what reaches the user's terminal."""

from __future__ import annotations

import logging

import pytest

from common import log as swlog
from tests.unit.test_security import restore_logging  # noqa: F401 - a fixture

SLOW_TASK = (
    "Task %r ran for %.3fs (>%.3fs threshold). It is blocking the event loop -- likely a "
    "tight sync loop inside a coroutine. Other pollers will time out."
)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_kafka_python_slow_task_warning_goes_to_debug(
    level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    swlog.setup_logging(level)
    selector = logging.getLogger("kafka.net.selector")
    selector.warning(SLOW_TASK % ("<Task>", 0.313, 0.1))
    selector.warning("Node 1 connection failed")  # other warnings of the client stay
    err = capsys.readouterr().err
    assert "Node 1 connection failed" in err and "WARNING" in err
    if level == "INFO":
        assert "blocking the event loop" not in err
    else:
        assert "DEBUG   kafka.net.selector: Task '<Task>' ran for 0.313s" in err
