"""Read models for the edges (CLI, Slack): frozen dataclasses built from the store, so nothing in
bot/ can lazy-load a row or reach the database while it renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from jobs.stats import Severity
from store import repo
from store.cards import Card
from store.models import CheckRun, Finding

LOUDEST_FIRST = tuple(s for s in reversed(Severity) if s != Severity.NONE)


@dataclass(frozen=True)
class CheckView:
    """One check run: its window, what it read, and how it ended."""

    window_start: datetime
    window_end: datetime
    status: str
    rows_read: int
    rows_rejected: int
    error: str | None

    @classmethod
    def of(cls, run: CheckRun) -> CheckView:
        return cls(
            run.window_start,
            run.window_end,
            run.status,
            run.rows_read,
            run.rows_rejected,
            run.error,
        )


@dataclass(frozen=True)
class FindingView:
    """One finding as a person reads it."""

    id: int
    model_id: str
    kind: str
    severity: str
    worst_severity: str
    state: str
    summary: str
    opened_at: datetime
    last_seen_at: datetime
    metric: str | None
    feature: str | None
    segment: str | None
    value: float | None
    threshold: float | None

    @classmethod
    def of(cls, finding: Finding) -> FindingView:
        return cls(
            finding.id,
            finding.model_id,
            finding.kind,
            finding.severity,
            finding.worst_severity,
            finding.state,
            finding.summary,
            finding.opened_at,
            finding.last_seen_at,
            finding.metric,
            finding.feature,
            finding.segment,
            finding.value,
            finding.threshold,
        )


@dataclass(frozen=True)
class ModelView:
    """A registered model with its newest card, its latest check and its open findings."""

    model_id: str
    name: str
    version: int
    builders: tuple[str, ...]
    channel: str
    last_check: CheckView | None
    open_findings: dict[str, int]

    @property
    def health(self) -> str:
        """One word: critical, warn, info, healthy, or unchecked (no check has run yet)."""
        for severity in LOUDEST_FIRST:
            if self.open_findings.get(severity):
                return str(severity)
        return "healthy" if self.last_check else "unchecked"


def model_views(*, session: Session) -> list[ModelView]:
    """Every registered model with its newest card and its open findings."""
    out = []
    for model in repo.list_models(session=session):
        version = repo.latest_card_version(session=session, model_id=model.id)
        card = Card.model_validate(version.content) if version else None
        last = repo.last_check_run(session=session, model_id=model.id)
        out.append(
            ModelView(
                model_id=model.id,
                name=model.name,
                version=model.current_version,
                builders=tuple(card.builders) if card else (),
                channel=card.channel if card else "",
                last_check=CheckView.of(last) if last else None,
                open_findings=repo.open_finding_counts(session=session, model_id=model.id),
            )
        )
    return out
