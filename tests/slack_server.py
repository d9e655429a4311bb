"""The local Slack stand-in for tests: see shockwatch/lab/standin.py (it lives in the package so the
demo can use it from an installed checkout too)."""

from shockwatch.lab.standin import (
    API_PREFIX,
    CHANNEL_ID,
    WEBHOOK_PATH,
    Accepted,
    InvalidPayload,
    SlackStandIn,
    render,
    start_slack_stand_in,
    validate_message,
)

__all__ = [
    "API_PREFIX",
    "CHANNEL_ID",
    "WEBHOOK_PATH",
    "Accepted",
    "InvalidPayload",
    "SlackStandIn",
    "render",
    "start_slack_stand_in",
    "validate_message",
]
