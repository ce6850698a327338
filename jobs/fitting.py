"""Fitting a baseline: read the card's reference window (or source) in bounded memory, fix the bins,
count, and calibrate the day-to-day spread.

Memory stays bounded whatever the reference's size: one pass keeps a uniform sample (at most
`SAMPLE_ROWS`) to place bin edges and KS sketches; if the reference was larger than the sample, a
second pass counts every row into daily profiles (the calibration of gate a) over the fixed bins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from jobs.columns import Watched
from jobs.errors import SourceError
from jobs.pushed_fits import fit_in_database
from jobs.sources.base import Batch, ReadReport, Source
from jobs.sources.warehouse import SqlSource
from jobs.stats import (
    Baseline,
    BaselineSpec,
    Bins,
    Profile,
    fit_baseline,
    merge,
    profile_groups,
    quantile_sketch,
)
from jobs.windows import read_batches
from store.card_schema import DateRange

log = logging.getLogger(__name__)

SAMPLE_ROWS = 500_000
MIN_ROWS = 200
"""Rows a baseline needs: about ten per bin of the score's 20 (and of each feature's 10)."""
NS_PER_DAY = 86_400 * 1_000_000_000
ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class BuiltBaseline:
    """A fitted baseline and what reading it saw: the window asked for, the rows used, and the
    first and last timestamps actually found (the true span of a file baseline)."""

    baseline: Baseline
    start: datetime
    end: datetime
    rows: int
    report: ReadReport
    first: datetime | None = None
    last: datetime | None = None


def baseline_window(baseline: object) -> tuple[datetime, datetime]:
    """The card's `baseline: {from, to}` as a half-open UTC window (both days included)."""
    if isinstance(baseline, DateRange):
        return _midnight(baseline.from_), _midnight(baseline.to) + timedelta(days=1)
    return ALL_TIME


def _span(start: datetime, end: datetime) -> str:
    if (start, end) == ALL_TIME:
        return "in the baseline source"
    return f"from {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}"


def _moment(stamp: np.datetime64 | None) -> datetime | None:
    if stamp is None:
        return None
    nanoseconds = int(np.asarray(stamp, dtype="datetime64[ns]").astype(np.int64))
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanoseconds // 1000)


class TooFewRows(SourceError):
    """The baseline window holds too few usable rows to fit the bins."""

    def __init__(self, rows: int, span: str) -> None:
        self.rows = rows
        super().__init__(
            "baseline",
            f"the baseline has only {rows:,} usable rows {span}; fitting its bins needs at "
            f"least {MIN_ROWS:,}: widen the baseline window",
        )


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

    def __init__(self, cap: int, timestamp: str, seed: int = 0) -> None:
        self.cap = cap
        self.timestamp = timestamp
        self.rate = 1.0
        self.rows = 0
        self.first: np.datetime64 | None = None
        self.last: np.datetime64 | None = None
        self.batches: list[Batch] = []
        self._rng = np.random.default_rng(seed)

    def add(self, batch: Batch, length: int) -> None:
        self.rows += length
        if length:
            stamps = batch[self.timestamp]
            low, high = stamps.min(), stamps.max()
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)
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
    progress: Callable[[int], None] | None = None,
    pushdown: bool = True,
) -> BuiltBaseline:
    """Read [start, end) of `source` and build the baseline (see the module docstring);
    `progress` is told the rows of each batch read (a progress bar's `advance`). A SQL source is
    fitted inside its database (`jobs.pushed_fits`), unless it cannot do that (then it is read)."""
    if isinstance(source, SqlSource) and pushdown:
        built = _fit_in_database(
            source, watched, spec=spec, start=start, end=end, progress=progress
        )
        if built is not None:
            return built
    report = ReadReport()
    sampler = _Sampler(sample_rows, watched.timestamp)
    for batch in read_batches(source, watched, start=start, end=end, report=report):
        sampler.add(batch, len(batch[watched.score]))
        if progress is not None:
            progress(len(batch[watched.score]))
    sample = _concat(sampler.batches)
    if not sample or sampler.rows == 0:
        raise SourceError(
            source.describe(),
            f"no usable rows {_span(start, end)} for the baseline ({report.summary()})",
        )
    if sampler.rows < MIN_ROWS:
        raise TooFewRows(sampler.rows, _span(start, end))
    first, last = _moment(sampler.first), _moment(sampler.last)
    if sampler.rate == 1.0:  # the whole reference fitted in memory: one exact pass
        baseline = fit_baseline(sample, spec, days=_days(sample, watched.timestamp))
        return BuiltBaseline(baseline, start, end, sampler.rows, report, first, last)
    bins = Bins.fit(sample, spec)
    sketches, complete = {}, {}
    for name in [*spec.numeric, spec.score]:
        sketches[name], complete[name] = quantile_sketch(sample[name], spec.ks_sketch)
    daily = _count_daily(source, watched, bins, start, end)
    baseline = Baseline.from_profiles(
        bins, merge(*daily.values()), list(daily.values()), sketches=sketches, complete=complete
    )
    return BuiltBaseline(baseline, start, end, sampler.rows, report, first, last)


def _fit_in_database(
    source: SqlSource,
    watched: Watched,
    *,
    spec: BaselineSpec,
    start: datetime,
    end: datetime,
    progress: Callable[[int], None] | None,
) -> BuiltBaseline | None:
    """The baseline fitted by the database; None (read it instead) when the database cannot."""
    report = ReadReport()
    try:
        baseline, facts = fit_in_database(
            source,
            spec=spec,
            timestamp=watched.timestamp,
            start=start,
            end=end,
            report=report,
            progress=progress,
        )
    except SourceError as error:
        log.info("%s: fitting in the database failed (%s); reading a sample", source, error)
        return None
    if facts.rows == 0:
        raise SourceError(
            source.describe(),
            f"no usable rows {_span(start, end)} for the baseline ({report.summary()})",
        )
    if facts.rows < MIN_ROWS:
        raise TooFewRows(facts.rows, _span(start, end))
    return BuiltBaseline(baseline, start, end, facts.rows, report, facts.first, facts.last)


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
