"""Every table round-trips on SQLite and PostgreSQL; the constraints the product relies on hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.models import (
    AuditEvent,
    Base,
    CardVersion,
    CheckIn,
    CheckRun,
    Episode,
    FileSpanRow,
    Finding,
    LeaderLease,
    Model,
    Notification,
    SlackEvent,
    StoredBaseline,
    WindowProfile,
)

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BLOB = bytes(range(256)) * 64  # binary profile data must come back byte for byte


def _graph() -> list[Base]:
    model = Model(
        id="credit-risk", name="Credit risk", current_version=1, created_at=NOW, updated_at=NOW
    )
    card = CardVersion(
        id=1,
        model_id="credit-risk",
        version=1,
        content={"model": "credit-risk", "limitations": [{"text": "ü ✓"}]},
        content_hash="a" * 64,
        source_file="cards/credit.yaml",
        registered_at=NOW,
        registered_by="U024BE7LH",
    )
    baseline = StoredBaseline(
        id=1,
        model_id="credit-risk",
        card_version_id=1,
        basis="b" * 64,
        window_start=NOW - 30 * DAY,
        window_end=NOW,
        rows=123_456,
        data=BLOB,
        created_at=NOW,
    )
    run = CheckRun(
        id=1,
        model_id="credit-risk",
        baseline_id=1,
        window_start=NOW,
        window_end=NOW + DAY,
        status="completed",
        rows_read=2000,
        rows_rejected=3,
        rejected={"nan_score": 2, "outside_window": 1},
        bad_cells={"wrong_type:income": 4},
        metrics={"psi": {"income": 0.12}},
        error=None,
        started_at=NOW + DAY,
        finished_at=NOW + DAY,
    )
    profile = WindowProfile(
        id=1,
        check_run_id=1,
        model_id="credit-risk",
        baseline_id=1,
        window_start=NOW,
        window_end=NOW + DAY,
        rows=2000,
        data=BLOB[:999],
    )
    episode = Episode(
        id=1,
        model_id="credit-risk",
        state="acknowledged",
        severity="warn",
        worst_severity="critical",
        opened_at=NOW,
        updated_at=NOW + DAY,
        closed_at=None,
        acknowledged_by="U024BE7LH",
        acknowledged_at=NOW + DAY / 2,
        snoozed_until=None,
        snoozed_by=None,
        resolved_by=None,
        resolved_at=None,
        resolution=None,
        next_escalation_at=NOW + 4 * DAY / 24,
        escalation_step=1,
        revision=3,
        slack_channel="C0123",
        slack_ts="1700000000.000100",
    )
    finding = Finding(
        id=1,
        model_id="credit-risk",
        episode_id=1,
        key="input_drift|psi|income|",
        kind="input_drift",
        metric="psi",
        feature="income",
        segment=None,
        severity="warn",
        worst_severity="critical",
        value=0.17,
        worst_value=0.31,
        threshold=0.1,
        summary="income drifted",
        details={"ks": 0.08},
        state="open",
        clear_runs=0,
        reopened=0,
        opened_at=NOW,
        last_seen_at=NOW + DAY,
        last_window_end=NOW + DAY,
        closed_at=None,
        closed_window_end=None,
        first_check_run_id=1,
        last_check_run_id=1,
    )
    note = Notification(
        id=1,
        idempotency_key="episode:1:root",
        model_id="credit-risk",
        episode_id=1,
        finding_id=1,
        kind="episode.root",
        channel="#credit",
        payload={"finding_id": 1},
        status="pending",
        attempts=0,
        next_attempt_at=NOW,
        last_error=None,
        created_at=NOW,
        sent_at=None,
        slack_channel=None,
        slack_ts=None,
        claimed_by=None,
        claimed_until=None,
        uncertain=False,
    )
    audit = AuditEvent(
        id=1,
        model_id="credit-risk",
        episode_id=1,
        finding_id=1,
        at=NOW,
        actor="U024BE7LH",
        action="acknowledge",
        detail={"note": "looking"},
    )
    checkin = CheckIn(
        id=1,
        model_id="credit-risk",
        period="2026-W48",
        sent_at=NOW,
        answered_at=None,
        answered_by=None,
        response=None,
        ownerless=True,
        card_version=1,
        slack_channel="C0123",
        slack_ts="1700000000.000200",
    )
    lease = LeaderLease(name="scheduler", holder="host:123", expires_at=NOW + DAY, renewed_at=NOW)
    event = SlackEvent(event_id="Ev0123", received_at=NOW)
    span = FileSpanRow(
        id=1,
        path="/data/credit/2024-07-01.csv",
        timestamp_column="scored_at",
        size=1_234_567,
        mtime_ns=1_719_800_000_123_456_789,  # past 2**53: a BIGINT, exact
        rows=20_000,
        first_ns=1_719_792_000_000_000_000,
        last_ns=1_719_878_399_999_999_999,
        unplaced={"bad_timestamp": 2},
        head_digest="0f" * 16,
        indexed_at=NOW,
    )
    return [
        model,
        card,
        baseline,
        run,
        profile,
        episode,
        finding,
        note,
        audit,
        checkin,
        lease,
        event,
        span,
    ]


def _columns(row: Base) -> dict[str, object]:
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}


def test_every_table_round_trips(sessions: sessionmaker[Session]) -> None:
    rows = _graph()
    assert {type(r).__table__.name for r in rows} == set(Base.metadata.tables)  # type: ignore[attr-defined]
    with sessions.begin() as session:
        for row in rows:  # parents first: the models declare foreign keys, not relationships
            session.add(row)
            session.flush()
        expected = {type(row): _columns(row) for row in rows}  # with column defaults applied
    for cls, columns in expected.items():
        with sessions() as session:
            loaded = session.scalars(select(cls)).one()
            assert _columns(loaded) == columns, cls.__name__


def test_times_come_back_aware_and_utc(sessions: sessionmaker[Session]) -> None:
    berlin = timezone(timedelta(hours=1))
    with sessions.begin() as session:
        session.add(
            Model(
                id="m", name="m", created_at=datetime(2026, 1, 1, 7, tzinfo=berlin), updated_at=NOW
            )
        )
    with sessions() as session:
        model = session.get(Model, "m")
        assert model is not None
        assert model.created_at == datetime(2026, 1, 1, 6, tzinfo=UTC)
        assert model.created_at.tzinfo == UTC


def test_naive_times_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="naive datetime"), sessions.begin() as session:
        session.add(Model(id="m", name="m", created_at=datetime(2026, 1, 1), updated_at=NOW))


def _add_run(session: Session, end: datetime) -> None:
    session.add(
        CheckRun(
            model_id="credit-risk",
            window_start=end - DAY,
            window_end=end,
            status="completed",
            started_at=NOW,
        )
    )


def test_one_check_run_per_model_and_window_end(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(_graph()[0])
        session.flush()
        _add_run(session, NOW)
    with pytest.raises(IntegrityError), sessions.begin() as session:
        _add_run(session, NOW)
    with sessions.begin() as session:
        _add_run(session, NOW + DAY)  # another window end is fine


def test_outbox_idempotency_key_is_unique(sessions: sessionmaker[Session]) -> None:
    def note() -> Notification:
        return Notification(
            idempotency_key="finding:7:new",
            model_id="credit-risk",
            kind="x",
            channel="#c",
            next_attempt_at=NOW,
            created_at=NOW,
        )

    with sessions.begin() as session:
        session.add(_graph()[0])
        session.flush()
        session.add(note())
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(note())


def test_card_versions_are_unique_per_model(sessions: sessionmaker[Session]) -> None:
    def version() -> CardVersion:
        return CardVersion(
            model_id="credit-risk",
            version=1,
            content={},
            content_hash="x",
            source_file="f",
            registered_at=NOW,
        )

    with sessions.begin() as session:
        session.add(_graph()[0])
        session.flush()
        session.add(version())
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(version())
