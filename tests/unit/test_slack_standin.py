"""The Slack stand-in takes what real Slack takes from an incoming webhook: Block Kit (the
notifier), legacy attachments (Alertmanager's ``slack_configs``) and text, as JSON or as a form's
``payload``; it refuses what Slack refuses, and a hook posts to the channel it is bound to."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from shockwatch.lab.standin import message_format
from tests.slack_server import InvalidPayload, SlackStandIn, validate_message

# The shape Alertmanager 0.25 (Debian bookworm) posts for deploy/alertmanager/alertmanager.yml:
# the integration test tests/integration/test_alert_path_live.py receives it from the binary.
ALERTMANAGER_PAYLOAD: dict[str, Any] = {
    "channel": "#shockwatch-ops",
    "username": "Alertmanager",
    "attachments": [
        {
            "title": "[CRITICAL] EverythingSells (global)",
            "title_link": "http://127.0.0.1:9093/#/alerts?receiver=slack-ops",
            "text": "*Everything sells (global): score 86/100*\nThe detector is in a critical "
            "episode. <https://example.org/docs/runbooks.md#everythingsells|Runbook>",
            "fallback": "[FIRING:1] EverythingSells global | http://127.0.0.1:9093/#/alerts",
            "callback_id": "",
            "footer": "",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}


def post(url: str, body: bytes, content_type: str) -> tuple[int, str]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_alertmanager_payload_is_accepted_as_attachments() -> None:
    validate_message(ALERTMANAGER_PAYLOAD)
    assert message_format(ALERTMANAGER_PAYLOAD) == "attachments"
    assert message_format({"blocks": [{"type": "divider"}]}) == "blocks"
    assert message_format({"text": "hi"}) == "text"


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"attachments": "not a list"}, "invalid_payload"),
        ({"attachments": ["a string"]}, "invalid_payload"),
        ({"attachments": [{"title": 5}]}, "invalid_payload"),
        (
            {"attachments": [{"text": "x", "fields": [{"title": "a", "value": 1}]}]},
            "invalid_payload",
        ),
        ({"attachments": [{"text": "x", "mrkdwn_in": ["nonsense"]}]}, "invalid_payload"),
        ({"attachments": [{"color": "danger"}]}, "invalid_payload"),  # no content
        ({"attachments": [{"text": "x"}] * 101}, "too_many_attachments"),
        ({"attachments": []}, "no_text"),
        ({"channel": "#x", "username": "Alertmanager"}, "no_text"),
    ],
)
def test_malformed_attachments_are_refused(payload: dict[str, Any], error: str) -> None:
    with pytest.raises(InvalidPayload) as exc:
        validate_message(payload)
    assert exc.value.error == error


def test_hooks_are_bound_to_their_channel_and_read_json_or_form() -> None:
    server = SlackStandIn().start()
    try:
        desk = server.add_webhook("#desk")
        ops = server.add_webhook("#ops")
        assert desk != ops and desk.startswith(server.base_url + "/services/")
        body = json.dumps(ALERTMANAGER_PAYLOAD).encode()
        assert post(ops, body, "application/json") == (200, "ok")
        form = urllib.parse.urlencode({"payload": json.dumps({"text": "hello"})}).encode()
        assert post(desk, form, "application/x-www-form-urlencoded") == (200, "ok")
        # Slack reads a webhook's channel from the hook, not from the payload's "channel".
        assert [m.format for m in server.in_channel("#ops")] == ["attachments"]
        assert [m.payload["text"] for m in server.in_channel("#desk")] == ["hello"]
        # neither JSON nor a form; an unknown hook
        assert post(ops, body, "text/plain") == (400, "invalid_payload")
        assert (
            post(server.base_url + "/services/T000/B999/nope", body, "application/json")[0] == 404
        )
        assert server.rejected == [(400, "invalid_payload")]
    finally:
        server.stop()
