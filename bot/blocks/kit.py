"""Typed Block Kit helpers over slack_sdk's models, with Slack's limits enforced by truncating
with care (a message must never fail for being long), and the plain data builders share.

Limits (slack-facts.md): 50 blocks a message (100 in a view), section text 3,000 characters,
header 150, button text 75 and value 2,000, context 10 elements, a top-level `text` fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
CONTEXT_ELEMENTS = 10
FALLBACK_TEXT = 3000
ELLIPSIS = "…"


@dataclass(frozen=True)
class Person:
    """A builder or ladder member as a message shows them: `mention` is `<@U…>` when Slack knows
    them, else their card text; `note` says what to fix (an unknown e-mail, a deactivated user)."""

    card: str
    mention: str
    note: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Message:
    """A message to post or edit: the fallback `text`, the blocks, and whether a thread reply is
    also shown in the channel (`broadcast`)."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    broadcast: bool = False


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + ELLIPSIS


def escape(text: str) -> str:
    """Text with Slack's control characters escaped (`&`, `<`, `>`), so card text cannot ping
    `<!channel>` or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(text: str) -> Block:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_TEXT), emoji=True))


def section(text: str, *, block_id: str | None = None) -> Block:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT)), block_id=block_id)


def lines(items: Sequence[str], *, limit: int = SECTION_TEXT, more: str = "and {n} more") -> str:
    """Bulleted lines that fit in one section of `limit` characters; those that do not fit are
    counted in a last line (`more`, with `{n}`)."""
    reserve = len(more) + 8
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        line = f"• {clip(item, limit - reserve)}"
        if used + len(line) + 1 > limit - reserve and i < len(items) - 1:
            out.append(more.format(n=len(items) - i))
            break
        out.append(line)
        used += len(line) + 1
    return clip("\n".join(out), limit)


def context(*texts: str) -> Block:
    elements = [MarkdownTextObject(text=clip(t, SECTION_TEXT)) for t in texts if t]
    return ContextBlock(elements=elements[:CONTEXT_ELEMENTS])


def divider() -> Block:
    return DividerBlock()


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT), emoji=True),
        action_id=action_id,
        value=value[:2000],
        style=style,
    )


def actions(*elements: ButtonElement, block_id: str | None = None) -> Block:
    return ActionsBlock(elements=list(elements)[:25], block_id=block_id)


def message(text: str, blocks: Sequence[Block], *, broadcast: bool = False) -> Message:
    """A message whose blocks fit Slack's limits: past 50 blocks, the last kept one says so."""
    kept = list(blocks)
    if len(kept) > MAX_BLOCKS:
        kept = [
            *kept[: MAX_BLOCKS - 1],
            context(f"{len(blocks) - MAX_BLOCKS + 1} more parts left out"),
        ]
    return Message(
        clip(text, FALLBACK_TEXT), [block.to_dict() for block in kept], broadcast=broadcast
    )
