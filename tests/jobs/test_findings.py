"""Findings open once, update while their condition lasts, recover after N clear runs, and each
new finding, rise in severity and recovery queues exactly one notification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import InvalidTransition
from jobs.findings import Standing, reconcile, transition
from jobs.observations import Observation
from store.models import AuditEvent, CheckRun, Finding, Model, Notification
from store.states import FindingState

T0 = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAY = timedelta(days=1)


def _obs(severity: str = "warn", value: float = 0.2) -> Observation:
    return Observation(
        kind="input_drift",
        severity=severity,
        summary="income drifted",  # type: ignore[arg-type]
        metric="psi",
        feature="income",
        value=value,
        threshold=0.1,
    )


def _run(sessions: sessionmaker[Session], day: int, observations: list[Observation]) -> list[str]:
    now = T0 + day * DAY
    with sessions.begin() as session:
        if session.get(Model, "m") is None:
            session.add(Model(id="m", name="m", created_at=T0, updated_at=T0))
            session.flush()
        run = CheckRun(
            model_id="m", window_start=now - DAY, window_end=now, status="completed", started_at=now
        )
        session.add(run)
        session.flush()
        changes = reconcile(
            session=session,
            model_id="m",
            check_run_id=run.id,
            observations=observations,
            channel="#c",
            now=now,
            acknowledge_within=timedelta(hours=4),
        )
    return [f"{c.state}:{c.notified}" for c in changes]


def _notes(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [n.kind for n in session.scalars(select(Notification).order_by(Notification.id))]


def test_a_condition_is_one_finding_updated_daily_then_recovered(
    sessions: sessionmaker[Session],
) -> None:
    assert _run(sessions, 1, [_obs("warn", 0.15)]) == ["new:finding.new"]
    assert _run(sessions, 2, [_obs("warn", 0.18)]) == ["ongoing:None"]
    assert _run(sessions, 3, [_obs("critical", 0.31)]) == ["ongoing:finding.escalated"]
    assert _run(sessions, 4, [_obs("warn", 0.2)]) == ["ongoing:None"]
    assert _run(sessions, 5, []) == []  # one clear run is not yet a recovery
    assert _run(sessions, 6, []) == ["recovered:finding.recovered"]
    assert _notes(sessions) == ["finding.new", "finding.escalated", "finding.recovered"]
    with sessions() as session:
        (finding,) = session.scalars(select(Finding)).all()
        assert finding.state == "recovered"
        assert finding.worst_severity == "critical"
        assert finding.worst_value == pytest.approx(0.31)
        assert finding.opened_at == T0 + DAY
        assert finding.last_seen_at == T0 + 4 * DAY
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions == ["opened", "recovered"]


def test_a_clear_run_between_sightings_does_not_reopen(sessions: sessionmaker[Session]) -> None:
    _run(sessions, 1, [_obs()])
    _run(sessions, 2, [])
    assert _run(sessions, 3, [_obs()]) == ["ongoing:None"]
    with sessions() as session:
        assert len(session.scalars(select(Finding)).all()) == 1


def test_info_findings_are_kept_but_not_pushed_until_warn(sessions: sessionmaker[Session]) -> None:
    assert _run(sessions, 1, [_obs("info", 0.05)]) == ["new:None"]
    assert _run(sessions, 2, [_obs("warn", 0.12)]) == ["ongoing:finding.new"]
    _run(sessions, 3, [])
    _run(sessions, 4, [])
    assert _notes(sessions) == ["finding.new", "finding.recovered"]


def test_a_silent_info_finding_recovers_silently(sessions: sessionmaker[Session]) -> None:
    _run(sessions, 1, [_obs("info", 0.05)])
    _run(sessions, 2, [])
    assert _run(sessions, 3, []) == ["recovered:None"]
    assert _notes(sessions) == []


def test_a_resolved_finding_stays_quiet_unless_it_worsens(sessions: sessionmaker[Session]) -> None:
    _run(sessions, 1, [_obs("warn")])
    with sessions.begin() as session:
        finding = session.scalars(select(Finding)).one()
        finding.state = "resolved"
    assert _run(sessions, 2, [_obs("warn")]) == ["ongoing:None"]
    assert _run(sessions, 3, [_obs("critical", 0.4)]) == ["ongoing:finding.escalated"]
    with sessions() as session:
        assert session.scalars(select(Finding)).one().state == "open"


def test_the_same_severity_seen_again_is_not_told_again(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs("warn")])
    _run(sessions, 2, [_obs("warn")])
    assert _notes(sessions) == ["finding.new"]


STATE = Standing(state=FindingState.OPEN)


def test_transitions_follow_the_lifecycle() -> None:
    acked = transition(STATE, "acknowledge")
    assert acked.state == "acknowledged"
    until = T0 + DAY
    snoozed = transition(acked, "snooze", until=until)
    assert (snoozed.state, snoozed.snoozed_until) == ("snoozed", until)
    resolved = transition(snoozed, "resolve")
    assert (resolved.state, resolved.snoozed_until) == ("resolved", None)
    assert transition(resolved, "reopen").state == "open"


@pytest.mark.parametrize(
    ("state", "event"),
    [
        ("resolved", "acknowledge"),
        ("resolved", "resolve"),
        ("open", "reopen"),
        ("recovered", "snooze"),
        ("open", "explode"),
    ],
)
def test_invalid_transitions_are_refused(state: str, event: str) -> None:
    with pytest.raises(InvalidTransition):
        transition(Standing(FindingState(state)), event, until=T0)


def test_snooze_needs_an_end() -> None:
    with pytest.raises(InvalidTransition):
        transition(STATE, "snooze")
