"""Numbers about handoff for /healthz and /metrics: database reachable, outbox, findings, and (for
/metrics) each model's health, read with a fixed number of queries whatever the number of models."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from jobs.stats import Severity
from store import repo
from store.states import NotificationStatus

log = logging.getLogger(__name__)

MAX_FEATURES = 50
"""Drift values kept per model and metric: the score's, and the features' with the largest latest
values (so /metrics stays bounded at models x 51 drift series)."""
SEVERITIES = (Severity.INFO, Severity.WARN, Severity.CRITICAL)
PERFORMANCE_KINDS = ("estimated", "realized", "baseline")


@dataclass(frozen=True)
class ModelVitals:
    """One model's health as /metrics exports it. `drift` is (metric, feature, value), `performance`
    (metric, kind, value), from the completed run with the latest window end; the ages are None
    when the model was never checked, or its check-ins never answered."""

    model_id: str
    name: str
    channel: str
    drift: tuple[tuple[str, str, float], ...] = ()
    performance: tuple[tuple[str, str, float], ...] = ()
    open_findings: tuple[tuple[str, int], ...] = ()
    hours_since_check: float | None = None
    days_since_check_in_answer: float | None = None
    dead_notifications: int = 0


@dataclass(frozen=True)
class Vitals:
    database_ok: bool
    models: int = 0
    outbox_pending: int = 0
    outbox_dead: int = 0
    open_findings: tuple[tuple[str, int], ...] = ()
    failed_checks: int = 0
    model_vitals: tuple[ModelVitals, ...] = ()


def read_vitals(sessions: sessionmaker[Session]) -> Vitals:
    """Counts a platform team alerts on; `database_ok=False` if the database does not answer."""
    try:
        with sessions() as session:
            return _totals(session)
    except Exception:  # a health check reports a broken database; it does not raise
        return Vitals(database_ok=False)


def read_metrics(sessions: sessionmaker[Session], *, now: datetime) -> Vitals:
    """The totals of `read_vitals` and every model's health as of `now`, in one session. A model
    query that fails is logged and leaves `model_vitals` empty: the totals still tell the truth."""
    try:
        with sessions() as session:
            totals = _totals(session)
            try:
                models = model_vitals(session=session, now=now)
            except Exception:
                log.exception("/metrics: reading the models' health failed")
                models = ()
            return replace(totals, model_vitals=models)
    except Exception:
        return Vitals(database_ok=False)


def _totals(session: Session) -> Vitals:
    repo.ping(session=session)
    outbox = repo.outbox_counts(session=session)
    return Vitals(
        database_ok=True,
        models=repo.model_count(session=session),
        outbox_pending=outbox.get(NotificationStatus.PENDING, 0),
        outbox_dead=outbox.get(NotificationStatus.DEAD, 0),
        open_findings=tuple(sorted(repo.open_finding_counts(session=session).items())),
        failed_checks=repo.failed_check_count(session=session),
    )


def model_vitals(*, session: Session, now: datetime) -> tuple[ModelVitals, ...]:
    """Every model's health, by model id: five queries in all."""
    runs = {
        model: (end, finished, series)
        for model, end, finished, series in repo.latest_run_series(session=session)
    }
    findings = repo.open_finding_counts_by_model(session=session)
    dead = repo.dead_counts(session=session)
    answers = repo.last_check_in_answers(session=session)
    out = []
    for model, name, channel, score in repo.model_labels(session=session):
        run = runs.get(model)
        answered = answers.get(model)
        drift, performance = _headlines(run[2] if run else {}, score)
        out.append(
            ModelVitals(
                model_id=model,
                name=name,
                channel=channel or "",
                drift=drift,
                performance=performance,
                open_findings=tuple((str(s), findings.get((model, s), 0)) for s in SEVERITIES),
                hours_since_check=_age(now, run[1] or run[0], 3600) if run else None,
                days_since_check_in_answer=_age(now, answered, 86_400) if answered else None,
                dead_notifications=dead.get(model, 0),
            )
        )
    return tuple(out)


def _headlines(
    series: dict[str, object], score: str | None
) -> tuple[tuple[tuple[str, str, float], ...], tuple[tuple[str, str, float], ...]]:
    """A run's `series` (`psi:<feature>`, `accuracy@<kind>`) as drift and performance values; per
    drift metric the score's value and the `MAX_FEATURES` largest of the features'."""
    drift: dict[str, list[tuple[str, float]]] = {}
    performance = []
    for key, raw in series.items():
        if not isinstance(raw, int | float) or math.isnan(raw):
            continue
        value = float(raw)
        if ":" in key:
            metric, feature = key.split(":", 1)
            drift.setdefault(metric, []).append((feature, value))
        elif "@" in key:
            metric, kind = key.split("@", 1)
            if kind in PERFORMANCE_KINDS:
                performance.append((metric, kind, value))
    kept = []
    for metric, values in sorted(drift.items()):
        scores = [(f, v) for f, v in values if f == score]
        features = sorted((x for x in values if x[0] != score), key=lambda x: (-x[1], x[0]))
        kept += [(metric, f, v) for f, v in scores + features[:MAX_FEATURES]]
    return tuple(kept), tuple(sorted(performance))


def _age(now: datetime, then: datetime, unit: float) -> float:
    return max(0.0, (now - then).total_seconds() / unit)
