"""Check runs in the database: storing one (with its profile, findings and outbox rows) in one
transaction, recording one that could not read its data, and reading one back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs import findings
from jobs.errors import SourceError
from jobs.sources.base import ReadReport
from jobs.stats.profiles import Profile
from store import repo
from store.cards import Card
from store.models import CheckRun, Finding, WindowProfile


@dataclass(frozen=True)
class CheckResult:
    """What `handoff check --json` prints (design.md's contract), and what a rerun returns."""

    model: str
    window_start: datetime
    window_end: datetime
    rows_read: int
    rows_rejected: int
    rejected: dict[str, int]
    metrics: dict[str, Any]
    findings: list[dict[str, Any]]
    queued: int
    reused: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "rows": {
                "read": self.rows_read,
                "rejected": self.rows_rejected,
                "rejected_by_reason": self.rejected,
            },
            "metrics": self.metrics,
            "findings": self.findings,
            "queued": self.queued,
            "reused": self.reused,
        }


def stored_result(run: CheckRun) -> CheckResult:
    data = run.metrics
    return CheckResult(
        model=run.model_id,
        window_start=run.window_start,
        window_end=run.window_end,
        rows_read=run.rows_read,
        rows_rejected=run.rows_rejected,
        rejected=dict(run.rejected),
        metrics=data.get("metrics", {}),
        findings=data.get("findings", []),
        queued=0,
        reused=True,
    )


def finding_json(o: findings.Observation, state: str, finding_id: int | None) -> dict[str, Any]:
    return {
        "id": finding_id,
        "kind": o.kind,
        "severity": o.severity,
        "metric": o.metric,
        "feature": o.feature,
        "segment": o.segment,
        "value": o.value,
        "threshold": o.threshold,
        "state": state,
        "summary": o.summary,
    }


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
            status="failed",
            error=str(error),
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        session.flush()
        unreadable = findings.Observation(
            kind="source_error",
            severity="warn",
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
    if failed is not None and failed.status == "failed":
        for finding in session.scalars(
            select(Finding).where(
                (Finding.first_check_run_id == failed.id) | (Finding.last_check_run_id == failed.id)
            )
        ):
            if finding.first_check_run_id == failed.id:
                finding.first_check_run_id = None
            if finding.last_check_run_id == failed.id:
                finding.last_check_run_id = None
        session.delete(failed)
        session.flush()


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
    observations: list[findings.Observation],
    metrics: dict[str, Any],
) -> CheckResult:
    with sessions.begin() as session:
        drop_failed(session, model_id, end)
        run = CheckRun(
            model_id=model_id,
            baseline_id=baseline_id,
            window_start=start,
            window_end=end,
            status="completed",
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
                listed.append(finding_json(change.observation, change.state, change.finding_id))
            else:
                stored = session.get(Finding, change.finding_id)
                assert stored is not None
                listed.append(
                    {
                        "id": stored.id,
                        "kind": stored.kind,
                        "severity": stored.severity,
                        "metric": stored.metric,
                        "feature": stored.feature,
                        "segment": stored.segment,
                        "value": stored.value,
                        "threshold": stored.threshold,
                        "state": "recovered",
                        "summary": f"recovered: {stored.summary}",
                    }
                )
        run.metrics = {"metrics": metrics, "findings": listed}
        queued = sum(1 for c in changes if c.notified)
    return CheckResult(
        model=model_id,
        window_start=start,
        window_end=end,
        rows_read=read.rows_read,
        rows_rejected=read.rows_rejected,
        rejected=dict(run.rejected),
        metrics=metrics,
        findings=listed,
        queued=queued,
    )
