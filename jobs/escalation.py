"""Escalation as state (design decision 6): an episode nobody acknowledged climbs its card's ladder.

The root message tags the builders. When an open episode is not acknowledged within the card's
`acknowledge_within`, the sweeper (a job of the scheduler leader) tags the next rung of
`escalation.ladder` in the thread (builders, a member, a channel), edits the root, and sets the
next timer; past the last rung it repeats the last rung, each time waiting twice as long, at most
`MAX_REPEATS` times, then stops and says so. Acknowledging or resolving stops it; a snooze pauses
it until the snooze ends (the sweeper opens the episode again, and says so, if its findings are
still seen). "Escalate now" takes the next step at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from jobs import episodes
from jobs.errors import InvalidTransition
from store import repo
from store.cards import Card
from store.models import Episode
from store.states import EpisodeState, NotificationKind

MAX_REPEATS = 3


@dataclass(frozen=True)
class Step:
    """One escalation step: who is tagged (`rung`: builders, a member ID or e-mail, a channel),
    its place on the ladder, and when the next one is due (None: escalation is over)."""

    number: int
    rung: str
    repeat: int
    next_at: datetime | None

    @property
    def past_builders(self) -> bool:
        return self.rung != "builders"


@dataclass(frozen=True)
class Ladder:
    """A card's escalation: who is tagged at each step, how long to wait, and where to say it."""

    rungs: tuple[str, ...]
    acknowledge_within: timedelta
    channel: str

    @classmethod
    def of(cls, card: Card) -> Ladder:
        return cls(tuple(card.escalation.ladder), card.escalation.acknowledge_within, card.channel)


def next_step(ladder: Ladder, episode: Episode, now: datetime) -> Step:
    """The step after `episode.escalation_step` (pure: the ladder, the timer, the repeats)."""
    number = episode.escalation_step + 1
    index = min(number, len(ladder.rungs) - 1)
    repeat = max(0, number - (len(ladder.rungs) - 1))
    wait = ladder.acknowledge_within * (2**repeat)
    next_at = now + wait if repeat < MAX_REPEATS else None
    return Step(number, ladder.rungs[index], repeat, next_at)


def card_of(session: Session, model_id: str) -> Card | None:
    version = repo.latest_card_version(session=session, model_id=model_id)
    return Card.model_validate(version.content) if version else None


def escalate(
    session: Session,
    episode: Episode,
    ladder: Ladder,
    *,
    now: datetime,
    actor: str = "handoff",
    reason: str | None = None,
) -> Step:
    """Take the episode's next step: tag the rung in the thread (queued), edit the root."""
    if episode.state in (EpisodeState.RESOLVED, EpisodeState.RECOVERED):
        raise InvalidTransition(episode.state, "escalated")
    step = next_step(ladder, episode, now)
    episode.escalation_step = step.number
    episode.next_escalation_at = step.next_at if episode.state == EpisodeState.OPEN else None
    waited = ladder.acknowledge_within * (2 ** max(step.repeat - 1, 0))
    why = reason or f"nobody has acknowledged it for {_hours(waited)}"
    episodes.say(
        session,
        episode,
        NotificationKind.EPISODE_ESCALATED,
        now=now,
        key=f"escalated:{step.number}",
        channel=ladder.channel,
        payload={
            "rung": step.rung,
            "step": step.number,
            "repeat": step.repeat,
            "reason": why,
            "actor": actor,
            "last": step.next_at is None,
        },
    )
    episodes.audit(
        session, episode, "escalated", now, actor=actor, rung=step.rung, step=step.number
    )
    episodes.update_root(session, episode, channel=ladder.channel, now=now)
    return step


def sweep(sessions: sessionmaker[Session], *, now: datetime) -> int:
    """Wake the snoozes that ended and take every due escalation step; how many steps."""
    steps = 0
    with sessions.begin() as session:
        for model_id in repo.models_with_snoozes_due(session=session, now=now):
            card = card_of(session, model_id)
            if card is not None:
                episodes.wake_due(
                    session,
                    model_id=model_id,
                    channel=card.channel,
                    now=now,
                    ack=card.escalation.acknowledge_within,
                )
        for episode in repo.due_escalations(session=session, now=now):
            card = card_of(session, episode.model_id)
            if card is None:
                episode.next_escalation_at = None
                continue
            escalate(session, episode, Ladder.of(card), now=now)
            steps += 1
    return steps


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} days"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
