"""Registering a model: its card versions, and the baseline each version is compared with.

A new card version is stored only when the content changed, and what changed is said in words (a
changed limitation or threshold is exactly the context that gets lost at a handoff).

The baseline is read from the card's reference window (or source) in bounded memory, whatever its
size: one pass keeps a uniform sample (at most `SAMPLE_ROWS`) to place bin edges and KS sketches;
if the reference was larger than the sample, a second pass counts every row into daily profiles
(the calibration of gate a) over the fixed bins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from jobs.columns import Watched, watched_columns
from jobs.errors import NotFound, SourceError
from jobs.sources import open_source
from jobs.sources.base import Batch, ReadReport, Source
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
from store import repo
from store.card_schema import BaselineSource, DateRange
from store.cards import Card, card_hash, card_to_dict, describe_changes
from store.models import StoredBaseline


@dataclass(frozen=True)
class Registration:
    model_id: str
    version: int
    created: bool  # a new version was stored
    changes: tuple[str, ...]  # in words, against the previous version (empty for the first)

    @property
    def first(self) -> bool:
        return self.created and self.version == 1


def register_card(
    *, session: Session, card: Card, source_file: str | Path, now: datetime
) -> Registration:
    """Store `card` as its model's newest version unless it equals the newest one."""
    digest = card_hash(card)
    previous = repo.latest_card_version(session=session, model_id=card.model)
    if previous is not None and previous.content_hash == digest:
        return Registration(card.model, previous.version, created=False, changes=())
    changes: tuple[str, ...] = ()
    if previous is not None:
        changes = tuple(describe_changes(Card.model_validate(previous.content), card))
    stored = repo.add_card_version(
        session=session,
        model_id=card.model,
        name=card.name,
        content=card_to_dict(card),
        content_hash=digest,
        source_file=str(source_file),
        now=now,
    )
    return Registration(card.model, stored.version, created=True, changes=changes)


SAMPLE_ROWS = 500_000
NS_PER_DAY = 86_400 * 1_000_000_000
ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class BuiltBaseline:
    baseline: Baseline
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
        baseline = fit_baseline(sample, spec, days=_days(sample, watched.timestamp))
        return BuiltBaseline(baseline, start, end, sampler.rows, report)
    bins = Bins.fit(sample, spec)
    sketches, complete = {}, {}
    for name in [*spec.numeric, spec.score]:
        sketches[name], complete[name] = quantile_sketch(sample[name], spec.ks_sketch)
    daily = _count_daily(source, watched, bins, start, end)
    baseline = Baseline.from_profiles(
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


@dataclass(frozen=True)
class Loaded:
    """A model's newest card (validated once), its version's id and folder, and its baseline."""

    card: Card
    card_version_id: int
    base_dir: Path
    baseline: StoredBaseline | None


def load(session: Session, model_id: str) -> Loaded:
    """The model's newest card version and its baseline, if built; NotFound for an unknown model."""
    model = repo.get_model(session=session, model_id=model_id)
    version = repo.latest_card_version(session=session, model_id=model_id)
    if model is None or version is None:
        raise NotFound("model", model_id)
    stored = repo.baseline_of(session=session, model_id=model_id, card_version_id=version.id)
    card = Card.model_validate(version.content)
    return Loaded(card, version.id, Path(version.source_file).resolve().parent, stored)


def ensure_baseline(
    *,
    sessions: sessionmaker[Session],
    loaded: Loaded,
    now: datetime,
    environ: Mapping[str, str],
    source: Source | None = None,
) -> StoredBaseline:
    """The baseline of the loaded card version, built from its source if it does not exist yet."""
    if loaded.baseline is not None:
        return loaded.baseline
    card = loaded.card
    source = source or open_source(card.data.source, environ=environ, base_dir=loaded.base_dir)
    if isinstance(card.baseline, BaselineSource):
        source = open_source(card.baseline.source, environ=environ, base_dir=loaded.base_dir)
    watched = watched_columns(card, source.columns())
    start, end = baseline_window(card.baseline)
    built = build_baseline(
        source=source, watched=watched, spec=watched.spec(card), start=start, end=end
    )
    row = StoredBaseline(
        model_id=card.model,
        card_version_id=loaded.card_version_id,
        window_start=start,
        window_end=end,
        rows=built.rows,
        data=built.baseline.to_bytes(),
        created_at=now,
    )
    with sessions.begin() as session:
        session.add(row)
    return row
