"""One drift check of one model's window: read → profile → compare → findings → outbox.

Everything a run writes (the check run, its window profile, findings, notifications, audit rows)
is committed in one transaction, so a run killed midway leaves nothing behind and the next run
does the window exactly once. A check run is unique per (model, window end): running the same
window again returns the stored result and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import baselines, findings, history
from jobs.columns import Watched, watched_columns
from jobs.errors import NotFound, SourceError
from jobs.observations import matured_observations, observe
from jobs.runs import CheckResult, finding_json, record_failure, store_run, stored_result
from jobs.sources import open_source
from jobs.sources.base import ReadReport, Source
from jobs.stats import baselines as stats_baselines
from jobs.stats.comparisons import compare
from jobs.stats.profiles import Profile, merge
from jobs.stats.reports import Report
from jobs.stats.thresholds import Thresholds
from jobs.windows import profile_window
from store import repo
from store.card_schema import BaselineSource
from store.cards import Card
from store.models import Baseline

DAY = timedelta(days=1)
POOLED_DAYS = 7
MAX_CATCH_UP = timedelta(days=7)


@dataclass(frozen=True)
class Loaded:
    card: Card
    card_version_id: int
    base_dir: Path
    baseline: Baseline | None


def load(session: Session, model_id: str) -> Loaded:
    model = repo.get_model(session=session, model_id=model_id)
    version = repo.latest_card_version(session=session, model_id=model_id)
    if model is None or version is None:
        raise NotFound("model", model_id)
    stored = session.scalars(
        select(Baseline)
        .where(Baseline.model_id == model_id, Baseline.card_version_id == version.id)
        .order_by(Baseline.id.desc())
        .limit(1)
    ).first()
    card = Card.model_validate(version.content)
    return Loaded(card, version.id, Path(version.source_file).resolve().parent, stored)


def ensure_baseline(
    *,
    sessions: sessionmaker[Session],
    model_id: str,
    now: datetime,
    environ: Mapping[str, str],
    source: Source | None = None,
) -> Baseline:
    """The baseline of the model's newest card, built from its source if it does not exist yet."""
    with sessions() as session:
        loaded = load(session, model_id)
    if loaded.baseline is not None:
        return loaded.baseline
    card = loaded.card
    source = source or open_source(card.data.source, environ=environ, base_dir=loaded.base_dir)
    if isinstance(card.baseline, BaselineSource):
        source = open_source(card.baseline.source, environ=environ, base_dir=loaded.base_dir)
    watched = watched_columns(card, source.columns())
    start, end = baselines.baseline_window(card.baseline)
    built = baselines.build_baseline(
        source=source, watched=watched, spec=watched.spec(card), start=start, end=end
    )
    row = Baseline(
        model_id=model_id,
        card_version_id=loaded.card_version_id,
        window_start=start,
        window_end=end,
        rows=built.rows,
        data=built.baseline.to_bytes(),
        created_at=now,
    )
    with sessions.begin() as session:
        session.add(row)
    return row


def _window(
    session: Session, model_id: str, window_end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end): the day ending at `window_end`, or since the previous run (at most a week)."""
    if window_end is not None:
        return window_end - DAY, window_end
    last = repo.last_check_run(session=session, model_id=model_id)
    if last is None or last.window_end >= now or now - last.window_end > MAX_CATCH_UP:
        return now - DAY, now
    return last.window_end, now


def run_check(
    *,
    sessions: sessionmaker[Session],
    model_id: str,
    window_end: datetime | None,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    source: Source | None = None,
    post: bool = True,
) -> CheckResult:
    """Run (or return the stored result of) the check of `model_id`'s window ending at `window_end`.

    `post=False` records no check run, finding or message (a dry run); a missing baseline is still
    built and kept, since every later check needs it.
    """
    environ = os.environ if environ is None else environ
    with sessions() as session:
        loaded = load(session, model_id)
        start, end = _window(session, model_id, window_end, now)
        existing = repo.check_run_at(session=session, model_id=model_id, window_end=end)
        if existing is not None and existing.status == "completed":
            return stored_result(existing)
    card = loaded.card
    try:
        baseline_row = ensure_baseline(
            sessions=sessions, model_id=model_id, now=now, environ=environ, source=source
        )
        stats_baseline = stats_baselines.Baseline.from_bytes(baseline_row.data)
        source = source or open_source(card.data.source, environ=environ, base_dir=loaded.base_dir)
        watched = Watched.from_bins(stats_baseline.bins, card.data.timestamp)
        profile, read = profile_window(source, watched, stats_baseline.bins, start=start, end=end)
        observations, metrics = _judge(
            sessions,
            card=card,
            model_id=model_id,
            baseline=stats_baseline,
            baseline_id=baseline_row.id,
            profile=profile,
            read=read,
            end=end,
            matured=_read_matured(source, watched, stats_baseline, card, start=start, end=end),
        )
    except SourceError as error:
        if post:
            record_failure(sessions, card=card, start=start, end=end, now=now, error=error)
        raise
    result_rows = {"read": read.rows_read, "rejected": read.rows_rejected}
    if not post:
        return CheckResult(
            model=model_id,
            window_start=start,
            window_end=end,
            rows_read=result_rows["read"],
            rows_rejected=result_rows["rejected"],
            rejected=dict(read.rejected),
            metrics=metrics,
            findings=[finding_json(o, "new", None) for o in observations],
            queued=0,
        )
    try:
        return store_run(
            sessions,
            model_id=model_id,
            card=card,
            baseline_id=baseline_row.id,
            start=start,
            end=end,
            now=now,
            read=read,
            profile=profile,
            observations=observations,
            metrics=metrics,
        )
    except IntegrityError:  # another process stored this window first: its result stands
        with sessions() as session:
            run = repo.check_run_at(session=session, model_id=model_id, window_end=end)
            assert run is not None  # the row whose insert collided with ours
            return stored_result(run)


def _read_matured(
    source: Source,
    watched: Watched,
    baseline: stats_baselines.Baseline,
    card: Card,
    *,
    start: datetime,
    end: datetime,
) -> tuple[Profile, datetime, datetime] | None:
    """The window one label delay back, whose labels have arrived since (design decision 4)."""
    delay = card.data.label_delay
    if card.data.label is None or delay is None or delay <= timedelta(0):
        return None
    profile, _ = profile_window(
        source, watched, baseline.bins, start=start - delay, end=end - delay
    )
    return (profile, start - delay, end - delay) if profile.labelled else None


def _judge(
    sessions: sessionmaker[Session],
    *,
    card: Card,
    model_id: str,
    baseline: stats_baselines.Baseline,
    baseline_id: int,
    profile: Profile,
    read: ReadReport,
    end: datetime,
    matured: tuple[Profile, datetime, datetime] | None,
) -> tuple[list[findings.Observation], dict[str, Any]]:
    """Compare the window (alone, pooled with the last week, and its matured labels) and its
    history; one observation per condition, and the metrics to store and print."""
    thresholds = Thresholds.from_mapping(
        {name: {"warn": t.warn, "critical": t.critical} for name, t in card.thresholds.items()}
    )
    report = compare(baseline, profile, thresholds=thresholds) if profile.rows else None
    with sessions() as session:
        past = history.recent_profiles(session, model_id, baseline_id, end, POOLED_DAYS - 1)
        series = history.series(session, model_id, end)
    pooled = None
    if past and profile.rows:
        pooled = compare(baseline, merge(profile, *past), thresholds=thresholds)
    today = end.date()
    observations = observe(report=report, read=read, card=card, today=today)
    if pooled is not None:
        observations += [
            o
            for o in observe(
                report=pooled, read=ReadReport(), card=card, today=today, expected_rows=False
            )
            if o.kind != "stale_training_data"
        ]
    matured_report = None
    if matured is not None:
        matured_profile, since, until = matured
        matured_report = compare(baseline, matured_profile, thresholds=thresholds)
        observations += matured_observations(matured_report, since=since, until=until)
    today_series = history.today_series(report, matured=matured_report)
    observations += history.trend_observations(series, today_series, end, thresholds)
    metrics = _metrics_json(report, pooled, today_series)
    if matured_report is not None:
        metrics["matured"] = history.results_json(matured_report)
    return _strongest(observations), metrics


def _strongest(observations: list[findings.Observation]) -> list[findings.Observation]:
    """One observation per condition: the day's or the pooled week's, whichever is louder."""
    best: dict[str, findings.Observation] = {}
    for o in observations:
        held = best.get(o.key)
        if (
            held is None
            or findings.SEVERITY_RANK[o.severity] > findings.SEVERITY_RANK[held.severity]
        ):
            best[o.key] = o
    return list(best.values())


def _metrics_json(
    report: Report | None, pooled: Report | None, series: dict[str, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {"series": series}
    for name, part in (("window", report), ("pooled_7d", pooled)):
        if part is None:
            continue
        out[name] = history.results_json(part)
    return out
