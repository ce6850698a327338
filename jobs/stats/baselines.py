"""The baseline: bins, reference profile, KS sketches and the day-to-day spread of every metric.

`fit_baseline` does it all from one batch; `Baseline.from_profiles` from chunked or pushed-down
counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from jobs.stats.bins import BaselineSpec, Bins, as_float
from jobs.stats.codec import pack, strings, unpack
from jobs.stats.measures import Setting, measure
from jobs.stats.profiles import Profile, merge, profile_batch, profile_groups
from jobs.stats.sequential import Calibration, calibrate
from jobs.stats.thresholds import DEFAULT_THRESHOLDS

__all__ = ["SPREAD_QUANTILE", "Baseline", "SpreadKey", "fit_baseline", "quantile_sketch"]

_FORMAT = 2
"""2 adds the sequential scan's calibration (`Calibration`); format 1 still loads, without it."""
_FORMATS = (1, 2)
SPREAD_QUANTILE = 1.0
"""Quantile over baseline days of each metric's excess over its sampling mean (gate a's spread).

The maximum: every day the baseline saw counts as normal. A weekly pattern puts its extreme days at
2 of 14 days of a two-week baseline, above a 90th percentile, which then paged on every peak day
(tests/scenarios: a 90-day seasonal series stays quiet only with the maximum)."""

SpreadKey = tuple[str, str, str, str]
"""(segment column or "", segment key or "", feature, metric key as in Measurement.key)."""


def quantile_sketch(
    values: np.ndarray, size: int, sample_rows: int | None = None
) -> tuple[np.ndarray, bool]:
    """Sorted non-NaN reference values reduced to `size` evenly spaced order statistics.

    Returns (sketch, complete): complete is True when the sketch holds every non-NaN value (then a
    KS test against it is exact). Otherwise its ECDF is within 1/size of the ECDF of the values it
    was drawn from (an evenly strided subsample of at most `sample_rows` rows when given).
    """
    x = as_float(values)
    strided = sample_rows is not None and x.size > sample_rows
    if strided and sample_rows:
        x = x[:: -(-x.size // sample_rows)]
    kept = np.sort(x[~np.isnan(x)])
    complete = not strided and kept.size <= size
    if kept.size <= size:
        return kept, complete
    positions = ((np.arange(size) + 0.5) * kept.size / size).astype(np.int64)
    return kept[positions], False


@dataclass(frozen=True, eq=False)
class Baseline:
    """Everything a comparison needs about the reference period.

    `bins` (the counting layout), `reference` (the reference profile), `spreads` (per SpreadKey, how
    far the farthest baseline day strayed from the whole beyond sampling noise; 0 if absent),
    `days` (daily profiles the spreads come from; 0 = sampling noise only), `sketches` (per numeric
    column and the score: sorted reference order statistics for the exact KS) and `complete`
    (whether a sketch holds every reference value), `sequential` (the day-to-day calibration of
    the sequential scan, `jobs.stats.sequential`; None for a format-1 baseline or one without
    daily profiles: the scan is then skipped).
    """

    bins: Bins
    reference: Profile
    spreads: Mapping[SpreadKey, float] = field(default_factory=dict)
    days: int = 0
    sketches: Mapping[str, np.ndarray] = field(default_factory=dict)
    complete: Mapping[str, bool] = field(default_factory=dict)
    sequential: Calibration | None = None

    def spread(self, column: str | None, key: str | None, feature: str, metric: str) -> float:
        """The calibrated day-to-day spread of one metric (0.0 when never calibrated)."""
        return self.spreads.get((column or "", key or "", feature, metric), 0.0)

    @classmethod
    def from_profiles(
        cls,
        bins: Bins,
        reference: Profile,
        daily: Sequence[Profile] = (),
        *,
        sketches: Mapping[str, np.ndarray] | None = None,
        complete: Mapping[str, bool] | None = None,
    ) -> Baseline:
        """Build a baseline from counts: the reference profile (e.g. merged chunks) and optional
        daily profiles of the baseline period, which calibrate gate a (design decision 2).

        For each daily profile (and each of its segments) every metric is measured against the
        reference as a part of it; a metric's spread is the maximum over days of
        `magnitude - sampling mean` (floored at 0). Days under `min_rows` rows are skipped. Two
        or more daily profiles also calibrate the sequential scan (`calibrate`).
        """
        setting = Setting(DEFAULT_THRESHOLDS.alpha, inside=True, p_values=False)
        spreads: dict[SpreadKey, list[float]] = {}
        parts: list[tuple[str, str, Profile, Profile]] = []
        for day in daily:
            parts.append(("", "", reference, day))
            for column, values in day.segments.items():
                parts += [(column, k, reference.segments[column][k], p) for k, p in values.items()]
        for column, key, whole, part in parts:
            if part.rows < DEFAULT_THRESHOLDS.min_rows:
                continue
            for m in measure(bins, whole, part, setting):
                if m.value is not None and m.noise is not None:
                    excess = m.magnitude - m.noise.mean
                    spreads.setdefault((column, key, m.feature, m.key), []).append(excess)
        final = {k: max(0.0, float(np.quantile(v, SPREAD_QUANTILE))) for k, v in spreads.items()}
        sequential = calibrate(bins, reference, daily) if len(daily) >= 2 else None
        return cls(
            bins,
            reference,
            final,
            len(daily),
            dict(sketches or {}),
            dict(complete or {}),
            sequential,
        )

    def to_bytes(self) -> bytes:
        """Compact bytes (compressed npz: bins, reference profile, spreads, sketches; no pickle)."""
        keys = list(self.spreads)
        arrays = self.bins.to_arrays()
        arrays.update(
            {
                "format": np.asarray([_FORMAT]),
                "reference": np.frombuffer(self.reference.to_bytes(), dtype=np.uint8),
                "days": np.asarray([self.days]),
                "spread_keys": np.asarray([list(k) for k in keys], dtype=str).reshape(-1, 4)
                if keys
                else np.empty((0, 4), dtype="<U1"),
                "spread_values": np.asarray([self.spreads[k] for k in keys], dtype=np.float64),
                "sketch_names": strings(self.sketches),
                "sketch_complete": np.asarray(
                    [self.complete.get(n, False) for n in self.sketches], dtype=bool
                ),
            }
        )
        for i, sketch in enumerate(self.sketches.values()):
            arrays[f"sketch.{i}"] = sketch
        if self.sequential is not None:
            arrays.update(self.sequential.arrays())
        return pack(arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> Baseline:
        """Read bytes written by `to_bytes`."""
        arrays = unpack(data)
        if int(arrays["format"][0]) not in _FORMATS:
            raise ValueError("unknown baseline format")
        spreads = {
            (str(a), str(b), str(c), str(d)): float(v)
            for (a, b, c, d), v in zip(
                arrays["spread_keys"].tolist(), arrays["spread_values"].tolist(), strict=True
            )
        }
        names = [str(n) for n in arrays["sketch_names"].tolist()]
        return cls(
            Bins.from_arrays(arrays),
            Profile.from_bytes(arrays["reference"].tobytes()),
            spreads,
            int(arrays["days"][0]),
            {n: arrays[f"sketch.{i}"] for i, n in enumerate(names)},
            dict(zip(names, (bool(c) for c in arrays["sketch_complete"].tolist()), strict=True)),
            Calibration.from_arrays(arrays) if "seq_keys" in arrays else None,
        )


def fit_baseline(
    batch: Mapping[str, np.ndarray], spec: BaselineSpec, *, days: np.ndarray | None = None
) -> Baseline:
    """Fit bins on `batch`, count it, sketch numeric columns, and calibrate gate a from `days`.

    `days` gives every row an integer day (e.g. days since epoch); each distinct day becomes a daily
    profile whose straying from the whole calibrates the spreads. Without it the gates use sampling
    noise alone. Raises KeyError/ValueError for absent columns or mismatched lengths.
    """
    bins = Bins.fit(batch, spec)
    if days is None:
        reference, daily = profile_batch(batch, bins), []
    else:
        day_values = np.asarray(days)
        if day_values.shape != (len(batch[spec.score]),):
            raise ValueError("days must give one day per row")
        unique, inverse = np.unique(day_values, return_inverse=True)
        daily = profile_groups(batch, bins, inverse.reshape(-1), len(unique))
        reference = merge(*daily) if daily else profile_batch(batch, bins)
    sketches: dict[str, np.ndarray] = {}
    complete: dict[str, bool] = {}
    for name in [*spec.numeric, spec.score]:
        if spec.ks_sketch > 0:
            sketches[name], complete[name] = quantile_sketch(
                batch[name], spec.ks_sketch, spec.sample_rows
            )
    return Baseline.from_profiles(bins, reference, daily, sketches=sketches, complete=complete)
