"""The notifier's delivered-keys store: which alert transitions Slack already accepted.

A small JSON file, rewritten atomically (temp file in the same folder, fsync, rename, fsync of
the folder) after every acceptance and *before* the Kafka offset is committed. After a crash
between the two, the restarted notifier re-reads the alert from the last committed offset, finds
its ``delivery_key`` here and skips it. With a bot token it also remembers where each alert's
message is (channel, ts, blocks) so the resolve can edit it.

Bounded: the newest ``max_keys`` keys are kept (alerts are a handful a day; a key older than
that is long past its Kafka offset), and message records are dropped once resolved.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STORE_VERSION = 1
MAX_KEYS = 5000


class DeliveredStore:
    def __init__(self, path: Path, max_keys: int = MAX_KEYS) -> None:
        self.path = path
        self.max_keys = max_keys
        self.delivered: dict[str, int] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            # A torn file cannot happen (atomic rename); anything else is a real problem, and
            # starting empty would re-send: refuse loudly instead.
            raise RuntimeError(f"cannot read the notifier store {self.path}: {exc}") from exc
        if data.get("version") != STORE_VERSION:
            raise RuntimeError(f"{self.path}: unsupported store version {data.get('version')}")
        self.delivered = {str(k): int(v) for k, v in data.get("delivered", {}).items()}
        self.messages = dict(data.get("messages", {}))

    def __contains__(self, key: str) -> bool:
        return key in self.delivered

    def __len__(self) -> int:
        return len(self.delivered)

    def message_for(self, alert_id: str) -> dict[str, Any] | None:
        return self.messages.get(alert_id)

    def record(
        self,
        key: str,
        ts_ms: int,
        alert_id: str | None = None,
        message: dict[str, Any] | None = None,
        resolved: bool = False,
    ) -> None:
        """Remember ``key`` as delivered (and where its message is), then persist."""
        self.delivered[key] = ts_ms
        while len(self.delivered) > self.max_keys:
            self.delivered.pop(next(iter(self.delivered)))
        if alert_id is not None:
            if resolved:
                self.messages.pop(alert_id, None)
            elif message is not None:
                self.messages[alert_id] = message
        while len(self.messages) > self.max_keys:
            self.messages.pop(next(iter(self.messages)))
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": STORE_VERSION, "delivered": self.delivered, "messages": self.messages}
        fd, tmp = tempfile.mkstemp(prefix=".delivered-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
