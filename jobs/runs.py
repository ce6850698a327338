"""Check runs in the database: storing one (with its profile, findings and outbox rows) in one
transaction, and recording one that could not read its data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from jobs import findings
from jobs.errors import SourceError
from jobs.observations import Observation
from jobs.results import CheckResult, FindingOutcome
from jobs.sources.base import ReadReport
from jobs.stats import Profile, Severity
from store import repo
from store.cards import Card
from store.models import CheckRun, Finding, WindowProfile
from store.states import CheckStatus


def record_failure(
    sessions: sessionmaker[Session],
    *,
    card: Card,
    start: datetime,
    end: datetime,
    now: datetime,
    error: SourceError,
) -> None:
    """A run that could not read its data: a failed run (retried next time) and a finding."""
    with sessions.begin() as session:
        drop_failed(session, card.model, end)
        run = CheckRun(
            model_id=card.model,
            window_start=start,
            window_end=end,
            status=CheckStatus.FAILED,
            error=str(error),
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        unreadable = Observation(
            kind="source_error",
            severity=Severity.WARN,
            summary=f"the data could not be read: {error.reason}",
            details={"source": error.source},
        )
        findings.reconcile(
            session=session,
            model_id=card.model,
            check_run_id=run.id,
            observations=[unreadable],
            channel=card.channel,
            now=now,
            acknowledge_within=card.escalation.acknowledge_within,
            complete=False,
        )


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


def store_run(
    sessions: sessionmaker[Session],
    *,
    model_id: str,
    card: Card,
    baseline_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    read: ReadReport,
    profile: Profile,
    observations: list[Observation],
    metrics: dict[str, Any],
) -> CheckResult:
    with sessions.begin() as session:
        drop_failed(session, model_id, end)
        run = CheckRun(
            model_id=model_id,
            baseline_id=baseline_id,
            window_start=start,
            window_end=end,
            status=CheckStatus.COMPLETED,
            rows_read=read.rows_read,
            rows_rejected=read.rows_rejected,
            rejected={**read.rejected, **read.bad_cells},
            metrics={},
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        session.add(
            WindowProfile(
                check_run_id=run.id,
                model_id=model_id,
                baseline_id=baseline_id,
                window_start=start,
                window_end=end,
                rows=profile.rows,
                data=profile.to_bytes(),
            )
        )
        changes = findings.reconcile(
            session=session,
            model_id=model_id,
            check_run_id=run.id,
            observations=observations,
            channel=card.channel,
            now=now,
            acknowledge_within=card.escalation.acknowledge_within,
        )
        listed = []
        for change in changes:
            if change.observation is not None:
                listed.append(
                    FindingOutcome.of(change.observation, change.state, change.finding_id)
                )
            else:
                stored = session.get(Finding, change.finding_id)
                assert stored is not None
                listed.append(_recovered(stored))
        result = CheckResult(
            model=model_id,
            window_start=start,
            window_end=end,
            rows_read=read.rows_read,
            rows_rejected=read.rows_rejected,
            rejected=dict(run.rejected),
            metrics=metrics,
            findings=listed,
            queued=sum(1 for c in changes if c.notified),
        )
        run.metrics = result.stored()
    return result
