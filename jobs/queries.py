"""Read models for the edges (CLI, Slack): frozen dataclasses built from the store, so nothing in
bot/ can lazy-load a row or reach the database while it renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from jobs.outbox import check_in_key
from jobs.recap import Recap
from jobs.stats import Severity
from store import repo
from store.card_schema import Limitation
from store.cards import Card
from store.models import CheckRun, Episode, Finding
from store.states import EpisodeState, FindingState

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
class EpisodeView:
    """An episode as people see it: its state, who acted, and where its root message is."""

    id: int
    model_id: str
    state: str
    severity: str
    opened_at: datetime
    closed_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    snoozed_until: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    escalation_step: int
    next_escalation_at: datetime | None
    slack_channel: str | None
    slack_ts: str | None
    revision: int = 0

    @property
    def label(self) -> str:
        return f"E{self.id}"

    @classmethod
    def of(cls, episode: Episode) -> EpisodeView:
        return cls(
            episode.id,
            episode.model_id,
            episode.state,
            episode.severity,
            episode.opened_at,
            episode.closed_at,
            episode.acknowledged_by,
            episode.acknowledged_at,
            episode.snoozed_until,
            episode.resolved_by,
            episode.resolved_at,
            episode.resolution,
            episode.escalation_step,
            episode.next_escalation_at,
            episode.slack_channel,
            episode.slack_ts,
            episode.revision,
        )


@dataclass(frozen=True)
class FindingView:
    """One finding as a person reads it; `state` is what matters to them: recovered, or else its
    episode's state (open, acknowledged, snoozed, resolved), or open for an info finding."""

    id: int
    model_id: str
    kind: str
    severity: str
    worst_severity: str
    state: str
    summary: str
    opened_at: datetime
    last_seen_at: datetime
    last_window_end: datetime
    metric: str | None
    feature: str | None
    segment: str | None
    value: float | None
    threshold: float | None
    details: dict[str, Any]
    episode: EpisodeView | None

    @property
    def label(self) -> str:
        return f"F{self.id}"

    @property
    def wants_attention(self) -> bool:
        """Open, and not in an episode a person resolved (accepted)."""
        return self.state not in (FindingState.RECOVERED, EpisodeState.RESOLVED)

    @classmethod
    def of(cls, finding: Finding, episode: Episode | None) -> FindingView:
        state = finding.state
        if state == FindingState.OPEN and episode is not None:
            state = episode.state
        return cls(
            finding.id,
            finding.model_id,
            finding.kind,
            finding.severity,
            finding.worst_severity,
            state,
            finding.summary,
            finding.opened_at,
            finding.last_seen_at,
            finding.last_window_end,
            finding.metric,
            finding.feature,
            finding.segment,
            finding.value,
            finding.threshold,
            dict(finding.details),
            EpisodeView.of(episode) if episode is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's `handoff findings --json` record of this finding."""
        return {
            "id": self.label,
            "episode": self.episode.label if self.episode else None,
            "model": self.model_id,
            "kind": self.kind,
            "severity": self.severity,
            "state": self.state,
            "since": self.opened_at.isoformat(),
            "last_seen": self.last_seen_at.isoformat(),
            "last_window_end": self.last_window_end.isoformat(),
            "feature": self.feature,
            "segment": self.segment,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "summary": self.summary,
        }


def finding_views(
    *, session: Session, model_id: str | None = None, include_closed: bool = False
) -> list[FindingView]:
    """Findings (open ones, or all), newest first, with their episodes."""
    rows = repo.list_findings(session=session, model_id=model_id, include_closed=include_closed)
    return [FindingView.of(finding, episode) for finding, episode in rows]


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


def model_views(*, session: Session, model_ids: list[str] | None = None) -> list[ModelView]:
    """Every registered model (or those named) with its newest card and its open findings."""
    out = []
    for model in repo.list_models(session=session, ids=model_ids):
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


@dataclass(frozen=True)
class LimitationView:
    """A card's limitation; `rule` says which rows it covers ("history_months below 12")."""

    text: str
    column: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class CardView:
    """What messages say about a model, from its newest card."""

    model_id: str
    name: str
    version: int
    problem: str
    decisions: str | None
    good_outcome: str | None
    builders: tuple[str, ...]
    channel: str
    business_channel: str | None
    limitations: tuple[LimitationView, ...]
    trained_on: str | None
    validated_on: str | None
    notes: str | None
    acknowledge_within: timedelta
    ladder: tuple[str, ...]
    check_in: str
    timezone: str

    @classmethod
    def of(cls, card: Card, version: int) -> CardView:
        trained = card.context.trained_on
        return cls(
            card.model,
            card.name,
            version,
            card.intent.problem,
            card.intent.decisions,
            card.intent.good_outcome,
            tuple(card.builders),
            card.channel,
            card.business_channel,
            tuple(_limitation(x) for x in card.limitations),
            f"{trained.from_} to {trained.to}" if trained else None,
            card.context.validated_on,
            card.context.notes,
            card.escalation.acknowledge_within,
            tuple(card.escalation.ladder),
            card.schedule.check_in,
            card.schedule.timezone,
        )


def _limitation(limitation: Limitation) -> LimitationView:
    segment = limitation.segment
    if segment is None:
        return LimitationView(limitation.text)
    rules = [f"below {segment.below:g}"] if segment.below is not None else []
    rules += [f"above {segment.above:g}"] if segment.above is not None else []
    if segment.in_ is not None:
        rules.append("in " + ", ".join(str(v) for v in segment.in_))
    return LimitationView(
        limitation.text, segment.column, f"{segment.column} {' and '.join(rules)}"
    )


@dataclass(frozen=True)
class EpisodeStory:
    """Everything an episode's root message shows: the episode, its model's card, its findings
    (open ones first, loudest first), and the card's limitations that bear on them (a
    segment's own first, then those on a column a finding is about)."""

    episode: EpisodeView
    card: CardView
    findings: tuple[FindingView, ...]
    bearing: tuple[LimitationView, ...]

    @property
    def open_findings(self) -> tuple[FindingView, ...]:
        return tuple(f for f in self.findings if f.state != FindingState.RECOVERED)


_RANK = {s.value: s.rank for s in Severity}


def story_of(*, session: Session, episode_id: int) -> EpisodeStory | None:
    """The episode's story as it is now (None when the episode or its card is gone)."""
    episode = repo.get_episode(session=session, episode_id=episode_id)
    version = (
        repo.latest_card_version(session=session, model_id=episode.model_id) if episode else None
    )
    if episode is None or version is None:
        return None
    card = CardView.of(Card.model_validate(version.content), version.version)
    rows = repo.episode_findings(session=session, episode_id=episode_id)
    views = sorted(
        (FindingView.of(f, episode) for f in rows),
        key=lambda f: (f.state == FindingState.RECOVERED, -_RANK[f.severity], f.id),
    )
    return EpisodeStory(EpisodeView.of(episode), card, tuple(views), _bearing(card, views))


def _bearing(card: CardView, findings: list[FindingView]) -> tuple[LimitationView, ...]:
    segments = {f.segment.split("=", 1)[0] for f in findings if f.segment} | {
        str(f.details["worst_segment"]).split("=", 1)[0]
        for f in findings
        if f.details.get("worst_segment")
    }
    columns = {f.feature for f in findings if f.feature}
    own = [x for x in card.limitations if x.column in segments]
    near = [x for x in card.limitations if x.column in columns and x not in own]
    return tuple(own + near)


@dataclass(frozen=True)
class SeriesView:
    """A headline metric's daily values over recent weeks (oldest first), for a trend line."""

    name: str
    days: tuple[datetime, ...]
    values: tuple[float, ...]

    @property
    def label(self) -> str:
        if self.name.startswith("psi:"):
            return f"drift of {self.name.split(':', 1)[1]} (PSI)"
        if self.name.startswith("accuracy@"):
            return f"accuracy ({self.name.split('@', 1)[1]})"
        return self.name


@dataclass(frozen=True)
class ModelDetail:
    """What `/model <name>` shows: the card in short, the latest check, what wants attention
    (newest first, with their episodes), and the recent trend of the headline metrics."""

    model: ModelView
    card: CardView
    findings: tuple[FindingView, ...]
    series: tuple[SeriesView, ...]


TREND_DAYS = 28


def model_detail(*, session: Session, model_id: str, now: datetime) -> ModelDetail | None:
    """The model's detail (None for an unknown model): reads its newest card, its latest run, its
    open findings, and the stored metrics of its runs of the last `TREND_DAYS` days."""
    views = model_views(session=session, model_ids=[model_id])
    version = repo.latest_card_version(session=session, model_id=model_id)
    if not views or version is None:
        return None
    card = CardView.of(Card.model_validate(version.content), version.version)
    findings = tuple(
        f for f in finding_views(session=session, model_id=model_id) if f.wants_attention
    )
    runs = repo.run_series(
        session=session, model_id=model_id, since=now - timedelta(days=TREND_DAYS), until=now
    )
    named: dict[str, list[tuple[datetime, float]]] = {}
    for end, stored in sorted(runs, key=lambda run: run[0]):
        for name, value in stored.items():
            if value is not None and name != "accuracy@baseline":
                named.setdefault(name, []).append((end, float(value)))
    series = tuple(
        SeriesView(name, tuple(d for d, _ in points), tuple(v for _, v in points))
        for name, points in sorted(named.items())
    )
    return ModelDetail(views[0], card, findings, series)


def cards(*, session: Session) -> dict[str, CardView]:
    """Every model's newest card, by model id."""
    out = {}
    for model in repo.list_models(session=session):
        version = repo.latest_card_version(session=session, model_id=model.id)
        if version is not None:
            out[model.id] = CardView.of(Card.model_validate(version.content), version.version)
    return out


@dataclass(frozen=True)
class CheckInView:
    """A weekly check-in as its message shows it: the week (a `Recap`), the card it asked about
    (the version it showed), how many check-ins before it went unanswered, and its answer so far
    (`response` still_true, review or handed_over, by whom and when). `current_version` is the
    model's newest card version (newer after an edit or a hand-over)."""

    id: int
    model_id: str
    period: str
    sent_at: datetime
    card: CardView
    current_version: int
    recap: Recap
    unanswered_before: int
    ownerless: bool
    answered_at: datetime | None
    answered_by: str | None
    response: str | None
    slack_channel: str | None
    slack_ts: str | None


def check_in_view(*, session: Session, check_in_id: int) -> CheckInView | None:
    """The check-in as it is now (None when it, its card or its message's row is gone)."""
    check_in = repo.get_check_in(session=session, check_in_id=check_in_id)
    if check_in is None:
        return None
    model_id = check_in.model_id
    latest = repo.latest_card_version(session=session, model_id=model_id)
    shown = repo.card_version(
        session=session, model_id=model_id, version=check_in.card_version or 0
    )
    post = repo.notification_by_key(
        session=session, key=check_in_key(model_id, check_in.period, "post")
    )
    if latest is None or post is None:
        return None
    version = shown or latest
    return CheckInView(
        id=check_in.id,
        model_id=model_id,
        period=check_in.period,
        sent_at=check_in.sent_at,
        card=CardView.of(Card.model_validate(version.content), version.version),
        current_version=latest.version,
        recap=Recap.from_payload(post.payload["recap"]),
        unanswered_before=int(post.payload.get("unanswered_before", 0)),
        ownerless=check_in.ownerless,
        answered_at=check_in.answered_at,
        answered_by=check_in.answered_by,
        response=check_in.response,
        slack_channel=check_in.slack_channel,
        slack_ts=check_in.slack_ts,
    )
