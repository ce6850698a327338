"""One drift check of one model's window: read → profile → compare → findings → outbox.

Everything a run writes (the check run, its window profile, findings, episodes, notifications,
audit rows) is committed in one transaction, so a run killed midway leaves nothing behind and the
next run does the window exactly once. A check run is unique per (model, window end): running the
same window again returns the stored result and changes nothing.

The window: with `window_end`, the day ending then; without it, everything since the model's
previous completed run (at most `MAX_CATCH_UP`), ending now; the day before now when the model was
never checked. A window that ends in the future is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs import series
from jobs.columns import Watched
from jobs.errors import SourceError, WindowError
from jobs.file_index import StoredFileIndex
from jobs.observations import Observation, matured_observations, observe
from jobs.registration import Loaded, ensure_baseline, load
from jobs.results import CheckResult, report_json
from jobs.runs import Window, dry_run, record_failure, store_run
from jobs.scans import scan_observations
from jobs.sources import open_source
from jobs.sources.base import ReadReport, Source
from jobs.stats import Baseline, Profile, Report, Severity, Thresholds, compare, merge
from jobs.windows import profile_window
from jobs.workers import CheckAbandoned, Guard
from store import repo
from store.cards import Card
from store.models import Finding
from store.states import CheckStatus

DAY = timedelta(days=1)
POOLED_DAYS = 7
MAX_CATCH_UP = timedelta(days=7)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)


def window_of(
    session: Session, model_id: str, window_end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) of the run (see the module docstring); WindowError for one it cannot run."""
    if window_end is not None:
        if window_end > now:
            raise WindowError(
                f"the window would end at {window_end:%Y-%m-%d %H:%M} UTC, which is in the "
                f"future (now is {now:%Y-%m-%d %H:%M} UTC): give an --as-of up to now"
            )
        if window_end < EARLIEST:
            raise WindowError(f"{window_end:%Y-%m-%d} is before 1970: give a later --as-of")
        return window_end - DAY, window_end
    last = repo.last_check_run(session=session, model_id=model_id)
    if last is None:
        return now - DAY, now
    if last.window_end >= now:
        raise WindowError(
            f"the previous check of {model_id} already covers the time up to "
            f"{last.window_end:%Y-%m-%d %H:%M} UTC: nothing new to check yet"
        )
    return max(last.window_end, now - MAX_CATCH_UP), now


def run_check(
    *,
    sessions: sessionmaker[Session],
    model_id: str,
    window_end: datetime | None,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    source: Source | None = None,
    post: bool = True,
    guard: Guard | None = None,
) -> CheckResult:
    """Run (or return the stored result of) the check of `model_id`'s window ending at `window_end`.

    `post=False` records no check run, finding or message (a dry run) and reports each condition's
    state as it stands; a missing baseline is still built and kept, since every later check needs
    it. A `guard` (under `handoff run`) is consulted between batches and before anything is
    written: a check past its time limit stops unwritten (jobs/workers.py records it).
    """
    environ = os.environ if environ is None else environ
    with sessions() as session:
        loaded = load(session, model_id)
        start, end = window_of(session, model_id, window_end, now)
        existing = repo.check_run_at(session=session, model_id=model_id, window_end=end)
        if existing is not None and existing.status == CheckStatus.COMPLETED:
            return CheckResult.from_stored(existing)
    window = Window(model_id, start, end, now)
    card = loaded.card
    between = guard.check if guard is not None else None
    if guard is not None:
        guard.window = (start, end)
    try:
        baseline_row = ensure_baseline(
            sessions=sessions, loaded=loaded, now=now, environ=environ, source=source
        )
        baseline = Baseline.from_bytes(baseline_row.data)
        source = source or open_source(
            card.data.source,
            environ=environ,
            base_dir=loaded.base_dir,
            index=StoredFileIndex(sessions),
        )
        if guard is not None:
            guard.source = source.describe()
        watched = Watched.from_bins(baseline.bins, card.data.timestamp)
        profile, read = profile_window(
            source, watched, baseline.bins, start=start, end=end, between=between
        )
        matured = _read_matured(source, watched, baseline, card, start=start, end=end)
        observations, metrics = _judge(
            sessions,
            loaded,
            window,
            baseline=baseline,
            baseline_id=baseline_row.id,
            profile=profile,
            read=read,
            matured=matured,
        )
    except CheckAbandoned:
        raise  # recorded by whoever abandoned it
    except SourceError as error:
        abandoned = guard is not None and guard.cancelled.is_set()
        if post and not abandoned:  # an abandoned check was recorded as such; it writes nothing
            record_failure(sessions, window, card, error=error)
        raise
    if guard is not None:
        guard.check()
    if not post:
        return dry_run(sessions, window, read=read, observations=observations, metrics=metrics)
    try:
        return store_run(
            sessions,
            window,
            card,
            baseline_id=baseline_row.id,
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


def thresholds_of(card: Card) -> Thresholds:
    """The engine's floors with the card's `thresholds:` applied."""
    return Thresholds.from_mapping(
        {name: {"warn": t.warn, "critical": t.critical} for name, t in card.thresholds.items()}
    )


def _judge(
    sessions: sessionmaker[Session],
    loaded: Loaded,
    window: Window,
    *,
    baseline: Baseline,
    baseline_id: int,
    profile: Profile,
    read: ReadReport,
    matured: tuple[Profile, datetime, datetime] | None,
) -> tuple[list[Observation], dict[str, Any]]:
    """Compare the window (alone, pooled with the last week, and its matured labels) and its
    history; one observation per condition, and the metrics to store and print."""
    card, end = loaded.card, window.end
    thresholds = thresholds_of(card)
    report = compare(baseline, profile, thresholds=thresholds) if profile.rows else None
    with sessions() as session:
        past = [
            Profile.from_bytes(data)
            for data in repo.profile_data(
                session=session,
                model_id=window.model_id,
                baseline_id=baseline_id,
                since=end - timedelta(days=POOLED_DAYS - 1),
                until=end,
            )
        ]
        history = series.from_runs(
            repo.run_series(
                session=session,
                model_id=window.model_id,
                since=end - timedelta(days=series.HISTORY_DAYS),
                until=end,
            )
        )
        live = repo.live_findings(session=session, model_id=window.model_id)
    pooled = None
    if past and profile.rows:
        pooled = compare(baseline, merge(profile, *past), thresholds=thresholds)
    today = end.date()
    span = (window.start, window.end)
    observations = observe(report=report, read=read, card=card, today=today, window=span)
    if pooled is not None:
        observations += observe(report=pooled, read=read, card=card, today=today, pooled=True)
    matured_report = None
    if matured is not None:
        matured_profile, since, until = matured
        matured_report = compare(baseline, matured_profile, thresholds=thresholds)
        observations += matured_observations(matured_report, since=since, until=until)
    if report is not None:
        observations += scan_observations(baseline, profile, past, card, thresholds)
    today_series = series.today_series(report, matured=matured_report)
    trends = series.trend_observations(history, today_series, end, thresholds)
    levels = _strongest(observations)
    metrics = _metrics_json(report, pooled, today_series)
    metrics["read"] = _read_json(read)
    if matured_report is not None:
        metrics["matured"] = report_json(matured_report)
    return merge_trends(levels, trends, live, score=card.data.score), metrics


def _strongest(observations: list[Observation]) -> list[Observation]:
    """One observation per condition: the day's or the pooled week's, whichever is louder (a
    `held` one only when nothing else saw the condition)."""
    best: dict[str, Observation] = {}
    for o in observations:
        kept = best.get(o.key)
        if kept is None or (o.held, -o.severity.rank) < (kept.held, -kept.severity.rank):
            best[o.key] = o
    return list(best.values())


def _level_key(trend: Observation, score: str) -> str:
    """The key of the level finding a trend's series belongs to (its drift or performance)."""
    name = trend.metric or ""
    if name.startswith("accuracy@"):
        return "performance_drop|||"
    feature = name.split(":", 1)[1]
    return f"{'score_drift' if feature == score else 'input_drift'}||{feature}|"


def merge_trends(
    levels: list[Observation], trends: list[Observation], live: list[Finding], *, score: str
) -> list[Observation]:
    """Trends that agree with the levels, so a trend never reads "recovered" while its metric is
    at its worst:

    - a trend whose metric's level finding is at warn or above (seen now, or open) is no finding
      of its own: its slope goes into the level ("and still rising 0.02 a week") and the trend is
      `held` (its live finding neither updates nor clears);
    - a live trend not seen today is held too while its level is loud, or while the other
      accuracy series' fall is still seen (a blind estimate bouncing back is not good news);
    - a trend whose line has crossed the warn level while the day's level is quiet (one day has
      too few rows to say so) stays a finding of its own."""
    loud = {o.key: o for o in levels if o.severity.rank >= Severity.WARN.rank}
    loud_keys = loud.keys() | {
        f.key for f in live if Severity(f.severity).rank >= Severity.WARN.rank
    }
    out = {o.key: o for o in levels}
    for trend in trends:
        key = _level_key(trend, score)
        if key not in loud_keys:
            out[trend.key] = trend
            continue
        out[trend.key] = replace(trend, held=True)
        level = loud.get(key)
        if level is None:
            continue
        per_week = float(trend.details.get("slope_per_day", 0.0)) * 7
        rising = "rising" if per_week > 0 else "falling"
        out[key] = replace(
            level,
            summary=f"{level.summary}, and still {rising} {abs(per_week):.2g} a week",
            details={**level.details, "trend_per_week": per_week},
        )
    falling = {  # accuracy series whose fall is seen today (realized, estimated)
        t.metric for t in trends if (t.metric or "").startswith("accuracy@") and not t.held
    }
    for finding in live:  # a trend not seen today
        if finding.kind != "slow_trend" or not finding.metric or finding.key in out:
            continue
        sibling = finding.metric.startswith("accuracy@") and bool(falling - {finding.metric})
        probe = Observation(
            kind="slow_trend",
            severity=Severity(finding.severity),
            summary=finding.summary,
            metric=finding.metric,
            feature=finding.feature,
            held=True,
        )
        if probe.key == finding.key and (_level_key(probe, score) in loud_keys or sibling):
            out[probe.key] = probe
    return list(out.values())


def _metrics_json(
    report: Report | None, pooled: Report | None, today: dict[str, float]
) -> dict[str, Any]:
    out: dict[str, Any] = {"series": today}
    for name, part in (("window", report), ("pooled_7d", pooled)):
        if part is not None:
            out[name] = report_json(part)
    return out


def record_abandoned(sessions: sessionmaker[Session], guard: Guard, *, now: datetime) -> None:
    """Record a check that passed its time limit: a failed run of its window and a finding."""
    with sessions() as session:
        loaded = load(session, guard.model_id)
        start, end = guard.window or window_of(session, guard.model_id, None, now)
    window = Window(guard.model_id, start, end, now)
    record_failure(sessions, window, loaded.card, error=guard.abandoned())


def _read_json(read: ReadReport) -> dict[str, Any]:
    """What reading the window found beyond the counts: kept with the run."""
    return {
        "skipped": read.rows_skipped,
        "unplaced": dict(read.unplaced),
        "duplicate_files": [list(pair) for pair in read.duplicate_files],
        "duplicate_rows": read.duplicate_rows,
        "duplicate_rows_exact": read.duplicate_rows_exact,
        "missing_columns": list(read.missing_columns),
        "type_changes": dict(read.type_changes),
    }
