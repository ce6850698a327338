"""The daily sequential scan of a check: today's and the last days' profiles, added up over
windows of several lengths and judged against the baseline's own day-to-day spread.

Its observations join the findings the level comparisons make, under the same keys (a feature's
drift, performance, a segment), so a drift is one finding whichever method saw it first: the
scan only makes it sooner. Pure: profiles and the baseline in, observations out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jobs.observations import Observation, covering_limitation
from jobs.phrases import number
from jobs.stats import PERFORMANCE, Baseline, Profile, Severity, Thresholds
from jobs.stats.sequential import Alarm, Summer, scan
from store.cards import Card

SEGMENT_RATIO = 2.0
"""A segment's alarm is named while its effect is over this many times the whole's."""


def _days(n: int) -> str:
    return "today" if n == 1 else f"over the last {n} days"


def _phrase(alarm: Alarm, score: str) -> str:
    calibrated = (
        f"z = {alarm.z:.1f}, beyond the baseline's own day-to-day variation at "
        f"{alarm.threshold:.1f}"
    )
    if alarm.key[3] == "mean":
        what = "the score" if alarm.key[2] == score else alarm.key[2]
        way = "up" if alarm.effect > 0 else "down"
        return (
            f"{what} has moved {way} {number(abs(alarm.effect))} standard deviations "
            f"{_days(alarm.days)} ({calibrated})"
        )
    how = (
        "the score's relation to the outcome is fading"
        if alarm.key[3] == "calibration"
        else "accuracy is falling"
    )
    return (
        f"{how}: {alarm.effect * 100:.1f} points of accuracy lost {_days(alarm.days)} "
        "against what "
        f"these scores promised at baseline ({calibrated})"
    )


def _relevant(alarm: Alarm, thresholds: Thresholds) -> bool:
    if alarm.key[3] == "mean":
        return abs(alarm.effect) >= thresholds.mean_shift.info
    return alarm.effect >= thresholds.shortfall.info


def scan_observations(
    baseline: Baseline,
    profile: Profile,
    past: Sequence[Profile],
    card: Card,
    thresholds: Thresholds,
) -> list[Observation]:
    """Warn observations of what the scan finds real and relevant (see the module docstring).

    `past` are the last days' profiles, oldest first. A segment's alarm is its own finding
    (named with the limitation that covers it) unless the whole population's same statistic
    alarms too with at least half the segment's effect: then it is `held`, as a segment the
    whole has caught up with (a segment of share s drifting alone moves the whole s times as
    far, so a segment-only drift stays named).
    """
    calibration = baseline.sequential
    if calibration is None or not profile.rows:
        return []
    summer = Summer.of(baseline.bins, baseline.reference, calibration)
    rows, sums = zip(*(summer.sums(p) for p in [*past, profile]), strict=True)
    alarms = scan(
        calibration,
        np.vstack(rows),
        np.vstack(sums),
        alarms_per_year=thresholds.alarms_per_year,
    )
    kept = [a for a in alarms if _relevant(a, thresholds)]
    whole = {(a.key[2], a.key[3]): abs(a.effect) for a in kept if not a.key[0]}
    score = baseline.bins.score_column
    out: list[Observation] = []
    for alarm in sorted(kept, key=lambda a: -abs(a.z)):
        column, value, feature, stat = alarm.key
        performance = feature == PERFORMANCE
        kind = (
            "performance_drop"
            if performance
            else ("score_drift" if feature == score else "input_drift")
        )
        details = {
            "method": f"sequential {stat}",
            "z": alarm.z,
            "z_threshold": alarm.threshold,
            "window_days": alarm.days,
            "alarms_per_year": thresholds.alarms_per_year,
        }
        summary = _phrase(alarm, score)
        floor = thresholds.shortfall.info if performance else thresholds.mean_shift.info
        observation = Observation(
            kind=kind,
            severity=Severity.WARN,
            summary=summary,
            metric="shortfall" if performance else "mean_shift",
            feature=None if performance else feature,
            value=alarm.effect,
            threshold=floor,
            details=details,
        )
        if column:
            name = f"{column}={value}"
            limitation = covering_limitation(card, column, value)
            extra = {}
            text = f"in {name}, {summary}"
            if limitation is not None:
                extra["limitation"] = limitation.text
                text += f"; a known limitation: {limitation.text}"
            observation = Observation(
                kind="segment_degradation",
                severity=Severity.WARN,
                summary=text,
                metric=observation.metric,
                feature=observation.feature,
                segment=name,
                value=alarm.effect,
                threshold=floor,
                details={**details, **extra},
                held=whole.get((feature, stat), 0.0) * SEGMENT_RATIO >= abs(alarm.effect),
            )
        out.append(observation)
    return out
