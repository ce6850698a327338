"""A model's daily series of headline metrics, and the slow trends in them.

Each check run stores a few headline numbers (`today_series`): accuracy realized and estimated, and
the PSI of every feature and of the score. A slow trend in any of them becomes a finding while every
single day is still under its threshold, with the date on which the trend crosses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np

from jobs.observations import Observation
from jobs.stats import Report, Severity, Status, Thresholds, assess_trend

HISTORY_DAYS = 90
MIN_POINTS = 10
CROSSING_HORIZON_DAYS = 60
WARN_HORIZON_DAYS = 28

Series = dict[str, list[tuple[float, float]]]
"""Series name -> [(day number, value)], day number = days since the epoch (float)."""


def from_runs(runs: Sequence[tuple[datetime, dict[str, Any]]]) -> Series:
    """The series stored by earlier runs (`(window end, CheckRun.metrics)` pairs)."""
    out: Series = {}
    for window_end, metrics in runs:
        day = window_end.timestamp() / 86_400
        for name, value in metrics.get("metrics", {}).get("series", {}).items():
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
    history: Series,
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
                severity=trend.severity,
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
