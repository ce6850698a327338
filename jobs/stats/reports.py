"""What a comparison returns: judged metric results per feature, performance, and segments.

Frozen dataclasses only; `comparisons.compare` builds them, jobs turn them into findings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from jobs.stats.performance import PerformanceSummary
from jobs.stats.shifts import Shift
from jobs.stats.thresholds import Severity

__all__ = ["MetricResult", "PerformanceSummary", "Report", "Status"]


class Status(StrEnum):
    """Whether a metric could be computed."""

    OK = "ok"
    NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True)
class MetricResult:
    """One judged metric of one feature (the score's column name, or "__performance__").

    `value` is None exactly when `status` is NOT_ENOUGH_DATA (see `reason`); otherwise finite.
    Gate a: `real` is True when the metric's magnitude exceeds `real_cutoff`, which is the
    (1 - alpha) sampling quantile at this window's and the reference's sample sizes plus `spread`,
    the baseline's own day-to-day straying (0 without daily calibration); tests judged by their
    p-value (chi-square) have `real_cutoff` None and are real when p < alpha. Gate b: `threshold` is
    the relevance floor the magnitude was judged against (the reached level's, or info's when none;
    None for report-only metrics). `severity` is NONE unless both gates pass. `method` says how it
    was computed ("binned", "exact", "sketch", "realized", "estimated", "pearson"), `details` holds
    extra numbers (e.g. window/reference shares, KS `bound`, performance `baseline`, `band_low`,
    `band_high`). `segment_column`/`segment_value` are None for the whole window.
    """

    feature: str
    metric: str
    status: Status
    value: float | None
    severity: Severity = Severity.NONE
    threshold: float | None = None
    real: bool = False
    real_cutoff: float | None = None
    spread: float = 0.0
    p_value: float | None = None
    n_window: int = 0
    n_reference: int = 0
    method: str | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    reason: str | None = None
    segment_column: str | None = None
    segment_value: str | None = None


@dataclass(frozen=True)
class Report:
    """Comparison of a window (or one segment of it) with the baseline.

    `results` are this part's metrics (features, the score, performance); `segments` maps a segment
    column to {segment key: Report} (segment reports have no segments of their own); `shifts`
    describes, per feature and the score, how its distribution moved (`shifts.Shift`).
    """

    rows: int
    reference_rows: int
    results: tuple[MetricResult, ...]
    score_column: str
    performance: PerformanceSummary | None = None
    segments: Mapping[str, Mapping[str, Report]] = field(default_factory=dict)
    baseline_days: int = 0
    shifts: Mapping[str, Shift] = field(default_factory=dict)

    def feature(self, name: str) -> dict[str, MetricResult]:
        """This part's results of one feature, by metric name."""
        return {r.metric: r for r in self.results if r.feature == name}

    def get(self, feature: str, metric: str) -> MetricResult:
        """One result of this part (KeyError when absent)."""
        for result in self.results:
            if result.feature == feature and result.metric == metric:
                return result
        raise KeyError((feature, metric))

    @property
    def score(self) -> dict[str, MetricResult]:
        """Drift metrics of the score column."""
        return self.feature(self.score_column)

    def features(self) -> tuple[str, ...]:
        """Features with results in this part, in order (the score and "__performance__" too)."""
        return tuple(dict.fromkeys(r.feature for r in self.results))

    def severity_of(self, feature: str) -> Severity:
        """Highest severity among one feature's results in this part."""
        return max(
            (r.severity for r in self.results if r.feature == feature),
            key=lambda s: s.rank,
            default=Severity.NONE,
        )

    def all_results(self) -> Iterator[MetricResult]:
        """Every result: this part's, then each segment's (with `segment_column`/`value` set)."""
        yield from self.results
        for parts in self.segments.values():
            for report in parts.values():
                yield from report.all_results()

    @property
    def severity(self) -> Severity:
        """Highest severity anywhere in the report, segments included."""
        return max(
            (r.severity for r in self.all_results()), key=lambda s: s.rank, default=Severity.NONE
        )
