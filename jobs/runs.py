"""Check runs in the database: storing one (its profile, its findings' moves and the messages they
queue) in one transaction, recording one that could not read its data, and the result of either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from jobs import findings
from jobs.errors import SourceError
from jobs.findings import Decision
from jobs.observations import Observation
from jobs.results import CheckResult, FindingOutcome
from jobs.sources.base import ReadReport
from jobs.stats import Profile, Severity
from store import repo
from store.cards import Card
from store.models import CheckRun, Finding, WindowProfile
from store.states import CheckStatus


@dataclass(frozen=True)
class Window:
    """The model and the half-open window `[start, end)` a run checks, and when it runs."""

    model_id: str
    start: datetime
    end: datetime
    now: datetime


def outcomes(decisions: list[tuple[Decision, int | None]]) -> list[FindingOutcome]:
    """What a run's decisions mean for `handoff check --json`, one entry per condition."""
    out = []
    for decision, finding_id in decisions:
        state = decision.outcome
        if state is None:
            continue
        seen = decision.observation
        if seen is not None:
            out.append(FindingOutcome.of(seen, state, finding_id))
        elif decision.finding is not None:
            out.append(_recovered(decision.finding))
    return out


def _recovered(finding: Finding) -> FindingOutcome:
    return FindingOutcome(
        kind=finding.kind,
        severity=finding.severity,
        summary=f"recovered: {finding.summary}",
        state="recovered",
        id=finding.id,
        metric=finding.metric,
        feature=finding.feature,
        segment=finding.segment,
        value=finding.value,
        threshold=finding.threshold,
    )


def dry_run(
    sessions: sessionmaker[Session],
    window: Window,
    *,
    read: ReadReport,
    observations: list[Observation],
    metrics: dict[str, Any],
) -> CheckResult:
    """What a run would do, computed against the stored findings and written nowhere."""
    with sessions() as session:
        decisions = findings.plan(
            session,
            model_id=window.model_id,
            observations=observations,
            window_end=window.end,
            complete=read.rows_kept > 0,
        )
        listed = outcomes([(d, d.finding.id if d.finding else None) for d in decisions])
    return _result(window, read, metrics, listed, queued=0)


def _result(
    window: Window,
    read: ReadReport,
    metrics: dict[str, Any],
    listed: list[FindingOutcome],
    *,
    queued: int,
) -> CheckResult:
    return CheckResult(
        model=window.model_id,
        window_start=window.start,
        window_end=window.end,
        rows_read=read.rows_read,
        rows_rejected=read.rows_rejected,
        rejected=dict(read.rejected),
        metrics=metrics,
        findings=listed,
        queued=queued,
        bad_cells=dict(read.bad_cells),
    )


def _apply(
    session: Session,
    window: Window,
    card: Card,
    *,
    run: CheckRun,
    observations: list[Observation],
    complete: bool,
) -> findings.Applied:
    decisions = findings.plan(
        session,
        model_id=window.model_id,
        observations=observations,
        window_end=window.end,
        complete=complete,
    )
    return findings.apply(
        session,
        decisions,
        model_id=window.model_id,
        check_run_id=run.id,
        window_end=window.end,
        channel=card.channel,
        now=window.now,
        acknowledge_within=card.escalation.acknowledge_within,
    )


def record_failure(
    sessions: sessionmaker[Session], window: Window, card: Card, *, error: SourceError
) -> None:
    """A run that could not read its data: a failed run (retried next time) and a finding."""
    with sessions.begin() as session:
        drop_failed(session, window.model_id, window.end)
        run = CheckRun(
            model_id=window.model_id,
            window_start=window.start,
            window_end=window.end,
            status=CheckStatus.FAILED,
            error=str(error),
            started_at=window.now,
            finished_at=window.now,
        )
        session.add(run)
        session.flush()
        unreadable = Observation(
            kind="source_error",
            severity=Severity.WARN,
            summary=f"the data could not be read: {error.reason}",
            details={"source": error.source},
        )
        _apply(session, window, card, run=run, observations=[unreadable], complete=False)


def drop_failed(session: Session, model_id: str, end: datetime) -> None:
    """Forget an earlier failed run of this window, so that this run can take its place."""
    failed = repo.check_run_at(session=session, model_id=model_id, window_end=end)
    if failed is not None and failed.status == CheckStatus.FAILED:
        for finding in repo.findings_of_run(session=session, check_run_id=failed.id):
            if finding.first_check_run_id == failed.id:
                finding.first_check_run_id = None
            if finding.last_check_run_id == failed.id:
                finding.last_check_run_id = None
        session.delete(failed)
        session.flush()


def store_run(
    sessions: sessionmaker[Session],
    window: Window,
    card: Card,
    *,
    baseline_id: int,
    read: ReadReport,
    profile: Profile,
    observations: list[Observation],
    metrics: dict[str, Any],
) -> CheckResult:
    """Write a completed run, its profile and its findings' moves in one transaction."""
    with sessions.begin() as session:
        drop_failed(session, window.model_id, window.end)
        run = CheckRun(
            model_id=window.model_id,
            baseline_id=baseline_id,
            window_start=window.start,
            window_end=window.end,
            status=CheckStatus.COMPLETED,
            rows_read=read.rows_read,
            rows_rejected=read.rows_rejected,
            rejected=dict(read.rejected),
            bad_cells=dict(read.bad_cells),
            metrics={},
            started_at=window.now,
            finished_at=window.now,
        )
        session.add(run)
        session.flush()
        session.add(
            WindowProfile(
                check_run_id=run.id,
                model_id=window.model_id,
                baseline_id=baseline_id,
                window_start=window.start,
                window_end=window.end,
                rows=profile.rows,
                data=profile.to_bytes(),
            )
        )
        applied = _apply(
            session, window, card, run=run, observations=observations, complete=read.rows_kept > 0
        )
        result = _result(window, read, metrics, outcomes(applied.decisions), queued=applied.queued)
        run.metrics = result.stored()
    return result
