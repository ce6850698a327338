"""Modals: the resolve dialog (what was done), opened from an episode's Resolve button, and the
check-in's two: review the card (its intent and limitations) and hand the model over."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.kit import clip, escape
from bot.ids import BlockId, CallbackId, InputId
from jobs.queries import CardView

TITLE = 24
INPUT_TEXT = 3000


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


def review_view(check_in_id: int, card: CardView) -> dict[str, Any]:
    """Edit the intent and limitations of the card a check-in showed: one input per limitation
    (emptied: removed) and one more for a new one. Segments and everything else are edited in the
    card's YAML; the submission becomes a new card version."""
    blocks: list[Any] = [
        SectionBlock(
            text=f"Edit what *{escape(card.name)}* is for and where it must not be trusted. "
            "Saving makes card version "
            f"{card.version + 1}, announced in the check-in's thread with its YAML to commit."
        ),
        _text(BlockId.PROBLEM, "What problem does it solve?", card.problem, optional=False),
        _text(BlockId.GOOD_OUTCOME, "What is a good outcome?", card.good_outcome),
        _text(BlockId.DECISIONS, "What does it decide (and never decide)?", card.decisions),
    ]
    for i, limitation in enumerate(card.limitations):
        label = f"Limitation {i + 1}" + (f" ({limitation.rule})" if limitation.rule else "")
        blocks.append(_text(f"{BlockId.LIMITATION}{i}", label, limitation.text, hint=EMPTIED))
    blocks.append(_text(f"{BlockId.LIMITATION}{len(card.limitations)}", "A new limitation", None))
    view = View(
        type="modal",
        callback_id=CallbackId.REVIEW,
        private_metadata=str(check_in_id),
        title=PlainTextObject(text=clip("Review the card", TITLE)),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )
    return view.to_dict()


EMPTIED = "Empty it to remove the limitation."


def _text(
    block_id: str, label: str, value: str | None, *, optional: bool = True, hint: str | None = None
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=clip(label, 2000)),
        optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(
            action_id=block_id,
            multiline=True,
            max_length=INPUT_TEXT,
            initial_value=clip(value, INPUT_TEXT) if value else None,
        ),
    )


def hand_over_view(check_in_id: int, card: CardView, builder_ids: list[str]) -> dict[str, Any]:
    """Pick the model's new builders (Slack members); the submission becomes a new card version
    and the new builders are welcomed with the card."""
    view = View(
        type="modal",
        callback_id=CallbackId.HAND_OVER,
        private_metadata=str(check_in_id),
        title=PlainTextObject(text=clip("Hand over", TITLE)),
        submit=PlainTextObject(text="Hand over"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=f"Who builds *{escape(card.name)}* from now on? They are tagged when it "
                "drifts and checked in with every week; they are welcomed with the card."
            ),
            InputBlock(
                block_id=BlockId.BUILDERS,
                label=PlainTextObject(text="New builders"),
                element=UserMultiSelectElement(
                    action_id=InputId.BUILDERS,
                    initial_users=builder_ids or None,
                    placeholder=PlainTextObject(text="Pick people"),
                ),
            ),
        ],
    )
    return view.to_dict()
