"""``chat.*``: post, update, delete, ephemeral messages and permalinks, with Slack's checks.

``chat.postMessage`` takes a channel ID, ``#name``/``name`` or a user ID (a DM); ``chat.update``,
``chat.delete`` and ``chat.getPermalink`` take the channel ID only, as Slack does. Content answers
``no_text``, ``msg_too_long``, ``invalid_blocks_format`` or ``invalid_blocks`` (with ``errors``).
"""

from __future__ import annotations

from typing import Any

from bot.fakeslack.blocks import MESSAGE_MAX_TEXT, message_errors
from bot.fakeslack.params import Params, SlackError
from bot.fakeslack.state import Ephemeral, Message, Method, Workspace


def content(
    ws: Workspace, p: Params, method: str, where: str, *, required: bool = True, kept_text: str = ""
) -> dict[str, Any]:
    """The message content in ``p`` (only the keys given), checked as Slack checks it.

    ``kept_text`` is the text an update keeps when it sends none (for the fallback warning).
    """
    found: dict[str, Any] = {}
    if "text" in p:
        found["text"] = p.string("text")
    for key in ("blocks", "attachments"):
        if key in p:
            value = p.json(key)
            if not isinstance(value, list):
                raise SlackError(f"invalid_{key}_format")
            found[key] = value
    if required and not (found.get("text") or found.get("blocks") or found.get("attachments")):
        raise SlackError("no_text")
    if len(found.get("text", "")) > MESSAGE_MAX_TEXT:
        raise SlackError("msg_too_long")
    if found.get("blocks"):
        errors = message_errors(found["blocks"])
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {error}" for error in errors]},
            )
        if not found.get("text", kept_text).strip():
            ws.warnings.append(f"{method}: blocks without a top-level text fallback in {where}")
    return found


def metadata(p: Params) -> dict[str, Any] | None:
    """Message metadata, ``{event_type, event_payload}``, or None when not given."""
    if "metadata" not in p:
        return None
    value = p.json("metadata")
    if value == {}:
        return {}
    if not isinstance(value, dict):
        raise SlackError("invalid_metadata_format")
    if not isinstance(value.get("event_type"), str) or not isinstance(
        value.get("event_payload"), dict
    ):
        raise SlackError("invalid_metadata_schema")
    return dict(value)


def post_message(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("chat:write")
    channel = ws.postable_channel(p.string("channel"))
    found = content(ws, p, "chat.postMessage", channel.id)
    meta = metadata(p)
    thread_ts = p.string("thread_ts") or None
    if thread_ts is not None:
        ws.thread_root(channel.id, thread_ts)  # thread_not_found before anything is stored
    message = Message(
        channel=channel.id,
        ts=ws.next_ts(),
        user=ws.identity.bot_user_id,
        text=found.get("text", ""),
        blocks=found.get("blocks") or None,
        attachments=found.get("attachments") or None,
        metadata=meta or None,
        thread_ts=thread_ts,
        subtype="thread_broadcast" if thread_ts and p.flag("reply_broadcast") else None,
    )
    ws.add_message(message)
    ws.posts[channel.id] += 1
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "message": message.to_api(ws.identity),
    }


def update(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("chat:write")
    channel = ws.visible_channel(p.string("channel"), by_name=False)
    message = ws.find_message(channel.id, p.required("ts"))
    if message.user != ws.identity.bot_user_id or message.subtype == "tombstone":
        raise SlackError("cant_update_message")
    if channel.is_archived:
        raise SlackError("is_inactive")
    found = content(ws, p, "chat.update", channel.id, required=False, kept_text=message.text)
    text = found.get("text", message.text)
    blocks = found.get("blocks", message.blocks)  # a field left out keeps its old value
    attachments = found.get("attachments", message.attachments)
    if not (text or blocks or attachments):
        raise SlackError("no_text")
    meta = metadata(p)
    message.text, message.blocks, message.attachments = text, blocks or None, attachments or None
    if meta is not None:
        message.metadata = meta or None
    message.edited = {"user": ws.identity.bot_user_id, "ts": ws.next_ts()}
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(ws.identity),
    }


def delete(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("chat:write")
    channel = ws.visible_channel(p.string("channel"), by_name=False)
    message = ws.find_message(channel.id, p.required("ts"))
    if message.user != ws.identity.bot_user_id:
        raise SlackError("cant_delete_message")
    ws.remove_message(message)
    return {"ok": True, "channel": channel.id, "ts": message.ts}


def post_ephemeral(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("chat:write")
    channel = ws.postable_channel(p.string("channel"))
    user = p.required("user")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    found = content(ws, p, "chat.postEphemeral", channel.id)
    thread_ts = p.string("thread_ts") or None
    ephemeral = Ephemeral(
        channel.id, user, ws.next_ts(), found.get("text", ""), found.get("blocks"), thread_ts
    )
    ws.ephemerals.append(ephemeral)
    return {"ok": True, "message_ts": ephemeral.ts}


def get_permalink(ws: Workspace, p: Params) -> dict[str, Any]:
    channel = ws.visible_channel(p.string("channel"), by_name=False)
    message = ws.find_message(channel.id, p.required("message_ts"))
    return {"ok": True, "channel": channel.id, "permalink": permalink(ws, message)}


def permalink(ws: Workspace, message: Message) -> str:
    link = f"https://{ws.identity.domain}.slack.com/archives/{message.channel}/p"
    link += message.ts.replace(".", "")
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
    return link


METHODS: dict[str, Method] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
