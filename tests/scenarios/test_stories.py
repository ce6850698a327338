"""The stories handoff exists for, replayed day by day through real CSV files and the real check.

Each builds a baseline from the first two weeks, then checks one day at a time as the scheduler
would, and asserts on what people would have been told, and when.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.checks import run_check
from jobs.results import CheckResult, FindingOutcome
from jobs.simulation import concept_drift, seasonal, segment_drift, slow_drift, stable
from jobs.sources import open_source
from jobs.sources.base import Batch, SchemaKind, Source
from store import db
from store.card_schema import FileSource
from store.models import Finding, Notification
from tests.replays import BASELINE_DAYS, START, replay

LOUD = ("warn", "critical")
ONSET = 28


@pytest.fixture(name="sessions")
def _sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = db.prepare(f"sqlite:///{tmp_path / 'handoff.db'}")
    yield db.make_sessionmaker(engine)
    engine.dispose()


def _loud(result: CheckResult) -> list[FindingOutcome]:
    return [f for f in result.findings if f.severity in LOUD and f.state != "recovered"]


def _seed_story(sessions: sessionmaker[Session], folder: Path, seed: int) -> None:
    story = replay(
        sessions,
        folder,
        slow_drift(ONSET, per_week=0.4),
        days=ONSET + 14,
        seed=seed,
        label_column=False,
    )
    first_loud = None
    for day in range(BASELINE_DAYS, ONSET + 14):
        loud = _loud(story.check(day))
        if day < ONSET:
            assert loud == [], f"seed {seed}: day {day} is stable but raised {loud}"
        elif loud and first_loud is None:
            first_loud = day
    assert first_loud is not None and first_loud - ONSET < 7, (seed, first_loud)
    with sessions() as session:
        drift = session.scalars(
            select(Finding).where(Finding.kind == "input_drift", Finding.feature == "utilization")
        ).all()
        assert len(drift) == 1, "the drift is one finding, updated daily, never reopened"
        assert drift[0].worst_severity == "critical"
        assert drift[0].last_seen_at > drift[0].opened_at
        told = session.scalars(
            select(Notification.kind).where(Notification.finding_id == drift[0].id)
        ).all()
        assert told == ["finding.worse"]  # it opened the episode at warn, then rose to critical
        roots = session.scalars(
            select(Notification).where(Notification.kind == "episode.root")
        ).all()
        assert len(roots) == 1, "the whole story is one episode: one root message"


@pytest.mark.parametrize("seed", [0, 1])
def test_the_seed_story_is_caught_within_a_week(
    sessions: sessionmaker[Session], tmp_path: Path, seed: int
) -> None:
    _seed_story(sessions, tmp_path, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4, 5, 6])
def test_the_seed_story_on_more_seeds(
    sessions: sessionmaker[Session], tmp_path: Path, seed: int
) -> None:
    _seed_story(sessions, tmp_path, seed)


def test_a_weekly_seasonal_pattern_over_90_days_stays_quiet(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    story = replay(sessions, tmp_path, seasonal, days=90, seed=7, label_column=False)
    for day in range(BASELINE_DAYS, 90):
        assert _loud(story.check(day)) == [], f"day {day}"


def test_a_stable_model_with_labels_stays_quiet(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    story = replay(sessions, tmp_path, stable, days=42, seed=11)
    for day in range(BASELINE_DAYS, 42):
        assert _loud(story.check(day)) == [], f"day {day}"


def test_a_segment_only_drift_is_named_with_its_limitation(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    story = replay(sessions, tmp_path, segment_drift(ONSET), days=ONSET + 10, seed=3)
    found = []
    for day in range(BASELINE_DAYS, ONSET + 10):
        found += [f for f in _loud(story.check(day)) if f.kind == "segment_degradation"]
    assert found, "the APAC drift was not found"
    assert {f.segment for f in found} == {"region=APAC"}
    assert "Less reliable in APAC" in str(found[0].summary)
    with sessions() as session:
        (segment,) = session.scalars(
            select(Finding).where(Finding.kind == "segment_degradation")
        ).all()
        assert segment.details["limitation"].startswith("Less reliable in APAC")


def test_concept_drift_is_caught_by_realized_performance_early(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Inputs and scores unchanged, labels arriving with the rows: caught before a 3-point fall."""
    story = replay(sessions, tmp_path, concept_drift(ONSET), days=ONSET + 28, seed=5)
    baseline_accuracy = None
    for day in range(BASELINE_DAYS, ONSET + 28):
        result = story.check(day)
        series = result.metrics["series"]
        baseline_accuracy = baseline_accuracy or series["accuracy@baseline"]
        caught = [f for f in _loud(result) if f.kind in ("performance_drop", "slow_trend")]
        if day < ONSET:
            assert caught == [], f"day {day}"
        elif caught:
            fallen = baseline_accuracy - series["accuracy@realized"]
            assert fallen < 0.03 or day - ONSET <= 7, (day, fallen, caught)
            return
    pytest.fail("concept drift was never caught")


class LabelsArriveLater:
    """A source whose labels appear only `delay` after the score, as in production."""

    def __init__(self, inner: Source, delay: timedelta) -> None:
        self.inner, self.delay = inner, delay
        self.now = datetime.min.replace(tzinfo=UTC)

    def describe(self) -> str:
        return self.inner.describe()

    def columns(self) -> dict[str, SchemaKind]:
        return self.inner.columns()

    def batches(self, **kwargs: Any) -> Iterator[Batch]:
        cutoff = np.datetime64((self.now - self.delay).replace(tzinfo=None), "ns")
        for batch in self.inner.batches(**kwargs):
            label = kwargs["label"]
            if label is not None:
                batch[label] = np.where(batch[kwargs["timestamp"]] < cutoff, batch[label], np.nan)
            yield batch


def test_labels_that_arrive_late_still_catch_concept_drift(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """With a 7-day label delay the window itself has no labels; the check reads the window a
    week back, whose labels are in by now, and reports its realized performance."""
    delay = timedelta(days=7)
    days = ONSET + 35
    replay(sessions, tmp_path, concept_drift(ONSET), days=days, seed=5, label_delay="7d")
    source = LabelsArriveLater(
        open_source(
            FileSource(kind="csv", path=str(tmp_path / "data" / "*.csv")),
            environ={},
            base_dir=tmp_path,
        ),
        delay,
    )
    for day in range(BASELINE_DAYS, days):
        end = datetime.combine(START + timedelta(days=day + 1), clock(0), tzinfo=UTC)
        source.now = end + timedelta(hours=6)
        result = run_check(
            sessions=sessions,
            model_id="credit-risk",
            window_end=end,
            now=source.now,
            environ={},
            source=source,
        )
        drops = [f for f in _loud(result) if f.kind == "performance_drop"]
        if day < ONSET + 7:
            assert drops == [], f"day {day}: the labels of drifted days are not in yet"
        if drops:
            assert "labels now in" in str(drops[0].summary)
            assert "matured" in result.metrics
            return
    pytest.fail("the late labels never showed the drop")
