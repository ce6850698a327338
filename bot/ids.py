"""The ids shared by Block Kit builders and listeners: the contract between what a message offers
and what handles a click (no other string spells them)."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """`action_id`s of buttons; the button's `value` carries the episode id."""

    ACKNOWLEDGE = "episode.acknowledge"
    SNOOZE_DAY = "episode.snooze_day"
    SNOOZE_WEEK = "episode.snooze_week"
    RESOLVE = "episode.resolve"
    ESCALATE = "episode.escalate"
    EXPLAIN = "episode.explain"


class CallbackId(StrEnum):
    """`callback_id`s of modals."""

    RESOLVE = "episode.resolve_modal"


class BlockId(StrEnum):
    """`block_id`s whose input a submission reads."""

    RESOLUTION = "resolution"


class InputId(StrEnum):
    RESOLUTION = "resolution_text"


EVENT_TYPE = "handoff_message"
"""The `metadata.event_type` of every message handoff posts (its payload carries the outbox key)."""
