"""Building a model's baseline from its card: read the reference window, fit bins, count, calibrate.

Memory stays bounded whatever the reference's size: one pass keeps a uniform sample (at most
`SAMPLE_ROWS`) to place bin edges and KS sketches; if the reference was larger than the sample, a
second pass counts every row into daily profiles (the calibration of gate a) over the fixed bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from jobs.columns import Watched
from jobs.errors import SourceError
from jobs.sources.base import Batch, ReadReport, Source
from jobs.stats import baselines as stats_baselines
from jobs.stats.bins import BaselineSpec, Bins
from jobs.stats.profiles import Profile, merge, profile_groups
from jobs.windows import read_batches
from store.card_schema import DateRange

SAMPLE_ROWS = 500_000
NS_PER_DAY = 86_400 * 1_000_000_000
ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class BuiltBaseline:
    baseline: stats_baselines.Baseline
    start: datetime
    end: datetime
    rows: int
    report: ReadReport


def baseline_window(baseline: object) -> tuple[datetime, datetime]:
    """The card's `baseline: {from, to}` as a half-open UTC window (both days included)."""
    if isinstance(baseline, DateRange):
        return _midnight(baseline.from_), _midnight(baseline.to) + timedelta(days=1)
    return ALL_TIME


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _days(batch: Batch, timestamp: str) -> np.ndarray:
    return np.asarray(batch[timestamp], dtype="datetime64[ns]").astype(np.int64) // NS_PER_DAY


def _concat(batches: list[Batch]) -> Batch:
    if not batches:
        return {}
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


class _Sampler:
    """A uniform sample of a stream of batches, at most `cap` rows (halving the rate when full)."""

    def __init__(self, cap: int, seed: int = 0) -> None:
        self.cap = cap
        self.rate = 1.0
        self.rows = 0
        self.batches: list[Batch] = []
        self._rng = np.random.default_rng(seed)

    def add(self, batch: Batch, length: int) -> None:
        self.rows += length
        keep = batch if self.rate == 1.0 else self._thin(batch, length, self.rate)
        self.batches.append(keep)
        while sum(len(next(iter(b.values()))) for b in self.batches if b) > self.cap:
            self.rate /= 2
            self.batches = [self._thin(b, len(next(iter(b.values()))), 0.5) for b in self.batches]

    def _thin(self, batch: Batch, length: int, rate: float) -> Batch:
        mask = self._rng.random(length) < rate
        return {name: values[mask] for name, values in batch.items()}


def build_baseline(
    *,
    source: Source,
    watched: Watched,
    spec: BaselineSpec,
    start: datetime,
    end: datetime,
    sample_rows: int = SAMPLE_ROWS,
) -> BuiltBaseline:
    """Read [start, end) of `source` and build the baseline (see the module docstring)."""
    report = ReadReport()
    sampler = _Sampler(sample_rows)
    for batch in read_batches(source, watched, start=start, end=end, report=report):
        sampler.add(batch, len(batch[watched.score]))
    sample = _concat(sampler.batches)
    if not sample or sampler.rows == 0:
        raise SourceError(
            source.describe(),
            f"no usable rows between {start:%Y-%m-%d} and {end:%Y-%m-%d} for the baseline "
            f"({report.summary()})",
        )
    if sampler.rate == 1.0:  # the whole reference fitted in memory: one exact pass
        baseline = stats_baselines.fit_baseline(sample, spec, days=_days(sample, watched.timestamp))
        return BuiltBaseline(baseline, start, end, sampler.rows, report)
    bins = Bins.fit(sample, spec)
    sketches, complete = {}, {}
    for name in [*spec.numeric, spec.score]:
        sketches[name], complete[name] = stats_baselines.quantile_sketch(
            sample[name], spec.ks_sketch
        )
    daily = _count_daily(source, watched, bins, start, end)
    baseline = stats_baselines.Baseline.from_profiles(
        bins, merge(*daily.values()), list(daily.values()), sketches=sketches, complete=complete
    )
    return BuiltBaseline(baseline, start, end, sampler.rows, report)


def _count_daily(
    source: Source, watched: Watched, bins: Bins, start: datetime, end: datetime
) -> dict[int, Profile]:
    daily: dict[int, Profile] = {}
    for batch in read_batches(source, watched, start=start, end=end, report=ReadReport()):
        days = _days(batch, watched.timestamp)
        unique, inverse = np.unique(days, return_inverse=True)
        for day, profile in zip(
            unique.tolist(), profile_groups(batch, bins, inverse, len(unique)), strict=True
        ):
            daily[day] = daily[day].merge(profile) if day in daily else profile
    return dict(sorted(daily.items()))
