"""Queries and writes over the store, as functions with a keyword-only session.

The caller owns the transaction (`with sessions.begin() as session:`); nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import CardVersion, CheckRun, Finding, Model

OPEN_STATES = ("open", "acknowledged", "snoozed")


def get_model(*, session: Session, model_id: str) -> Model | None:
    return session.get(Model, model_id)


def list_models(*, session: Session) -> Sequence[Model]:
    return session.scalars(select(Model).order_by(Model.id)).all()


def latest_card_version(*, session: Session, model_id: str) -> CardVersion | None:
    return session.scalars(
        select(CardVersion)
        .where(CardVersion.model_id == model_id)
        .order_by(CardVersion.version.desc())
        .limit(1)
    ).first()


def add_card_version(
    *,
    session: Session,
    model_id: str,
    name: str,
    content: dict[str, Any],
    content_hash: str,
    source_file: str,
    now: datetime,
    registered_by: str | None = None,
) -> CardVersion:
    """Store a new version of a model's card, creating the model on its first card."""
    model = session.get(Model, model_id, with_for_update=True)
    if model is None:
        model = Model(id=model_id, name=name, current_version=0, created_at=now, updated_at=now)
        session.add(model)
        session.flush()  # the model row must exist before its first card version
    model.current_version += 1
    model.name = name
    model.updated_at = now
    version = CardVersion(
        model_id=model_id,
        version=model.current_version,
        content=content,
        content_hash=content_hash,
        source_file=source_file,
        registered_at=now,
        registered_by=registered_by,
    )
    session.add(version)
    session.flush()
    return version


def last_check_run(*, session: Session, model_id: str) -> CheckRun | None:
    return session.scalars(
        select(CheckRun)
        .where(CheckRun.model_id == model_id, CheckRun.status == "completed")
        .order_by(CheckRun.window_end.desc())
        .limit(1)
    ).first()


def check_run_at(*, session: Session, model_id: str, window_end: datetime) -> CheckRun | None:
    """The run of this model's window ending at `window_end` (at most one: a unique constraint)."""
    return session.scalars(
        select(CheckRun).where(CheckRun.model_id == model_id, CheckRun.window_end == window_end)
    ).first()


def open_finding_counts(*, session: Session, model_id: str) -> dict[str, int]:
    """Open (unresolved, unrecovered) findings of a model, counted by severity."""
    rows = session.execute(
        select(Finding.severity, func.count())
        .where(Finding.model_id == model_id, Finding.state.in_(OPEN_STATES))
        .group_by(Finding.severity)
    ).all()
    return {severity: count for severity, count in rows}
