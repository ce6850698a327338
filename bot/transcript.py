"""A Slack conversation as a person reads it, for `handoff demo`: each message handoff posted (or
edited, or answered privately) turned into readable text — who was tagged, what they were told,
the buttons — in time order, and into one HTML page with the charts inline.

`Transcript.catch_up` reads the fake Slack's state after each step of the replay and keeps what is
new: messages and thread replies (by channel and ts), edits of a message (by its `edited` stamp),
ephemeral answers (response-URL answers included). It reads the fake only through its public
methods.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.fakeslack.server import FakeSlack

MENTION = re.compile(r"<@([A-Z0-9]+)>")
CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>")
LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
BARE_LINK = re.compile(r"<(https?://[^>]+)>")


@dataclass(frozen=True)
class Entry:
    """One thing a person saw: a message, a reply, an edit, or a private answer."""

    at: datetime
    kind: str  # message | reply | edit | private
    channel: str
    who: str  # "handoff", or the person a private answer went to
    blocks: tuple[dict[str, Any], ...]
    text: str
    files: tuple[str, ...] = ()
    thread: str | None = None  # the ts of the thread's root (replies and their edits)
    ts: str = ""


@dataclass
class Transcript:
    """What the fake Slack shows, collected as it happens (see the module docstring)."""

    slack: FakeSlack
    channels: tuple[str, ...]
    names: Mapping[str, str]
    """Member and channel IDs to the names people see."""
    clock: Callable[[], datetime]
    entries: list[Entry] = field(default_factory=list)
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)
    _shown: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    _private: dict[str, int] = field(default_factory=dict)

    def catch_up(self) -> list[Entry]:
        """What is new since the last call, oldest first. Answers to a response URL minted with
        its channel and user are in the channel's ephemerals (the fake records them there)."""
        new: list[Entry] = []
        for channel in self.channels:
            for root in self.slack.messages(channel):
                if root.get("subtype") == "thread_broadcast":
                    continue
                for message in self.slack.thread(channel, root["ts"]):
                    new += self._look(channel, message, root["ts"])
        for channel in self.channels:
            privates = self.slack.ephemerals(channel)
            for private in privates[self._private.get(channel, 0) :]:
                new.append(self._entry("private", channel, private, who=private.get("user", "")))
            self._private[channel] = len(privates)
        new.sort(key=lambda e: (e.at, e.ts))
        self.entries += new
        return new

    def _look(self, channel: str, message: dict[str, Any], root_ts: str) -> list[Entry]:
        key = (channel, message["ts"])
        stamp = str((message.get("edited") or {}).get("ts", ""))
        if key not in self._seen:
            self._seen[key] = stamp
            reply = message["ts"] != root_ts
            entry = self._entry("reply" if reply else "message", channel, message, root=root_ts)
            self._shown[key] = tuple(self._edited(entry))
            return [entry]
        if stamp and self._seen[key] != stamp:
            self._seen[key] = stamp
            edit = self._entry("edit", channel, message, root=root_ts)
            shown = tuple(self._edited(edit))
            if self._shown.get(key) == shown:
                return []  # only numbers moved (a root's daily update): not worth a line
            self._shown[key] = shown
            return [edit]
        return []

    def _entry(
        self,
        kind: str,
        channel: str,
        message: dict[str, Any],
        *,
        who: str = "handoff",
        root: str | None = None,
    ) -> Entry:
        files = tuple(
            str(f.get("name") or f.get("title") or "file") for f in message.get("files") or []
        )
        return Entry(
            at=self.clock(),
            kind=kind,
            channel=channel,
            who=who,
            blocks=tuple(message.get("blocks") or ()),
            text=str(message.get("text") or ""),
            files=files,
            thread=root if kind in ("reply", "edit") and root != message.get("ts") else None,
            ts=str(message.get("ts", "")),
        )

    # --- as text

    def plain(self, text: str) -> str:
        """Slack's mrkdwn as a terminal shows it: mentions as @name, links as their words."""
        text = MENTION.sub(lambda m: "@" + self.names.get(m.group(1), m.group(1)), text)
        text = CHANNEL.sub(lambda m: "#" + self.names.get(m.group(1), m.group(1)), text)
        text = LINK.sub(lambda m: m.group(2), text)
        text = BARE_LINK.sub(lambda m: m.group(1), text)
        return html.unescape(text).replace("*", "")

    def lines(self, entry: Entry) -> list[str]:
        """The entry as indented lines of text."""
        where = f"#{entry.channel}"
        when = f"{entry.at:%a %d %b %H:%M}"
        label = {
            "message": f"{where}",
            "reply": f"{where} ↳ in the thread",
            "edit": f"{where} ✏️ edited in place",
            "private": f"{where} 🔒 only @{self.names.get(entry.who, entry.who)} sees this",
        }[entry.kind]
        out = [f"{when}  {label}"]
        body = self._edited(entry) if entry.kind == "edit" else self.body(entry)
        out += [f"    {line}" for line in body]
        return out

    def _edited(self, entry: Entry) -> list[str]:
        """What an edit shows: the headline and the lines that say who did what."""
        body = self.body(entry)
        return body[:1] + [b for b in body if "by @" in b or "Confirmed" in b][-2:]

    def body(self, entry: Entry) -> list[str]:
        lines: list[str] = []
        for block in entry.blocks:
            kind = block.get("type")
            if kind in ("header", "section"):
                lines += self.plain(str(block.get("text", {}).get("text", ""))).splitlines()
            elif kind == "context":
                lines += [
                    "  " + self.plain(str(e.get("text", "")))
                    for e in block.get("elements", [])
                    if e.get("text")
                ]
            elif kind == "actions":
                buttons = [
                    f"[{e['text']['text']}]" for e in block.get("elements", []) if "text" in e
                ]
                lines.append(" ".join(buttons))
            elif kind == "image":
                lines.append(f"[image: {block.get('alt_text', '')}]")
        if not lines and entry.text:
            lines = self.plain(entry.text).splitlines()
        lines += [f"📎 {name}" for name in entry.files]
        return [line for line in lines if line.strip()]

    # --- as HTML

    def page(self, *, title: str, images: Mapping[str, str], summary: list[str]) -> str:
        """The whole conversation as one HTML page; `images` maps an uploaded file's name to
        the path of its PNG beside the page."""
        rows = [self._html_entry(e, images) for e in self.entries]
        said = "".join(f"<p>{html.escape(s)}</p>" for s in summary)
        return PAGE.format(title=html.escape(title), summary=said, body="\n".join(rows))

    def _html_entry(self, entry: Entry, images: Mapping[str, str]) -> str:
        body = "<br>".join(self._html_part(kind, text) for kind, text in self._parts(entry))
        pictures = "".join(
            f'<img src="{html.escape(images[name])}" alt="{html.escape(name)}">'
            for name in entry.files
            if name in images
        )
        others = "".join(
            f'<div class="file">📎 {html.escape(name)}</div>'
            for name in entry.files
            if name not in images
        )
        meta = {
            "message": "",
            "reply": "in the thread",
            "edit": "edited in place",
            "private": f"only {html.escape(self.names.get(entry.who, entry.who))} sees this",
        }[entry.kind]
        return (
            f'<div class="msg {entry.kind}"><div class="meta"><b>#{html.escape(entry.channel)}</b>'
            f" · {entry.at:%a %d %b %H:%M} {meta}</div>{body}{pictures}{others}</div>"
        )

    def _parts(self, entry: Entry) -> list[tuple[str, str | list[str]]]:
        """(kind, text) of each line: header, text, context, or buttons (their labels)."""
        parts: list[tuple[str, str | list[str]]] = []
        for block in entry.blocks:
            kind = block.get("type")
            if kind in ("header", "section"):
                text = str(block.get("text", {}).get("text", ""))
                parts += [("header" if kind == "header" else "text", t) for t in text.splitlines()]
            elif kind == "context":
                parts += [("context", str(e.get("text", ""))) for e in block.get("elements", [])]
            elif kind == "actions":
                labels = [str(e["text"]["text"]) for e in block.get("elements", []) if "text" in e]
                parts.append(("buttons", labels))
        return parts or [("text", entry.text)]

    def _html_part(self, kind: str, text: str | list[str]) -> str:
        if isinstance(text, list):
            return "".join(f'<span class="button">{html.escape(label)}</span>' for label in text)
        safe = html.escape(html.unescape(self._names_only(text)))
        safe = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", safe)
        safe = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", safe)
        safe = MARKED.sub(r'<span class="mention">\1</span>', safe)
        return f'<span class="{kind}">{safe}</span>' if kind != "text" else safe

    def _names_only(self, text: str) -> str:
        """Mentions and channels as marked names (kept through escaping), links as their words."""
        text = MENTION.sub(lambda m: f"⟦@{self.names.get(m.group(1), m.group(1))}⟧", text)
        text = CHANNEL.sub(lambda m: f"⟦#{self.names.get(m.group(1), m.group(1))}⟧", text)
        text = LINK.sub(lambda m: m.group(2), text)
        return BARE_LINK.sub(lambda m: m.group(1), text)


MARKED = re.compile(r"⟦([^⟧]+)⟧")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 860px;
  margin: 2em auto; color: #1d1c1d; background: #fff; }}
h1 {{ font-size: 1.4em; }}
.summary {{ background: #f4f8fb; padding: .6em 1em; border-radius: 6px; }}
.msg {{ border-left: 4px solid #4a154b; padding: .5em .9em; margin: 1em 0; background: #fafafa; }}
.msg.reply {{ margin-left: 2.5em; border-color: #9e9ea6; }}
.msg.edit {{ margin-left: 2.5em; border-color: #e0a100; background: #fffaf0; }}
.msg.private {{ border-color: #1264a3; background: #f0f6fb; }}
.meta {{ color: #616061; font-size: .85em; margin-bottom: .3em; }}
.header {{ font-weight: bold; font-size: 1.08em; }} .context {{ color: #616061; font-size: .88em; }}
.mention {{ background: #e8f5fa; color: #1264a3; padding: 0 2px; border-radius: 3px; }}
.button {{ display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 2px 10px;
  margin: 4px 6px 0 0; font-size: .9em; background: #fff; }}
code {{ font-size: .9em; }} img {{ max-width: 100%; margin-top: .5em; border: 1px solid #ddd; }}
.file {{ margin-top: .4em; }}
</style></head><body>
<h1>{title}</h1><div class="summary">{summary}</div>
{body}
</body></html>
"""
