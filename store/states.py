"""The words the store keeps in its state columns, as enums: one place for each vocabulary.

They are `StrEnum`s, so a value read back from a `String` column compares equal to its member and
JSON-encodes as its value. Severities are not here: the statistics core judges them
(`jobs.stats.Severity`), and the store keeps their values as text. Imports nothing of ours.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE_EPISODE_STATES",
    "ENDED_EPISODE_STATES",
    "ROOT_KINDS",
    "THREAD_KINDS",
    "CheckStatus",
    "EpisodeState",
    "FindingState",
    "NotificationKind",
    "NotificationStatus",
]


class FindingState(StrEnum):
    """A finding's own life: open while its condition is seen, recovered after enough clear runs
    of later windows (it reopens if the condition returns within a week). What people do
    (acknowledge, snooze, resolve) is the episode's, not the finding's."""

    OPEN = "open"
    RECOVERED = "recovered"


class EpisodeState(StrEnum):
    """Where an episode (a model's overlapping findings) stands with people (jobs/episodes.py)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    RECOVERED = "recovered"


ACTIVE_EPISODE_STATES = (EpisodeState.OPEN, EpisodeState.ACKNOWLEDGED, EpisodeState.SNOOZED)
"""An episode in one of these states is not over: new findings of its model join it."""
ENDED_EPISODE_STATES = (EpisodeState.RESOLVED, EpisodeState.RECOVERED)


class CheckStatus(StrEnum):
    """How a check run ended."""

    COMPLETED = "completed"
    FAILED = "failed"


class NotificationKind(StrEnum):
    """What an outbox row asks the bot to say. `episode.root` posts an episode's root message and
    `episode.update` edits it in place; every other kind is a reply in the episode's thread."""

    EPISODE_ROOT = "episode.root"
    EPISODE_UPDATE = "episode.update"
    FINDING_JOINED = "finding.joined"
    FINDING_WORSE = "finding.worse"
    FINDING_RECOVERED = "finding.recovered"
    FINDING_RETURNED = "finding.returned"
    EPISODE_REOPENED = "episode.reopened"
    EPISODE_RECOVERED = "episode.recovered"
    EPISODE_ACTION = "episode.action"
    EPISODE_WOKE = "episode.woke"
    EPISODE_ESCALATED = "episode.escalated"
    BUSINESS_NOTE = "business.note"
    CARD_CHANGED = "card.changed"
    CARD_FILE = "card.file"
    CHECK_IN = "checkin.post"
    CHECK_IN_UPDATE = "checkin.update"
    CHECK_IN_CHART = "checkin.chart"
    BUSINESS_DIGEST = "business.digest"


ROOT_KINDS = (NotificationKind.EPISODE_ROOT, NotificationKind.EPISODE_UPDATE)
"""Kinds rendered from the episode as it is at delivery; the others carry what happened."""
CHECK_IN_KINDS = (
    NotificationKind.CHECK_IN,
    NotificationKind.CHECK_IN_UPDATE,
    NotificationKind.CHECK_IN_CHART,
    NotificationKind.CARD_FILE,
    NotificationKind.BUSINESS_DIGEST,
)
"""Kinds of the weekly check-in and of cards edited in Slack (jobs/checkins.py)."""
THREAD_KINDS = tuple(
    kind
    for kind in NotificationKind
    if kind
    not in (
        *ROOT_KINDS,
        *CHECK_IN_KINDS,
        NotificationKind.BUSINESS_NOTE,
        NotificationKind.CARD_CHANGED,
    )
)
"""Kinds posted as replies in their episode's thread (they wait for its root)."""


class NotificationStatus(StrEnum):
    """Where an outbox row is in its delivery (store.models.Notification)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SUPERSEDED = "superseded"
    DEAD = "dead"
