"""A model's week in numbers, as its weekly check-in shows it.

Each key metric this week (the mean of the week's daily checks) beside the week before and the
baseline, with its warn and critical lines and its daily series over the last `CHART_WEEKS` weeks
(the chart: a slow slide is obvious at a glance); the findings opened, acknowledged and resolved
in the week; the episodes still waiting for somebody to answer; the age of the training data.

The key metrics are accuracy (realized when labels have arrived, and the label-free estimate),
the drift of the score, and the `FEATURES_SHOWN` features that drifted most this week. A `Recap`
is plain data: it travels to the outbox as JSON (`to_payload`) and back (`from_payload`), so the
message and the chart show the week as it was when the check-in was made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from jobs.checks import thresholds_of
from jobs.stats import Severity
from store import repo
from store.cards import Card
from store.models import Episode, Finding
from store.states import CheckStatus, EpisodeState

WEEK = timedelta(days=7)
CHART_WEEKS = 8
FEATURES_SHOWN = 3
ACCURACY = (
    ("accuracy@realized", "accuracy (realized, from labels)"),
    ("accuracy@estimated", "accuracy (estimated without labels)"),
)


@dataclass(frozen=True)
class Metric:
    """One key metric's week: its mean this week and the week before, the baseline's value, the
    lines it is judged against (in the metric's own unit), and its daily values."""

    name: str
    label: str
    this_week: float | None
    week_before: float | None
    baseline: float | None
    warn: float | None
    critical: float | None
    falling_is_worse: bool
    days: tuple[str, ...]
    values: tuple[float, ...]

    @property
    def level(self) -> Severity:
        """Where this week's mean stands against the lines."""
        value = self.this_week
        if value is None:
            return Severity.NONE
        for severity, line in ((Severity.CRITICAL, self.critical), (Severity.WARN, self.warn)):
            if line is not None and (value <= line if self.falling_is_worse else value >= line):
                return severity
        return Severity.NONE

    @property
    def change(self) -> float | None:
        if self.this_week is None or self.week_before is None:
            return None
        return self.this_week - self.week_before


@dataclass(frozen=True)
class Line:
    """A finding or episode as a line of the recap."""

    id: int
    severity: str
    summary: str


@dataclass(frozen=True)
class Waiting:
    """An episode nobody has acknowledged yet, and where its thread is."""

    episode_id: int
    severity: str
    summary: str
    since: str
    slack_channel: str | None
    slack_ts: str | None


@dataclass(frozen=True)
class Recap:
    """The week `[start, end)` of one model (see the module docstring)."""

    model_id: str
    start: str
    end: str
    checks: int
    failed: int
    metrics: tuple[Metric, ...]
    opened: tuple[Line, ...]
    acknowledged: tuple[Line, ...]
    resolved: tuple[Line, ...]
    waiting: tuple[Waiting, ...]
    trained_to: str | None
    training_age_days: int | None

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Recap:
        return cls(
            model_id=data["model_id"],
            start=data["start"],
            end=data["end"],
            checks=int(data["checks"]),
            failed=int(data["failed"]),
            metrics=tuple(
                Metric(**{**m, "days": tuple(m["days"]), "values": tuple(m["values"])})
                for m in data["metrics"]
            ),
            opened=tuple(Line(**x) for x in data["opened"]),
            acknowledged=tuple(Line(**x) for x in data["acknowledged"]),
            resolved=tuple(Line(**x) for x in data["resolved"]),
            waiting=tuple(Waiting(**x) for x in data["waiting"]),
            trained_to=data.get("trained_to"),
            training_age_days=data.get("training_age_days"),
        )


def recap(session: Session, *, card: Card, end: datetime) -> Recap:
    """The model's week ending at `end` (see the module docstring)."""
    model_id = card.model
    start = end - WEEK
    runs = sorted(
        repo.run_series(
            session=session, model_id=model_id, since=end - CHART_WEEKS * WEEK, until=end
        ),
        key=lambda run: run[0],
    )
    statuses = repo.run_statuses(session=session, model_id=model_id, since=start, until=end)
    trained = card.context.trained_on
    trained_to = trained.to if trained else None
    return Recap(
        model_id=model_id,
        start=start.isoformat(),
        end=end.isoformat(),
        checks=sum(statuses.values()),
        failed=statuses.get(CheckStatus.FAILED, 0),
        metrics=key_metrics(card, runs, start=start),
        opened=tuple(_opened(session, model_id, start, end)),
        acknowledged=tuple(_acted(session, model_id, ("acknowledge",), start, end)),
        resolved=tuple(_acted(session, model_id, ("resolve", "recovered"), start, end)),
        waiting=tuple(_waiting(session, model_id)),
        trained_to=trained_to.isoformat() if trained_to else None,
        training_age_days=(end.date() - trained_to).days if trained_to else None,
    )


def key_metrics(
    card: Card, runs: Sequence[tuple[datetime, dict[str, Any]]], *, start: datetime
) -> tuple[Metric, ...]:
    """The key metrics (see the module docstring) from runs' stored series, oldest run first."""
    named: dict[str, list[tuple[datetime, float]]] = {}
    for end, stored in runs:
        for name, value in stored.items():
            if value is not None:
                named.setdefault(name, []).append((end, float(value)))
    thresholds = thresholds_of(card)
    psi, drop = thresholds.psi, thresholds.performance_drop
    base = _last(named.get("accuracy@baseline", []))
    out: list[Metric] = []
    for name, label in ACCURACY:
        if name in named:
            lines = (base - drop.warn, base - drop.critical) if base is not None else (None, None)
            out.append(_metric(name, label, named[name], start=start, baseline=base, lines=lines))
    score = f"psi:{card.data.score}"
    features = [n for n in named if n.startswith("psi:") and n != score]
    drifting = sorted(features, key=lambda n: -(_mean(named[n], start) or 0.0))
    for name in ([score] if score in named else []) + drifting[:FEATURES_SHOWN]:
        column = "the score" if name == score else name.split(":", 1)[1]
        out.append(
            _metric(
                name,
                f"drift of {column} (PSI)",
                named[name],
                start=start,
                baseline=0.0,
                lines=(psi.warn, psi.critical),
            )
        )
    return tuple(out)


def _metric(
    name: str,
    label: str,
    points: list[tuple[datetime, float]],
    *,
    start: datetime,
    baseline: float | None,
    lines: tuple[float | None, float | None],
) -> Metric:
    return Metric(
        name=name,
        label=label,
        this_week=_mean(points, start),
        week_before=_mean(points, start - WEEK, start),
        baseline=baseline,
        warn=lines[0],
        critical=lines[1],
        falling_is_worse=name.startswith("accuracy@"),
        days=tuple(_day(at).isoformat() for at, _ in points),
        values=tuple(round(v, 6) for _, v in points),
    )


def _day(at: datetime) -> date:
    """The day a window ending at `at` covers (a window ending at midnight is the day before)."""
    return (at - timedelta(microseconds=1)).date()


def _mean(
    points: list[tuple[datetime, float]], since: datetime, until: datetime | None = None
) -> float | None:
    chosen = [v for at, v in points if at > since and (until is None or at <= until)]
    return sum(chosen) / len(chosen) if chosen else None


def _last(points: list[tuple[datetime, float]]) -> float | None:
    return points[-1][1] if points else None


def _opened(session: Session, model_id: str, start: datetime, end: datetime) -> list[Line]:
    found = repo.findings_opened(session=session, model_id=model_id, since=start, until=end)
    told = [f for f in found if Severity(f.worst_severity).rank >= Severity.WARN.rank]
    return [_line(f) for f in told]


def _line(finding: Finding) -> Line:
    return Line(finding.id, finding.worst_severity, finding.summary)


def _acted(
    session: Session, model_id: str, actions: Sequence[str], start: datetime, end: datetime
) -> list[Line]:
    events = repo.audit_events(
        session=session, model_id=model_id, actions=actions, since=start, until=end
    )
    seen: dict[int, Line] = {}
    for event in events:
        if event.episode_id is None or event.episode_id in seen:
            continue
        episode = repo.get_episode(session=session, episode_id=event.episode_id)
        if episode is not None:
            seen[episode.id] = Line(episode.id, episode.worst_severity, _headline(session, episode))
    return list(seen.values())


def _waiting(session: Session, model_id: str) -> list[Waiting]:
    waiting = repo.episodes_in(session=session, model_id=model_id, states=[EpisodeState.OPEN])
    return [
        Waiting(
            e.id,
            e.severity,
            _headline(session, e),
            e.opened_at.isoformat(),
            e.slack_channel,
            e.slack_ts,
        )
        for e in waiting
    ]


def _headline(session: Session, episode: Episode) -> str:
    """The summary of the episode's loudest finding (open ones first)."""
    findings = repo.episode_findings(session=session, episode_id=episode.id)
    if not findings:
        return "an episode with no findings"
    loudest = max(
        findings,
        key=lambda f: (f.state == "open", Severity(f.severity).rank, f.id),
    )
    return loudest.summary
