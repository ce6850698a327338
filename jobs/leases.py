"""A leader lease in the database: of several `handoff run` processes, one runs the scheduler.

The lease is a row (name, holder, expires_at). The holder renews it well before it expires; anybody
may take it once it has expired. A process that dies stops renewing, and a survivor takes over
within one TTL plus one renewal interval (30 s + 10 s by default: under a minute).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.models import LeaderLease

DEFAULT_TTL = timedelta(seconds=30)


def try_acquire(
    *,
    sessions: sessionmaker[Session],
    name: str,
    holder: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> bool:
    """Take or renew the lease `name` for `holder`; True if `holder` holds it until now + ttl.

    One conditional UPDATE decides it (the database serialises competing writers); the INSERT
    for a lease nobody ever held may lose a race, which is a plain "no".
    """
    with sessions.begin() as session:
        taken = session.execute(
            update(LeaderLease)
            .where(
                LeaderLease.name == name,
                or_(LeaderLease.holder == holder, LeaderLease.expires_at < now),
            )
            .values(holder=holder, expires_at=now + ttl, renewed_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return True
    try:
        with sessions.begin() as session:
            if session.get(LeaderLease, name) is not None:
                return False
            session.add(LeaderLease(name=name, holder=holder, expires_at=now + ttl, renewed_at=now))
    except IntegrityError:
        return False
    return True


def release(*, sessions: sessionmaker[Session], name: str, holder: str, now: datetime) -> None:
    """Give the lease up at once (a clean shutdown), so another process need not wait for it."""
    with sessions.begin() as session:
        session.execute(
            update(LeaderLease)
            .where(LeaderLease.name == name, LeaderLease.holder == holder)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
