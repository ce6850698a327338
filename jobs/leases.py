"""A leader lease in the database: of several `handoff run` processes, one runs the scheduler.

The lease is a row (name, holder, expires_at). The holder renews it well before it expires; anybody
may take it once it has expired. A process that dies stops renewing, and a survivor takes over
within one TTL plus one renewal interval (30 s + 10 s by default: under a minute).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import repo
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
        if repo.renew_lease(
            session=session, name=name, holder=holder, now=now, expires_at=now + ttl
        ):
            return True
    try:
        with sessions.begin() as session:
            if repo.get_lease(session=session, name=name) is not None:
                return False
            session.add(LeaderLease(name=name, holder=holder, expires_at=now + ttl, renewed_at=now))
    except IntegrityError:
        return False
    return True


def release(*, sessions: sessionmaker[Session], name: str, holder: str, now: datetime) -> None:
    """Give the lease up at once (a clean shutdown), so another process need not wait for it."""
    with sessions.begin() as session:
        repo.expire_lease(session=session, name=name, holder=holder, now=now)
