"""Registering handoff cards: a new card version only when the content changed, and what changed.

A changed limitation or threshold is exactly the context that gets lost at a handoff, so the
changes are said in words, not as a diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from store import repo
from store.cards import Card, card_hash, card_to_dict, describe_changes


@dataclass(frozen=True)
class Registration:
    model_id: str
    version: int
    created: bool  # a new version was stored
    changes: tuple[str, ...]  # in words, against the previous version (empty for the first)

    @property
    def first(self) -> bool:
        return self.created and self.version == 1


def register_card(
    *, session: Session, card: Card, source_file: str | Path, now: datetime
) -> Registration:
    """Store `card` as its model's newest version unless it equals the newest one."""
    digest = card_hash(card)
    previous = repo.latest_card_version(session=session, model_id=card.model)
    if previous is not None and previous.content_hash == digest:
        return Registration(card.model, previous.version, created=False, changes=())
    changes: tuple[str, ...] = ()
    if previous is not None:
        changes = tuple(describe_changes(Card.model_validate(previous.content), card))
    stored = repo.add_card_version(
        session=session,
        model_id=card.model,
        name=card.name,
        content=card_to_dict(card),
        content_hash=digest,
        source_file=str(source_file),
        now=now,
    )
    return Registration(card.model, stored.version, created=True, changes=changes)
