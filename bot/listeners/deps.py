"""What the listeners share: the sessions, who may act, the clock, and episode look-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.access import Access
from bot.directory import Directory
from jobs.queries import CardView
from store import repo
from store.cards import Card
from store.models import Episode


def _nothing(*_args: Any) -> None:
    return None


def _at_once(work: Callable[[], None], _respond: Any) -> None:
    work()


@dataclass(frozen=True)
class Deps:
    """The listeners' collaborators, built once by bot/slack.py (tests build their own)."""

    sessions: sessionmaker[Session]
    directory: Directory
    access: Access
    kick: Callable[[str], None] = _nothing
    """Deliver a model's queued messages soon (after an action: the root edited in seconds)."""
    check_now: Callable[[str, str, str, Any], None] = _nothing
    """Run `/model check` in the background: (model, user, channel, respond)."""
    permalink: Callable[[str, str], str | None] = _nothing
    """A message's permalink (channel ID, ts), cached."""
    answer: Callable[[Callable[[], None], Any], None] = _at_once
    """Work out and send an answer (work, respond) after the ack, off bolt's listener pool."""
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
