"""A model's history: recent window profiles to pool, and daily series of key metrics for trends.

Each check run stores a few headline numbers (`series`): accuracy realized and estimated, and the
PSI of every feature and of the score. A slow trend in any of them becomes a finding while every
single day is still under its threshold, with the date on which the trend crosses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.findings import Observation, severity_named
from jobs.stats.measures import PERFORMANCE
from jobs.stats.profiles import Profile
from jobs.stats.reports import Report, Status
from jobs.stats.thresholds import Severity, Thresholds
from jobs.stats.trends import assess_trend
from store.models import CheckRun, WindowProfile

HISTORY_DAYS = 90
MIN_POINTS = 10
CROSSING_HORIZON_DAYS = 60
WARN_HORIZON_DAYS = 28


def recent_profiles(
    session: Session, model_id: str, baseline_id: int, end: datetime, days: int
) -> list[Profile]:
    """Stored window profiles of this baseline that ended within `days` days before `end`."""
    rows = session.scalars(
        select(WindowProfile.data).where(
            WindowProfile.model_id == model_id,
            WindowProfile.baseline_id == baseline_id,
            WindowProfile.window_end < end,
            WindowProfile.window_end >= end - timedelta(days=days),
        )
    ).all()
    return [Profile.from_bytes(data) for data in rows]


def series(session: Session, model_id: str, end: datetime) -> dict[str, list[tuple[float, float]]]:
    """name -> [(day number, value)] from completed runs in the `HISTORY_DAYS` before `end`."""
    runs = session.execute(
        select(CheckRun.window_end, CheckRun.metrics).where(
            CheckRun.model_id == model_id,
            CheckRun.status == "completed",
            CheckRun.window_end < end,
            CheckRun.window_end >= end - timedelta(days=HISTORY_DAYS),
        )
    ).all()
    out: dict[str, list[tuple[float, float]]] = {}
    for window_end, metrics in runs:
        day = window_end.timestamp() / 86_400
        for name, value in (metrics or {}).get("metrics", {}).get("series", {}).items():
            if value is not None:
                out.setdefault(name, []).append((day, float(value)))
    return out


def today_series(report: Report | None, *, matured: Report | None = None) -> dict[str, float]:
    """This run's headline numbers (see the module docstring); realized accuracy comes from the
    window's own labels, else from the matured window's (labels that arrived after a delay)."""
    if report is None:
        return {}
    out: dict[str, float] = {}
    perf = report.performance
    if perf is not None:
        realized = perf.realized.get("accuracy") if perf.realized else None
        if realized is None and matured is not None and matured.performance is not None:
            late = matured.performance.realized
            realized = late.get("accuracy") if late else None
        if realized is not None:
            out["accuracy@realized"] = float(realized)
        estimate = perf.estimated.get("accuracy")
        if estimate is not None:
            out["accuracy@estimated"] = float(estimate.value)
        baseline = perf.baseline.get("accuracy")
        if baseline is not None:
            out["accuracy@baseline"] = float(baseline)
    for result in report.results:
        if result.metric == "psi" and result.status == Status.OK and result.value is not None:
            out[f"psi:{result.feature}"] = result.value
    return out


def trend_observations(
    history: dict[str, list[tuple[float, float]]],
    today: dict[str, float],
    end: datetime,
    thresholds: Thresholds,
) -> list[Observation]:
    """Slow-trend observations for every series with enough history."""
    out: list[Observation] = []
    now_day = end.timestamp() / 86_400
    baseline_accuracy = today.get("accuracy@baseline")
    for name, value in today.items():
        if name == "accuracy@baseline":
            continue
        points = [*history.get(name, []), (now_day, value)]
        if len(points) < MIN_POINTS:
            continue
        if name.startswith("accuracy@"):
            if baseline_accuracy is None:
                continue
            threshold = baseline_accuracy - thresholds.performance_drop.warn
            direction: Literal["down", "up"] = "down"
        else:
            threshold = thresholds.psi.warn
            direction = "up"
        days = np.asarray([p[0] for p in points])
        values = np.asarray([p[1] for p in points])
        trend = assess_trend(
            values, days, threshold=threshold, direction=direction, horizon=WARN_HORIZON_DAYS
        )
        if trend.severity == Severity.NONE or trend.slope is None:
            continue
        if trend.crossed:
            continue  # already beyond the threshold: the day's own drift finding says so
        if trend.crossing_day is None or trend.crossing_day - now_day > CROSSING_HORIZON_DAYS:
            continue
        crossing = datetime.fromtimestamp(trend.crossing_day * 86_400, tz=end.tzinfo).date()
        what = name.replace("psi:", "drift (PSI) of ").replace("@", " (")
        what += ")" if "@" in name else ""
        out.append(
            Observation(
                kind="slow_trend",
                severity=severity_named(trend.severity.value),
                metric=name,
                feature=None if name.startswith("accuracy@") else name.split(":", 1)[1],
                value=float(value),
                threshold=float(threshold),
                summary=(
                    f"{what} is moving {trend.slope * 7:+.3g} a week (p={trend.p_value:.2g}); "
                    f"at this rate it crosses {threshold:.3g} on {crossing:%Y-%m-%d}"
                ),
                details={
                    "slope_per_day": trend.slope,
                    "p_value": trend.p_value,
                    "crossing": crossing.isoformat(),
                    "change_day": trend.change_day,
                    "points": len(points),
                },
            )
        )
    return out


def results_json(report: Report) -> dict[str, Any]:
    """The judged metrics of a report, grouped by feature (and segment), for --json and storage."""

    def part(r: Report) -> dict[str, Any]:
        features: dict[str, Any] = {}
        for result in r.results:
            entry: dict[str, Any] = {"value": result.value, "severity": result.severity.value}
            if result.status != Status.OK:
                entry["reason"] = result.reason
            if result.threshold is not None:
                entry["threshold"] = result.threshold
            if result.p_value is not None:
                entry["p_value"] = result.p_value
            entry["n"] = [result.n_window, result.n_reference]
            if result.method:
                entry["method"] = result.method
            name = "performance" if result.feature == PERFORMANCE else result.feature
            features.setdefault(name, {})[result.metric] = entry
        return {"rows": r.rows, "features": features}

    out = part(report)
    if report.segments:
        out["segments"] = {
            f"{column}={key}": part(sub)
            for column, parts in report.segments.items()
            for key, sub in parts.items()
        }
    return out
