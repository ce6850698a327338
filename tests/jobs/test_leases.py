"""The leader lease: one holder at a time, renewable, taken over once it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from jobs.leases import release, try_acquire

T0 = datetime(2026, 11, 27, tzinfo=UTC)
TTL = timedelta(seconds=30)


def test_one_holder_at_a_time_and_takeover_after_expiry(sessions: sessionmaker[Session]) -> None:
    def take(holder: str, at: datetime) -> bool:
        return try_acquire(sessions=sessions, name="scheduler", holder=holder, now=at, ttl=TTL)

    assert take("a", T0)
    assert not take("b", T0 + timedelta(seconds=5))
    assert take("a", T0 + timedelta(seconds=20))  # renewal moves the expiry
    assert not take("b", T0 + timedelta(seconds=45))
    assert take("b", T0 + timedelta(seconds=51))  # a stopped renewing: b takes over
    assert not take("a", T0 + timedelta(seconds=52))


def test_release_lets_another_take_over_at_once(sessions: sessionmaker[Session]) -> None:
    assert try_acquire(sessions=sessions, name="scheduler", holder="a", now=T0, ttl=TTL)
    release(sessions=sessions, name="scheduler", holder="a", now=T0)
    assert try_acquire(
        sessions=sessions, name="scheduler", holder="b", now=T0 + timedelta(seconds=1), ttl=TTL
    )
