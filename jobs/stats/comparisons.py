"""Compare a window profile with a baseline: every metric, judged by the two gates, per segment too.

Gate a (real): beyond sampling noise at these sizes plus the baseline's day-to-day spread.
Gate b (relevant): effect size at or above a `Thresholds` floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from jobs.stats.baselines import Baseline
from jobs.stats.measures import Measurement, Setting, measure
from jobs.stats.performance import summarize_performance
from jobs.stats.profiles import Profile
from jobs.stats.reports import MetricResult, Report, Status
from jobs.stats.shifts import Shift, categorical_shift, numeric_shift, score_shift
from jobs.stats.significance import shifted_divergence_cutoff
from jobs.stats.thresholds import DEFAULT_THRESHOLDS, Severity, Thresholds

__all__ = ["compare", "judge"]


def judge(
    m: Measurement,
    thresholds: Thresholds,
    spread: float = 0.0,
    segment: tuple[str, str] | None = None,
) -> MetricResult:
    """Turn a measurement into a judged result (see `MetricResult` for the two gates)."""
    column, value = segment if segment else (None, None)
    flagged = MetricResult(
        feature=m.feature,
        metric=m.metric,
        status=Status.NOT_ENOUGH_DATA,
        value=None,
        n_window=m.n_window,
        n_reference=m.n_reference,
        method=m.method,
        reason=m.reason or "the metric is not finite for this data",
        segment_column=column,
        segment_value=value,
    )
    if m.value is None or not math.isfinite(m.value) or not math.isfinite(m.magnitude):
        return flagged
    p_value = m.p_value if m.p_value is not None and math.isfinite(m.p_value) else None
    if m.noise is None:
        cutoff = None
        real = p_value is not None and p_value < thresholds.alpha
    else:
        cutoff = m.noise.cutoff + spread
        bins = m.details.get("bins")
        shifted_peak = m.metric == "psi" and spread > 0 and bins is not None and bins > 1
        if shifted_peak and m.magnitude > cutoff and bins is not None:
            # A weekly peak the baseline saw fluctuates more than a flat day (noncentral). The
            # decision is max(both cutoffs), so below "sampling + spread" it is never real and
            # the slower noncentral quantile (scipy, ~0.3 ms) is skipped.
            dof = int(bins) - 1
            factor = m.noise.mean / dof
            shifted = shifted_divergence_cutoff(dof, factor, thresholds.alpha, spread)
            cutoff = max(cutoff, shifted)
        real = bool(m.magnitude > cutoff) if math.isfinite(cutoff) else False
    levels = thresholds.levels_for(m.metric)
    severity, floor = levels.severity(m.magnitude) if levels else (Severity.NONE, None)
    details = {k: float(v) for k, v in m.details.items() if math.isfinite(v)}
    return replace(
        flagged,
        status=Status.OK,
        value=float(m.value),
        reason=None,
        severity=severity if real else Severity.NONE,
        threshold=floor,
        real=real,
        real_cutoff=cutoff if cutoff is not None and math.isfinite(cutoff) else None,
        spread=spread,
        p_value=p_value,
        details=details,
    )


def _part(
    baseline: Baseline,
    reference: Profile,
    window: Profile,
    thresholds: Thresholds,
    *,
    raw: Mapping[str, np.ndarray] | None,
    segment: tuple[str, str] | None,
) -> Report:
    setting = Setting(thresholds.alpha, thresholds.min_rows, thresholds.min_labels)
    performance = summarize_performance(
        reference.score_label,
        window.score_label,
        baseline.bins.threshold_bin,
        thresholds.min_labels,
    )
    measurements = measure(
        baseline.bins,
        reference,
        window,
        setting,
        raw=raw,
        sketches=baseline.sketches if segment is None else None,
        complete=baseline.complete,
        performance=performance,
    )
    column, key = segment if segment else (None, None)
    results = tuple(
        judge(m, thresholds, baseline.spread(column, key, m.feature, m.key), segment)
        for m in measurements
    )
    return Report(
        window.rows,
        reference.rows,
        results,
        baseline.bins.score_column,
        performance,
        {},
        baseline.days,
        _shifts(baseline, reference, window),
    )


def _shifts(baseline: Baseline, reference: Profile, window: Profile) -> dict[str, Shift]:
    """How each feature and the score moved, in their own terms (see `shifts`)."""
    bins = baseline.bins
    found: dict[str, Shift | None] = {
        name: numeric_shift(b, reference.features[name], window.features[name])
        for name, b in bins.numeric.items()
    }
    found.update(
        (name, categorical_shift(b, reference.features[name], window.features[name]))
        for name, b in bins.categorical.items()
    )
    found[bins.score_column] = score_shift(bins.score, reference.score, window.score)
    return {name: shift for name, shift in found.items() if shift is not None}


def compare(
    baseline: Baseline,
    window: Profile,
    *,
    raw: Mapping[str, np.ndarray] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Report:
    """Every drift and performance metric of `window` against `baseline`, judged, per segment too.

    Per numeric feature and the score: psi, js_distance, ks, wasserstein, missing_rate_change,
    out_of_range_share; per categorical feature: psi, js_distance, chi_square, missing_rate_change,
    unseen_share; performance ("__performance__"): accuracy_drop, precision_drop, recall_drop,
    roc_auc_drop (realized when the window has `min_labels` labels, else the label-free estimate)
    and positive_rate_change. Each segment value is compared with the same segment of the reference.
    `raw` (the window's columns) makes the KS exact against the baseline's sketch, adds the exact
    ROC AUC to details, and is split by segment when it holds the segment column. Never raises for
    small, empty, constant or all-missing data: such metrics are NOT_ENOUGH_DATA. Raises ValueError
    when the window's layout is not the baseline's.
    """
    if list(window.features) != list(baseline.reference.features):
        raise ValueError("the window was not counted over this baseline's bins")
    top = _part(baseline, baseline.reference, window, thresholds, raw=raw, segment=None)
    segments: dict[str, dict[str, Report]] = {}
    for column, parts in window.segments.items():
        seg_bins = baseline.bins.segments[column]
        codes = seg_bins.segment_codes(raw[column]) if raw is not None and column in raw else None
        segments[column] = {}
        for index, (key, part) in enumerate(parts.items()):
            sub_raw = None
            if raw is not None and codes is not None:
                mask = codes == index
                sub_raw = {name: np.asarray(values)[mask] for name, values in raw.items()}
            reference = baseline.reference.segments[column][key]
            segments[column][key] = _part(
                baseline, reference, part, thresholds, raw=sub_raw, segment=(column, key)
            )
    return Report(
        top.rows,
        top.reference_rows,
        top.results,
        top.score_column,
        top.performance,
        segments,
        top.baseline_days,
        top.shifts,
    )
