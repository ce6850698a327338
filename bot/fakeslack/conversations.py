"""``auth.test``, ``users.*`` and ``conversations.*``: the workspace as the bot can see it.

Lists page with ``limit`` and ``cursor`` and answer ``response_metadata.next_cursor`` (empty on the
last page), as Slack does. Private channels are visible only to members; ``conversations.history``
and ``.replies`` need the bot in the channel and the ``*:history`` scope of its type.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.fakeslack.params import Params, SlackError, decode_cursor, encode_cursor, page
from bot.fakeslack.state import Channel, Message, Method, Workspace

HISTORY_DEFAULT_LIMIT = 100
CONVERSATION_TYPES = {
    "public_channel": "channels:read",
    "private_channel": "groups:read",
    "im": "im:read",
    "mpim": "mpim:read",
}


def auth_test(ws: Workspace, p: Params) -> dict[str, Any]:
    identity = ws.identity
    return {
        "ok": True,
        "url": f"https://{identity.domain}.slack.com/",
        "team": identity.team_name,
        "user": identity.bot_name,
        "team_id": identity.team_id,
        "user_id": identity.bot_user_id,
        "bot_id": identity.bot_id,
        "is_enterprise_install": False,
    }


def users_info(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("users:read")
    user = ws.users.get(p.required("user"))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.to_api(ws.identity.team_id)}


def users_lookup_by_email(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("users:read.email")
    email = p.required("email").lower()
    for user in ws.users.values():
        if user.email is not None and user.email.lower() == email:
            return {"ok": True, "user": user.to_api(ws.identity.team_id)}
    raise SlackError("users_not_found")


def users_list(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("users:read")
    users, cursor = page(list(ws.users.values()), p)
    return {
        "ok": True,
        "members": [user.to_api(ws.identity.team_id) for user in users],
        "response_metadata": {"next_cursor": cursor},
    }


def conversations_list(ws: Workspace, p: Params) -> dict[str, Any]:
    types = [t.strip() for t in p.string("types", "public_channel").split(",") if t.strip()]
    for kind in types:
        if kind not in CONVERSATION_TYPES:
            raise SlackError("invalid_types")
        ws.require(CONVERSATION_TYPES[kind])
    bot = ws.identity.bot_user_id
    exclude_archived = p.flag("exclude_archived")

    def listed(channel: Channel) -> bool:
        if exclude_archived and channel.is_archived:
            return False
        if channel.is_im:
            return "im" in types
        if channel.is_private:
            return "private_channel" in types and bot in channel.members
        return "public_channel" in types

    channels, cursor = page([c for c in ws.channels.values() if listed(c)], p)
    return {
        "ok": True,
        "channels": [channel.to_api(bot) for channel in channels],
        "response_metadata": {"next_cursor": cursor},
    }


def conversations_info(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.visible_channel(p.string("channel"), by_name=False)
    ws.require(_read_scope(channel))
    return {"ok": True, "channel": channel.to_api(ws.identity.bot_user_id)}


def conversations_join(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("channels:join")
    channel = ws.find_channel(p.string("channel"), by_name=False)
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    bot = ws.identity.bot_user_id
    answer: dict[str, Any] = {"ok": True}
    if bot in channel.members:
        answer.update(
            warning="already_in_channel",
            response_metadata={"warnings": ["already_in_channel"]},
        )
    channel.members.add(bot)
    answer["channel"] = channel.to_api(bot)
    return answer


def conversations_members(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.visible_channel(p.string("channel"), by_name=False)
    ws.require(_read_scope(channel))
    members, cursor = page(sorted(channel.members), p)
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": cursor}}


def conversations_history(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.readable_channel(p.string("channel"))
    oldest = _timestamp(p.string("oldest"), "invalid_ts_oldest")
    latest = _timestamp(p.string("latest"), "invalid_ts_latest")
    inclusive_oldest = inclusive_latest = p.flag("inclusive")
    cursor = p.string("cursor")
    if cursor:  # the next page: older than the last message of the previous one
        latest = _timestamp(decode_cursor(cursor, "next_ts"), "invalid_cursor")
        inclusive_latest = False

    def within(message: Message) -> bool:
        ts = Decimal(message.ts)
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive_oldest)):
            return False
        return latest is None or ts < latest or (ts == latest and inclusive_latest)

    chosen = [m for m in reversed(ws.channel_view(channel.id)) if within(m)]
    limit = min(max(p.integer("limit", HISTORY_DEFAULT_LIMIT), 1), 999)
    shown, more = chosen[:limit], len(chosen) > limit
    cursor = encode_cursor("next_ts", shown[-1].ts) if more else ""
    metadata = p.flag("include_all_metadata")
    return {
        "ok": True,
        "messages": [m.to_api(ws.identity, include_metadata=metadata) for m in shown],
        "has_more": more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def conversations_replies(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.readable_channel(p.string("channel"))
    thread = ws.thread(channel.id, p.required("ts"))
    metadata = p.flag("include_all_metadata")
    messages, cursor = page(thread, p, default_limit=1000)
    return {
        "ok": True,
        "messages": [m.to_api(ws.identity, include_metadata=metadata) for m in messages],
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


def _read_scope(channel: Channel) -> str:
    if channel.is_im:
        return "im:read"
    return "groups:read" if channel.is_private else "channels:read"


def _timestamp(value: str, error: str) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        raise SlackError(error) from None


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "users.list": users_list,
    "conversations.list": conversations_list,
    "conversations.info": conversations_info,
    "conversations.join": conversations_join,
    "conversations.members": conversations_members,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
}
