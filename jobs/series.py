"""A model's daily series of headline metrics, and the slow trends in them.

Each check run stores a few headline numbers (`today_series`): accuracy realized and estimated, and
the PSI of every feature and of the score. A slow trend in any of them becomes a finding while every
single day is still under its threshold, with the date on which the trend crosses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

import numpy as np

from jobs.observations import Observation
from jobs.phrases import number
from jobs.stats import Report, Severity, Status, Thresholds, assess_trend

HISTORY_DAYS = 90
MIN_POINTS = 10
CROSSING_HORIZON_DAYS = 60
WARN_HORIZON_DAYS = 28
TREND_ALPHA = 1e-4
"""A slow trend is a finding only at this significance (one-sided Mann-Kendall p-value)."""

Series = dict[str, list[tuple[float, float]]]
"""Series name -> [(day number, value)], day number = days since the epoch (float)."""


def from_runs(runs: Sequence[tuple[datetime, dict[str, Any]]]) -> Series:
    """The series stored by earlier runs (`(window end, series)` pairs, `repo.run_series`)."""
    out: Series = {}
    for window_end, stored in runs:
        day = window_end.timestamp() / 86_400
        for name, value in stored.items():
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
    """Slow-trend observations for every series with enough history whose trend is significant
    (Mann-Kendall, one-sided, p < `TREND_ALPHA`) and heading for the metric's warn level: the
    card's `thresholds:` as the level findings use them. A trend whose line is already past that
    level is marked `crossed`: the level finding then says it (the caller merges the slope in)."""
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
            values,
            days,
            threshold=threshold,
            direction=direction,
            alpha=TREND_ALPHA,
            horizon=WARN_HORIZON_DAYS,
        )
        if not trend.significant or trend.slope is None or trend.p_value is None:
            continue
        crossing = None
        if trend.crossing_day is not None:
            if trend.crossing_day - now_day > CROSSING_HORIZON_DAYS:
                continue
            crossing = datetime.fromtimestamp(trend.crossing_day * 86_400, tz=end.tzinfo).date()
        elif not trend.crossed:
            continue
        out.append(
            Observation(
                kind="slow_trend",
                severity=trend.severity if trend.severity != Severity.NONE else Severity.INFO,
                metric=name,
                feature=None if name.startswith("accuracy@") else name.split(":", 1)[1],
                value=float(value),
                threshold=float(threshold),
                summary=_trend_phrase(
                    name, trend.slope * 7, trend.p_value, threshold, crossing, crossed=trend.crossed
                ),
                details={
                    "slope_per_day": trend.slope,
                    "p_value": trend.p_value,
                    "crossing": crossing.isoformat() if crossing else None,
                    "crossed": trend.crossed,
                    "change_day": trend.change_day,
                    "points": len(points),
                },
            )
        )
    return out


def _trend_phrase(
    name: str,
    per_week: float,
    p_value: float,
    threshold: float,
    crossing: date | None,
    *,
    crossed: bool = False,
) -> str:
    """ "the drift of income (PSI) is rising 0.012 a week (p = 0.003); at this rate it reaches
    the warn level 0.10 on 2026-03-02"."""
    if name.startswith("accuracy@"):
        what = f"accuracy ({name.split('@', 1)[1]})"
    else:
        what = f"the drift of {name.split(':', 1)[1]} (PSI)"
    moving = "rising" if per_week > 0 else "falling"
    text = f"{what} is {moving} {number(abs(per_week))} a week (p = {p_value:.2g})"
    if crossing is not None:
        text += f"; at this rate it reaches the warn level {number(threshold)} on {crossing}"
    elif crossed:
        text += f"; its trend line is already past the warn level {number(threshold)}"
    return text
