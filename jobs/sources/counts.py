"""Counts computed elsewhere (a database's GROUP BY) assembled into the layout of a `Profile`.

Pure Python and numpy over `jobs.stats`: the SQL that produces the rows lives in warehouse.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from jobs.stats import Bins, Profile

__all__ = ["OVERALL", "ProfileCounts", "assemble"]

OVERALL = -1
"""Segment column index of rows counted over the whole window."""


@dataclass
class ProfileCounts:
    """A window's counts over a baseline's bins, in the layout `Profile.from_counts` takes.

    `features`: name -> int64 vector (bins of `NumericBins` / `CategoricalBins`); `score_label`:
    int64 table (score bins x label 0 / 1 / unknown); `segments`: column -> key -> counts of the
    rows with that segment value (keys from `CategoricalBins.segment_keys`).
    """

    rows: int
    features: dict[str, np.ndarray]
    score_label: np.ndarray
    segments: dict[str, dict[str, ProfileCounts]] = field(default_factory=dict)

    @classmethod
    def zeros(cls, bins: Bins) -> ProfileCounts:
        return cls(
            0,
            {name: np.zeros(bins.feature_size(name), np.int64) for name in bins.features},
            np.zeros((bins.score.size, 3), np.int64),
        )

    def to_profile(self, bins: Bins) -> Profile:
        """The `Profile` of these counts (validated by `Profile.from_counts`)."""
        segments = {
            column: {key: part.to_segment_profile() for key, part in parts.items()}
            for column, parts in self.segments.items()
        }
        return Profile.from_counts(
            bins,
            rows=self.rows,
            features=self.features,
            score_label=self.score_label,
            segments=segments,
        )

    def to_segment_profile(self) -> Profile:
        for array in (*self.features.values(), self.score_label):
            array.setflags(write=False)
        return Profile(self.rows, dict(self.features), self.score_label, {})


def assemble(bins: Bins, rows: Iterable[tuple[int, ...]]) -> ProfileCounts:
    """Counts from GROUP BY rows ``(part, segment column, segment code, bin, count)``.

    `part` indexes `bins.features` (numeric, then categorical), and ``len(bins.features)`` is the
    score x label code ``score_bin * 3 + label_code``. `segment column` is `OVERALL` or an index
    into `bins.segments`, whose `segment code` is an index into that column's `segment_keys()`.
    """
    names = list(bins.features)
    columns = list(bins.segments)
    total = ProfileCounts.zeros(bins)
    total.segments = {
        column: {key: ProfileCounts.zeros(bins) for key in bins.segments[column].segment_keys()}
        for column in columns
    }
    for part, column, code, bin_index, count in rows:
        if column == OVERALL:
            target = total
        else:
            keys = bins.segments[columns[column]].segment_keys()
            target = total.segments[columns[column]][keys[code]]
        if part < len(names):
            target.features[names[part]][bin_index] += count
        else:
            target.score_label[divmod(bin_index, 3)] += count
    for counts in [total, *(p for parts in total.segments.values() for p in parts.values())]:
        counts.rows = int(counts.score_label.sum())
    return total
