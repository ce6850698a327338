"""The ids shared by Block Kit builders and listeners: the contract between what a message offers
and what handles a click (no other string spells them)."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """`action_id`s of buttons; the button's `value` carries the episode id (the check-in's id
    for `checkin.*`)."""

    ACKNOWLEDGE = "episode.acknowledge"
    SNOOZE_DAY = "episode.snooze_day"
    SNOOZE_WEEK = "episode.snooze_week"
    RESOLVE = "episode.resolve"
    ESCALATE = "episode.escalate"
    EXPLAIN = "episode.explain"
    STILL_TRUE = "checkin.still_true"
    NEEDS_REVIEW = "checkin.needs_review"
    HAND_OVER = "checkin.hand_over"


class CallbackId(StrEnum):
    """`callback_id`s of modals."""

    RESOLVE = "episode.resolve_modal"
    REVIEW = "checkin.review_modal"
    HAND_OVER = "checkin.hand_over_modal"


class BlockId(StrEnum):
    """`block_id`s whose input a submission reads."""

    RESOLUTION = "resolution"
    PROBLEM = "problem"
    GOOD_OUTCOME = "good_outcome"
    DECISIONS = "decisions"
    LIMITATION = "limitation_"
    """A prefix: the review modal's limitations are `limitation_0`, `limitation_1`, ..."""
    BUILDERS = "builders"


class InputId(StrEnum):
    RESOLUTION = "resolution_text"
    BUILDERS = "builders_select"


EVENT_TYPE = "handoff_message"
"""The `metadata.event_type` of every message handoff posts (its payload carries the outbox key)."""
