"""Severity levels and the relevance floors (gate b) that metrics are judged against.

Plain dataclasses; a card's `thresholds:` mapping overrides the defaults via
`Thresholds.from_mapping`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = ["DEFAULT_THRESHOLDS", "Levels", "Severity", "Thresholds"]


class Severity(StrEnum):
    """How loud a metric is: none < info < warn < critical."""

    NONE = "none"
    INFO = "info"
    WARN = "warn"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for none up to 3 for critical, for max() and comparisons."""
        return _RANKS[self]


_RANKS = {Severity.NONE: 0, Severity.INFO: 1, Severity.WARN: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True)
class Levels:
    """Effect-size floors of one metric: at or above `info`, `warn`, `critical` (ascending)."""

    info: float
    warn: float
    critical: float

    def __post_init__(self) -> None:
        if not self.info <= self.warn <= self.critical:
            raise ValueError(f"levels must satisfy info <= warn <= critical, got {self}")

    def severity(self, magnitude: float) -> tuple[Severity, float]:
        """The level `magnitude` reaches and the floor it was judged against (info's when none)."""
        if magnitude >= self.critical:
            return Severity.CRITICAL, self.critical
        if magnitude >= self.warn:
            return Severity.WARN, self.warn
        if magnitude >= self.info:
            return Severity.INFO, self.info
        return Severity.NONE, self.info


_FAMILIES = {
    "accuracy_drop": "performance_drop",
    "precision_drop": "performance_drop",
    "recall_drop": "performance_drop",
    "roc_auc_drop": "performance_drop",
}


@dataclass(frozen=True)
class Thresholds:
    """Relevance floors (gate b) per metric, and the false-alarm rate of gate a.

    Defaults and the effect size each rests on:

    - `psi` info 0.005 / warn 0.025 / critical 0.1. On decile bins a normal mean shift of d standard
      deviations gives PSI ≈ d² and a scale change by s gives ≈ 0.044 for s = 1.2; so warn 0.025
      fires from a ≈ 0.16 sd shift or a ≈ 1.15x scale change, info from ≈ 0.07 sd, and critical at
      the industry's 0.1 "significant shift" (≈ 0.32 sd). The usual warn at 0.1 would miss a 0.3 sd
      shift (PSI ≈ 0.09) and any 1.2x scale change, which are large changes for a model input; a
      0.02 sd shift (PSI ≈ 0.0004) stays below info. The same floors judge categorical features (a
      category moving 40% -> 30% with two others gaining gives ≈ 0.06) and the score.
    - `performance_drop` info 0.01 / warn 0.03 / critical 0.05: points of accuracy, precision,
      recall or ROC AUC lost against the baseline (the card example's values; ~1 point is below what
      daily label noise at a few thousand rows can tell apart).
    - `missing_rate` 0.01 / 0.05 / 0.2: absolute change of the share of missing values.
    - `out_of_range` and `unseen` 0.005 / 0.02 / 0.1: increase of the share of values outside the
      reference range, or of categories never seen in the reference (2% of rows the model never saw
      is worth a look).
    - `extra`: any other metric by name ("js_distance", "ks", "wasserstein", "chi_square",
      "positive_rate_change", "accuracy_drop", ...); metrics without levels are reported with
      severity "none". A name in `extra` wins over its family (e.g. "accuracy_drop" over
      `performance_drop`).
    - `alpha` 1e-4: gate a's false-alarm rate per metric under pure sampling (≈ 3.7 sd). A check
      makes ~10³ such tests (features x metrics x segments), so about one spurious "real" per ten
      checks, which the relevance floor then has to pass as well.
    - `min_rows` 20 and `min_labels` 30: below these a metric is "not enough data".
    - `mean_shift` info 0.05 / warn 0.1 / critical 0.3 (in reference standard deviations) and
      `shortfall` 0.005 / 0.03 / 0.05 (accuracy lost against what the window's scores promise):
      the relevance floors of the sequential scan (`jobs.stats.sequential`). Its gate a is far
      stricter (`alarms_per_year`), so a change it finds real is worth a warn from the info floor
      on: a tenth of a standard deviation still moving, or half a point a day sustained for days.
    - `alarms_per_year` 0.1: the sequential scan's false-alarm rate per model-year (one check a
      day), split over its statistics, directions and window lengths.
    """

    psi: Levels = Levels(0.005, 0.025, 0.1)
    performance_drop: Levels = Levels(0.01, 0.03, 0.05)
    missing_rate: Levels = Levels(0.01, 0.05, 0.2)
    out_of_range: Levels = Levels(0.005, 0.02, 0.1)
    unseen: Levels = Levels(0.005, 0.02, 0.1)
    mean_shift: Levels = Levels(0.05, 0.1, 0.3)
    shortfall: Levels = Levels(0.005, 0.03, 0.05)
    alarms_per_year: float = 0.1
    extra: Mapping[str, Levels] = field(default_factory=dict)
    alpha: float = 1e-4
    min_rows: int = 20
    min_labels: int = 30

    def levels_for(self, metric: str) -> Levels | None:
        """The levels that judge `metric`, or None when it is report-only."""
        if metric in self.extra:
            return self.extra[metric]
        named = {
            "psi": self.psi,
            "missing_rate_change": self.missing_rate,
            "out_of_range_share": self.out_of_range,
            "unseen_share": self.unseen,
            "performance_drop": self.performance_drop,
            "mean_shift": self.mean_shift,
            "shortfall": self.shortfall,
        }
        return named.get(_FAMILIES.get(metric, metric))

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Mapping[str, float]], base: Thresholds | None = None
    ) -> Thresholds:
        """Overrides from a card, e.g. `{"psi": {"warn": 0.1, "critical": 0.25}}`.

        Keys are the field names above or any metric name; a missing level keeps the base value,
        and `info` is lowered to `warn` when the override puts warn below it. A metric without
        levels so far gets info = warn and critical = inf unless given.
        """
        base = base or DEFAULT_THRESHOLDS
        named = {
            "psi",
            "performance_drop",
            "missing_rate",
            "out_of_range",
            "unseen",
            "mean_shift",
            "shortfall",
        }
        changes: dict[str, Levels] = {}
        extra = dict(base.extra)
        for key, levels in mapping.items():
            current = getattr(base, key) if key in named else base.levels_for(key)
            warn = float(levels.get("warn", current.warn if current else math.inf))
            default_critical = max(current.critical, warn) if current else math.inf
            critical = float(levels.get("critical", default_critical))
            info = float(levels.get("info", min(current.info, warn) if current else warn))
            new = Levels(info, warn, critical)
            if key in named:
                changes[key] = new
            else:
                extra[key] = new
        return replace(base, **changes, extra=extra)  # type: ignore[arg-type]


DEFAULT_THRESHOLDS = Thresholds()
