"""A local stand-in for Slack: an incoming webhook and the two Web API methods we use.

For tests (``tests/slack_server.py`` re-exports it) and the demo (``make demo`` prints each
message it accepts). Runs an ``http.server`` in a thread, so it starts from sync code:

    server, webhook_url = start_slack_stand_in(verbose=True)
    ...  # SHOCKWATCH_SLACK_WEBHOOK_URL=webhook_url, or slack_api_base=server.api_base
    server.stop()

It answers like Slack: the webhook ``POST /services/T000/B000/XXXX`` -> 200 ``ok``, an invalid
payload -> 400 ``invalid_blocks`` / ``no_text`` / ``invalid_payload`` /
``too_many_attachments``, an unknown hook -> 404 ``no_service``; ``/api/chat.postMessage`` and
``/api/chat.update`` need ``Authorization: Bearer xoxb-...`` and answer HTTP 200 with
``{"ok": true, "ts": ...}`` or ``{"ok": false, "error": ...}``. It validates Block Kit the way
Slack does (known block types, text object types, header <= 150 plain_text chars, section text
<= 3000, <= 10 fields of <= 2000, <= 50 blocks) and legacy attachments (what Alertmanager's
``slack_configs`` send: a list of at most 100 objects, string fields, ``fields`` of
title/value/short). A message needs non-empty ``text``, ``blocks`` or ``attachments``
(``no_text``). A webhook body is JSON (``Content-Type: application/json``) or a form with a
``payload`` field, as Slack takes it; anything else is ``invalid_payload``.

A real incoming webhook posts to the one channel it was created for: ``add_webhook(channel)``
makes another hook URL bound to ``channel`` (e.g. a desk and an ops channel on one server).
Each accepted message records that channel, its ``format`` (``blocks``: the notifier's Block
Kit; ``attachments``: Alertmanager's; ``text``) and the sender's ``User-Agent``.

Faults on demand: ``fail_next(429, k, retry_after=N)``, ``fail_next(500, m)`` queue answers for
the next requests; ``set_down(True)`` answers 500 to everything until ``set_down(False)``;
``delay_s`` slows every answer down.
Every accepted message is recorded in ``messages`` (and printed, readably, when verbose).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WEBHOOK_PATH = "/services/T000/B000/XXXX"
API_PREFIX = "/api/"
CHANNEL_ID = "C0SHOCKWATCH"

BLOCK_TYPES = {"header", "section", "divider", "context", "image", "actions", "rich_text"}
TEXT_TYPES = {"plain_text", "mrkdwn"}
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BLOCK_ID = 255
MAX_MESSAGE_TEXT = 40_000
MAX_ATTACHMENTS = 100
ATTACHMENT_STRINGS = frozenset(
    {
        "fallback",
        "color",
        "pretext",
        "author_name",
        "author_link",
        "author_icon",
        "title",
        "title_link",
        "text",
        "image_url",
        "thumb_url",
        "footer",
        "footer_icon",
        "callback_id",
    }
)
ATTACHMENT_CONTENT = ("fallback", "text", "title", "pretext", "fields", "image_url", "blocks")
MRKDWN_IN = frozenset({"pretext", "text", "fields", "fallback", "title"})


class InvalidPayload(ValueError):
    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail


def _text_object(obj: Any, where: str, limit: int, plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        raise InvalidPayload("invalid_blocks", f"{where}: must be a plain_text or mrkdwn object")
    if plain_only and obj["type"] != "plain_text":
        raise InvalidPayload("invalid_blocks", f"{where}: must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise InvalidPayload("invalid_blocks", f"{where}: text must be a non-empty string")
    if len(text) > limit:
        raise InvalidPayload("invalid_blocks", f"{where}: {len(text)} chars > {limit}")
    if "emoji" in obj and obj["type"] != "plain_text":
        raise InvalidPayload("invalid_blocks", f"{where}: emoji only on plain_text")
    if "verbatim" in obj and obj["type"] != "mrkdwn":
        raise InvalidPayload("invalid_blocks", f"{where}: verbatim only on mrkdwn")
    unknown = set(obj) - {"type", "text", "emoji", "verbatim"}
    if unknown:
        raise InvalidPayload("invalid_blocks", f"{where}: unknown keys {sorted(unknown)}")


def _section(block: dict[str, Any], where: str) -> None:
    if "text" not in block and "fields" not in block:
        raise InvalidPayload("invalid_blocks", f"{where}: section needs text or fields")
    if "text" in block:
        _text_object(block["text"], f"{where}.text", MAX_SECTION_TEXT)
    if "fields" in block:
        fields = block["fields"]
        if not isinstance(fields, list) or not fields or len(fields) > MAX_FIELDS:
            raise InvalidPayload("invalid_blocks", f"{where}.fields: 1 to {MAX_FIELDS} items")
        for j, f in enumerate(fields):
            _text_object(f, f"{where}.fields[{j}]", MAX_FIELD_TEXT)


def _context(block: dict[str, Any], where: str) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        raise InvalidPayload("invalid_blocks", f"{where}: context needs elements")
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        raise InvalidPayload("invalid_blocks", f"{where}: > {MAX_CONTEXT_ELEMENTS} elements")
    for j, el in enumerate(elements):
        if not (isinstance(el, dict) and el.get("type") == "image"):
            _text_object(el, f"{where}.elements[{j}]", MAX_SECTION_TEXT)


def _block(block: Any, i: int) -> None:
    where = f"blocks[{i}]"
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        raise InvalidPayload("invalid_blocks", f"{where}: unknown block type")
    kind = block["type"]
    if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID:
        raise InvalidPayload("invalid_blocks", f"{where}: block_id too long")
    if kind == "header":
        _text_object(block.get("text"), f"{where}.text", MAX_HEADER, plain_only=True)
    elif kind == "section":
        _section(block, where)
    elif kind == "context":
        _context(block, where)
    elif kind == "divider" and set(block) - {"type", "block_id"}:
        raise InvalidPayload("invalid_blocks", f"{where}: divider takes no content")


def _blocks(blocks: Any) -> None:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise InvalidPayload("invalid_blocks", f"blocks: a list of at most {MAX_BLOCKS}")
    for i, block in enumerate(blocks):
        _block(block, i)


def _attachment(att: Any, i: int) -> None:
    where = f"attachments[{i}]"
    if not isinstance(att, dict):
        raise InvalidPayload("invalid_payload", f"{where}: must be an object")
    for key in ATTACHMENT_STRINGS & set(att):
        if not isinstance(att[key], str) or len(att[key]) > MAX_MESSAGE_TEXT:
            raise InvalidPayload("invalid_payload", f"{where}.{key}: must be a string")
    fields = att.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            raise InvalidPayload("invalid_payload", f"{where}.fields: must be a list")
        for j, f in enumerate(fields):
            ok = isinstance(f, dict) and all(
                isinstance(f.get(k, ""), str) for k in ("title", "value")
            )
            if not ok or not isinstance(f.get("short", False), bool):
                raise InvalidPayload("invalid_payload", f"{where}.fields[{j}]: title/value/short")
    mrkdwn_in = att.get("mrkdwn_in")
    if mrkdwn_in is not None and (
        not isinstance(mrkdwn_in, list) or not set(mrkdwn_in) <= MRKDWN_IN
    ):
        raise InvalidPayload("invalid_payload", f"{where}.mrkdwn_in: names of text fields")
    if "actions" in att and not isinstance(att["actions"], list):
        raise InvalidPayload("invalid_payload", f"{where}.actions: must be a list")
    if "blocks" in att:
        _blocks(att["blocks"])
    if not any(att.get(k) for k in ATTACHMENT_CONTENT):
        raise InvalidPayload("invalid_payload", f"{where}: an attachment needs some content")


def validate_message(payload: Any) -> None:
    """Raise ``InvalidPayload`` with Slack's error code if Slack would refuse ``payload``."""
    if not isinstance(payload, dict):
        raise InvalidPayload("invalid_payload", "body must be a JSON object")
    blocks = payload.get("blocks")
    text = payload.get("text")
    attachments = payload.get("attachments")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_MESSAGE_TEXT):
        raise InvalidPayload("invalid_payload", "text must be a string")
    if not blocks and not text and not attachments:
        raise InvalidPayload("no_text", "a message needs text, blocks or attachments")
    if blocks is not None:
        _blocks(blocks)
    if attachments is not None:
        if not isinstance(attachments, list):
            raise InvalidPayload("invalid_payload", "attachments: must be a list")
        if len(attachments) > MAX_ATTACHMENTS:
            raise InvalidPayload("too_many_attachments", f"more than {MAX_ATTACHMENTS}")
        for i, att in enumerate(attachments):
            _attachment(att, i)


def message_format(payload: dict[str, Any]) -> str:
    """``blocks`` (Block Kit), ``attachments`` (legacy, e.g. Alertmanager) or ``text``."""
    if payload.get("blocks"):
        return "blocks"
    if payload.get("attachments"):
        return "attachments"
    return "text"


def render(payload: dict[str, Any]) -> str:
    """A readable plain-text rendering of a message (what the demo prints)."""
    lines: list[str] = []
    for block in payload.get("blocks") or []:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += [title, "=" * min(len(title), 78)]
        elif kind == "section":
            if "text" in block:
                lines.append(block["text"]["text"])
            for f in block.get("fields", []):
                lines.append("  " + f["text"].replace("\n", ": ", 1).replace("\n", " "))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "context":
            lines.append(
                "  ".join(el.get("text", "") for el in block["elements"] if isinstance(el, dict))
            )
    for att in payload.get("attachments") or []:
        if att.get("title"):
            lines += [att["title"], "=" * min(len(att["title"]), 78)]
        if att.get("text"):
            lines.append(att["text"])
    if not lines:
        lines.append(str(payload.get("text", "")))
    return "\n".join(lines)


@dataclass
class Accepted:
    kind: str  # "webhook" | "chat.postMessage" | "chat.update"
    payload: dict[str, Any]
    channel: str | None = None  # the API's channel, or the channel a webhook is bound to
    ts: str | None = None
    received_s: float = field(default_factory=time.time)
    user_agent: str = ""

    @property
    def format(self) -> str:
        """How the message is built: ``blocks``, ``attachments`` or ``text``."""
        return message_format(self.payload)


class SlackStandIn(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, verbose: bool = False, token_prefix: str = "xoxb-") -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.verbose = verbose
        self.token_prefix = token_prefix
        self.lock = threading.Lock()
        self.messages: list[Accepted] = []
        self.posted: dict[str, Accepted] = {}  # ts -> the message as it stands
        self.faults: deque[tuple[int, float | None]] = deque()
        self.down = False
        self.delay_s = 0.0  # answer every request this much later (a slow Slack)
        self.requests = 0
        self.rejected: list[tuple[int, str]] = []
        self.webhooks: dict[str, str | None] = {WEBHOOK_PATH: None}  # path -> bound channel
        self._ts = 0
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def api_base(self) -> str:
        return self.base_url + "/api"

    def add_webhook(self, channel: str) -> str:
        """Another incoming webhook, bound to ``channel`` like Slack's; returns its URL."""
        with self.lock:
            n = len(self.webhooks)
            path = f"/services/T000/B{n:03d}/{secrets.token_hex(12)}"
            self.webhooks[path] = channel
        return self.base_url + path

    def in_channel(self, channel: str | None) -> list[Accepted]:
        """The accepted messages posted to ``channel``."""
        with self.lock:
            return [m for m in self.messages if m.channel == channel]

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer ``status`` to the next ``count`` requests (429s carry Retry-After)."""
        with self.lock:
            for _ in range(count):
                self.faults.append((status, retry_after))

    def set_down(self, down: bool = True) -> None:
        with self.lock:
            self.down = down

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.posted.clear()
            self.faults.clear()
            self.rejected.clear()
            self.down = False
            self.requests = 0

    def wait_for(self, n: int, timeout_s: float = 30.0) -> list[Accepted]:
        """Block until ``n`` messages were accepted (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.messages)} of {n} Slack messages after {timeout_s} s")

    def start(self) -> SlackStandIn:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="slack-stand-in", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- behaviour ---------------------------------------------------------------------------
    def next_fault(self) -> tuple[int, float | None] | None:
        with self.lock:
            self.requests += 1
            if self.down:
                return (500, None)
            return self.faults.popleft() if self.faults else None

    def accept(
        self,
        kind: str,
        payload: dict[str, Any],
        channel: str | None = None,
        user_agent: str = "",
    ) -> Accepted:
        with self.lock:
            self._ts += 1
            ts = (
                payload.get("ts") if kind == "chat.update" else f"{int(time.time())}.{self._ts:06d}"
            )
            item = Accepted(kind, payload, channel, ts, user_agent=user_agent)
            self.messages.append(item)
            if ts is not None:
                self.posted[ts] = item
        if self.verbose:
            where = f" in {channel}" if channel else ""
            print(
                f"\n[slack stand-in] {kind}{where} accepted ({item.format}):\n{render(payload)}\n",
                flush=True,
            )
        return item


class _Handler(BaseHTTPRequestHandler):
    server: SlackStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: str, ctype: str, headers: dict[str, str] | None = None):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, obj: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None):
        self._send(status, json.dumps(obj), "application/json; charset=utf-8", headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        is_api = self.path.startswith(API_PREFIX)
        fault = self.server.next_fault()
        if fault is not None:
            status, retry_after = fault
            headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
            if status == 429:
                if is_api:
                    self._json({"ok": False, "error": "ratelimited"}, 429, headers)
                else:
                    self._send(429, "rate_limited", "text/plain", headers)
            else:
                self._send(status, "<html>server error</html>", "text/html", headers)
            return
        if self.path in self.server.webhooks:
            self._webhook(self._webhook_body(raw), self.server.webhooks[self.path])
            return
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            payload = None
        if is_api:
            self._api(self.path[len(API_PREFIX) :], payload)
        else:
            self._send(404, "no_service", "text/plain")

    def _webhook_body(self, raw: bytes) -> Any:
        """The message as Slack reads a webhook body: JSON, or a form's ``payload`` field;
        ``None`` (-> invalid_payload) for anything else."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(raw.decode(errors="replace"))
            raw = (form.get("payload") or [""])[0].encode()
        elif ctype != "application/json":
            return None
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _webhook(self, payload: Any, channel: str | None) -> None:
        try:
            validate_message(payload)
        except InvalidPayload as exc:
            self.server.rejected.append((400, exc.error))
            self._send(400, exc.error, "text/plain")
            return
        self.server.accept("webhook", payload, channel, self.headers.get("User-Agent", ""))
        self._send(200, "ok", "text/plain")

    def _api(self, method: str, payload: Any) -> None:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self._json({"ok": False, "error": "not_authed"})
            return
        if not auth[len("Bearer ") :].startswith(self.server.token_prefix):
            self._json({"ok": False, "error": "invalid_auth"})
            return
        if method not in ("chat.postMessage", "chat.update"):
            self._json({"ok": False, "error": "unknown_method"})
            return
        if not isinstance(payload, dict) or not payload.get("channel"):
            self._json({"ok": False, "error": "channel_not_found"})
            return
        try:
            validate_message({k: v for k, v in payload.items() if k in ("text", "blocks")})
        except InvalidPayload as exc:
            self.server.rejected.append((200, exc.error))
            self._json({"ok": False, "error": exc.error})
            return
        channel = CHANNEL_ID
        if method == "chat.update" and payload.get("ts") not in self.server.posted:
            self._json({"ok": False, "error": "message_not_found"})
            return
        item = self.server.accept(method, payload, channel, self.headers.get("User-Agent", ""))
        self._json({"ok": True, "channel": channel, "ts": item.ts, "message": {"text": "..."}})


def start_slack_stand_in(port: int = 0, verbose: bool = False) -> tuple[SlackStandIn, str]:
    """Start the stand-in on 127.0.0.1 (a free port by default); returns it and the webhook URL."""
    server = SlackStandIn(port, verbose=verbose).start()
    return server, server.webhook_url
