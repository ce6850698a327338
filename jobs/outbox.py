"""The outbox as the deliverer sees it: claim rows, then record what became of each. No Slack here
(bot/delivery.py speaks to Slack); this module owns the rules of the rows' lives:

    pending ──claim──▶ sending ──sent──▶ sent            (the channel ID and message ts kept)
       ▲                  │  ╲──an edit overtaken by a newer one──▶ superseded
       └──retry (backoff)─┘   ╲──permanent error, or MAX_ATTEMPTS──▶ dead (`handoff outbox`)

A claim lasts `HOLD`; a deliverer that dies holding one leaves the row to be claimed again as
`uncertain` (it may have posted): the next deliverer looks in Slack before posting (bot/delivery).
Retries back off exponentially with jitter, or wait what Slack's `Retry-After` asks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store import repo
from store.models import Episode, Notification
from store.states import NotificationKind, NotificationStatus

HOLD = timedelta(minutes=2)
MAX_ATTEMPTS = 12
FIRST_WAIT = 2.0
MAX_WAIT = timedelta(minutes=30)


@dataclass(frozen=True)
class OutboxItem:
    """One outbox row as the deliverer needs it (plain data: nothing lazy-loads)."""

    id: int
    key: str
    kind: NotificationKind
    model_id: str
    episode_id: int | None
    finding_id: int | None
    channel: str
    payload: dict[str, Any]
    attempts: int
    uncertain: bool
    status: str
    created_at: datetime
    last_error: str | None
    slack_channel: str | None
    slack_ts: str | None

    @classmethod
    def of(cls, row: Notification) -> OutboxItem:
        return cls(
            row.id,
            row.idempotency_key,
            NotificationKind(row.kind),
            row.model_id,
            row.episode_id,
            row.finding_id,
            row.channel,
            dict(row.payload or {}),
            row.attempts,
            row.uncertain,
            row.status,
            row.created_at,
            row.last_error,
            row.slack_channel,
            row.slack_ts,
        )


def claim(
    sessions: sessionmaker[Session],
    *,
    holder: str,
    now: datetime,
    limit: int = 200,
    model_id: str | None = None,
    hold: timedelta = HOLD,
) -> list[OutboxItem]:
    """Rows for `holder` to deliver now, oldest first (see the module docstring)."""
    with sessions.begin() as session:
        rows = repo.claim_notifications(
            session=session,
            holder=holder,
            now=now,
            until=now + hold,
            limit=limit,
            model_id=model_id,
        )
        return [OutboxItem.of(row) for row in rows]


def check_in_key(model_id: str, period: str, what: str) -> str:
    """The outbox key of one of a check-in's messages (`post`, `chart`, `digest`, `answer:…`)."""
    return f"checkin:{model_id}:{period}:{what}"


def check_in_thread(sessions: sessionmaker[Session], check_in_id: int) -> tuple[str, str] | None:
    """(channel ID, ts) of a check-in's message, once posted."""
    with sessions() as session:
        check_in = repo.get_check_in(session=session, check_in_id=check_in_id)
        if check_in is None or not check_in.slack_ts or not check_in.slack_channel:
            return None
        return check_in.slack_channel, check_in.slack_ts


def root_of(sessions: sessionmaker[Session], episode_id: int) -> tuple[str, str] | None:
    """(channel ID, ts) of an episode's root message, once posted."""
    with sessions() as session:
        episode = session.get(Episode, episode_id)
        if episode is None or not episode.slack_ts or not episode.slack_channel:
            return None
        return episode.slack_channel, episode.slack_ts


def sent(
    sessions: sessionmaker[Session],
    item: OutboxItem,
    *,
    channel_id: str,
    ts: str,
    now: datetime,
    revision: int | None = None,
) -> None:
    """Record a delivered row. A root's ts goes on its episode (a check-in's on its check-in,
    where the check-in's thread replies find it); a root or an edit rendered at
    episode `revision` overtakes every pending edit of that revision or older (superseded)."""
    with sessions.begin() as session:
        row = repo.get_notification(session=session, notification_id=item.id)
        if row is None:
            return
        row.status = NotificationStatus.SENT
        row.sent_at = now
        row.slack_channel = channel_id
        row.slack_ts = ts
        row.claimed_by = row.claimed_until = None
        row.uncertain = False
        row.last_error = None
        if item.kind == NotificationKind.CHECK_IN:
            check_in = repo.get_check_in(
                session=session, check_in_id=int(item.payload["check_in_id"])
            )
            if check_in is not None:
                check_in.slack_channel, check_in.slack_ts = channel_id, ts
        if item.kind in (NotificationKind.EPISODE_ROOT, NotificationKind.EPISODE_UPDATE):
            episode = session.get(Episode, item.episode_id) if item.episode_id else None
            if episode is not None and item.kind == NotificationKind.EPISODE_ROOT:
                episode.slack_channel, episode.slack_ts = channel_id, ts
            if item.episode_id is not None and revision is not None:
                for older in repo.pending_updates(session=session, episode_id=item.episode_id):
                    if older.id != item.id and older.payload.get("revision", 0) <= revision:
                        older.status = NotificationStatus.SUPERSEDED
                        older.claimed_by = older.claimed_until = None


def superseded(sessions: sessionmaker[Session], item: OutboxItem) -> None:
    """An edit a newer edit (or the root's first post) already covers."""
    _set(sessions, item, status=NotificationStatus.SUPERSEDED)


def release(sessions: sessionmaker[Session], item: OutboxItem, *, at: datetime) -> None:
    """Put a row back untried (it waits for its root, or for its channel's pace)."""
    with sessions.begin() as session:
        row = repo.get_notification(session=session, notification_id=item.id)
        if row is None or row.status != NotificationStatus.SENDING:
            return
        row.status = NotificationStatus.PENDING
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = at
        row.claimed_by = row.claimed_until = None


def retry(
    sessions: sessionmaker[Session],
    item: OutboxItem,
    *,
    error: str,
    now: datetime,
    retry_after: float | None = None,
    uncertain: bool = False,
) -> bool:
    """Try again later, or give up after MAX_ATTEMPTS; True when it will be retried."""
    if item.attempts >= MAX_ATTEMPTS:
        give_up(sessions, item, reason=f"gave up after {item.attempts} attempts: {error}")
        return False
    with sessions.begin() as session:
        row = repo.get_notification(session=session, notification_id=item.id)
        if row is None:
            return False
        row.status = NotificationStatus.PENDING
        row.next_attempt_at = next_attempt(item.attempts, now, retry_after=retry_after)
        row.last_error = error
        row.uncertain = row.uncertain or uncertain
        row.claimed_by = row.claimed_until = None
    return True


def give_up(sessions: sessionmaker[Session], item: OutboxItem, *, reason: str) -> None:
    """A permanent error: the row is dead with the reason (shown by `handoff outbox`)."""
    _set(sessions, item, status=NotificationStatus.DEAD, last_error=reason)


def _set(sessions: sessionmaker[Session], item: OutboxItem, **values: Any) -> None:
    with sessions.begin() as session:
        row = repo.get_notification(session=session, notification_id=item.id)
        if row is None:
            return
        for name, value in values.items():
            setattr(row, name, value)
        row.claimed_by = row.claimed_until = None


def next_attempt(attempts: int, now: datetime, *, retry_after: float | None = None) -> datetime:
    """When to try again: what `Retry-After` asks (plus a little jitter), else exponential backoff
    from FIRST_WAIT seconds, doubled per attempt up to MAX_WAIT, with ±20% jitter."""
    if retry_after is not None:
        return now + timedelta(seconds=retry_after + random.uniform(0.0, 0.5))
    wait = min(FIRST_WAIT * 2 ** max(attempts - 1, 0), MAX_WAIT.total_seconds())
    return now + timedelta(seconds=wait * random.uniform(0.8, 1.2))


def requeue_dead(sessions: sessionmaker[Session], *, now: datetime) -> int:
    """Give every dead row a fresh start (after its cause was fixed); how many."""
    with sessions.begin() as session:
        rows = repo.dead_notifications(session=session)
        for row in rows:
            row.status = NotificationStatus.PENDING
            row.attempts = 0
            row.next_attempt_at = now
        return len(rows)


def waiting(sessions: sessionmaker[Session]) -> list[OutboxItem]:
    """Rows not yet delivered or given up on, oldest first."""
    with sessions() as session:
        statuses = [NotificationStatus.PENDING, NotificationStatus.SENDING, NotificationStatus.DEAD]
        return [OutboxItem.of(row) for row in repo.outbox(session=session, statuses=statuses)]
