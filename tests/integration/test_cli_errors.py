"""Every failure an operator meets at the command line ends in one line that names the cause:
no traceback, no client-library log lines, a non-zero exit (issue #24, "One clear line").

Each case runs the real entry point (``python -m shockwatch.cli.main``) in a process of its own, as
a person would, with a console 80 columns wide, so a wrapped or markup-eaten line shows too.
An unreachable broker is said within ``UNREACHABLE_WITHIN_S``: a refused port, and a listener
that accepts connections but never answers (what a firewall or a wrong service looks like).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.ports import free_port
from tests.cli import run_shockwatch
from tests.scenario_factory import write_scenario

pytestmark = pytest.mark.integration

CLI_TIMEOUT_S = 120
UNREACHABLE_WITHIN_S = 5.0  # issue #24: an unreachable broker fails within 5 s


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]  # "{day}" is the test's scenario folder
    cause: str  # a regex the one "error:" line must match
    broker: str = "refused"  # refused | silent | session (the test broker) | none
    toml: tuple[str, str] | None = None  # (regex, replacement) applied to scenario.toml
    timed: bool = False  # an unreachable broker: said within UNREACHABLE_WITHIN_S


CASES = [
    Case(
        "consume, broker refuses connections",
        ("consume", "market.prices"),
        r"cannot reach Kafka at 127\.0\.0\.1:\d+ \(from SHOCKWATCH_KAFKA_BOOTSTRAP\): "
        r".*[Cc]onnection refused",
        timed=True,
    ),
    Case(
        "consume, broker accepts but never answers",
        ("consume", "market.prices"),
        r"cannot reach Kafka at 127\.0\.0\.1:\d+ .*no answer within",
        broker="silent",
        timed=True,
    ),
    Case(
        "topics list, broker unreachable",
        ("topics", "list"),
        r"cannot reach Kafka at 127\.0\.0\.1:\d+",
        timed=True,
    ),
    Case(
        "load, broker unreachable",
        ("load", "{day}"),
        r"cannot reach Kafka at 127\.0\.0\.1:\d+",
        timed=True,
    ),
    Case(
        "replay, broker unreachable",
        ("replay", "--from", "2025-11-04", "--to", "2025-11-04T21:00Z"),
        r"cannot reach Kafka at 127\.0\.0\.1:\d+",
        timed=True,
    ),
    Case(
        "kafka status: the configured cluster, not the local broker",
        ("kafka", "status"),
        r"cannot reach Kafka at 127\.0\.0\.1:\d+ \(from SHOCKWATCH_KAFKA_BOOTSTRAP\)",
        broker="refused+local",
        timed=True,
    ),
    Case(
        "load, start is not a date",
        ("load", "{day}"),
        r"scenario\.toml: start 'not a date' is not an ISO-8601 time",
        toml=(r"(?m)^start = .*$", 'start = "not a date"'),
    ),
    Case(
        "scenario run, start is not a date",
        ("scenario", "run", "{day}"),
        r"scenario\.toml: start 'not a date' is not an ISO-8601 time",
        toml=(r"(?m)^start = .*$", 'start = "not a date"'),
    ),
    Case(
        "scenario check, [expect] max_severity = huge",
        ("scenario", "check", "{day}"),
        r"scenario\.toml: \[expect\] severity 'huge': use one of",
        toml=(r"(?m)^max_severity = .*$", 'max_severity = "huge"'),
    ),
    Case(
        "load, [expect] max_severity = huge",
        ("load", "{day}"),
        r"scenario\.toml: \[expect\] severity 'huge'",
        toml=(r"(?m)^max_severity = .*$", 'max_severity = "huge"'),
    ),
    Case(
        "scenario check, [expect] with an unknown key (brackets survive in error lines)",
        ("scenario", "check", "{day}"),
        r"scenario\.toml: \[expect\] has unknown keys \['max_sevrity'\]",
        toml=(r"(?m)^\[expect\]$", '[expect]\nmax_sevrity = "critical"'),
    ),
    Case(
        "consume of a missing topic",
        ("consume", "no-such-topic"),
        r"no topic 'no-such-topic' on the cluster at 127\.0\.0\.1:\d+",
        broker="session",
    ),
]


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


@pytest.fixture
def day(tmp_path: Path) -> Path:
    return write_scenario(
        tmp_path / "a-day",
        start="2025-11-04T15:00:00Z",
        minutes=3,
        moves_pct={"XAU": -1},
        expect={"max_severity": "none"},
        name="a-day",
    )


def environment(case: Case, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "80",  # a line that names the cause must not be cut or wrapped here
        "SHOCKWATCH_STATE_DIR": str(tmp_path / "state"),
        "SHOCKWATCH_REPORTS_DIR": str(tmp_path / "reports"),
    }
    if case.broker.startswith("refused"):
        env["SHOCKWATCH_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{free_port()}"
    elif case.broker == "silent":
        env["SHOCKWATCH_KAFKA_BOOTSTRAP"] = (
            f"127.0.0.1:{request.getfixturevalue('silent_listener')}"
        )
    if case.broker in ("session", "refused+local"):
        kafka = request.getfixturevalue("kafka")
        if case.broker == "session":
            env["SHOCKWATCH_KAFKA_BOOTSTRAP"] = kafka.bootstrap
        else:  # a local broker runs in the state folder; the configured cluster is elsewhere
            if kafka.broker is None:
                pytest.skip("the session's broker is external: no local broker state to hide")
            env["SHOCKWATCH_STATE_DIR"] = str(kafka.broker.root.parent)
    return env


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_failure_is_one_line_naming_its_cause(
    case: Case, day: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if case.toml is not None:
        toml = day / "scenario.toml"
        pattern, replacement = case.toml
        toml.write_text(re.sub(pattern, replacement, toml.read_text(), count=1))
    env = environment(case, request, tmp_path)
    args = [a.replace("{day}", str(day)) for a in case.args]
    started = time.monotonic()
    proc = run_shockwatch(args, env, CLI_TIMEOUT_S)
    took = time.monotonic() - started
    said = proc.stdout + proc.stderr

    assert proc.returncode != 0, said
    assert "Traceback" not in said and "╭─" not in said, said
    assert not re.search(r"(WARNING|ERROR)\s+kafka\.", said), f"client-library log lines: {said}"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, said
    assert re.search(case.cause, errors[0]), errors[0]
    if case.timed:
        assert took < UNREACHABLE_WITHIN_S, f"{took:.1f} s to say: {errors[0]}"


def test_help_shows_bracketed_words() -> None:
    """Rich reads "[expect]" as a style tag unless escaped: the help must still say it."""
    for args in (["scenario", "--help"], ["scenario", "check", "--help"]):
        proc = run_shockwatch(args, {"PATH": "/usr/bin:/bin", "COLUMNS": "120"}, CLI_TIMEOUT_S)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "compare with the [expect] of its scenario.toml" in proc.stdout, proc.stdout
