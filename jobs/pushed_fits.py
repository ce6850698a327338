"""A baseline fitted inside the warehouse (design decision 1, for the fit): the facts of the
reference window come from the database (`jobs.sources.references`: counts, values at ranks,
category counts) and each day's profile from the pushdown count, so only kilobytes travel.

The bins and sketches are built from those facts by the rules of `NumericBins.fit`,
`CategoricalBins.fit` and `quantile_sketch` (inverted-CDF quantiles, the range, point masses, the
robust scale; evenly spaced order statistics), so for a reference of up to `BaselineSpec.
sample_rows` rows the baseline equals the one fitted in memory, exactly; past that the memory fit
places its edges on an evenly strided subsample, while the database uses every row.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from jobs.sources.base import ReadReport
from jobs.sources.references import NumericFacts, ReferenceFacts, reference_facts
from jobs.sources.warehouse import SqlSource
from jobs.stats import Baseline, BaselineSpec, Bins, CategoricalBins, NumericBins, Profile, merge

DAY = timedelta(days=1)
QUARTILES = (0.25, 0.75)


def positions(n: int, levels: np.ndarray | tuple[float, ...]) -> list[int]:
    """Ranks (0-based) of the inverted-CDF quantiles at `levels` of `n` sorted values, by numpy's
    own rule (the quantiles of 0..n-1 are their ranks)."""
    if n == 0 or len(levels) == 0:
        return []
    found = np.quantile(np.arange(n, dtype=np.float64), levels, method="inverted_cdf")
    return [int(r) for r in np.atleast_1d(found)]


def _levels(spec: BaselineSpec, column: str) -> np.ndarray:
    n = spec.score_bins if column == spec.score else spec.n_bins
    return np.arange(1, n) / n if n > 1 else np.empty(0)


def _sketch_ranks(facts: NumericFacts, size: int) -> list[int]:
    """Ranks among the non-NaN values (-inf first, +inf last) that `quantile_sketch` keeps."""
    total = facts.below + facts.finite + facts.above
    if size <= 0:
        return []
    if total <= size:
        return list(range(total))
    return [int(r) for r in ((np.arange(size) + 0.5) * total / size).astype(np.int64)]


def ranks_wanted(spec: BaselineSpec) -> Callable[[str, int, int, int], list[int]]:
    """The finite ranks a column's bins, scale and sketch are made of."""

    def ranks(column: str, finite: int, below: int, above: int) -> list[int]:
        wanted = [0, finite - 1, *positions(finite, _levels(spec, column))]
        wanted += positions(finite, QUARTILES)
        facts = NumericFacts(finite, below, above)
        for r in _sketch_ranks(facts, spec.ks_sketch):
            if below <= r < below + finite:
                wanted.append(r - below)
        return wanted

    return ranks


def numeric_bins(
    facts: NumericFacts, n_bins: int, extra_edges: tuple[float, ...] = ()
) -> NumericBins:
    """`NumericBins.fit` of the column the facts describe."""
    extra = [float(e) for e in extra_edges if math.isfinite(e)]
    if facts.finite == 0:
        return NumericBins(np.unique(np.asarray(extra, dtype=np.float64)))
    low, high = facts.at[0], facts.at[facts.finite - 1]
    levels = np.arange(1, n_bins) / n_bins if n_bins > 1 else np.empty(0)
    quantiles = [facts.at[r] for r in positions(facts.finite, levels)]
    seen, repeats = np.unique(np.asarray([low, *quantiles]), return_counts=True)
    with np.errstate(over="ignore"):
        candidates = [low, float(np.nextafter(high, np.inf)), *quantiles, *extra]
        candidates += np.nextafter(seen[repeats > 1], np.inf).tolist()
    return NumericBins(np.unique(np.asarray(candidates, dtype=np.float64)), robust_scale(facts))


def robust_scale(facts: NumericFacts) -> float:
    """IQR / 1.349 of the finite values, else their standard deviation (NaN when none)."""
    if facts.finite == 0:
        return math.nan
    q1, q3 = (facts.at[r] for r in positions(facts.finite, QUARTILES))
    with np.errstate(over="ignore", invalid="ignore"):
        iqr = float(np.float64(q3) - np.float64(q1)) / 1.349
    scale = iqr if iqr > 0 else (facts.std if facts.std is not None else math.nan)
    return scale if math.isfinite(scale) else math.nan


def categorical_bins(counts: Counter[str], top_k: int) -> CategoricalBins:
    """`CategoricalBins.fit` from each value's count."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return CategoricalBins(tuple(name for name, _ in ranked[:top_k]), frozenset(counts))


def sketch(facts: NumericFacts, size: int, *, strided: bool) -> tuple[np.ndarray, bool]:
    """`quantile_sketch` of the column: its non-NaN values at the kept ranks, and completeness."""
    out = []
    for r in _sketch_ranks(facts, size):
        if r < facts.below:
            out.append(-math.inf)
        elif r < facts.below + facts.finite:
            out.append(facts.at[r - facts.below])
        else:
            out.append(math.inf)
    total = facts.below + facts.finite + facts.above
    return np.asarray(out, dtype=np.float64), not strided and total <= size


def bins_of(facts: ReferenceFacts, spec: BaselineSpec) -> Bins:
    """The bins `Bins.fit` would fix on the kept rows the facts describe."""
    numeric = {n: numeric_bins(facts.numeric[n], spec.n_bins) for n in spec.numeric}
    categorical = {n: categorical_bins(facts.categorical[n], spec.top_k) for n in spec.categorical}
    score = numeric_bins(facts.numeric[spec.score], spec.score_bins, (spec.decision_threshold,))
    segments = {n: categorical_bins(facts.categorical[n], spec.max_segments) for n in spec.segments}
    return Bins(
        numeric, categorical, score, spec.score, spec.label, spec.decision_threshold, segments
    )


def fit_in_database(
    source: SqlSource,
    *,
    spec: BaselineSpec,
    timestamp: str,
    start: datetime,
    end: datetime,
    report: ReadReport,
    progress: Callable[[int], None] | None = None,
) -> tuple[Baseline, ReferenceFacts]:
    """The baseline of `[start, end)` of `source`, fitted and counted by the database."""
    numeric = list(dict.fromkeys([*spec.numeric, spec.score]))
    facts = reference_facts(
        source,
        start=start,
        end=end,
        timestamp=timestamp,
        score=spec.score,
        numeric=numeric,
        categorical=list(dict.fromkeys([*spec.categorical, *spec.segments])),
        ranks=ranks_wanted(spec),
        spread=lambda *_: False,
    )
    flat = [n for n, f in facts.numeric.items() if f.finite and not _spread_positive(f)]
    if flat:  # an IQR of 0: the scale is the standard deviation, asked for those columns only
        again = reference_facts(
            source,
            start=start,
            end=end,
            timestamp=timestamp,
            score=spec.score,
            numeric=flat,
            categorical=[],
            ranks=lambda *_: [],
            spread=lambda *_: True,
        )
        for name in flat:
            old, new = facts.numeric[name], again.numeric[name]
            facts.numeric[name] = NumericFacts(old.finite, old.below, old.above, old.at, new.std)
    bins = bins_of(facts, spec)
    daily: list[Profile] = []
    if facts.first is not None and facts.last is not None:
        day = datetime.combine(facts.first.date(), datetime.min.time(), tzinfo=facts.first.tzinfo)
        while day <= facts.last:
            part = source.profile(
                start=max(start, day),
                end=min(end, day + DAY),
                bins=bins,
                timestamp=timestamp,
                report=report,
            )
            if part.rows:
                daily.append(part)
                if progress is not None:
                    progress(part.rows)
            day += DAY
    strided = spec.sample_rows is not None and facts.rows > spec.sample_rows
    sketches, complete = {}, {}
    if spec.ks_sketch > 0:
        for name in [*spec.numeric, spec.score]:
            sketches[name], complete[name] = sketch(
                facts.numeric[name], spec.ks_sketch, strided=strided
            )
    reference = merge(*daily) if daily else Profile.zeros(bins)
    baseline = Baseline.from_profiles(bins, reference, daily, sketches=sketches, complete=complete)
    return baseline, facts


def _spread_positive(facts: NumericFacts) -> bool:
    """Whether the quartiles of the finite values differ (a positive IQR)."""
    q1, q3 = (facts.at[r] for r in positions(facts.finite, QUARTILES))
    return bool(q3 > q1)
