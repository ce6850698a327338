"""``response_url``: what an interaction's response URL does with the JSON posted to it.

Slack takes up to 5 posts within 30 minutes. The body carries ``text``/``blocks``,
``response_type`` (``ephemeral``, the default, or ``in_channel``), ``replace_original``,
``delete_original`` and ``thread_ts``. When the URL was minted with the interaction's channel, user
and message, the fake applies the post to its state as Slack would: replace or delete the original
message, post in the channel, or add an ephemeral message for the user.

Answers are plain text, as Slack's webhooks answer: ``200 ok``, ``400 invalid_payload`` /
``no_text`` / ``invalid_blocks``, ``404 used_url`` (a sixth post) / ``expired_url`` /
``no_such_url``. Slack documents the limits but not these 404 bodies; the names are our guess.
"""

from __future__ import annotations

import json
from typing import Any

from bot.fakeslack.blocks import message_errors
from bot.fakeslack.params import SlackError
from bot.fakeslack.state import (
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    Ephemeral,
    Message,
    ResponseUrl,
    Workspace,
)


def receive_response(ws: Workspace, response_id: str, body: bytes) -> tuple[int, str]:
    """Handle one post to a response URL: the HTTP status and text body to answer."""
    url = ws.response_urls.get(response_id)
    if url is None:
        return 404, "no_such_url"
    if len(url.posts) >= RESPONSE_URL_USES:
        return 404, "used_url"
    if ws.now() - url.issued_at > RESPONSE_URL_TTL:
        return 404, "expired_url"
    try:
        posted = json.loads(body)
    except ValueError:
        posted = None
    if not isinstance(posted, dict):
        return 400, "invalid_payload"
    blocks = posted.get("blocks")
    if not posted.get("text") and not blocks and not posted.get("delete_original"):
        return 400, "no_text"
    if blocks is not None and (not isinstance(blocks, list) or message_errors(blocks)):
        return 400, "invalid_blocks"
    try:
        _apply(ws, url, posted)
    except SlackError as error:  # e.g. a thread_ts that matches no message
        return 400, error.error
    url.posts.append(posted)
    return 200, "ok"


def _apply(ws: Workspace, url: ResponseUrl, posted: dict[str, Any]) -> None:
    if url.channel is None:
        return
    text, blocks = str(posted.get("text", "")), posted.get("blocks")
    original = _original(ws, url)
    if posted.get("delete_original"):
        if original is not None:
            ws.remove_message(original)
        return
    if posted.get("replace_original"):
        if original is not None:
            original.text, original.blocks = text, blocks or None
            original.edited = {"user": ws.identity.bot_user_id, "ts": ws.next_ts()}
        return
    thread_ts = posted.get("thread_ts") or None
    if posted.get("response_type") == "in_channel":
        message = Message(url.channel, ws.next_ts(), ws.identity.bot_user_id, text, blocks or None)
        message.thread_ts = thread_ts
        ws.add_message(message)
    elif url.user is not None:
        ws.ephemerals.append(
            Ephemeral(url.channel, url.user, ws.next_ts(), text, blocks, thread_ts)
        )


def _original(ws: Workspace, url: ResponseUrl) -> Message | None:
    if url.channel is None or url.message_ts is None:
        return None
    try:
        return ws.find_message(url.channel, url.message_ts)
    except SlackError:
        return None
