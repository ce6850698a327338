"""Measure one window part against the same part of the reference: every drift metric, and drops.

Both the comparison (gates and severities) and the baseline's day-to-day calibration start here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from jobs.stats.bins import CategoricalBins, NumericBins
from jobs.stats.distances import jensen_shannon, psi, wasserstein_binned
from jobs.stats.drops import measure_drops
from jobs.stats.layouts import Bins
from jobs.stats.measurements import PERFORMANCE, Measurement, Setting, missing, share_change
from jobs.stats.profiles import Profile
from jobs.stats.significance import (
    Noise,
    chi_square,
    divergence_noise,
    ks_binned,
    ks_exact,
    ks_noise,
    sampling_factor,
    z_value,
)

__all__ = ["CATEGORICAL_METRICS", "NUMERIC_METRICS", "PERFORMANCE", "Measurement", "measure"]

NUMERIC_METRICS = (
    "psi",
    "js_distance",
    "missing_rate_change",
    "ks",
    "wasserstein",
    "out_of_range_share",
)
"""Metrics of a numeric feature and of the score."""
CATEGORICAL_METRICS = ("psi", "js_distance", "missing_rate_change", "chi_square", "unseen_share")
"""Metrics of a categorical feature."""

_JS_ROOT = 8.0 * math.log(2.0)


def _distribution(feature: str, r: np.ndarray, w: np.ndarray, s: Setting) -> list[Measurement]:
    """PSI and JS distance over all bins (missing included); noise: chi-square(k - 1) scaled."""
    nw, nr = int(w.sum()), int(r.sum())
    factor = sampling_factor(nw, nr, inside=s.inside)
    dof = int(np.count_nonzero((r > 0) | (w > 0))) - 1
    value = psi(r, w)
    noise = divergence_noise(dof, factor, s.alpha)
    out = [
        Measurement(
            feature, "psi", value, value, noise, None, nw, nr, "binned", {"bins": float(dof + 1)}
        )
    ]
    value = jensen_shannon(r, w)
    noise = divergence_noise(dof, factor, s.alpha, root=_JS_ROOT)
    out.append(Measurement(feature, "js_distance", value, value, noise, None, nw, nr, "binned"))
    return out


def _wasserstein(
    feature: str, bins: NumericBins, vr: np.ndarray, vw: np.ndarray, s: Setting
) -> Measurement:
    """Binned W1 in feature units; noise from |F_w - F_r| at each edge being normal with sd
    sqrt(F (1 - F) factor): mean sum gap sqrt(2/pi) sd, cutoff adds z * sqrt(1 - 2/pi) sum gap sd
    (the sd of a sum of fully correlated terms, an upper bound)."""
    nw, nr = int(vw.sum()), int(vr.sum())
    atoms = bins.atoms()
    value = wasserstein_binned(atoms, vr, vw)
    cdf = np.clip(np.cumsum(vr / nr)[:-1], 0.0, 1.0)
    factor = sampling_factor(nw, nr, inside=s.inside)
    with np.errstate(invalid="ignore", over="ignore"):
        spread = float(np.sum(np.diff(atoms) * np.sqrt(cdf * (1 - cdf)))) * math.sqrt(factor)
    mean = spread * math.sqrt(2 / math.pi)
    noise = Noise(mean, mean + z_value(s.alpha) * spread * math.sqrt(1 - 2 / math.pi))
    details = {"normalized": value / bins.scale} if bins.scale > 0 else {}
    return Measurement(feature, "wasserstein", value, value, noise, None, nw, nr, "binned", details)


def _numeric(
    feature: str,
    bins: NumericBins,
    counts: tuple[np.ndarray, np.ndarray],
    s: Setting,
    raw: tuple[np.ndarray | None, np.ndarray | None, bool],
) -> list[Measurement]:
    """Numeric feature (or score) metrics; `raw` = (window values, reference sketch, complete)."""
    r, w = counts
    rows_w, rows_r = int(w.sum()), int(r.sum())
    m = bins.missing_index
    out = _distribution(feature, r, w, s)
    hits = (float(w[m]), rows_w, float(r[m]), rows_r)
    out.append(share_change(feature, "missing_rate_change", hits, s, two_sided=True))
    vr, vw = r[:m].astype(np.float64), w[:m].astype(np.float64)
    nr, nw = int(vr.sum()), int(vw.sum())
    rest = ("ks", "wasserstein", "out_of_range_share")
    if nr < s.min_rows or nw < s.min_rows:
        reason = f"not enough non-missing values (window {nw}, reference {nr}, need {s.min_rows})"
        return out + [missing(feature, x, reason, nw, nr) for x in rest]
    values, sketch, complete = raw
    if values is not None and sketch is not None and sketch.size:
        ks = ks_exact(sketch, values)
        method, bound = ("exact", 0.0) if complete else ("sketch", 1.0 / sketch.size)
    else:
        ks = ks_binned(vr, vw, p_value=s.p_values)
        method, bound = "binned", ks.bound
    noise = ks_noise(sampling_factor(nw, nr, inside=s.inside), s.alpha)
    out.append(
        Measurement(
            feature,
            "ks",
            ks.statistic,
            ks.statistic,
            noise,
            ks.p_value,
            ks.n_window,
            ks.n_reference,
            method,
            {"bound": bound},
        )
    )
    if not bins.has_range:
        reason = "the reference has no finite values"
        return out + [missing(feature, x, reason, nw, nr) for x in rest[1:]]
    out.append(_wasserstein(feature, bins, vr, vw, s))
    hits = (float(vw[0] + vw[-1]), nw, float(vr[0] + vr[-1]), nr)
    outside = share_change(feature, "out_of_range_share", hits, s, two_sided=False)
    more = {"below": float(vw[0]) / nw, "above": float(vw[-1]) / nw}
    return [*out, replace(outside, details={**outside.details, **more})]


def _categorical(
    feature: str, bins: CategoricalBins, r: np.ndarray, w: np.ndarray, s: Setting
) -> list[Measurement]:
    rows_w, rows_r = int(w.sum()), int(r.sum())
    out = _distribution(feature, r, w, s)
    hits = (float(w[bins.missing_index]), rows_w, float(r[bins.missing_index]), rows_r)
    out.append(share_change(feature, "missing_rate_change", hits, s, two_sided=True))
    try:
        test = chi_square(r, w, p_value=s.p_values)
        out.append(
            Measurement(
                feature,
                "chi_square",
                test.statistic,
                test.statistic,
                None,
                test.p_value,
                rows_w,
                rows_r,
                "pearson",
                {"dof": float(test.dof)},
            )
        )
    except ValueError:
        out.append(missing(feature, "chi_square", "fewer than two categories", rows_w, rows_r))
    hits = (float(w[bins.unseen_index]), rows_w, float(r[bins.unseen_index]), rows_r)
    out.append(share_change(feature, "unseen_share", hits, s, two_sided=False))
    return out


def measure(
    bins: Bins,
    reference: Profile,
    window: Profile,
    setting: Setting,
    *,
    raw: Mapping[str, np.ndarray] | None = None,
    sketches: Mapping[str, np.ndarray] | None = None,
    complete: Mapping[str, bool] | None = None,
) -> list[Measurement]:
    """Every metric of every feature, the score and performance, for one part (no segments).

    Numeric features and the score get NUMERIC_METRICS, categorical ones CATEGORICAL_METRICS, then
    the performance drops (`drops.measure_drops`). `raw` (window columns) with `sketches`
    (reference order statistics) makes the KS exact. Never raises for small or empty data: such
    metrics come back with `value=None` and a reason.
    """
    out: list[Measurement] = []
    sketches, complete = sketches or {}, complete or {}
    few = window.rows < setting.min_rows or reference.rows < setting.min_rows
    reason = (
        f"not enough rows (window {window.rows}, reference {reference.rows}, "
        f"need {setting.min_rows})"
    )
    numeric = {**bins.numeric, bins.score_column: bins.score}
    counts = {**window.features, bins.score_column: window.score}
    ref_counts = {**reference.features, bins.score_column: reference.score}
    for name, numeric_bins in numeric.items():
        if few:
            out += [missing(name, x, reason, window.rows, reference.rows) for x in NUMERIC_METRICS]
            continue
        values = raw.get(name) if raw is not None else None
        extra = (values, sketches.get(name), complete.get(name, False))
        out += _numeric(name, numeric_bins, (ref_counts[name], counts[name]), setting, extra)
    for name, categorical_bins in bins.categorical.items():
        if few:
            out += [
                missing(name, x, reason, window.rows, reference.rows) for x in CATEGORICAL_METRICS
            ]
            continue
        r, w = reference.features[name], window.features[name]
        out += _categorical(name, categorical_bins, r, w, setting)
    return out + measure_drops(bins, reference.score_label, window.score_label, setting, raw)
