"""What a baseline watches (`BaselineSpec`) and the bins it fixed for every column (`Bins`).

`Bins` is the whole counting layout: profiles, SQL pushdown and metrics all read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from jobs.stats.bins import CategoricalBins, NumericBins, as_float
from jobs.stats.codec import strings

__all__ = [
    "LABEL_NEGATIVE",
    "LABEL_POSITIVE",
    "LABEL_UNKNOWN",
    "BaselineSpec",
    "Bins",
    "label_codes",
]

LABEL_NEGATIVE = 0
"""Column of the score-band x label table for label 0."""
LABEL_POSITIVE = 1
"""Column of the score-band x label table for label 1."""
LABEL_UNKNOWN = 2
"""Column of the score-band x label table for rows without a label (NaN, or no label column)."""


def label_codes(labels: np.ndarray) -> np.ndarray:
    """Label column of every row: 0.0 -> 0, 1.0 -> 1, anything else (NaN too) -> 2 (unknown)."""
    y = as_float(labels)
    codes = np.full(y.shape, LABEL_UNKNOWN, dtype=np.int64)
    codes[y == 0.0] = LABEL_NEGATIVE
    codes[y == 1.0] = LABEL_POSITIVE
    return codes


@dataclass(frozen=True)
class BaselineSpec:
    """Which columns a baseline watches and how finely.

    `numeric` columns are float arrays (NaN missing), `categorical` ones object/str arrays (None
    missing). `score` is a probability column, `label` an optional 0/1 column (NaN = not yet known).
    `n_bins` quantile bins per numeric feature, `score_bins` for the score (the decision threshold
    is always added as an edge), `top_k` categories per categorical feature, `max_segments` values
    per segment column; `sample_rows` caps the rows used to place quantile edges (counts always use
    every row); `ks_sketch` is how many reference order statistics are kept per numeric feature for
    the exact KS test on raw window data.
    """

    numeric: Sequence[str] = ()
    categorical: Sequence[str] = ()
    score: str = "score"
    label: str | None = None
    decision_threshold: float = 0.5
    segments: Sequence[str] = ()
    n_bins: int = 10
    score_bins: int = 20
    top_k: int = 20
    max_segments: int = 20
    sample_rows: int | None = 200_000
    ks_sketch: int = 2_000

    def __post_init__(self) -> None:
        for name in ("numeric", "categorical", "segments"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        names = [*self.numeric, *self.categorical, self.score]
        if len(set(names)) != len(names):
            raise ValueError("feature, categorical and score columns must be distinct")
        if not 0.0 < self.decision_threshold < 1.0:
            raise ValueError("decision_threshold must be inside (0, 1)")
        if self.n_bins < 1 or self.score_bins < 1 or self.top_k < 0 or self.max_segments < 0:
            raise ValueError("n_bins and score_bins must be >= 1, top_k and max_segments >= 0")


@dataclass(frozen=True, eq=False)
class Bins:
    """Fitted bins of every watched column: the layout of every count vector of a profile.

    Feature order is `numeric` then `categorical` (each in spec order). The score uses `score`
    (NumericBins whose edges include `decision_threshold`, so "score >= threshold" is exactly the
    bins from `threshold_bin` up). Segments use `CategoricalBins.segment_codes` / `segment_keys`.
    """

    numeric: Mapping[str, NumericBins]
    categorical: Mapping[str, CategoricalBins]
    score: NumericBins
    score_column: str
    label_column: str | None = None
    decision_threshold: float = 0.5
    segments: Mapping[str, CategoricalBins] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not np.any(self.score.edges == self.decision_threshold):
            raise ValueError("the decision threshold must be an edge of the score bins")

    @property
    def features(self) -> tuple[str, ...]:
        """Feature names in profile order (numeric, then categorical)."""
        return (*self.numeric, *self.categorical)

    @property
    def threshold_bin(self) -> int:
        """First score bin whose values are >= the decision threshold (predicted positive)."""
        return int(np.searchsorted(self.score.edges, self.decision_threshold, side="right"))

    def feature_size(self, name: str) -> int:
        """Length of the count vector of feature `name`."""
        bins = self.numeric.get(name) or self.categorical[name]
        return bins.size

    @classmethod
    def fit(cls, batch: Mapping[str, np.ndarray], spec: BaselineSpec) -> Bins:
        """Fit every column's bins on reference data (see NumericBins.fit / CategoricalBins.fit)."""
        _require_columns(batch, spec)
        numeric = {
            name: NumericBins.fit(batch[name], spec.n_bins, sample_rows=spec.sample_rows)
            for name in spec.numeric
        }
        categorical = {
            name: CategoricalBins.fit(batch[name], spec.top_k) for name in spec.categorical
        }
        score = NumericBins.fit(
            batch[spec.score],
            spec.score_bins,
            extra_edges=(spec.decision_threshold,),
            sample_rows=spec.sample_rows,
        )
        segments = {
            name: CategoricalBins.fit(batch[name], spec.max_segments) for name in spec.segments
        }
        return cls(
            numeric, categorical, score, spec.score, spec.label, spec.decision_threshold, segments
        )

    def to_arrays(self, prefix: str = "bins") -> dict[str, np.ndarray]:
        """Arrays for `codec.pack` (the inverse is `from_arrays`)."""
        out: dict[str, np.ndarray] = {
            f"{prefix}.numeric": strings(self.numeric),
            f"{prefix}.categorical": strings(self.categorical),
            f"{prefix}.segments": strings(self.segments),
            f"{prefix}.columns": strings([self.score_column, self.label_column or ""]),
            f"{prefix}.threshold": np.asarray([self.decision_threshold]),
            f"{prefix}.scales": np.asarray(
                [b.scale for b in self.numeric.values()] + [self.score.scale], dtype=np.float64
            ),
            f"{prefix}.score": self.score.edges,
        }
        for i, bins in enumerate(self.numeric.values()):
            out[f"{prefix}.numeric.{i}"] = bins.edges
        for kind, table in (("categorical", self.categorical), ("segments", self.segments)):
            for i, cats in enumerate(table.values()):
                out[f"{prefix}.{kind}.{i}"] = strings(cats.categories)
                out[f"{prefix}.{kind}.{i}.reference"] = strings(sorted(cats.reference))
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "bins") -> Bins:
        """Rebuild bins written by `to_arrays`."""
        scales = arrays[f"{prefix}.scales"].tolist()
        numeric = {
            str(name): NumericBins(arrays[f"{prefix}.numeric.{i}"], scales[i])
            for i, name in enumerate(arrays[f"{prefix}.numeric"].tolist())
        }
        tables: dict[str, dict[str, CategoricalBins]] = {}
        for kind in ("categorical", "segments"):
            tables[kind] = {
                str(name): CategoricalBins(
                    tuple(arrays[f"{prefix}.{kind}.{i}"].tolist()),
                    frozenset(arrays[f"{prefix}.{kind}.{i}.reference"].tolist()),
                )
                for i, name in enumerate(arrays[f"{prefix}.{kind}"].tolist())
            }
        score_column, label_column = (str(c) for c in arrays[f"{prefix}.columns"].tolist())
        return cls(
            numeric,
            tables["categorical"],
            NumericBins(arrays[f"{prefix}.score"], scales[-1]),
            score_column,
            label_column or None,
            float(arrays[f"{prefix}.threshold"][0]),
            tables["segments"],
        )


def _require_columns(batch: Mapping[str, np.ndarray], spec: BaselineSpec) -> None:
    wanted = [*spec.numeric, *spec.categorical, spec.score, *spec.segments]
    if spec.label is not None:
        wanted.append(spec.label)
    missing = [name for name in wanted if name not in batch]
    if missing:
        raise KeyError(f"batch lacks columns: {', '.join(missing)}")
    lengths = {len(batch[name]) for name in wanted}
    if len(lengths) > 1:
        raise ValueError("all columns of a batch must have the same length")
    if math.isnan(spec.decision_threshold):
        raise ValueError("decision_threshold must be a number")
