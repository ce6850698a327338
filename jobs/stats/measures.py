"""Measure one window part against the same part of the reference: every drift metric and the
performance drops, each with what sampling alone would give at these sample sizes.

A `Measurement` is a metric value plus its sampling noise; both the comparison (gates and
severities) and the baseline's day-to-day calibration start here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from jobs.stats.bins import Bins, CategoricalBins, NumericBins
from jobs.stats.distances import jensen_shannon, psi, wasserstein_binned
from jobs.stats.performance import (
    PerformanceSummary,
    realized_sd,
    roc_auc,
    summarize_performance,
)
from jobs.stats.profiles import Profile
from jobs.stats.significance import (
    Noise,
    binomial_noise,
    chi_square,
    divergence_noise,
    ks_binned,
    ks_exact,
    ks_noise,
    normal_noise,
    normal_sf,
    sampling_factor,
    z_value,
)

__all__ = [
    "CATEGORICAL_METRICS",
    "DROPS",
    "NUMERIC_METRICS",
    "PERFORMANCE",
    "Measurement",
    "Setting",
    "measure",
    "measure_drops",
    "missing",
    "share_change",
]

PERFORMANCE = "__performance__"
"""Feature name under which performance metrics are reported."""


@dataclass(frozen=True)
class Setting:
    """How to measure: gate a's `alpha`, minimum sizes, whether the window is `inside` the
    reference (a baseline day: the noise of a part against its whole), and whether to compute the
    slower p-values."""

    alpha: float
    min_rows: int = 20
    min_labels: int = 30
    inside: bool = False
    p_values: bool = True


@dataclass(frozen=True)
class Measurement:
    """One metric of one feature: value (None = not enough data, see `reason`), the non-negative
    `magnitude` the gates judge, and the sampling `noise` at these sizes (None: judged by p-value).
    """

    feature: str
    metric: str
    value: float | None
    magnitude: float = math.nan
    noise: Noise | None = None
    p_value: float | None = None
    n_window: int = 0
    n_reference: int = 0
    method: str | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None

    @property
    def key(self) -> str:
        """Calibration key: the metric, suffixed with "@estimated" for label-free estimates."""
        return f"{self.metric}@estimated" if self.method == "estimated" else self.metric


def missing(feature: str, metric: str, reason: str, nw: int = 0, nr: int = 0) -> Measurement:
    """A metric that could not be computed, with the reason and the sample sizes."""
    return Measurement(feature, metric, None, reason=reason, n_window=nw, n_reference=nr)


def share_change(
    feature: str,
    metric: str,
    counts: tuple[float, int, float, int],
    setting: Setting,
    *,
    two_sided: bool,
) -> Measurement:
    """Change of a share: `counts` = (window hits, window size, reference hits, reference size).

    value = w/n - r/N. Two-sided metrics are judged on |value|, one-sided ones on max(value, 0) (an
    increase is the concern). Noise: binomial at the reference share, Jeffreys-smoothed
    ((r + 1/2) / (N + 1)) so a share of 0 still has noise; p-value from the normal approximation.
    """
    w, nw, r, nr = counts
    change = w / nw - r / nr
    base = (r + 0.5) / (nr + 1.0)
    factor = sampling_factor(nw, nr, inside=setting.inside)
    noise = binomial_noise(base, factor, setting.alpha, two_sided=two_sided)
    sd = noise.cutoff / z_value(setting.alpha / 2.0 if two_sided else setting.alpha)
    magnitude = abs(change) if two_sided else max(change, 0.0)
    p_value = normal_sf(magnitude / sd) * (2.0 if two_sided else 1.0) if sd > 0 else None
    details = {"window": w / nw, "reference": r / nr}
    return Measurement(feature, metric, change, magnitude, noise, p_value, nw, nr, None, details)


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
    """PSI and JS distance over the bins of present values (the missing bin is left out: missing
    cells are the missing-rate metric's, so missingness alone never reads as a drift); noise:
    chi-square(k - 1) scaled. Not enough data when either side has fewer than `min_rows` present
    values."""
    nw, nr = int(w.sum()), int(r.sum())
    if nw < s.min_rows or nr < s.min_rows:
        reason = f"not enough present values (window {nw}, reference {nr}, need {s.min_rows})"
        return [missing(feature, x, reason, nw, nr) for x in ("psi", "js_distance")]
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
    out = _distribution(feature, r[:m], w[:m], s)
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
    """Categorical metrics; the distribution metrics over present values (see `_distribution`)."""
    rows_w, rows_r = int(w.sum()), int(r.sum())
    m = bins.missing_index
    out = _distribution(feature, r[:m], w[:m], s)
    hits = (float(w[m]), rows_w, float(r[m]), rows_r)
    out.append(share_change(feature, "missing_rate_change", hits, s, two_sided=True))
    present_w, present_r = int(w[:m].sum()), int(r[:m].sum())
    if present_w < s.min_rows or present_r < s.min_rows:
        reason = f"not enough present values (window {present_w}, reference {present_r})"
        return out + [missing(feature, x, reason, present_w, present_r) for x in _CHANGES]
    try:
        test = chi_square(r[:m], w[:m], p_value=s.p_values)
        out.append(
            Measurement(
                feature,
                "chi_square",
                test.statistic,
                test.statistic,
                None,
                test.p_value,
                present_w,
                present_r,
                "pearson",
                {"dof": float(test.dof)},
            )
        )
    except ValueError:
        out.append(
            missing(feature, "chi_square", "fewer than two categories", present_w, present_r)
        )
    hits = (float(w[bins.unseen_index]), present_w, float(r[bins.unseen_index]), present_r)
    out.append(share_change(feature, "unseen_share", hits, s, two_sided=False))
    return out


_CHANGES = ("chi_square", "unseen_share")


def measure(
    bins: Bins,
    reference: Profile,
    window: Profile,
    setting: Setting,
    *,
    raw: Mapping[str, np.ndarray] | None = None,
    sketches: Mapping[str, np.ndarray] | None = None,
    complete: Mapping[str, bool] | None = None,
    performance: PerformanceSummary | None = None,
) -> list[Measurement]:
    """Every metric of every feature, the score and performance, for one part (no segments).

    Numeric features and the score get NUMERIC_METRICS, categorical ones CATEGORICAL_METRICS, then
    the performance drops (`measure_drops`, reusing `performance` when given). `raw` (window
    columns) with `sketches` (reference order statistics) makes the KS exact. Never raises for
    small or empty data: such metrics come back with `value=None` and a reason.
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
    drops = measure_drops(
        bins, reference.score_label, window.score_label, setting, raw, summary=performance
    )
    return out + drops


DROPS = ("accuracy", "precision", "recall", "roc_auc")
"""Performance values whose drop (baseline - window) is a metric, named `<value>_drop`."""


def measure_drops(
    bins: Bins,
    reference: np.ndarray,
    window: np.ndarray,
    setting: Setting,
    raw: Mapping[str, np.ndarray] | None = None,
    *,
    summary: PerformanceSummary | None = None,
) -> list[Measurement]:
    """`accuracy_drop`, `precision_drop`, `recall_drop`, `roc_auc_drop` and `positive_rate_change`.

    A drop is baseline value (realized on the reference) minus the window's: realized when the
    window has `min_labels` labelled rows (method "realized"), else the label-free estimate
    ("estimated"); positive means worse and only a positive drop is judged. Noise: the binomial
    sd of both realized values (Hanley-McNeil for AUC), or the estimate's sd. Details carry
    `baseline`, `realized`, `estimated`, `band_low`/`band_high` (95%) and, with raw window scores
    and labels, the `exact` ROC AUC. Not enough data when the baseline lacks labels of both classes.
    `summary` is `summarize_performance` of the same tables, when the caller already has it.
    """
    names = [f"{x}_drop" for x in DROPS] + ["positive_rate_change"]
    t = bins.threshold_bin
    ref_labels, win_labels = int(reference[:-1, :2].sum()), int(window[:-1, :2].sum())
    if ref_labels < setting.min_labels or (reference[:-1, :2].sum(axis=0) == 0).any():
        reason = (
            f"the baseline has {ref_labels} labelled rows (need {setting.min_labels}, both classes)"
        )
        return [missing(PERFORMANCE, n, reason, win_labels, ref_labels) for n in names]
    scored_w, scored_r = int(window[:-1].sum()), int(reference[:-1].sum())
    if scored_w == 0:
        return [missing(PERFORMANCE, n, "no scored rows in the window", 0, scored_r) for n in names]
    summary = summary or summarize_performance(reference, window, t, setting.min_labels)
    assert summary is not None  # the baseline has labels of both classes (checked above)
    base, realized, estimated = summary.baseline, summary.realized, summary.estimated
    base_sd = realized_sd(base, reference, t)
    realized_sds = realized_sd(realized, window, t) if realized else {}
    out = []
    for name in DROPS:
        baseline_value, estimate = base[name], estimated[name]
        real_value = realized[name] if realized else None
        if baseline_value is None or (real_value is None and estimate is None):
            reason = f"{name} is undefined for this data"
            out.append(missing(PERFORMANCE, f"{name}_drop", reason, win_labels, ref_labels))
            continue
        details: dict[str, float] = {"baseline": baseline_value}
        if estimate is not None:
            details.update(estimated=estimate.value, band_low=estimate.low, band_high=estimate.high)
        if real_value is not None:
            w_sd = realized_sds[name]
            value, method, n_window = real_value, "realized", win_labels
            details["realized"] = real_value
            share = base_sd[name] ** 2 / w_sd**2 if w_sd > 0 else 0.0
            sd = w_sd * math.sqrt(max(1.0 - share, 0.0) if setting.inside else 1.0 + share)
        else:
            assert estimate is not None
            value, method, n_window = estimate.value, "estimated", scored_w
            sd = math.hypot(estimate.sd, 0.0 if setting.inside else base_sd[name])
        label = bins.label_column
        if name == "roc_auc" and raw is not None and label is not None and label in raw:
            exact = roc_auc(raw[bins.score_column], raw[label])
            if exact is not None:
                details["exact"] = exact
        drop = baseline_value - value
        p_value = normal_sf(drop / sd) if sd > 0 else None
        noise = normal_noise(sd, setting.alpha)
        out.append(
            Measurement(
                PERFORMANCE,
                f"{name}_drop",
                drop,
                max(drop, 0.0),
                noise,
                p_value,
                n_window,
                ref_labels,
                method,
                details,
            )
        )
    positives = (float(window[t:-1].sum()), scored_w, float(reference[t:-1].sum()), scored_r)
    out.append(
        share_change(PERFORMANCE, "positive_rate_change", positives, setting, two_sided=True)
    )
    return out
