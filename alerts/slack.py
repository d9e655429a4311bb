"""Slack: Block Kit messages built from an AlertEvent, and their delivery over HTTP.

Building is pure (``build_message``, ``build_resolved_update``): an alert and a few links in,
a payload out that respects Slack's limits (header <= 150 chars of plain_text, section text
<= 3000, <= 10 fields of <= 2000 each, <= 50 blocks). Tests check it against the stand-in in
tests/slack_server.py, which validates the way Slack does.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from common.backoff import calculate_backoff
from common.log import redact, register_secret
from common.settings import Settings
from streams.records import AlertEvent

log = logging.getLogger(__name__)

# Slack's documented limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_SECTION_CHARS = 3000
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BLOCK_ID_CHARS = 255
MAX_TEXT_CHARS = 3000  # top-level fallback text: Slack allows more, notifications show less

CORE_LABELS = {"equities": "Equities", "gold": "Gold", "crypto": "Crypto"}
# Used only when the evidence does not name an asset's class (older AlertEvents).
KNOWN_CLASSES = {
    "SPX": "equity_index",
    "IXIC": "equity_index",
    "NVDA": "ai_equity",
    "PLTR": "ai_equity",
    "XAU": "gold",
    "BTC": "crypto",
    "ETH": "crypto",
    "VIX": "volatility",
}
CLASS_ORDER = ("equity_index", "ai_equity", "gold", "crypto", "volatility")
CLASS_LABELS = {
    "equity_index": "index",
    "ai_equity": "AI equity",
    "gold": "gold",
    "crypto": "crypto",
    "volatility": "vol",
}
FUNDING_PANEL: tuple[tuple[str, str], ...] = (
    ("sofr_iorb", "SOFR − IORB"),
    ("srf", "SRF take-up"),
    ("reserves", "Reserves"),
    ("tga", "TGA"),
    ("on_rrp", "ON RRP"),
)
REGIME_NOTES = {
    "plumbing": "funding-driven, broad, margin-call selling",
    "repricing": "a sector repricing, funding calm",
    "mixed": "broad stress, no single driver",
    "calm": "below the warning level",
}
SEVERITY_ICON = {"critical": "🔴", "warning": "🟠"}
RUNBOOK_ANCHORS = {"critical": "everythingsells", "warning": "shockwatchwarning"}


# -- formatting ---------------------------------------------------------------------------------


def esc(text: object) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    a = abs(x)
    if a >= 1e12:
        return f"${x / 1e12:.2f}tn"
    if a >= 1e9:
        return f"${x / 1e9:.2f}bn"
    if a >= 1e6:
        return f"${x / 1e6:.0f}m"
    if a >= 1e3:
        return f"${x / 1e3:.0f}k"
    return f"${x:,.0f}"


def fmt_usd_bn(x: float | None) -> str:
    return "n/a" if x is None else fmt_usd(x * 1e9)


def fmt_signed(x: float | None, digits: int = 1, suffix: str = "") -> str:
    if x is None:
        return "n/a"
    return f"{x:+.{digits}f}{suffix}".replace("-", "−")


def fmt_time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


# -- blocks -------------------------------------------------------------------------------------


def text_obj(text: str, kind: str = "mrkdwn", limit: int = MAX_SECTION_CHARS) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": kind, "text": truncate(text or " ", limit)}
    if kind == "plain_text":
        obj["emoji"] = True
    return obj


def header(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "header",
        "text": text_obj(text, "plain_text", MAX_HEADER_CHARS),
    }
    if block_id:
        block["block_id"] = block_id[:MAX_BLOCK_ID_CHARS]
    return block


def block_id_for(alert: AlertEvent) -> str:
    """The header's block_id names the transition, so a message says which one it is."""
    return f"shockwatch:{alert.delivery_key}"


def section(text: str | None = None, fields: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One section, or several when there are more than ten fields (Slack's limit)."""
    chunks = [list(fields[i : i + MAX_FIELDS]) for i in range(0, len(fields), MAX_FIELDS)] or [[]]
    out: list[dict[str, Any]] = []
    for i, chunk in enumerate(chunks):
        block: dict[str, Any] = {"type": "section"}
        if i == 0 and text:
            block["text"] = text_obj(text)
        if chunk:
            block["fields"] = [text_obj(f, limit=MAX_FIELD_CHARS) for f in chunk]
        if "text" in block or "fields" in block:
            out.append(block)
    return out


def context(parts: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [text_obj(p) for p in parts[:MAX_CONTEXT_ELEMENTS] if p],
    }


DIVIDER: dict[str, Any] = {"type": "divider"}


def fit_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks: keep the head and the final context block (the links)."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    tail = blocks[-1:] if blocks[-1]["type"] == "context" else []
    return blocks[: MAX_BLOCKS - len(tail)] + tail


# -- message content ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageLinks:
    """Where the message points to, and the score weights (to show "points / max")."""

    dashboard_url: str | None  # None: no Grafana configured, no Dashboard link
    runbook_url: str
    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> MessageLinks:
        return cls(
            dashboard_url=settings.dashboard_url,
            runbook_url=settings.runbook_url,
            weights=dict(settings.detection.score.weights),
        )

    def dashboard_for(self, alert: AlertEvent) -> str | None:
        """The dashboard over the episode: from an hour before it started to an hour after."""
        if not self.dashboard_url:
            return None
        sep = "&" if "?" in self.dashboard_url else "?"
        start = alert.started_ts_ms - 3_600_000
        end = alert.ts_ms + 3_600_000
        return f"{self.dashboard_url}{sep}from={start}&to={end}"

    def runbook_for(self, alert: AlertEvent) -> str:
        if "#" in self.runbook_url:
            return self.runbook_url
        return f"{self.runbook_url}#{RUNBOOK_ANCHORS.get(str(alert.severity), 'everythingsells')}"


def title(alert: AlertEvent) -> str:
    return "EVERYTHING SELLS" if alert.severity == "critical" else "Cross-asset stress"


def header_text(alert: AlertEvent) -> str:
    if alert.state == "resolved":
        return f"✅ Resolved: {title(alert)} · {alert.severity} · {alert.regime}"
    icon = SEVERITY_ICON.get(str(alert.severity), "⚪")
    return f"{icon} {title(alert)} · {str(alert.severity).upper()} · {alert.regime}"


def summary_text(alert: AlertEvent) -> str:
    ev = alert.evidence
    breadth = _num(ev.get("breadth"))
    core = ev.get("core_z") or {}
    n_core = len(core) or 3
    down = f"{round(breadth * n_core)}/{n_core}" if breadth is not None else "n/a"
    comove = _num(ev.get("comovement"))
    lines = [
        f"*Score {alert.score:.0f}/100* · breadth {down} core classes down · "
        f"co-movement {fmt_signed(comove, 2) if comove is not None else 'n/a'}",
        f"Regime *{esc(alert.regime)}* ({REGIME_NOTES.get(str(alert.regime), '')})",
        f"Started {fmt_time(alert.started_ts_ms)} · this transition {fmt_time(alert.ts_ms)}",
        f"Alert `{esc(alert.alert_id)}` · scope `{esc(alert.scope)}`",
    ]
    return "\n".join(lines)


def _asset_class(symbol: str, view: dict[str, Any]) -> str:
    return str(view.get("asset_class") or KNOWN_CLASSES.get(symbol, "other"))


def moves_blocks(alert: AlertEvent) -> list[dict[str, Any]]:
    ev = alert.evidence
    core = ev.get("core_z") or {}
    classes = " · ".join(
        f"{CORE_LABELS.get(name, esc(name))} {fmt_signed(_num(z), 1, 'σ')}"
        for name, z in core.items()
    )
    assets: dict[str, dict[str, Any]] = ev.get("assets") or {}

    def order(item: tuple[str, dict[str, Any]]) -> tuple[int, str]:
        cls = _asset_class(*item)
        return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), item[0])

    fields = []
    for symbol, view in sorted(assets.items(), key=order):
        cls = _asset_class(symbol, view)
        pct = _num(view.get("ret_day_pct"))
        z = _num(view.get("z_day"))
        fields.append(
            f"*{esc(symbol)}* ({CLASS_LABELS.get(cls, esc(cls))})\n"
            f"{fmt_signed(pct, 2, '%')} on the day · z {fmt_signed(z, 1)}"
        )
    text = f"*Cross-asset moves* — class z: {classes or 'n/a'}"
    return section(text, fields)


def venues_line(liq: dict[str, Any]) -> str:
    """Which venues reported in the window and what share is a lower bound, e.g.
    "venues: binanceusdm, bybit, okx · 62% lower bound"."""
    names = liq.get("venues") or sorted(liq.get("by_venue") or {})
    text = f"venues: {', '.join(esc(str(n)) for n in names)}" if names else "venues: none"
    share = _num(liq.get("lower_bound_share"))
    if share:
        text += f" · {share * 100:.0f}% lower bound"
    return text


def liquidation_blocks(alert: AlertEvent) -> list[dict[str, Any]]:
    liq = alert.evidence.get("liquidations") or {}
    if not liq:
        return section("*Liquidations* — no data")
    usd = _num(liq.get("notional_usd"))
    window = liq.get("window_min", "?")
    surge = _num(liq.get("surge_ratio"))
    long_share = _num(liq.get("long_share"))
    day = _num(liq.get("day_total_usd"))
    parts = [
        f"*Liquidations* — {fmt_usd(usd)} in {window} min",
        f"{surge:.1f}× baseline" if surge is not None else "surge n/a",
        f"{long_share * 100:.0f}% longs" if long_share is not None else "long share n/a",
        venues_line(liq),
    ]
    if day is not None:
        parts.append(f"running total {fmt_usd(day)}")
    text = " · ".join(parts)
    if liq.get("is_lower_bound"):
        text += "\n_Lower bound: a snapshot feed (Binance: one order per symbol per second)._"
    venues = liq.get("by_venue") or {}
    fields = []
    for venue, v in sorted(venues.items(), key=lambda kv: -(_num(kv[1].get("notional_usd")) or 0)):
        share = _num(v.get("long_share"))
        count = _num(v.get("count"))
        fields.append(
            f"*{esc(venue)}*\n{fmt_usd(_num(v.get('notional_usd')))}"
            + (f" · {share * 100:.0f}% long" if share is not None else "")
            + (f" · {count:.0f} orders" if count is not None else "")
        )
    return section(text, fields)


def _funding_value(name: str, comp: dict[str, Any]) -> str:
    value = _num(comp.get("value"))
    if name == "sofr_iorb":
        return fmt_signed(value, 1, " bp")
    return fmt_usd_bn(value)


def funding_blocks(alert: AlertEvent) -> list[dict[str, Any]]:
    f = alert.evidence.get("funding") or {}
    stress = _num(f.get("stress"))
    text = f"*Funding* — stress {stress:.2f}" if stress is not None else "*Funding* — unknown"
    notes = []
    if f.get("stale"):
        notes.append("stale: " + ", ".join(esc(s) for s in f["stale"]))
    if f.get("missing"):
        notes.append("missing: " + ", ".join(esc(s) for s in f["missing"]))
    if notes:
        text += f" ({'; '.join(notes)})"
    fields = []
    for name, label in FUNDING_PANEL:
        comp = f.get(name)
        if not isinstance(comp, dict):
            continue
        cstress = _num(comp.get("stress"))
        detail = []
        if cstress is not None:
            detail.append(f"stress {cstress:.2f}")
        if comp.get("date"):
            detail.append(esc(comp["date"]))
        fields.append(
            f"*{label}*\n{_funding_value(name, comp)}"
            + (f" ({', '.join(detail)})" if detail else "")
        )
    return section(text, fields)


def score_blocks(alert: AlertEvent, links: MessageLinks) -> list[dict[str, Any]]:
    comps = alert.evidence.get("components") or {}
    parts = []
    for key, value in comps.items():
        if not key.endswith("_points"):
            continue
        name = key[: -len("_points")]
        points = _num(value)
        weight = links.weights.get(name)
        of = f"/{weight:.0f}" if weight is not None else ""
        parts.append(f"{esc(name)} {points:.1f}{of}" if points is not None else f"{name} n/a")
    text = f"*Score {alert.score:.1f}* = " + (" + ".join(parts) if parts else "n/a")
    return section(text)


def links_block(alert: AlertEvent, links: MessageLinks) -> dict[str, Any]:
    dashboard = links.dashboard_for(alert)
    runbook = f"<{links.runbook_for(alert)}|Runbook>"
    return context(
        [
            f"<{dashboard}|Dashboard> · {runbook}" if dashboard else runbook,
            f"shockwatch · {fmt_time(alert.ts_ms)}",
        ]
    )


def fallback_text(alert: AlertEvent) -> str:
    return truncate(esc(alert.headline), MAX_TEXT_CHARS)


def build_message(alert: AlertEvent, links: MessageLinks) -> dict[str, Any]:
    """The message for one transition: firing (the evidence) or resolved (a short note)."""
    if alert.state == "resolved":
        return build_resolved_message(alert, links)
    blocks: list[dict[str, Any]] = [header(header_text(alert), block_id_for(alert))]
    blocks += section(summary_text(alert))
    blocks.append(DIVIDER)
    blocks += moves_blocks(alert)
    blocks += liquidation_blocks(alert)
    blocks += funding_blocks(alert)
    blocks += score_blocks(alert, links)
    blocks.append(links_block(alert, links))
    return {"text": fallback_text(alert), "blocks": fit_blocks(blocks)}


def resolved_text(alert: AlertEvent) -> str:
    lasted = fmt_duration((alert.ts_ms - alert.started_ts_ms) / 1000)
    return (
        f"Episode `{esc(alert.alert_id)}` resolved at {fmt_time(alert.ts_ms)} after {lasted} "
        f"(started {fmt_time(alert.started_ts_ms)}). Highest severity *{esc(alert.severity)}*; "
        f"score now {alert.score:.0f}."
    )


def build_resolved_message(alert: AlertEvent, links: MessageLinks) -> dict[str, Any]:
    blocks = [header(header_text(alert), block_id_for(alert)), *section(resolved_text(alert))]
    blocks += score_blocks(alert, links)
    blocks.append(links_block(alert, links))
    return {"text": fallback_text(alert), "blocks": fit_blocks(blocks)}


def build_resolved_update(
    alert: AlertEvent, links: MessageLinks, original_blocks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The original firing message, edited: a resolved banner on top of its evidence."""
    kept = [b for b in original_blocks if b.get("type") != "header"]
    blocks = [
        header(header_text(alert), block_id_for(alert)),
        *section(resolved_text(alert)),
        DIVIDER,
        *kept,
    ]
    return {"text": fallback_text(alert), "blocks": fit_blocks(blocks)}


def build_text_only(payload: dict[str, Any]) -> dict[str, Any]:
    """The fallback when Slack rejects the blocks: the same alert, as plain text."""
    return {"text": payload.get("text") or "shockwatch alert"}


# -- delivery -----------------------------------------------------------------------------------

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
