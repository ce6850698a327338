"""Performance drops of a window against the baseline, realized or estimated, as measurements.

Reads the score-band x label tables of two profiles; see `performance` for the formulas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jobs.stats.layouts import Bins
from jobs.stats.measurements import PERFORMANCE, Measurement, Setting, missing, share_change
from jobs.stats.performance import (
    estimate_performance,
    realized_performance,
    realized_sd,
    roc_auc,
)
from jobs.stats.significance import normal_noise, normal_sf

__all__ = ["DROPS", "measure_drops"]

DROPS = ("accuracy", "precision", "recall", "roc_auc")
"""Performance values whose drop (baseline - window) is a metric, named `<value>_drop`."""


def measure_drops(
    bins: Bins,
    reference: np.ndarray,
    window: np.ndarray,
    setting: Setting,
    raw: Mapping[str, np.ndarray] | None = None,
) -> list[Measurement]:
    """`accuracy_drop`, `precision_drop`, `recall_drop`, `roc_auc_drop` and `positive_rate_change`.

    A drop is baseline value (realized on the reference) minus the window's: realized when the
    window has `min_labels` labelled rows (method "realized"), else the label-free estimate
    ("estimated"); positive means worse and only a positive drop is judged. Noise: the binomial
    sd of both realized values (Hanley-McNeil for AUC), or the estimate's sd. Details carry
    `baseline`, `realized`, `estimated`, `band_low`/`band_high` (95%) and, with raw window scores
    and labels, the `exact` ROC AUC. Not enough data when the baseline lacks labels of both classes.
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
    base = realized_performance(reference, t)
    base_sd = realized_sd(base, reference, t)
    realized = realized_performance(window, t) if win_labels >= setting.min_labels else None
    realized_sds = realized_sd(realized, window, t) if realized else {}
    estimated = estimate_performance(reference, window, t)
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
