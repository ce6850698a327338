"""Modals: the resolve dialog (what was done), opened from an episode's Resolve button."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.blocks.kit import clip, escape
from bot.ids import BlockId, CallbackId, InputId

TITLE = 24


def resolve_view(episode_id: int, model_name: str) -> dict[str, Any]:
    """Ask what was done; `private_metadata` carries the episode's id to the submission."""
    view = View(
        type="modal",
        callback_id=CallbackId.RESOLVE,
        private_metadata=str(episode_id),
        title=PlainTextObject(text=clip("Resolve", TITLE)),
        submit=PlainTextObject(text="Resolve"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=f"Resolving the episode of *{escape(model_name)}* tells everyone "
                "it is handled: say what was done, so the next person knows."
            ),
            InputBlock(
                block_id=BlockId.RESOLUTION,
                label=PlainTextObject(text="What was done?"),
                element=PlainTextInputElement(
                    action_id=InputId.RESOLUTION,
                    multiline=True,
                    max_length=2000,
                    placeholder=PlainTextObject(text="Retrained on August data; thresholds kept"),
                ),
            ),
        ],
    )
    return view.to_dict()
