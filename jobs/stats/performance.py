"""Binary-classifier performance from a score-band x label table: realized, and label-free.

The estimate applies the baseline's calibration P(label | score band) to a window's score counts
(the idea of NannyML's CBPE). Pure numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from jobs.stats.significance import z_value

__all__ = [
    "PERFORMANCE_METRICS",
    "Estimate",
    "PerformanceSummary",
    "calibration_curve",
    "estimate_performance",
    "realized_performance",
    "roc_auc",
    "roc_auc_binned",
    "summarize_performance",
]

PERFORMANCE_METRICS = ("accuracy", "precision", "recall", "positive_rate", "prevalence", "roc_auc")
"""Names of the performance values; `positive_rate` is the share predicted positive (score >=
threshold), `prevalence` the share labelled positive."""

_BAND_Z = z_value(0.025)


@dataclass(frozen=True)
class Estimate:
    """A label-free estimate with its standard deviation and 95% band `[low, high]`."""

    value: float
    sd: float

    @property
    def low(self) -> float:
        """Lower end of the 95% band."""
        return self.value - _BAND_Z * self.sd

    @property
    def high(self) -> float:
        """Upper end of the 95% band."""
        return self.value + _BAND_Z * self.sd


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC on raw scores: P(score_pos > score_neg) + P(tie) / 2 (Mann-Whitney U / (n1 n0)).

    Rows with a NaN score or a label other than 0/1 are dropped; ties get average ranks. Returns
    None when either class is absent.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    keep = ~np.isnan(s) & ((y == 0.0) | (y == 1.0))
    s, y = s[keep], y[keep]
    n1 = int(np.count_nonzero(y == 1.0))
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = float(average_rank[inverse][y == 1.0].sum())
    return float((rank_sum - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def roc_auc_binned(positives: np.ndarray, negatives: np.ndarray) -> float | None:
    """ROC AUC from counts per ordered score band; rows in one band count as ties (half).

    AUC = sum_j pos_j * (sum_{i<j} neg_i + neg_j / 2) / (P N). It is the AUC of the banded score,
    so it is at most the raw-score AUC plus the within-band tie loss. None when a class is absent.
    """
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    total_pos, total_neg = float(pos.sum()), float(neg.sum())
    if total_pos <= 0 or total_neg <= 0:
        return None
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + neg / 2.0)) / (total_pos * total_neg))


def _hanley_mcneil_sd(auc: float, n_pos: float, n_neg: float) -> float:
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def realized_performance(table: np.ndarray, threshold_bin: int) -> dict[str, float | None]:
    """Realized metrics from a score-band x label table (rows: score bins, last = missing score).

    Predicted positive = score band >= `threshold_bin`, exact because the decision threshold is a
    band edge. Uses labelled rows with a score; `positive_rate` uses every scored row. A metric
    whose denominator is zero is None.
    """
    t = np.asarray(table, dtype=np.float64)[:-1]
    neg, pos = t[:, 0], t[:, 1]
    tp, fp = float(pos[threshold_bin:].sum()), float(neg[threshold_bin:].sum())
    fn, tn = float(pos[:threshold_bin].sum()), float(neg[:threshold_bin].sum())
    labelled = tp + fp + fn + tn
    scored = t.sum(axis=1)
    return {
        "accuracy": _ratio(tp + tn, labelled),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "positive_rate": _ratio(float(scored[threshold_bin:].sum()), float(scored.sum())),
        "prevalence": _ratio(tp + fn, labelled),
        "roc_auc": roc_auc_binned(pos, neg),
    }


def realized_sd(
    values: Mapping[str, float | None], table: np.ndarray, threshold_bin: int
) -> dict[str, float]:
    """Binomial standard deviation of each realized metric at its own denominator (Hanley-McNeil for
    AUC); NaN where the metric is None."""
    t = np.asarray(table, dtype=np.float64)[:-1]
    neg, pos = t[:, 0], t[:, 1]
    denominators = {
        "accuracy": float(t[:, :2].sum()),
        "precision": float(t[threshold_bin:, :2].sum()),
        "recall": float(pos.sum()),
        "positive_rate": float(t.sum()),
        "prevalence": float(t[:, :2].sum()),
    }
    out: dict[str, float] = {}
    for name, value in values.items():
        if value is None:
            out[name] = math.nan
        elif name == "roc_auc":
            out[name] = _hanley_mcneil_sd(value, float(pos.sum()), float(neg.sum()))
        else:
            out[name] = math.sqrt(value * (1 - value) / denominators[name])
    return out


def calibration_curve(table: np.ndarray, *, prior: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """P(label = 1 | score band) per value band, and the variance of each estimate.

    p_j = (pos_j + prior * pi) / (labelled_j + prior), shrunk toward the overall prevalence pi by
    `prior` pseudo-rows; bands without labelled rows (e.g. the open outer bands) take the
    neighbouring labelled bands' values (linear interpolation between them). Variance p_j (1 - p_j)
    / (labelled_j + prior). Raises ValueError without labels of both classes.
    """
    t = np.asarray(table, dtype=np.float64)[:-1]
    neg, pos = t[:, 0], t[:, 1]
    labelled = neg + pos
    if pos.sum() <= 0 or neg.sum() <= 0:
        raise ValueError("calibration needs labelled rows of both classes")
    prevalence = pos.sum() / labelled.sum()
    p = (pos + prior * prevalence) / (labelled + prior)
    has = np.flatnonzero(labelled > 0)
    index = np.arange(p.size)
    var = p * (1 - p) / (labelled + prior)
    p = np.where(labelled > 0, p, np.interp(index, has, p[has]))
    var = np.where(labelled > 0, var, np.interp(index, has, var[has]))
    return p, var


def estimate_performance(
    reference: np.ndarray, window: np.ndarray, threshold_bin: int
) -> dict[str, Estimate | None]:
    """Expected performance of `window` (its score counts; labels ignored) under the reference's
    calibration P(label | band) — confidence-based performance estimation.

    With c_j rows in band j and p_j = P(y = 1 | j): E[TP] = sum_{j >= t} c_j p_j, E[FP] =
    sum_{j >= t} c_j (1 - p_j), E[FN] = sum_{j < t} c_j p_j, E[TN] = sum_{j < t} c_j (1 - p_j); the
    metrics are their ratios (AUC: `roc_auc_binned` of the expected class counts). The sd combines
    the label noise given the scores (Bernoulli, sum c_j p_j (1 - p_j)) and the calibration error
    (sum c_j² var p_j), with the delta method for ratios (Hanley-McNeil for AUC). Valid when
    P(label | score) is unchanged (covariate shift); a concept shift is invisible to it.
    `positive_rate` needs no labels: it is exact (sd 0). None where a denominator is zero.
    """
    p, var_p = calibration_curve(reference)
    c = np.asarray(window, dtype=np.float64)[:-1].sum(axis=1)
    n = float(c.sum())
    if n <= 0:
        return dict.fromkeys(PERFORMANCE_METRICS)
    up, down = slice(threshold_bin, None), slice(None, threshold_bin)
    tp, fp = float(np.sum(c[up] * p[up])), float(np.sum(c[up] * (1 - p[up])))
    fn, tn = float(np.sum(c[down] * p[down])), float(np.sum(c[down] * (1 - p[down])))
    noise = c * p * (1 - p) + c * c * var_p
    var_tp, var_fn = float(noise[up].sum()), float(noise[down].sum())
    predicted = tp + fp
    out: dict[str, Estimate | None] = {
        "accuracy": Estimate((tp + tn) / n, math.sqrt(var_tp + var_fn) / n),
        "precision": Estimate(tp / predicted, math.sqrt(var_tp) / predicted)
        if predicted > 0
        else None,
        "positive_rate": Estimate(predicted / n, 0.0),
        "prevalence": Estimate((tp + fn) / n, math.sqrt(var_tp + var_fn) / n),
    }
    actual = tp + fn
    recall_var = (fn**2 * var_tp + tp**2 * var_fn) / actual**4 if actual > 0 else 0.0
    out["recall"] = Estimate(tp / actual, math.sqrt(recall_var)) if actual > 0 else None
    auc = roc_auc_binned(c * p, c * (1 - p))
    out["roc_auc"] = (
        Estimate(auc, _hanley_mcneil_sd(auc, max(actual, 1.0), max(n - actual, 1.0)))
        if auc is not None
        else None
    )
    return out


@dataclass(frozen=True)
class PerformanceSummary:
    """Performance values of one part: the baseline's (realized on the reference), the window's
    realized ones (None when it has fewer than `min_labels` labels) and label-free estimates with
    95% bands. Metric names as in `PERFORMANCE_METRICS`; a value is None when undefined.
    """

    baseline: Mapping[str, float | None]
    realized: Mapping[str, float | None] | None
    estimated: Mapping[str, Estimate | None]
    labelled: int


def summarize_performance(
    reference: np.ndarray, window: np.ndarray, threshold_bin: int, min_labels: int
) -> PerformanceSummary | None:
    """Baseline, realized and estimated performance of a window's score-band x label table against
    the reference's, computed once for both the report and the drop metrics. None when the
    reference lacks labelled rows of either class (no calibration, no baseline performance).
    """
    table = np.asarray(reference)
    if table[:-1, 0].sum() == 0 or table[:-1, 1].sum() == 0:
        return None
    labelled = int(np.asarray(window)[:, :2].sum())
    enough = int(np.asarray(window)[:-1, :2].sum()) >= min_labels
    return PerformanceSummary(
        realized_performance(table, threshold_bin),
        realized_performance(window, threshold_bin) if enough else None,
        estimate_performance(table, window, threshold_bin),
        labelled,
    )
