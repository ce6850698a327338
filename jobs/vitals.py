"""Numbers about handoff itself for /healthz and /metrics: database reachable, outbox, findings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from store import repo
from store.states import NotificationStatus


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
            repo.ping(session=session)
            outbox = repo.outbox_counts(session=session)
            return Vitals(
                database_ok=True,
                models=repo.model_count(session=session),
                outbox_pending=outbox.get(NotificationStatus.PENDING, 0),
                outbox_dead=outbox.get(NotificationStatus.DEAD, 0),
                open_findings=tuple(sorted(repo.open_finding_counts(session=session).items())),
                failed_checks=repo.failed_check_count(session=session),
            )
    except Exception:  # a health check reports a broken database; it does not raise
        return Vitals(database_ok=False)
