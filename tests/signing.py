"""Signed Slack requests for the tests: the builders live beside the fake Slack, in
`bot/fakeslack/signing.py` (`handoff demo` sends them too); this module is the tests' import
point."""

from bot.fakeslack.signing import (
    APP_ID,
    BOT_USER_ID,
    FORM,
    JSON,
    TEAM_ID,
    SignedRequest,
    app_home_opened,
    block_actions,
    event_callback,
    message_event,
    post,
    sign,
    slash_command,
    url_verification,
    view_submission,
)

__all__ = [
    "APP_ID",
    "BOT_USER_ID",
    "FORM",
    "JSON",
    "TEAM_ID",
    "SignedRequest",
    "app_home_opened",
    "block_actions",
    "event_callback",
    "message_event",
    "post",
    "sign",
    "slash_command",
    "url_verification",
    "view_submission",
]
