"""Slack: the delivery over HTTP of the messages ``alerts.blocks`` builds from an AlertEvent.

Delivery (``SlackClient``) speaks to an incoming webhook, or with a bot token to
``chat.postMessage`` / ``chat.update`` (so a resolve edits the original). One *attempt* is a
bounded number of HTTP tries: 429 waits ``Retry-After``, 5xx and network errors back off
exponentially with full jitter. When an attempt fails, ``DeliveryFailed`` tells the notifier to
keep the alert pending (its Kafka offset uncommitted) and try again later: a Slack outage
delays an alert, it never drops one. Requests are also paced to ``slack_max_per_minute``.

The webhook URL and the token are secrets: they are registered with ``common.log`` so no log
line shows them, and no exception raised here carries the URL (only the HTTP status or the
error class). aiohttp is used directly rather than slack-sdk: see docs/alerts.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from common.backoff import calculate_backoff
from common.log import redact, register_secret
from common.settings import Settings

log = logging.getLogger(__name__)


def build_text_only(payload: dict[str, Any]) -> dict[str, Any]:
    """The fallback when Slack rejects the blocks: the same alert, as plain text."""
    return {"text": payload.get("text") or "shockwatch alert"}


RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
CONTENT_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "invalid_payload", "no_text", "msg_too_long"}
)
UPDATE_GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


@dataclass(frozen=True)
class RetryPolicy:
    """One attempt = at most ``max_tries`` HTTP requests; waits between them are bounded."""

    max_tries: int = 4
    base_s: float = 0.5
    cap_s: float = 20.0
    max_retry_after_s: float = 60.0
    timeout_s: float = 10.0

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential backoff with full jitter (attempt counts from 0)."""
        draw = (rng or random).random
        return calculate_backoff(attempt, base_s=self.base_s, cap_s=self.cap_s, jitter=1, rng=draw)


@dataclass
class SlackReply:
    status: int
    ok: bool
    error: str | None = None
    retry_after_s: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        return (
            self.status == 429
            or self.status >= 500
            or self.status == 0
            or (self.error in RETRYABLE_API_ERRORS)
        )


class DeliveryFailed(Exception):
    """An attempt did not get the message accepted. ``kind``: ``transient`` (429/5xx/network
    after the bounded tries), ``content`` (Slack rejected the payload) or ``config`` (the
    webhook/token/channel is wrong: 403, 404, invalid_auth, ...). Never carries the URL."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"Slack delivery failed ({kind}): {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class Delivered:
    channel: str | None = None
    ts: str | None = None


class RateLimiter:
    """At most ``per_minute`` requests in any 60 s (a sliding window), waiting when full."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = max(1, per_minute)
        self.clock = clock
        self.sent: deque[float] = deque()

    async def acquire(self) -> None:
        while True:
            now = self.clock()
            while self.sent and now - self.sent[0] >= 60.0:
                self.sent.popleft()
            if len(self.sent) < self.per_minute:
                self.sent.append(now)
                return
            await asyncio.sleep(60.0 - (now - self.sent[0]) + 0.01)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class SlackClient:
    """Sends payloads through the configured webhook, or the Web API with a bot token.

    ``on_result`` is called with ``ok``/``retry``/``failed`` for metrics.
    """

    def __init__(
        self,
        settings: Settings,
        policy: RetryPolicy | None = None,
        on_result: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        webhook = settings.slack_webhook_url
        token = settings.slack_bot_token
        self.webhook_url = webhook.get_secret_value() if webhook else None
        self.token = token.get_secret_value() if token else None
        self.channel = settings.slack_channel
        self.api_base = settings.slack_api_base.rstrip("/")
        register_secret(self.webhook_url)
        register_secret(self.token)
        if not self.webhook_url and not (self.token and self.channel):
            raise SlackNotConfigured(
                "no Slack destination configured: set SHOCKWATCH_SLACK_WEBHOOK_URL "
                "(or SHOCKWATCH_SLACK_WEBHOOK_URL_FILE), or SHOCKWATCH_SLACK_BOT_TOKEN and "
                "SHOCKWATCH_SLACK_CHANNEL"
            )
        self.policy = policy or RetryPolicy()
        self.limiter = RateLimiter(settings.slack_max_per_minute)
        self.on_result = on_result or (lambda _result: None)
        self.rng = rng or random.Random()
        self.sleep = sleep or asyncio.sleep
        self._session: aiohttp.ClientSession | None = None

    @property
    def uses_bot(self) -> bool:
        return bool(self.token and self.channel)

    @property
    def mode(self) -> str:
        return "bot token (chat.postMessage/chat.update)" if self.uses_bot else "incoming webhook"

    async def __aenter__(self) -> SlackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.policy.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    # -- one HTTP request ----------------------------------------------------------------------
    async def _request(self, method: str | None, payload: dict[str, Any]) -> SlackReply:
        """POST once; network failures become status 0 (retryable). Never raises with a URL."""
        await self.limiter.acquire()
        if method is None:
            url, headers = self.webhook_url or "", {}
        else:
            url = f"{self.api_base}/{method}"
            headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self._http().post(url, json=payload, headers=headers) as resp:
                body = await resp.text()
                retry_after = _retry_after(resp.headers.get("Retry-After"))
                status = resp.status
        except aiohttp.InvalidURL:
            return SlackReply(-1, False, "the configured Slack URL is not a valid URL")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return SlackReply(0, False, f"network: {exc.__class__.__name__}")
        if method is None:
            ok = status == 200
            error = None if ok else (body.strip()[:100] or f"http_{status}")
            return SlackReply(status, ok, redact(error) if error else None, retry_after)
        data: dict[str, Any] = {}
        try:
            parsed = orjson.loads(body) if body else {}
            data = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            data = {}
        ok = status == 200 and bool(data.get("ok"))
        error = None if ok else str(data.get("error") or f"http_{status}")[:100]
        return SlackReply(status, ok, redact(error) if error else None, retry_after, data)

    async def _attempt(self, method: str | None, payload: dict[str, Any]) -> SlackReply:
        """Up to ``max_tries`` requests; returns the accepted reply or raises DeliveryFailed."""
        policy = self.policy
        last: SlackReply | None = None
        for n in range(policy.max_tries):
            reply = await self._request(method, payload)
            if reply.ok:
                return reply
            last = reply
            if not reply.retryable:
                break
            if n + 1 < policy.max_tries:
                self.on_result("retry")
                if reply.status == 429 or reply.error == "ratelimited":
                    ra = reply.retry_after_s
                    wait = min(1.0 if ra is None else ra, policy.max_retry_after_s)
                else:
                    wait = policy.backoff(n, self.rng)
                log.info(
                    "Slack %s answered %s (%s); retrying in %.1f s",
                    method or "webhook",
                    reply.status or "no response",
                    reply.error,
                    wait,
                )
                await self.sleep(wait)
        assert last is not None
        if last.retryable:
            kind = "transient"
        elif last.error in CONTENT_ERRORS or (method is None and last.status == 400):
            kind = "content"
        else:
            kind = "config"
        raise DeliveryFailed(kind, f"{method or 'webhook'} status {last.status}: {last.error}")

    # -- what the notifier calls ---------------------------------------------------------------
    async def post(self, payload: dict[str, Any]) -> Delivered:
        """Post a new message. Falls back to text only if Slack rejects the blocks."""
        try:
            return await self._post(payload)
        except DeliveryFailed as exc:
            if exc.kind != "content" or "blocks" not in payload:
                raise
            log.error("Slack rejected the message blocks (%s); sending text only", exc.detail)
            return await self._post(build_text_only(payload))

    async def _post(self, payload: dict[str, Any]) -> Delivered:
        if self.uses_bot:
            reply = await self._attempt("chat.postMessage", {"channel": self.channel, **payload})
            self.on_result("ok")
            return Delivered(str(reply.data.get("channel") or self.channel), reply.data.get("ts"))
        await self._attempt(None, payload)
        self.on_result("ok")
        return Delivered()

    async def update(self, channel: str, ts: str, payload: dict[str, Any]) -> Delivered | None:
        """Edit a message posted with the bot token; None if it cannot be edited any more."""
        try:
            reply = await self._attempt("chat.update", {"channel": channel, "ts": ts, **payload})
        except DeliveryFailed as exc:
            if any(err in exc.detail for err in UPDATE_GONE_ERRORS):
                return None
            if exc.kind == "content" and "blocks" in payload:
                reply = await self._attempt(
                    "chat.update", {"channel": channel, "ts": ts, **build_text_only(payload)}
                )
            else:
                raise
        self.on_result("ok")
        return Delivered(str(reply.data.get("channel") or channel), str(reply.data.get("ts") or ts))


class SlackNotConfigured(RuntimeError):
    """Neither a webhook nor a bot token with a channel is configured."""
