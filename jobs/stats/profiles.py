"""Profiles: a window summarised as counts over a baseline's bins, merged by exact addition.

Owns `Profile`, counting a batch into one (`profile_batch`, `profile_groups`) and its bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jobs.stats.bins import Bins, as_float
from jobs.stats.codec import pack, strings, unpack

__all__ = [
    "LABEL_NEGATIVE",
    "LABEL_POSITIVE",
    "LABEL_UNKNOWN",
    "Profile",
    "label_codes",
    "merge",
    "profile_batch",
    "profile_groups",
]

_FORMAT = 1

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


def _frozen_counts(values: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != shape:
        raise ValueError(f"{what}: expected shape {shape}, got {array.shape}")
    if array.size and (array.dtype.kind not in "iuf" or (array < 0).any()):
        raise ValueError(f"{what}: counts must be non-negative numbers")
    counts = array.astype(np.int64)
    if array.dtype.kind == "f" and not np.array_equal(counts, array):
        raise ValueError(f"{what}: counts must be whole numbers")
    counts.setflags(write=False)
    return counts


@dataclass(frozen=True, eq=False)
class Profile:
    """Counts of one window over a baseline's bins.

    Fields: `rows` (rows counted); `features` (name -> int64 count vector in the layout of the
    feature's bins, see `NumericBins` / `CategoricalBins`; every vector sums to `rows`);
    `score_label`, an int64 table of shape `(bins.score.size, 3)` whose rows are score bins (last =
    missing score) and whose columns are label 0, label 1, and unknown label (`LABEL_*`);
    `segments`: segment column -> segment key -> a Profile of the same layout without segments
    (keys from `CategoricalBins.segment_keys`, i.e. the top values, then OTHER_KEY and
    MISSING_KEY; every key is always present, with zeros when empty). Profiles are immutable;
    merging adds every count, so `profile(a) + profile(b) == profile(a ++ b)` exactly, and the
    operation is associative.
    """

    rows: int
    features: Mapping[str, np.ndarray]
    score_label: np.ndarray
    segments: Mapping[str, Mapping[str, Profile]] = field(default_factory=dict)

    @property
    def score(self) -> np.ndarray:
        """Counts over the score bins (label columns summed)."""
        return np.asarray(self.score_label.sum(axis=1))

    @property
    def labelled(self) -> int:
        """Rows with a known label (0 or 1)."""
        return int(self.score_label[:, :LABEL_UNKNOWN].sum())

    @classmethod
    def zeros(cls, bins: Bins, *, with_segments: bool = True) -> Profile:
        """The empty profile of `bins` (the identity of `merge`)."""
        part = cls(
            0,
            {name: _sealed(np.zeros(bins.feature_size(name), np.int64)) for name in bins.features},
            _sealed(np.zeros((bins.score.size, 3), np.int64)),
            {},
        )
        if not with_segments:
            return part
        return cls.from_counts(
            bins, rows=0, features=part.features, score_label=part.score_label, segments={}
        )

    @classmethod
    def from_counts(
        cls,
        bins: Bins,
        *,
        rows: int,
        features: Mapping[str, Any],
        score_label: Any = None,
        score: Any = None,
        segments: Mapping[str, Mapping[str, Profile]] | None = None,
    ) -> Profile:
        """Build a profile from counts computed elsewhere (e.g. SQL GROUP BY over the bins).

        `features` must hold one count vector per feature of `bins`, each summing to `rows`. Give
        either `score_label` (shape `(bins.score.size, 3)`) or `score` (shape `(bins.score.size,)`,
        all labels unknown). `segments` maps a segment column to {key: Profile}; absent columns and
        keys are filled with zeros, unknown ones are refused; the parts' own segments are dropped
        (so parts can be built with `from_counts` too). Raises ValueError on any mismatch.
        """
        if set(features) != set(bins.features):
            raise ValueError(f"features must be exactly {sorted(bins.features)}")
        counts = {
            name: _frozen_counts(features[name], (bins.feature_size(name),), name)
            for name in bins.features
        }
        if score_label is None:
            score_counts = _frozen_counts(
                np.zeros(bins.score.size) if score is None else score, (bins.score.size,), "score"
            )
            table = np.zeros((bins.score.size, 3), np.int64)
            table[:, LABEL_UNKNOWN] = score_counts
            score_label = table
        table = _frozen_counts(score_label, (bins.score.size, 3), "score_label")
        for what, vector in [*counts.items(), ("score", table)]:
            if int(vector.sum()) != rows:
                raise ValueError(f"{what}: counts sum to {int(vector.sum())}, not rows={rows}")
        filled: dict[str, dict[str, Profile]] = {}
        given = segments or {}
        if not set(given) <= set(bins.segments):
            raise ValueError(f"unknown segment columns: {sorted(set(given) - set(bins.segments))}")
        for column, seg in bins.segments.items():
            parts: dict[str, Profile] = dict(given.get(column, {}))
            keys = seg.segment_keys()
            if not set(parts) <= set(keys):
                raise ValueError(f"{column}: unknown segment keys {sorted(set(parts) - set(keys))}")
            empty = cls.zeros(bins, with_segments=False)
            filled[column] = {
                key: cls(parts[key].rows, parts[key].features, parts[key].score_label, {})
                if key in parts
                else empty
                for key in keys
            }
        return cls(int(rows), counts, table, filled)

    def merge(self, other: Profile) -> Profile:
        """Exact sum of two profiles of the same layout (ValueError otherwise)."""
        if list(self.features) != list(other.features) or self.score_label.shape != (
            other.score_label.shape
        ):
            raise ValueError("profiles of different layouts cannot be merged")
        for name in self.features:
            if self.features[name].shape != other.features[name].shape:
                raise ValueError(f"{name}: profiles of different layouts cannot be merged")
        if {c: list(v) for c, v in self.segments.items()} != {
            c: list(v) for c, v in other.segments.items()
        }:
            raise ValueError("profiles with different segments cannot be merged")
        return Profile(
            self.rows + other.rows,
            {name: _sealed(self.features[name] + other.features[name]) for name in self.features},
            _sealed(self.score_label + other.score_label),
            {
                column: {
                    key: part.merge(other.segments[column][key]) for key, part in parts.items()
                }
                for column, parts in self.segments.items()
            },
        )

    def __add__(self, other: Profile) -> Profile:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return (
            self.rows == other.rows
            and list(self.features) == list(other.features)
            and all(np.array_equal(v, other.features[k]) for k, v in self.features.items())
            and np.array_equal(self.score_label, other.score_label)
            and self.segments == other.segments
        )

    __hash__ = None  # type: ignore[assignment]

    def to_bytes(self) -> bytes:
        """Compact bytes: one int64 matrix (a row per segment value) plus names; no pickle."""
        names = list(self.features)
        groups: list[tuple[str, str, Profile]] = [("", "", self)]
        groups += [(c, k, p) for c, parts in self.segments.items() for k, p in parts.items()]
        return pack(
            {
                "format": np.asarray([_FORMAT]),
                "names": strings(names),
                "sizes": np.asarray([self.features[n].size for n in names], dtype=np.int64),
                "score_bins": np.asarray([self.score_label.shape[0]]),
                "segment_columns": strings(c for c, _, _ in groups[1:]),
                "segment_keys": strings(k for _, k, _ in groups[1:]),
                "segment_order": strings(self.segments),
                "counts": np.stack([p._vector(names) for _, _, p in groups]),
            }
        )

    def _vector(self, names: list[str]) -> np.ndarray:
        parts = [np.asarray([self.rows])] + [self.features[n] for n in names]
        return np.concatenate([*parts, self.score_label.ravel()]).astype(np.int64)

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Read bytes written by `to_bytes`."""
        arrays = unpack(data)
        if int(arrays["format"][0]) != _FORMAT:
            raise ValueError("unknown profile format")
        names = [str(n) for n in arrays["names"].tolist()]
        bounds = np.cumsum([1, *arrays["sizes"].tolist()])
        n_score = int(arrays["score_bins"][0])

        def build(vector: np.ndarray) -> Profile:
            features = {
                name: _sealed(vector[bounds[i] : bounds[i + 1]].copy())
                for i, name in enumerate(names)
            }
            table = _sealed(vector[bounds[-1] :].reshape(n_score, 3).copy())
            return cls(int(vector[0]), features, table, {})

        counts = arrays["counts"]
        segments: dict[str, dict[str, Profile]] = {str(c): {} for c in arrays["segment_order"]}
        columns = arrays["segment_columns"].tolist()
        keys = arrays["segment_keys"].tolist()
        for row, column, key in zip(counts[1:], columns, keys, strict=True):
            segments[str(column)][str(key)] = build(row)
        top = build(counts[0])
        return cls(top.rows, top.features, top.score_label, segments)


def merge(*profiles: Profile) -> Profile:
    """Sum of one or more profiles of the same layout (see `Profile.merge`)."""
    if not profiles:
        raise ValueError("merge needs at least one profile")
    total = profiles[0]
    for profile in profiles[1:]:
        total = total.merge(profile)
    return total


def _sealed(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def profile_batch(batch: Mapping[str, np.ndarray], bins: Bins | Any) -> Profile:
    """Count one batch (column -> 1-D array) over `bins` (a `Bins`, or anything with `.bins`).

    Every row lands in exactly one bin of every feature and of the score. Raises KeyError when a
    watched column is absent and ValueError when columns differ in length.
    """
    return profile_groups(batch, bins, None, 1)[0]


def profile_groups(
    batch: Mapping[str, np.ndarray], bins: Bins | Any, groups: np.ndarray | None, n_groups: int
) -> list[Profile]:
    """One profile per group: `groups[i]` in `range(n_groups)` is row i's group (None: one group).

    Used to count a baseline's days in one pass; `merge` of the result equals `profile_batch`.
    """
    bins = bins if isinstance(bins, Bins) else bins.bins
    rows = _batch_length(batch, bins)
    if groups is not None:
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != (rows,) or (rows and (groups.min() < 0 or groups.max() >= n_groups)):
            raise ValueError("groups must give every row a group in range(n_groups)")
    seg_codes = {c: seg.segment_codes(batch[c]) for c, seg in bins.segments.items()}
    seg_sizes = {c: len(seg.segment_keys()) for c, seg in bins.segments.items()}
    # Combined keys: group (and segment value) of every row, so one bincount counts all of them.
    keys: dict[str | None, tuple[np.ndarray | None, int]] = {None: (groups, n_groups)}
    for column, codes in seg_codes.items():
        size = seg_sizes[column]
        keys[column] = (codes if groups is None else groups * size + codes, n_groups * size)

    def tally(codes: np.ndarray | None, values: np.ndarray, size: int) -> dict[str | None, Any]:
        out: dict[str | None, Any] = {}
        for key, (combined, n) in keys.items():
            if combined is None:
                out[key] = values.reshape(1, size)
            else:
                assert codes is not None
                index = combined * size + codes
                out[key] = np.bincount(index, minlength=n * size).reshape(n, size)
        return out

    features: dict[str, dict[str | None, Any]] = {}
    plain = groups is None and not seg_codes
    for name, numeric in bins.numeric.items():
        x = as_float(batch[name])
        if plain:
            features[name] = tally(None, numeric.counts(x), numeric.size)
        else:
            codes = numeric.codes(x)
            direct = np.bincount(codes, minlength=numeric.size)
            features[name] = tally(codes, direct, numeric.size)
    for name, categorical in bins.categorical.items():
        if plain:
            features[name] = tally(None, categorical.counts(batch[name]), categorical.size)
        else:
            codes = categorical.codes(batch[name])
            direct = np.bincount(codes, minlength=categorical.size)
            features[name] = tally(codes, direct, categorical.size)
    score_codes = bins.score.codes(batch[bins.score_column]) * 3
    if bins.label_column is not None:
        score_codes += label_codes(batch[bins.label_column])
    else:
        score_codes += LABEL_UNKNOWN
    n_score = bins.score.size * 3
    score = tally(score_codes, np.bincount(score_codes, minlength=n_score), n_score)
    row_counts = tally(np.zeros(rows, np.int64), np.asarray([rows]), 1)

    def build(key: str | None, index: int) -> Profile:
        return Profile(
            int(row_counts[key][index, 0]),
            {name: _sealed(features[name][key][index].copy()) for name in features},
            _sealed(score[key][index].reshape(-1, 3).copy()),
            {},
        )

    profiles = []
    for g in range(n_groups):
        segments = {
            column: {
                k: build(column, g * seg_sizes[column] + i)
                for i, k in enumerate(bins.segments[column].segment_keys())
            }
            for column in seg_codes
        }
        top = build(None, g)
        profiles.append(Profile(top.rows, top.features, top.score_label, segments))
    return profiles


def _batch_length(batch: Mapping[str, np.ndarray], bins: Bins) -> int:
    columns = [*bins.features, bins.score_column, *bins.segments]
    if bins.label_column is not None:
        columns.append(bins.label_column)
    absent = [c for c in columns if c not in batch]
    if absent:
        raise KeyError(f"batch lacks columns: {', '.join(absent)}")
    lengths = {len(batch[c]) for c in columns}
    if len(lengths) != 1:
        raise ValueError("all columns of a batch must have the same length")
    return lengths.pop()
