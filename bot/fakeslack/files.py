"""Files, upload v2: `files.getUploadURLExternal`, POST the bytes, `files.completeUploadExternal`.

The upload URL points at the fake itself (``/upload/<file id>``), which takes raw bytes or a
multipart form, like Slack's upload service. Completing shares the file into ``channel_id`` (or
``channels``), in ``thread_ts`` if given, as a message carrying ``files`` and ``initial_comment``.
Unlike Slack, sharing is immediate (Slack shares in the background) and the answer already
carries ``shares``.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from bot.fakeslack.params import Params, SlackError
from bot.fakeslack.state import Message, Method, UploadedFile, Workspace


def get_upload_url(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("files:write")
    filename = p.required("filename")
    length = p.integer("length", 0)
    if length <= 0:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] length must be a positive integer"]},
        )
    file = UploadedFile(
        id=ws.new_id("F"),
        filename=filename,
        length=length,
        created=int(ws.now()),
        user=ws.identity.bot_user_id,
        alt_txt=p.string("alt_txt"),
    )
    ws.files[file.id] = file
    return {"ok": True, "upload_url": f"{ws.base_url}/upload/{file.id}", "file_id": file.id}


def receive_upload(ws: Workspace, file_id: str, content_type: str, body: bytes) -> bool:
    """Store the bytes POSTed to an upload URL; False when the URL is unknown."""
    file = ws.files.get(file_id)
    if file is None or file.completed:
        return False
    file.content = _file_part(content_type, body)
    return True


def _file_part(content_type: str, body: bytes) -> bytes:
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    form = BytesParser(policy=HTTP).parsebytes(head + body)
    for part in form.iter_parts():
        if part.get_filename() is not None:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return body


def complete_upload(ws: Workspace, p: Params) -> dict[str, Any]:
    ws.require("files:write")
    entries = p.json("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] files must be a non-empty array"]},
        )
    files: list[UploadedFile] = []
    for entry in entries:
        file = ws.files.get(entry.get("id", "")) if isinstance(entry, dict) else None
        if file is None or file.content is None or file.completed:
            raise SlackError("file_not_found")
        file.title = str(entry.get("title") or file.filename)
        files.append(file)
    targets = [p.string("channel_id")] if p.string("channel_id") else []
    targets += [c for c in p.string("channels").split(",") if c.strip()]
    channels = [ws.postable_channel(ref.strip(), by_name=False) for ref in targets]
    thread_ts = p.string("thread_ts") or None
    if thread_ts is not None and len(channels) != 1:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] thread_ts needs exactly one channel"]},
        )
    for channel in channels:
        if thread_ts is not None:
            ws.thread_root(channel.id, thread_ts)
    for file in files:
        file.completed = True
    for channel in channels:
        message = Message(
            channel=channel.id,
            ts=ws.next_ts(),
            user=ws.identity.bot_user_id,
            text=p.string("initial_comment"),
            files=[_shown(ws, f) for f in files],
            thread_ts=thread_ts,
        )
        ws.add_message(message)
        for file in files:
            file.shares.append((channel.id, message.ts))
    return {"ok": True, "files": [f.to_api(ws.base_url, ws.channels) for f in files]}


def _shown(ws: Workspace, file: UploadedFile) -> dict[str, Any]:
    """A file as a message carries it (without its shares)."""
    shown = file.to_api(ws.base_url, ws.channels)
    del shown["shares"]
    return shown


METHODS: dict[str, Method] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
