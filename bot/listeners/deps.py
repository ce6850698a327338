"""What the listeners share: the sessions, who may act, the clock, and episode look-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.access import Access
from bot.directory import Directory
from jobs.queries import CardView
from store import repo
from store.cards import Card
from store.models import Episode


@dataclass(frozen=True)
class Deps:
    sessions: sessionmaker[Session]
    directory: Directory
    access: Access
    kick: Callable[[str], None] = field(default=lambda _model: None)
    """Deliver a model's queued messages soon (after an action: the root edited in seconds)."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def episode_and_card(session: Session, episode_id: int) -> tuple[Episode, CardView] | None:
    """The episode a button names and its model's newest card (None when either is gone)."""
    episode = repo.get_episode(session=session, episode_id=episode_id)
    if episode is None:
        return None
    version = repo.latest_card_version(session=session, model_id=episode.model_id)
    if version is None:
        return None
    return episode, CardView.of(Card.model_validate(version.content), version.version)
