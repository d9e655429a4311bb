"""alerts.slack: Block Kit within Slack's limits, carrying the evidence; delivery behaviour
against the local stand-in (retries, Retry-After, fallbacks); secrets never in logs."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import msgspec
import pytest

from alerts.blocks import (
    MAX_BLOCKS,
    MessageLinks,
    build_message,
    build_resolved_update,
    venues_line,
)
from alerts.slack import DeliveryFailed, RateLimiter, RetryPolicy, SlackClient, SlackNotConfigured
from common.settings import DASHBOARD_PATH, PROJECT_ROOT, Settings
from shockwatch.cli.sample import sample_alert
from streams.records import AssetEvidence, Evidence, LiqEvidence, VenueLiq
from tests.slack_server import InvalidPayload, SlackStandIn, render, validate_message

LINKS = MessageLinks(
    dashboard_url="https://grafana.example/d/shockwatch/shockwatch",
    runbook_url="https://git.example/docs/runbooks.md",
    weights={"market": 40.0, "liquidations": 25.0, "funding": 25.0, "comovement": 10.0},
)
VENUE = {"notional_usd": 1e6, "long_usd": 5e5, "count": 3.0, "long_share": 0.5}
FAST = RetryPolicy(max_tries=3, base_s=0.01, cap_s=0.02, max_retry_after_s=0.05)


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def check_limits(payload: dict[str, Any]) -> None:
    validate_message(payload)  # raises InvalidPayload like Slack would
    blocks = payload["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))


# -- building -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("liq", "line"),
    [
        ({"venues": ["bybit", "okx"], "lower_bound_share": 0.0}, "venues: bybit, okx"),
        (
            {"venues": ["binanceusdm", "okx"], "lower_bound_share": 0.616},
            "venues: binanceusdm, okx · 62% lower bound",
        ),
        # evidence recorded before the panel named its venues: the by-venue keys
        ({"by_venue": {"okx": VENUE, "bybit": VENUE}}, "venues: bybit, okx"),
        ({"venues": []}, "venues: none"),
    ],
)
def test_venues_line_names_the_venues_and_the_lower_bound_share(
    liq: dict[str, Any], line: str
) -> None:
    assert venues_line(LiqEvidence.from_dict(liq)) == line


def test_critical_message_has_the_evidence() -> None:
    alert = sample_alert("firing", "critical")
    payload = build_message(alert, LINKS)
    check_limits(payload)
    text = all_text(payload)
    header = payload["blocks"][0]
    assert header["type"] == "header"
    assert "EVERYTHING SELLS" in header["text"]["text"]
    assert str(alert.regime) in header["text"]["text"]
    assert header["block_id"] == f"shockwatch:{alert.delivery_key}"
    # per-class moves and every asset's day move
    assert "Equities −" in text and "Gold −" in text and "Crypto −" in text
    ev = alert.evidence.to_dict()
    for symbol, view in ev["assets"].items():
        assert f"*{symbol}*" in text
        assert f"{view['ret_day_pct']:+.2f}%".replace("-", "−") in text
    # liquidations by venue with the long share
    for venue, v in ev["liquidations"]["by_venue"].items():
        assert f"*{venue}*" in text
        assert f"{v['long_share'] * 100:.0f}% long" in text
    assert "Lower bound" in text
    # which venues reported, and what share of the window is a lower bound
    liq = ev["liquidations"]
    share = liq["lower_bound_share"]
    assert liq["venues"] == sorted(liq["by_venue"]) and 0 < share < 1
    assert f"venues: {', '.join(liq['venues'])} · {share * 100:.0f}% lower bound" in text
    # the funding panel
    for label in ("SOFR − IORB", "SRF take-up", "Reserves", "TGA", "ON RRP"):
        assert label in text
    assert "+23.0 bp" in text or " bp" in text
    # the score and its components, against their weights
    assert f"*Score {alert.score:.1f}*" in text
    assert "liquidations 25.0/25" in text or "liquidations " in text
    # links: the dashboard over the episode and the runbook section
    assert f"{LINKS.dashboard_url}?from={alert.started_ts_ms - 3_600_000}" in text
    assert f"{LINKS.runbook_url}#everythingsells" in text
    assert payload["text"] == alert.headline


def test_warning_message() -> None:
    alert = sample_alert("firing", "warning")
    payload = build_message(alert, LINKS)
    check_limits(payload)
    assert "EVERYTHING SELLS" not in payload["blocks"][0]["text"]["text"]
    assert "WARNING" in payload["blocks"][0]["text"]["text"]
    assert "#shockwatchwarning" in all_text(payload)


def test_resolved_message_and_update() -> None:
    firing = sample_alert("firing", "critical")
    resolved = sample_alert("resolved", "critical")
    message = build_message(resolved, LINKS)
    check_limits(message)
    assert message["blocks"][0]["text"]["text"].startswith("✅ Resolved")
    assert resolved.alert_id in all_text(message)
    original = build_message(firing, LINKS)
    update = build_resolved_update(resolved, LINKS, original["blocks"])
    check_limits(update)
    assert update["blocks"][0]["text"]["text"].startswith("✅ Resolved")
    assert update["blocks"][0]["block_id"] == f"shockwatch:{resolved.delivery_key}"
    # the original evidence stays under the banner
    assert all(b in update["blocks"] for b in original["blocks"][1:])


def test_limits_hold_for_oversized_evidence() -> None:
    alert = sample_alert("firing", "critical")
    ev = alert.evidence
    assert isinstance(ev.assets, dict) and isinstance(ev.liquidations, LiqEvidence)
    assert isinstance(ev.liquidations.by_venue, dict)
    view: AssetEvidence = next(iter(ev.assets.values()))
    venue: VenueLiq = next(iter(ev.liquidations.by_venue.values()))
    huge = replace(
        alert,
        alert_id="sw-" + "x" * 400,
        headline="H" * 50_000,
        regime="plumbing",
        evidence=msgspec.structs.replace(
            ev,
            assets={f"SYMBOL{i:03d}" + "Z" * 2500: view for i in range(400)},
            liquidations=msgspec.structs.replace(
                ev.liquidations, by_venue={f"venue{i}": venue for i in range(60)}
            ),
            core_z={f"class{i}" + "c" * 100: -1.0 for i in range(60)},
        ),
    )
    payload = build_message(huge, LINKS)
    check_limits(payload)
    assert len(payload["blocks"]) == MAX_BLOCKS
    assert payload["blocks"][-1]["type"] == "context"  # the links survive truncation
    assert len(payload["text"]) <= 3000


def test_mrkdwn_is_escaped() -> None:
    alert = sample_alert("firing", "critical")
    ev = alert.evidence
    assert isinstance(ev.assets, dict)
    ev = msgspec.structs.replace(ev, assets={"<!channel>&": next(iter(ev.assets.values()))})
    payload = build_message(replace(alert, evidence=ev), LINKS)
    text = all_text(payload)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;&amp;" in text


def test_missing_evidence_still_builds() -> None:
    alert = replace(sample_alert("firing", "critical"), evidence=Evidence())
    check_limits(build_message(alert, LINKS))


def test_stand_in_rejects_what_slack_rejects() -> None:
    ok = build_message(sample_alert(), LINKS)
    bad_header = {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]}
    too_long = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}
    too_many = {"blocks": [{"type": "divider"}] * 51}
    fields = [{"type": "mrkdwn", "text": "f"}] * 11
    many_fields = {"blocks": [{"type": "section", "fields": fields}]}
    for bad in (bad_header, too_long, too_many, many_fields):
        with pytest.raises(InvalidPayload) as err:
            validate_message(bad)
        assert err.value.error == "invalid_blocks"
    with pytest.raises(InvalidPayload) as err:
        validate_message({})
    assert err.value.error == "no_text"
    validate_message(ok)
    assert "EVERYTHING SELLS" in render(ok)


def test_docs_example_is_a_valid_critical_message() -> None:
    path = PROJECT_ROOT / "docs" / "slack-message-example.json"
    payload = json.loads(path.read_text())
    check_limits(payload)
    assert "EVERYTHING SELLS" in payload["blocks"][0]["text"]["text"]
    assert "2025-11-04" in all_text(payload)


# -- delivery -----------------------------------------------------------------------------------


def webhook_settings(url: str, **kw: Any) -> Settings:
    return Settings(slack_webhook_url=url, slack_max_per_minute=1000, **kw)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []
        self.results: list[str] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def test_retry_after_then_backoff_then_ok(slack_stand_in: SlackStandIn) -> None:
    rec = Recorder()
    policy = RetryPolicy(max_tries=4, base_s=0.01, cap_s=0.02)
    client = SlackClient(
        webhook_settings(slack_stand_in.webhook_url),
        policy,
        on_result=rec.results.append,
        sleep=rec.sleep,
    )
    slack_stand_in.fail_next(429, 1, retry_after=7)
    slack_stand_in.fail_next(503, 1)
    async with client:
        await client.post(build_message(sample_alert(), LINKS))
    assert len(slack_stand_in.messages) == 1
    assert slack_stand_in.requests == 3
    assert rec.waits[0] == 7  # Retry-After honoured (below max_retry_after_s)
    assert 0 <= rec.waits[1] <= 0.02  # exponential backoff with jitter, capped
    assert rec.results == ["retry", "retry", "ok"]


async def test_bounded_tries_then_delivery_failed(slack_stand_in: SlackStandIn) -> None:
    rec = Recorder()
    client = SlackClient(webhook_settings(slack_stand_in.webhook_url), FAST, sleep=rec.sleep)
    slack_stand_in.set_down(True)
    async with client:
        with pytest.raises(DeliveryFailed) as err:
            await client.post(build_message(sample_alert(), LINKS))
    assert err.value.kind == "transient"
    assert slack_stand_in.requests == FAST.max_tries
    assert slack_stand_in.messages == []


async def test_rejected_blocks_fall_back_to_text(slack_stand_in: SlackStandIn) -> None:
    client = SlackClient(webhook_settings(slack_stand_in.webhook_url), FAST)
    payload = build_message(sample_alert(), LINKS)
    payload["blocks"][0]["text"]["type"] = "mrkdwn"  # Slack refuses a mrkdwn header
    async with client:
        await client.post(payload)
    assert slack_stand_in.rejected == [(400, "invalid_blocks")]
    (accepted,) = slack_stand_in.messages
    assert "blocks" not in accepted.payload
    assert accepted.payload["text"] == payload["text"]


async def test_bot_token_posts_and_updates(slack_stand_in: SlackStandIn) -> None:
    settings = Settings(
        slack_bot_token="xoxb-test-token",  # type: ignore[arg-type]
        slack_channel="#desk",
        slack_api_base=slack_stand_in.api_base,
    )
    client = SlackClient(settings, FAST)
    assert client.uses_bot
    firing, resolved = sample_alert(), sample_alert("resolved", "critical")
    async with client:
        slack_stand_in.fail_next(429, 1, retry_after=0)
        posted = await client.post(build_message(firing, LINKS))
        original = build_message(firing, LINKS)["blocks"]
        assert posted.ts is not None and posted.channel
        updated = await client.update(
            posted.channel, posted.ts, build_resolved_update(resolved, LINKS, original)
        )
        assert updated is not None and updated.ts == posted.ts
        gone = await client.update(posted.channel, "999.000", build_message(resolved, LINKS))
        assert gone is None  # message_not_found: the caller posts instead
    kinds = [m.kind for m in slack_stand_in.messages]
    assert kinds == ["chat.postMessage", "chat.update"]


def test_not_configured_is_a_clear_error() -> None:
    with pytest.raises(SlackNotConfigured, match="SHOCKWATCH_SLACK_WEBHOOK_URL"):
        SlackClient(Settings())
    with pytest.raises(SlackNotConfigured):
        SlackClient(Settings(slack_bot_token="xoxb-x"))  # type: ignore[arg-type]  # no channel


async def test_rate_limit_paces_requests() -> None:
    now = [0.0]
    waits: list[float] = []
    limiter = RateLimiter(3, clock=lambda: now[0])

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    import alerts.slack as slack_mod

    real_sleep = slack_mod.asyncio.sleep
    slack_mod.asyncio.sleep = fake_sleep  # type: ignore[assignment]
    try:
        for _ in range(7):
            await limiter.acquire()
    finally:
        slack_mod.asyncio.sleep = real_sleep  # type: ignore[assignment]
    # 3 at t=0, 3 at t~60, 1 at t~120: never more than 3 in any 60 s
    assert len(waits) == 2 and now[0] >= 120


def test_backoff_is_bounded_full_jitter() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=20.0)
    rng = random.Random(1)
    for attempt in range(12):
        wait = policy.backoff(attempt, rng)
        assert 0 <= wait <= min(20.0, 0.5 * 2**attempt)


# -- secrets ------------------------------------------------------------------------------------

SECRET_PATH = "/services/TSECRET9/BSECRET9/s3cr3tT0k3nValue"


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


async def test_webhook_url_never_logged_when_slack_fails(
    slack_stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = slack_stand_in.base_url + SECRET_PATH  # unknown hook: 404 no_service
    client = SlackClient(webhook_settings(url), FAST)
    async with client:
        with pytest.raises(DeliveryFailed) as err:
            await client.post(build_message(sample_alert(), LINKS))
    assert err.value.kind == "config"
    slack_stand_in.set_down(True)
    client = SlackClient(webhook_settings(url), FAST)
    async with client:
        with pytest.raises(DeliveryFailed) as err2:
            await client.post(build_message(sample_alert(), LINKS))
    assert_clean(caplog.text + str(err.value) + str(err2.value), SECRET_PATH, "s3cr3tT0k3nValue")


async def test_webhook_url_never_logged_when_unreachable_or_invalid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from common.ports import free_port

    caplog.set_level(logging.DEBUG)
    closed = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"
    for url in (closed, "not a url " + SECRET_PATH):
        client = SlackClient(webhook_settings(url), FAST)
        async with client:
            with pytest.raises(DeliveryFailed) as err:
                await client.post(build_message(sample_alert(), LINKS))
        assert_clean(caplog.text + str(err.value) + repr(err.value), "s3cr3tT0k3nValue")


async def test_token_never_logged(
    slack_stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "xoxp-0000-SECRETTOKENVALUE"  # a user token: the stand-in answers invalid_auth
    settings = Settings(
        slack_bot_token=token,  # type: ignore[arg-type]
        slack_channel="#desk",
        slack_api_base=slack_stand_in.api_base,
    )
    client = SlackClient(settings, FAST)
    async with client:
        with pytest.raises(DeliveryFailed) as err:
            await client.post(build_message(sample_alert(), LINKS))
    assert err.value.kind == "config" and "invalid_auth" in str(err.value)
    assert_clean(caplog.text + str(err.value), token, "SECRETTOKENVALUE")
    assert_clean(repr(settings), token)


def test_redaction_filter_masks_registered_secrets() -> None:
    from common.log import RedactingFilter, redact

    url = "https://example.invalid" + SECRET_PATH
    SlackClient(webhook_settings(url))  # registers the URL as a secret
    assert "s3cr3tT0k3nValue" not in redact(f"posting to {url}")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url=%s", (url,), None)
    RedactingFilter().filter(record)
    assert "s3cr3tT0k3nValue" not in record.getMessage()


def test_default_links_resolve_in_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, the runbook link is this checkout's docs/runbooks.md (a file that exists, with the
    section the anchor names) and no Dashboard link is made (no Grafana is known)."""
    for name in ("SHOCKWATCH_RUNBOOK_BASE_URL", "SHOCKWATCH_GRAFANA_URL"):
        monkeypatch.delenv(name, raising=False)
    links = MessageLinks.from_settings(Settings())
    assert links.dashboard_url is None
    for severity, heading in (
        ("critical", "## EverythingSells"),
        ("warning", "## ShockwatchWarning"),
    ):
        url = links.runbook_for(sample_alert("firing", severity))
        parsed = urlparse(url)
        assert parsed.scheme == "file"
        doc = Path(unquote(parsed.path))
        assert doc == PROJECT_ROOT / "docs" / "runbooks.md" and doc.exists()
        assert heading in doc.read_text().splitlines()
        assert parsed.fragment == heading.removeprefix("## ").lower()
        text = all_text(build_message(sample_alert("firing", severity), links))
        assert "|Dashboard>" not in text and f"<{url}|Runbook>" in text


def test_links_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOCKWATCH_RUNBOOK_BASE_URL", "https://git.example/shockwatch/docs/")
    monkeypatch.setenv("SHOCKWATCH_GRAFANA_URL", "https://grafana.example/")
    links = MessageLinks.from_settings(Settings())
    alert = sample_alert("firing", "critical")
    text = all_text(build_message(alert, links))
    board = f"https://grafana.example{DASHBOARD_PATH}?from={alert.started_ts_ms - 3_600_000}"
    assert f"<{board}&to={alert.ts_ms + 3_600_000}|Dashboard>" in text
    assert "<https://git.example/shockwatch/docs/runbooks.md#everythingsells|Runbook>" in text
