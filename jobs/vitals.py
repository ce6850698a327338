"""Numbers about handoff itself for /healthz and /metrics: database reachable, outbox, findings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from store.models import CheckRun, Finding, Model, Notification
from store.repo import OPEN_STATES


@dataclass(frozen=True)
class Vitals:
    database_ok: bool
    models: int = 0
    outbox_pending: int = 0
    outbox_dead: int = 0
    open_findings: tuple[tuple[str, int], ...] = ()
    failed_checks: int = 0


def read_vitals(sessions: sessionmaker[Session]) -> Vitals:
    """Counts a platform team alerts on; `database_ok=False` if the database does not answer."""
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
            outbox = dict(
                session.execute(
                    select(Notification.status, func.count()).group_by(Notification.status)
                ).all()
            )
            findings = session.execute(
                select(Finding.severity, func.count())
                .where(Finding.state.in_(OPEN_STATES))
                .group_by(Finding.severity)
            ).all()
            return Vitals(
                database_ok=True,
                models=session.scalar(select(func.count()).select_from(Model)) or 0,
                outbox_pending=outbox.get("pending", 0),
                outbox_dead=outbox.get("dead", 0),
                open_findings=tuple(sorted((s, n) for s, n in findings)),
                failed_checks=session.scalar(
                    select(func.count()).select_from(CheckRun).where(CheckRun.status == "failed")
                )
                or 0,
            )
    except Exception:  # a health check reports a broken database; it does not raise
        return Vitals(database_ok=False)
