"""The words the store keeps in its state columns, as enums: one place for each vocabulary.

They are `StrEnum`s, so a value read back from a `String` column compares equal to its member and
JSON-encodes as its value. Severities are not here: the statistics core judges them
(`jobs.stats.Severity`), and the store keeps their values as text. Imports nothing of ours.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "LIVE_STATES",
    "OPEN_STATES",
    "CheckStatus",
    "FindingState",
    "NotificationKind",
    "NotificationStatus",
]


class FindingState(StrEnum):
    """Where a finding is in its life (see jobs/findings.py for the moves between them)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    RECOVERED = "recovered"


OPEN_STATES = (FindingState.OPEN, FindingState.ACKNOWLEDGED, FindingState.SNOOZED)
"""States of a finding that still wants attention."""
LIVE_STATES = (*OPEN_STATES, FindingState.RESOLVED)
"""States of a finding that later runs still update (a resolved one may reopen when worse)."""


class CheckStatus(StrEnum):
    """How a check run ended."""

    COMPLETED = "completed"
    FAILED = "failed"


class NotificationKind(StrEnum):
    """What an outbox row asks the bot to say."""

    FINDING_NEW = "finding.new"
    FINDING_ESCALATED = "finding.escalated"
    FINDING_RECOVERED = "finding.recovered"


class NotificationStatus(StrEnum):
    """Where an outbox row is in its delivery."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
