"""One drift check of one model's window: read → profile → compare → findings → outbox.

Everything a run writes (the check run, its window profile, findings, notifications, audit rows)
is committed in one transaction, so a run killed midway leaves nothing behind and the next run
does the window exactly once. A check run is unique per (model, window end): running the same
window again returns the stored result and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import series
from jobs.columns import Watched
from jobs.errors import SourceError
from jobs.observations import Observation, matured_observations, observe
from jobs.registration import ensure_baseline, load
from jobs.results import CheckResult, FindingOutcome, report_json
from jobs.runs import record_failure, store_run
from jobs.sources import open_source
from jobs.sources.base import ReadReport, Source
from jobs.stats import Baseline, Profile, Report, Thresholds, compare, merge
from jobs.windows import profile_window
from store import repo
from store.cards import Card
from store.states import CheckStatus

DAY = timedelta(days=1)
POOLED_DAYS = 7
MAX_CATCH_UP = timedelta(days=7)


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
        if existing is not None and existing.status == CheckStatus.COMPLETED:
            return CheckResult.from_stored(existing)
    card = loaded.card
    try:
        baseline_row = ensure_baseline(
            sessions=sessions, loaded=loaded, now=now, environ=environ, source=source
        )
        stats_baseline = Baseline.from_bytes(baseline_row.data)
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
            findings=[FindingOutcome.of(o, "new", None) for o in observations],
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
            return CheckResult.from_stored(run)


def _read_matured(
    source: Source,
    watched: Watched,
    baseline: Baseline,
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
    baseline: Baseline,
    baseline_id: int,
    profile: Profile,
    read: ReadReport,
    end: datetime,
    matured: tuple[Profile, datetime, datetime] | None,
) -> tuple[list[Observation], dict[str, Any]]:
    """Compare the window (alone, pooled with the last week, and its matured labels) and its
    history; one observation per condition, and the metrics to store and print."""
    thresholds = Thresholds.from_mapping(
        {name: {"warn": t.warn, "critical": t.critical} for name, t in card.thresholds.items()}
    )
    report = compare(baseline, profile, thresholds=thresholds) if profile.rows else None
    with sessions() as session:
        past = [
            Profile.from_bytes(data)
            for data in repo.profile_data(
                session=session,
                model_id=model_id,
                baseline_id=baseline_id,
                since=end - timedelta(days=POOLED_DAYS - 1),
                until=end,
            )
        ]
        history = series.from_runs(
            repo.run_metrics(
                session=session,
                model_id=model_id,
                since=end - timedelta(days=series.HISTORY_DAYS),
                until=end,
            )
        )
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
    today_series = series.today_series(report, matured=matured_report)
    observations += series.trend_observations(history, today_series, end, thresholds)
    metrics = _metrics_json(report, pooled, today_series)
    if matured_report is not None:
        metrics["matured"] = report_json(matured_report)
    return _strongest(observations), metrics


def _strongest(observations: list[Observation]) -> list[Observation]:
    """One observation per condition: the day's or the pooled week's, whichever is louder."""
    best: dict[str, Observation] = {}
    for o in observations:
        held = best.get(o.key)
        if held is None or o.severity.rank > held.severity.rank:
            best[o.key] = o
    return list(best.values())


def _metrics_json(
    report: Report | None, pooled: Report | None, series: dict[str, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {"series": series}
    for name, part in (("window", report), ("pooled_7d", pooled)):
        if part is None:
            continue
        out[name] = report_json(part)
    return out
