"""Plain words for findings: what moved, in which direction, in the column's own terms, then the
metric. These are the sentences the Slack messages carry, so a business reader must understand
them without knowing what a PSI is; the metric comes after, for the builders.

    median income fell from 55,000 to 42,000 (PSI 1.13, warn at 0.10)
    the share of scores at or above 0.70 rose from 12% to 31% (PSI 0.21, warn at 0.10)
    accuracy 0.64 against 0.76 at baseline, from labels of 2,012 rows (realized)

Pure: numbers and `jobs.stats` records in, strings out.
"""

from __future__ import annotations

import math

from jobs.stats import MetricResult, PerformanceSummary, Severity, Shift

__all__ = [
    "drift_phrase",
    "level",
    "missing_phrase",
    "number",
    "percent",
    "performance_phrase",
    "rejection_phrase",
]

METRIC_NAMES = {
    "psi": "PSI",
    "js_distance": "JS distance",
    "ks": "KS",
    "chi_square": "chi-square",
    "wasserstein": "Wasserstein",
    "missing_rate_change": "missing-rate change",
    "out_of_range_share": "share outside the baseline's range",
    "unseen_share": "share of unseen categories",
}


def number(value: float) -> str:
    """A number as people write it: 55,000 / 4,120 / 12.5 / 0.72 / 0.0031."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if size >= 0.1 or size == 0:
        return f"{value:.2f}"
    return f"{value:.2g}"


def percent(share: float) -> str:
    """A share as a percentage: 31%, 4.5%, 0.3%."""
    pct = share * 100
    if abs(pct) >= 10 or pct == 0:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%" if abs(pct) >= 1 else f"{pct:.2g}%"


def level(result: MetricResult) -> str:
    """The metric and the level it reached: "PSI 1.13, warn at 0.10"."""
    name = METRIC_NAMES.get(result.metric, result.metric.replace("_", " "))
    value = number(abs(result.value or 0.0))
    if result.threshold is None or result.severity == Severity.NONE:
        return f"{name} {value}"
    return f"{name} {value}, {result.severity} at {number(result.threshold)}"


def _moved(rose: bool) -> str:
    return "rose" if rose else "fell"


def drift_phrase(column: str, shift: Shift | None, worst: MetricResult, *, score: bool) -> str:
    """What moved in `column`, then the metric: see the module docstring."""
    metric = level(worst)
    if worst.metric == "out_of_range_share":
        share, base = worst.details.get("window", 0.0), worst.details.get("reference", 0.0)
        what = "scores" if score else f"{column} values"
        return (
            f"{percent(share)} of {what} lie outside the range seen at baseline "
            f"(against {percent(base)}; {metric})"
        )
    if worst.metric == "unseen_share":
        share, base = worst.details.get("window", 0.0), worst.details.get("reference", 0.0)
        return (
            f"{percent(share)} of {column} values are categories never seen at baseline "
            f"(against {percent(base)}; {metric})"
        )
    if shift is None:
        return f"the distribution of {'the score' if score else column} changed ({metric})"
    if shift.kind == "share_above":
        cut = number(shift.cut or 0.0)
        return (
            f"the share of scores at or above {cut} {_moved(shift.rose)} from "
            f"{percent(shift.reference)} to {percent(shift.window)} ({metric})"
        )
    if shift.kind == "share":
        what = {
            "other": f"less common {column} values",
            "unseen": f"{column} values never seen at baseline",
        }.get(shift.category or "", f"{column}={shift.category}")
        return (
            f"the share of {what} {_moved(shift.rose)} from {percent(shift.reference)} "
            f"to {percent(shift.window)} ({metric})"
        )
    name = "the score" if score else column
    if shift.kind == "median":
        return (
            f"median {name} {_moved(shift.rose)} from {number(shift.reference)} "
            f"to {number(shift.window)} ({metric})"
        )
    if shift.kind == "spread" and shift.reference_range and shift.window_range:
        wider = "widened" if shift.rose else "narrowed"
        (r_low, r_high), (w_low, w_high) = shift.reference_range, shift.window_range
        return (
            f"the spread of {name} {wider}: its middle half now spans {number(w_low)} to "
            f"{number(w_high)}, against {number(r_low)} to {number(r_high)} at baseline ({metric})"
        )
    return (
        f"the distribution of {name} changed shape, its median near {number(shift.window)} "
        f"({metric})"
    )


def missing_phrase(column: str, result: MetricResult) -> str:
    """ "12% of income values are missing, against 1% at baseline (missing-rate change 0.11)"."""
    share, base = result.details.get("window", 0.0), result.details.get("reference", 0.0)
    return (
        f"{percent(share)} of {column} values are missing, against {percent(base)} at baseline "
        f"({level(result)})"
    )


def performance_phrase(
    worst: MetricResult, performance: PerformanceSummary | None, *, rows: int
) -> str:
    """Realized: "accuracy 0.64 against 0.76 at baseline, from labels of 2,012 rows (realized)".
    Estimated: "accuracy estimated at 0.71 (95% band 0.69 to 0.73) against 0.76 at baseline,
    from the scores of 2,000 rows (no labels yet)"."""
    metric = worst.metric.removesuffix("_drop").replace("roc_auc", "ROC AUC")
    base = worst.details.get("baseline")
    against = f" against {number(base)} at baseline" if base is not None else ""
    drop = f"a drop of {number(abs(worst.value or 0.0))}, {level(worst).split(', ', 1)[-1]}"
    if worst.method == "realized":
        value = worst.details.get("realized", (base or 0.0) - (worst.value or 0.0))
        labelled = performance.labelled if performance is not None else worst.n_window
        return (
            f"{metric} {number(value)}{against}, from labels of {labelled:,} rows "
            f"(realized; {drop})"
        )
    value = worst.details.get("estimated", (base or 0.0) - (worst.value or 0.0))
    low, high = worst.details.get("band_low"), worst.details.get("band_high")
    band = f" (95% band {number(low)} to {number(high)})" if low is not None and high else ""
    return (
        f"{metric} estimated at {number(value)}{band}{against}, from the scores of {rows:,} rows "
        f"(no labels yet; {drop})"
    )


_REJECTIONS = {
    "nan_score": "with a missing score",
    "score_out_of_range": "with a score outside [0, 1]",
    "bad_timestamp": "with a missing or unreadable timestamp",
    "outside_window": "with a timestamp outside the window asked for",
    "malformed": "that could not be parsed (wrong number of fields)",
}


def rejection_phrase(reason: str, rows: int) -> str:
    """ "160 with a score outside [0, 1]"; `wrong_type:<column>` is "... whose <column> is not a
    number"."""
    if reason.startswith("wrong_type:"):
        return f"{rows:,} whose {reason.removeprefix('wrong_type:')} is not a number"
    return f"{rows:,} {_REJECTIONS.get(reason, reason.replace('_', ' '))}"
