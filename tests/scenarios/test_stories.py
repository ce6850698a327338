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
from jobs.simulation import (
    STORY_BASELINE_DAYS,
    STORY_DAYS,
    STORY_ONSET,
    STORY_ROWS,
    concept_drift,
    seasonal,
    segment_drift,
    simulate_story_day,
    slow_drift,
    stable,
    story,
)
from jobs.sources import open_source
from jobs.sources.base import Batch, SchemaKind, Source
from jobs.stats import BaselineSpec, fit_baseline, profile_batch, psi
from store import db
from store.card_schema import FileSource
from store.models import Finding, Notification
from tests.replays import BASELINE_DAYS, START, replay
from tests.stories import StoryRun, start_story

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


# --- the stories of issue 13 (jobs.simulation.story; benchmarks/detection.py runs them at scale)


def _story_days(name: str, days: range, seed: int = 0) -> list[dict[str, np.ndarray]]:
    scenario = story(name)
    return [simulate_story_day(d, scenario, start=START, rows=STORY_ROWS, seed=seed) for d in days]


def _accuracy(batches: list[dict[str, np.ndarray]]) -> float:
    hits = np.concatenate([(b["score"] >= 0.5) == (b["defaulted"] == 1.0) for b in batches])
    return float(hits.mean())


def test_the_stories_have_a_week_four_regions_and_a_four_week_baseline() -> None:
    days = _story_days("stable", range(STORY_BASELINE_DAYS))
    volumes = np.asarray([b["score"].size for b in days])
    assert volumes.max() > 1.2 * volumes.min()  # the weekly pattern, in volume
    assert np.array_equal(volumes[:7], volumes[7:14])
    assert set(np.concatenate([b["region"] for b in days])) == {"EU", "US", "APAC", "LATAM"}
    assert abs(volumes.mean() - STORY_ROWS) < 0.05 * STORY_ROWS
    assert STORY_DAYS == 120 and STORY_BASELINE_DAYS == 28


def test_concept_drift_changes_only_the_labels() -> None:
    later = range(STORY_ONSET, STORY_ONSET + 42, 7)
    stable, concept = _story_days("stable", later), _story_days("concept", later)
    for a, b in zip(stable, concept, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a if k != "defaulted")
    assert _accuracy(concept) < _accuracy(stable) - 0.02


def test_the_gradual_drift_costs_about_two_and_a_half_points_a_week() -> None:
    before = _accuracy(_story_days("gradual", range(STORY_ONSET - 7, STORY_ONSET)))
    after = _accuracy(_story_days("gradual", range(STORY_ONSET + 35, STORY_ONSET + 42)))
    per_week = (before - after) / 5.5  # the weeks between the two weeks' midpoints
    assert 1.8 < per_week * 100 < 3.0


def test_the_creep_stays_under_psi_0_1_for_about_ten_days() -> None:
    spec = BaselineSpec(numeric=["utilization"], score="score", ks_sketch=0)
    reference = _story_days("creep", range(STORY_BASELINE_DAYS))
    batch = {k: np.concatenate([b[k] for b in reference]) for k in ("utilization", "score")}
    baseline = fit_baseline(batch, spec)
    values = []
    for day in _story_days("creep", range(STORY_ONSET, STORY_ONSET + 16)):
        counts = profile_batch(day, baseline.bins).features["utilization"]
        values.append(psi(baseline.reference.features["utilization"][:-1], counts[:-1]))
    under = [i for i, v in enumerate(values) if v < 0.1]
    assert 8 <= len(under) <= 13 and values[-1] > 0.1


def test_abrupt_jumps_one_sd_on_the_day_of_onset() -> None:
    before, on = _story_days("abrupt", range(STORY_ONSET - 1, STORY_ONSET + 1))
    jump = on["utilization"].mean() - before["utilization"].mean()
    assert 0.9 < jump < 1.1


def _first_loud(run: StoryRun, last: int) -> int | None:
    for day in range(STORY_BASELINE_DAYS, last):
        run.check(day)
        if run.loud[day] and day >= run.onset:
            return day - run.onset
    return None


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_stories_are_found_soon_and_stable_stays_quiet(tmp_path: Path, seed: int) -> None:
    """The issue's targets where the data allow them, else the worst delay measured over 20 seeds
    (benchmarks/detection.py, with the oracle's bound): quiet before onset and on stable, abrupt
    on the day, creep within 3 days, gradual within 2 (an oracle knowing the change needs 1),
    segment within 3 (the oracle: 2) and named with its limitation, concept within 16 (an oracle
    reading only the score band and the label needs 7-9)."""
    stable = start_story("stable", seed, tmp_path / "stable")
    for day in range(STORY_BASELINE_DAYS, STORY_DAYS):
        stable.check(day)
    assert sum(1 for loud in stable.loud.values() if loud) <= 1
    bounds = {"abrupt": 0, "gradual": 2, "creep": 3, "segment": 3, "concept": 16}
    for name, bound in bounds.items():
        run = start_story(name, seed, tmp_path / name)
        delay = _first_loud(run, STORY_ONSET + bound + 1)
        assert not any(run.loud[d] for d in range(STORY_BASELINE_DAYS, STORY_ONSET)), name
        assert delay is not None and delay <= bound, (name, delay)
        if name == "segment":
            named = [
                f
                for day in range(STORY_ONSET, STORY_ONSET + bound + 1)
                for f in run.loud.get(day, [])
                if f.kind == "segment_degradation" and f.segment == "region=APAC"
            ]
            assert named and "Less reliable in APAC" in str(named[0].summary)
