"""Shared fixtures: the real Kafka broker for the test session, per-test topic prefixes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import PROJECT_ROOT, Settings

pytest_plugins = ["tests.fixtures_kafka", "tests.fixtures_alerts"]

SCENARIOS = PROJECT_ROOT / "data" / "scenarios"


@pytest.fixture
def prefix() -> str:
    """A fresh topic-name prefix, so every test has its own topics and groups."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def scenarios_dir() -> Path:
    return SCENARIOS


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("SHOCKWATCH_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def settings() -> Settings:
    return Settings()
