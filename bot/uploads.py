"""Files in a thread (a check-in's chart, an edited card's YAML) through Slack's upload v2 flow:
`files.getUploadURLExternal`, the bytes POSTed to the URL it gives, `files.completeUploadExternal`
(slack_sdk's `files_upload_v2`, every call through the client's base URL, SLACK_API_URL).

An upload carries no message metadata, so a retried upload whose first outcome is unknown looks
for its file by `title` in the thread before uploading again (`find`). Slack shares an upload
into the channel asynchronously; an upload lost between its completion and its share being
visible could, in that narrow window, be made twice — the only duplicate handoff can make.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient


def upload(
    client: WebClient,
    *,
    channel: str,
    thread_ts: str,
    filename: str,
    title: str,
    content: bytes | str,
    comment: str | None = None,
) -> str:
    """Upload one file into the thread; its file id."""
    arguments: dict[str, Any] = {
        "channel": channel,
        "thread_ts": thread_ts,
        "filename": filename,
        "title": title,
        "initial_comment": comment,
    }
    if isinstance(content, bytes):
        arguments["file"] = content
    else:
        arguments["content"] = content
    answer = client.files_upload_v2(**arguments)
    files: list[dict[str, Any]] = answer.get("files") or [answer.get("file") or {}]
    return str(files[0].get("id", ""))


def find(client: WebClient, *, channel: str, thread_ts: str, title: str) -> str | None:
    """The id of a file titled `title` already in the thread, if any."""
    cursor = None
    for _page in range(20):
        page = client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor)
        messages: list[dict[str, Any]] = page.get("messages", [])
        for posted in messages:
            for file in posted.get("files") or []:
                if file.get("title") == title:
                    return str(file.get("id", ""))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None
