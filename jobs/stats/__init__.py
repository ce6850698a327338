"""The statistics core: bins, mergeable profiles, drift and performance metrics, trends.

Pure numpy (scipy for distributions only): no I/O, database, clock or logging.
This module is the public API.
"""

from jobs.stats.baselines import Baseline, fit_baseline, quantile_sketch
from jobs.stats.bins import (
    MISSING_KEY,
    OTHER_KEY,
    BaselineSpec,
    Bins,
    CategoricalBins,
    NumericBins,
)
from jobs.stats.comparisons import compare
from jobs.stats.distances import jensen_shannon, psi, total_variation, wasserstein_binned
from jobs.stats.measures import PERFORMANCE
from jobs.stats.performance import (
    PERFORMANCE_METRICS,
    Estimate,
    PerformanceSummary,
    estimate_performance,
    realized_performance,
    roc_auc,
    roc_auc_binned,
)
from jobs.stats.profiles import (
    LABEL_NEGATIVE,
    LABEL_POSITIVE,
    LABEL_UNKNOWN,
    Profile,
    label_codes,
    merge,
    profile_batch,
    profile_groups,
)
from jobs.stats.reports import MetricResult, Report, Status
from jobs.stats.sequential import Alarm, Calibration, Summer, calibrate, scan
from jobs.stats.shifts import Shift, binned_quantiles
from jobs.stats.significance import chi_square, ks_binned, ks_exact
from jobs.stats.thresholds import DEFAULT_THRESHOLDS, Levels, Severity, Thresholds
from jobs.stats.trends import Trend, assess_trend, mann_kendall, page_hinkley, theil_sen

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LABEL_NEGATIVE",
    "LABEL_POSITIVE",
    "LABEL_UNKNOWN",
    "MISSING_KEY",
    "OTHER_KEY",
    "PERFORMANCE",
    "PERFORMANCE_METRICS",
    "Alarm",
    "Baseline",
    "BaselineSpec",
    "Bins",
    "Calibration",
    "CategoricalBins",
    "Estimate",
    "Levels",
    "MetricResult",
    "NumericBins",
    "PerformanceSummary",
    "Profile",
    "Report",
    "Severity",
    "Shift",
    "Status",
    "Summer",
    "Thresholds",
    "Trend",
    "assess_trend",
    "binned_quantiles",
    "calibrate",
    "chi_square",
    "compare",
    "estimate_performance",
    "fit_baseline",
    "jensen_shannon",
    "ks_binned",
    "ks_exact",
    "label_codes",
    "mann_kendall",
    "merge",
    "page_hinkley",
    "profile_batch",
    "profile_groups",
    "psi",
    "quantile_sketch",
    "realized_performance",
    "roc_auc",
    "roc_auc_binned",
    "scan",
    "theil_sen",
    "total_variation",
    "wasserstein_binned",
]
