"""Read models for the edges (CLI, Slack): frozen dataclasses, so nothing lazy-loads in bot/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from store import repo
from store.cards import Card

SEVERITY_ORDER = ("critical", "warn", "info")


@dataclass(frozen=True)
class ModelHealth:
    model_id: str
    name: str
    version: int
    builders: tuple[str, ...]
    channel: str
    last_check: datetime | None
    open_findings: dict[str, int]

    @property
    def health(self) -> str:
        """One word: critical, warn, info, healthy, or unchecked (no check has run yet)."""
        for severity in SEVERITY_ORDER:
            if self.open_findings.get(severity):
                return severity
        return "healthy" if self.last_check else "unchecked"


def model_health(*, session: Session) -> list[ModelHealth]:
    """Every registered model with its newest card and its open findings."""
    out = []
    for model in repo.list_models(session=session):
        version = repo.latest_card_version(session=session, model_id=model.id)
        card = Card.model_validate(version.content) if version else None
        last = repo.last_check_run(session=session, model_id=model.id)
        out.append(
            ModelHealth(
                model_id=model.id,
                name=model.name,
                version=model.current_version,
                builders=tuple(card.builders) if card else (),
                channel=card.channel if card else "",
                last_check=last.window_end if last else None,
                open_findings=repo.open_finding_counts(session=session, model_id=model.id),
            )
        )
    return out
