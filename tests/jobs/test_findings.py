"""Findings open once, update while their condition lasts and recover after clear runs of later
windows; a model's overlapping findings form one episode with one root message, and everything
else about it is a reply in its thread. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs import episodes, findings
from jobs.episodes import Standing, transition
from jobs.errors import InvalidTransition
from jobs.observations import Observation
from jobs.stats import Severity
from store.models import AuditEvent, CheckRun, Episode, Finding, Model, Notification
from store.states import EpisodeState

T0 = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAY = timedelta(days=1)
ACK = timedelta(hours=4)


def _obs(
    severity: str = "warn", value: float = 0.2, feature: str = "income", kind: str = "input_drift"
) -> Observation:
    return Observation(
        kind=kind,
        severity=Severity(severity),
        summary=f"{feature} drifted",
        metric="psi",
        feature=feature,
        value=value,
        threshold=0.1,
    )


def _run(
    sessions: sessionmaker[Session],
    day: int,
    observations: list[Observation],
    *,
    complete: bool = True,
) -> list[str]:
    """One check run of the day ending `day` days after T0; 'outcome:move' per condition."""
    end = T0 + day * DAY
    with sessions.begin() as session:
        if session.get(Model, "m") is None:
            session.add(Model(id="m", name="m", created_at=T0, updated_at=T0))
            session.flush()
        decisions = findings.plan(
            session, model_id="m", observations=observations, window_end=end, complete=complete
        )
        run = CheckRun(
            model_id="m",
            window_start=end - DAY,
            window_end=end,
            status="completed",
            started_at=end,
        )
        session.add(run)
        session.flush()
        findings.apply(
            session,
            decisions,
            model_id="m",
            check_run_id=run.id,
            window_end=end,
            channel="#c",
            now=end,
            acknowledge_within=ACK,
        )
    return [f"{d.outcome}:{d.move}" for d in decisions if d.outcome is not None]


def _said(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [n.kind for n in session.scalars(select(Notification).order_by(Notification.id))]


def _told(sessions: sessionmaker[Session]) -> list[str]:
    """What interrupts a person: everything but edits of the root message."""
    return [kind for kind in _said(sessions) if kind != "episode.update"]


def _episodes(sessions: sessionmaker[Session]) -> list[Episode]:
    with sessions() as session:
        return list(session.scalars(select(Episode).order_by(Episode.id)))


def test_a_condition_is_one_finding_in_one_episode_updated_then_recovered(
    sessions: sessionmaker[Session],
) -> None:
    assert _run(sessions, 1, [_obs("warn", 0.15)]) == ["new:open"]
    assert _run(sessions, 2, [_obs("warn", 0.18)]) == ["ongoing:see"]
    assert _run(sessions, 3, [_obs("critical", 0.31)]) == ["ongoing:see"]
    assert _run(sessions, 4, [_obs("warn", 0.2)]) == ["ongoing:see"]
    assert _run(sessions, 5, []) == []  # one clear run is not yet a recovery
    assert _run(sessions, 6, []) == ["recovered:recover"]
    assert _told(sessions) == [
        "episode.root",
        "finding.worse",
        "finding.recovered",
        "episode.recovered",
    ]
    with sessions() as session:
        (finding,) = session.scalars(select(Finding)).all()
        assert finding.state == "recovered"
        assert finding.worst_severity == "critical"
        assert finding.worst_value == pytest.approx(0.31)
        assert finding.opened_at == T0 + DAY
        assert finding.last_seen_at == T0 + 4 * DAY
    (episode,) = _episodes(sessions)
    assert (episode.state, episode.worst_severity) == ("recovered", "critical")
    assert episode.closed_at == T0 + 6 * DAY


def test_an_older_window_never_clears_recovers_or_retells_a_live_finding(
    sessions: sessionmaker[Session],
) -> None:
    """The issue's story: a critical drift seen on the 30th; checks of the 20th and 21st after it
    are backfills, which change no finding and queue nothing."""
    assert _run(sessions, 30, [_obs("critical", 0.4)]) == ["new:open"]
    said = _said(sessions)
    assert _run(sessions, 20, []) == []
    assert _run(sessions, 21, [_obs("warn", 0.12)]) == ["ongoing:past"]
    assert _run(sessions, 22, [_obs("warn", 0.12, feature="age")]) == ["past:past"]
    assert _said(sessions) == said
    with sessions() as session:
        (finding,) = session.scalars(select(Finding)).all()
        assert (finding.state, finding.severity, finding.clear_runs) == ("open", "critical", 0)
        assert finding.last_window_end == T0 + 30 * DAY
    assert [e.state for e in _episodes(sessions)] == ["open"]


def test_a_run_that_read_nothing_is_not_a_clear_run(sessions: sessionmaker[Session]) -> None:
    _run(sessions, 1, [_obs()])
    no_data = _obs("critical", kind="no_data", feature="")
    for day in (2, 3, 4):
        _run(sessions, day, [no_data], complete=False)
    with sessions() as session:
        drift = session.scalars(select(Finding).where(Finding.kind == "input_drift")).one()
        assert (drift.state, drift.clear_runs) == ("open", 0)


def test_info_findings_are_kept_but_join_no_episode_until_warn(
    sessions: sessionmaker[Session],
) -> None:
    assert _run(sessions, 1, [_obs("info", 0.05)]) == ["new:open"]
    assert _episodes(sessions) == []
    assert _run(sessions, 2, [_obs("warn", 0.12)]) == ["ongoing:see"]
    assert _told(sessions) == ["episode.root"]
    _run(sessions, 3, [])
    _run(sessions, 4, [])
    assert _told(sessions) == ["episode.root", "finding.recovered", "episode.recovered"]


def test_a_silent_info_finding_recovers_silently(sessions: sessionmaker[Session]) -> None:
    _run(sessions, 1, [_obs("info", 0.05)])
    _run(sessions, 2, [])
    assert _run(sessions, 3, []) == ["recovered:recover"]
    assert _said(sessions) == []


def test_findings_that_overlap_are_one_episode_with_one_root(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs(feature="income")])
    _run(sessions, 2, [_obs(feature="income"), _obs(feature="age")])
    _run(sessions, 3, [_obs(feature="income"), _obs(feature="age"), _obs(kind="score_drift")])
    assert _told(sessions) == ["episode.root", "finding.joined", "finding.joined"]
    assert len(_episodes(sessions)) == 1
    with sessions() as session:
        assert {f.episode_id for f in session.scalars(select(Finding))} == {
            _episodes(sessions)[0].id
        }
    assert "episode.update" in _said(sessions)  # the root grows in place


def test_findings_first_seen_together_are_all_in_the_root(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs(feature="income"), _obs(feature="age"), _obs(kind="score_drift")])
    assert _said(sessions) == ["episode.root"]  # no replies: the root, still unsent, shows all


def test_a_condition_back_within_a_week_reopens_its_finding_and_episode(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs()])
    _run(sessions, 2, [])
    _run(sessions, 3, [])  # recovered; the episode is over
    assert [e.state for e in _episodes(sessions)] == ["recovered"]
    assert _run(sessions, 5, [_obs()]) == ["new:return"]
    with sessions() as session:
        (finding,) = session.scalars(select(Finding)).all()
        assert (finding.state, finding.reopened) == ("open", 1)
    assert [e.state for e in _episodes(sessions)] == ["open"]
    assert _told(sessions)[-1] == "episode.reopened"
    # a flapping condition needs more clear runs to be believed recovered
    for day in (6, 7, 8):
        assert _run(sessions, day, []) == []
    assert _run(sessions, 9, []) == ["recovered:recover"]


def test_a_condition_back_after_a_week_is_a_new_finding_and_episode(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs()])
    _run(sessions, 2, [])
    _run(sessions, 3, [])
    assert _run(sessions, 12, [_obs()]) == ["new:open"]
    assert [e.state for e in _episodes(sessions)] == ["recovered", "open"]
    assert _told(sessions).count("episode.root") == 2


def test_a_resolved_episode_stays_quiet_unless_a_finding_worsens(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs("warn")])
    with sessions.begin() as session:
        episode = session.scalars(select(Episode)).one()
        episodes.act(
            session,
            episode=episode,
            action="resolve",
            actor="U1",
            now=T0 + DAY,
            channel="#c",
            note="retrained",
        )
    told = _told(sessions)
    assert told[-1] == "episode.action"
    assert _run(sessions, 2, [_obs("warn")]) == ["ongoing:see"]
    assert _told(sessions) == told
    _run(sessions, 3, [_obs("critical", 0.4)])
    assert _told(sessions)[-1] == "episode.reopened"
    assert [e.state for e in _episodes(sessions)] == ["open"]


def test_the_same_severity_seen_again_is_not_told_again(sessions: sessionmaker[Session]) -> None:
    _run(sessions, 1, [_obs("warn")])
    _run(sessions, 2, [_obs("warn")])
    assert _told(sessions) == ["episode.root"]


def test_people_act_through_one_function_with_an_audit_trail(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs("warn")])
    now = T0 + DAY + timedelta(hours=1)
    with sessions.begin() as session:
        (finding,) = session.scalars(select(Finding)).all()
        episode = episodes.act_on(
            session, target=f"F{finding.id}", action="acknowledge", actor="U7", now=now
        )
        assert (episode.state, episode.acknowledged_by, episode.next_escalation_at) == (
            "acknowledged",
            "U7",
            None,
        )
        with pytest.raises(InvalidTransition, match="acknowledged cannot be acknowledged"):
            episodes.act_on(
                session, target=f"E{episode.id}", action="acknowledge", actor="U7", now=now
            )
    with sessions() as session:
        trail = session.scalars(select(AuditEvent).where(AuditEvent.actor == "U7")).all()
        assert [(e.action, e.episode_id) for e in trail] == [("acknowledge", episode.id)]
    assert _said(sessions)[-2:] == ["episode.action", "episode.update"]


def test_a_snooze_that_ends_while_findings_are_seen_opens_the_episode_again(
    sessions: sessionmaker[Session],
) -> None:
    _run(sessions, 1, [_obs("warn")])
    with sessions.begin() as session:
        episode = session.scalars(select(Episode)).one()
        episodes.act(
            session,
            episode=episode,
            action="snooze",
            actor="U1",
            now=T0 + DAY,
            channel="#c",
            until=T0 + DAY + timedelta(hours=30),
        )
    _run(sessions, 2, [_obs("warn")])
    assert [e.state for e in _episodes(sessions)] == ["snoozed"]
    _run(sessions, 3, [_obs("warn")])
    assert [e.state for e in _episodes(sessions)] == ["open"]
    assert "episode.woke" in _told(sessions)


STANDING = Standing(state=EpisodeState.OPEN)


def test_transitions_follow_the_lifecycle() -> None:
    acked = transition(STANDING, "acknowledge")
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
        ("resolved", "snooze"),
        ("recovered", "resolve"),
        ("open", "reopen"),
        ("open", "fly"),
    ],
)
def test_invalid_transitions_are_refused(state: str, event: str) -> None:
    with pytest.raises(InvalidTransition):
        transition(Standing(EpisodeState(state)), event, until=T0)


def test_snoozing_needs_an_end_time() -> None:
    with pytest.raises(InvalidTransition):
        transition(STANDING, "snooze")
