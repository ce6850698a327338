"""Bins fixed by a baseline: numeric edges, known categories, and the whole layout (`Bins`).

`BaselineSpec` says which columns a baseline watches and how finely; `Bins.fit` fixes every
column's bins from reference data; `NumericBins` / `CategoricalBins` count values into them. Pure
numpy and stdlib; profiles, SQL pushdown and metrics all read this layout.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from jobs.stats.codec import strings

__all__ = [
    "MISSING_KEY",
    "OTHER_KEY",
    "BaselineSpec",
    "Bins",
    "CategoricalBins",
    "NumericBins",
    "as_float",
]

OTHER_KEY = "__other__"
"""Segment key for values beyond the top N (and values never seen in the reference)."""
MISSING_KEY = "__missing__"
"""Segment key for missing values (None or NaN)."""

_COMPARE_LOOP_MAX_EDGES = 64


def as_float(values: object) -> np.ndarray:
    """Return `values` as a 1-D float64 array (no copy when it already is one)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {array.shape}")
    return array


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True, eq=False)
class NumericBins:
    """Bin edges of one numeric column.

    Rule (also for SQL pushdown): for a non-missing value x, the bin is the number of edges <= x,
    i.e. bins are left-closed `[edges[i-1], edges[i])`; bin 0 is `(-inf, edges[0])` and bin
    `len(edges)` is `[edges[-1], +inf]`. NaN is missing and goes to bin `len(edges) + 1`; -inf goes
    to bin 0 and +inf to bin `len(edges)`. A count vector therefore has `len(edges) + 2` entries.
    In SQL:
    `CASE WHEN x IS NULL OR x <> x THEN m+1 WHEN x < e0 THEN 0 WHEN x < e1 THEN 1 ... ELSE m END`
    (test NaN first: PostgreSQL sorts NaN above every number).

    `fit` puts the reference minimum as the first edge and the value just above the reference
    maximum as the last, so bin 0 and bin `len(edges)` hold exactly the values outside the
    reference range. A column with no finite reference value has no edges: one value bin plus the
    missing bin. Edges are finite, except that the last one is +inf when the reference maximum is
    the largest float.
    """

    edges: np.ndarray
    scale: float = math.nan
    """Robust spread of the reference (IQR / 1.349, else the standard deviation; NaN if none)."""

    def __post_init__(self) -> None:
        edges = np.ascontiguousarray(self.edges, dtype=np.float64)
        increasing = edges.ndim == 1 and bool((edges[1:] > edges[:-1]).all())
        if not increasing or np.isnan(edges).any():
            raise ValueError("numeric bin edges must be a 1-D strictly increasing array")
        edges.setflags(write=False)
        object.__setattr__(self, "edges", edges)

    @property
    def size(self) -> int:
        """Length of a count vector: value bins plus the missing bin."""
        return len(self.edges) + 2

    @property
    def missing_index(self) -> int:
        """Index of the missing bin (the last)."""
        return len(self.edges) + 1

    @property
    def has_range(self) -> bool:
        """Whether the outer bins mean "outside the reference range" (the reference had values)."""
        return len(self.edges) >= 2

    @classmethod
    def fit(
        cls,
        values: np.ndarray,
        n_bins: int = 10,
        *,
        extra_edges: Iterable[float] = (),
        sample_rows: int | None = 200_000,
    ) -> NumericBins:
        """Fix edges at reference quantiles `k/n_bins`, plus the range and any `extra_edges`.

        Quantiles are reference values (inverted-CDF quantiles, no interpolation) from an evenly
        strided subsample of at most `sample_rows` finite values (all of them when there are fewer,
        or when `sample_rows` is None); the range comes from every value. A value taken by several
        quantiles (a point mass: ties, a constant column, zero inflation) gets a bin of its own,
        `[v, nextafter(v))`. NaN is ignored, ±inf only lands in outer bins.
        """
        x = as_float(values)
        finite_mask = np.isfinite(x)
        n_finite = int(np.count_nonzero(finite_mask))
        extra = [float(e) for e in extra_edges if math.isfinite(e)]
        if n_finite == 0:
            return cls(np.unique(np.asarray(extra, dtype=np.float64)))
        low = float(np.min(x, where=finite_mask, initial=np.inf))
        high = float(np.max(x, where=finite_mask, initial=-np.inf))
        sample = reference_sample(x, sample_rows)
        levels = np.arange(1, n_bins) / n_bins
        quantiles = (
            np.quantile(sample, levels, method="inverted_cdf") if n_bins > 1 else np.empty(0)
        )
        values_seen, repeats = np.unique(np.asarray([low, *quantiles.tolist()]), return_counts=True)
        with np.errstate(over="ignore"):  # above the largest float is +inf: a valid last edge
            candidates = [low, np.nextafter(high, np.inf), *quantiles.tolist(), *extra]
            candidates += np.nextafter(values_seen[repeats > 1], np.inf).tolist()
        edges = np.unique(np.asarray(candidates, dtype=np.float64))
        return cls(edges, _robust_scale(sample))

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Bin index of every value (int64), by the rule in the class docstring."""
        x = as_float(values)
        m = len(self.edges)
        if m < _COMPARE_LOOP_MAX_EDGES:
            dtype = np.uint8
            codes = np.zeros(x.shape, dtype=dtype)
            above = np.empty(x.shape, dtype=bool)
            for edge in self.edges:
                np.greater_equal(x, edge, out=above)
                codes += above
            result = codes.astype(np.int64)
        else:
            result = np.searchsorted(self.edges, x, side="right").astype(np.int64)
        result[np.isnan(x)] = m + 1
        return result

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Count vector (int64, length `size`) of `values`; equals `bincount(codes(values))`."""
        x = as_float(values)
        m = len(self.edges)
        n_missing = int(np.count_nonzero(np.isnan(x)))
        if m >= _COMPARE_LOOP_MAX_EDGES:
            return np.bincount(self.codes(x), minlength=m + 2).astype(np.int64)
        below = np.fromiter((np.count_nonzero(x < e) for e in self.edges), np.int64, count=m)
        cumulative = np.concatenate(([0], below, [x.size - n_missing]))
        return np.concatenate((np.diff(cumulative), [n_missing])).astype(np.int64)

    def atoms(self) -> np.ndarray:
        """One representative value per value bin, used for the binned Wasserstein distance.

        Inner bins use their midpoint; the two open outer bins use the reference minimum and maximum
        (their nearest edge). Without edges the single value bin is represented by 0.
        """
        if len(self.edges) == 0:
            return np.zeros(1)
        inner = self.edges[:-1] / 2.0 + self.edges[1:] / 2.0
        upper = np.nextafter(self.edges[-1], -np.inf) if self.has_range else self.edges[-1]
        return np.concatenate(([self.edges[0]], inner, [upper]))


def reference_sample(x: np.ndarray, sample_rows: int | None) -> np.ndarray:
    """Sorted finite values of `x`, evenly strided down to at most `sample_rows` when given."""
    if sample_rows is not None and x.size > sample_rows:
        step = -(-x.size // sample_rows)
        x = x[::step]
    sample: np.ndarray = np.sort(x[np.isfinite(x)])
    return sample


def _robust_scale(sorted_sample: np.ndarray) -> float:
    if sorted_sample.size == 0:
        return math.nan
    q1, q3 = np.quantile(sorted_sample, [0.25, 0.75], method="inverted_cdf")
    with np.errstate(over="ignore", invalid="ignore"):
        iqr = float(q3 - q1) / 1.349
        scale = iqr if iqr > 0 else float(np.std(sorted_sample))
    return scale if math.isfinite(scale) else math.nan


@dataclass(frozen=True, eq=False)
class CategoricalBins:
    """Known categories of one categorical column.

    Layout of a count vector: one bin per entry of `categories` (the top K reference values, most
    frequent first), then "other" (a reference value outside the top K), "unseen" (a value absent
    from the reference: `reference` holds every reference value), and missing (None or NaN). Values
    are matched by `str(value)` (strings as they are). Segment columns use the same bins with unseen
    pooled into other (see `segment_codes`).
    """

    categories: tuple[str, ...]
    reference: frozenset[str] = frozenset()
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        categories = tuple(str(c) for c in self.categories)
        if len(set(categories)) != len(categories):
            raise ValueError("categories must be distinct")
        reference = frozenset(self.reference) | frozenset(categories)
        object.__setattr__(self, "categories", categories)
        object.__setattr__(self, "reference", reference)
        k = len(categories)
        lookup = dict.fromkeys(reference, k)
        lookup.update({c: i for i, c in enumerate(categories)})
        object.__setattr__(self, "_lookup", lookup)

    @property
    def size(self) -> int:
        """Length of a count vector: categories, other, unseen, missing."""
        return len(self.categories) + 3

    @property
    def other_index(self) -> int:
        """Index of the "other" bin."""
        return len(self.categories)

    @property
    def unseen_index(self) -> int:
        """Index of the "unseen" bin."""
        return len(self.categories) + 1

    @property
    def missing_index(self) -> int:
        """Index of the missing bin (the last)."""
        return len(self.categories) + 2

    @classmethod
    def fit(cls, values: np.ndarray, top_k: int = 20) -> CategoricalBins:
        """Keep the `top_k` most frequent reference values (ties by name); remember all of them."""
        frequencies: Counter[str] = Counter()
        for value, n in _tally(values).items():
            if not _is_missing(value):
                frequencies[str(value)] += n
        ranked = sorted(frequencies.items(), key=lambda item: (-item[1], item[0]))
        return cls(tuple(name for name, _ in ranked[:top_k]), frozenset(frequencies))

    def index_of(self, value: object) -> int:
        """Bin index of one value (the rule `codes` applies to every element)."""
        if _is_missing(value):
            return self.missing_index
        key = value if isinstance(value, str) else str(value)
        return self._lookup.get(key, self.unseen_index)

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Bin index of every value (int64)."""
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"expected a 1-D array, got shape {array.shape}")
        if array.dtype.kind == "f":
            missing = np.isnan(array)
            codes = self.codes(array.astype(str).astype(object))
            codes[missing] = self.missing_index
            return codes
        if array.dtype.kind != "O":
            array = array.astype(str).astype(object)
        codes = np.fromiter(map(self._lookup.get, array, repeat(-1)), np.int64, count=array.size)
        misses = np.flatnonzero(codes < 0)
        if misses.size:
            codes[misses] = [self.index_of(v) for v in array[misses].tolist()]
        return codes

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Count vector (int64, length `size`) of `values`; equals `bincount(codes(values))`."""
        array = np.asarray(values)
        if array.dtype.kind != "O":
            return np.bincount(self.codes(array), minlength=self.size).astype(np.int64)
        counts = np.zeros(self.size, dtype=np.int64)
        for value, n in _tally(array).items():
            counts[self.index_of(value)] += n
        return counts

    def segment_codes(self, values: np.ndarray) -> np.ndarray:
        """Segment index of every value: top values, then other (incl. unseen), then missing."""
        codes = self.codes(values)
        k = len(self.categories)
        codes[codes == k + 1] = k
        codes[codes == k + 2] = k + 1
        return codes

    def segment_keys(self) -> tuple[str, ...]:
        """Keys of the segments in `segment_codes` order: categories, OTHER_KEY, MISSING_KEY."""
        return (*self.categories, OTHER_KEY, MISSING_KEY)


def _tally(values: np.ndarray) -> Counter[object]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {array.shape}")
    if array.dtype.kind == "f":
        missing = int(np.count_nonzero(np.isnan(array)))
        tally: Counter[object] = Counter(array[~np.isnan(array)].astype(str).tolist())
        if missing:
            tally[None] = missing
        return tally
    if array.dtype.kind != "O":
        return Counter(array.astype(str).tolist())
    return Counter(array.tolist())


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
