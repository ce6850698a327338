"""Can I trust this score? Assessed on stored profiles of real check runs of simulated stories.

Each story is replayed once per module (a short baseline of `BASE_DAYS` days, `ROWS` rows a day,
then a check a day) into a SQLite file; tests that change the store work on a copy of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import yaml
from scipy.stats import binomtest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.checks import run_check
from jobs.episodes import act_on
from jobs.errors import HandoffError, NotFound
from jobs.registration import register_card
from jobs.simulation import Scenario, concept_drift, simulate_day, slow_drift, stable
from jobs.sources import open_source
from jobs.sources.base import Batch, SchemaKind, Source
from jobs.stats import Baseline
from jobs.trust import TrustAssessment, Verdict, assess_trust, trust_summary
from jobs.trust_evidence import Rate, band_bounds, band_index, outcome_words
from store import db, repo
from store.card_schema import FileSource
from store.cards import load_card
from store.models import CardVersion, CheckRun, Model, StoredBaseline, WindowProfile
from tests.replays import START, card_yaml, write_days

ROWS = 300
BASE_DAYS = 7
SEED = 4


def _end(day: int) -> datetime:
    return datetime.combine(START + timedelta(days=day + 1), time(0), tzinfo=UTC)


class LateLabels:
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


@dataclass(frozen=True)
class Story:
    folder: Path
    scenario: Scenario
    days: int

    @property
    def last_end(self) -> datetime:
        return _end(self.days - 1)

    @property
    def now(self) -> datetime:
        return self.last_end + timedelta(hours=6)

    def sessions(self, folder: Path | None = None) -> sessionmaker[Session]:
        """Sessions on the story's database, or on a copy of it in `folder`."""
        path = self.folder / "handoff.db"
        if folder is not None:
            shutil.copy(path, folder / "handoff.db")
            path = folder / "handoff.db"
        return db.make_sessionmaker(db.make_engine(f"sqlite:///{path}"))

    def assess(self, **kwargs: Any) -> TrustAssessment:
        kwargs.setdefault("now", self.now)
        with self.sessions()() as session:
            return assess_trust(session, model_id="credit-risk", **kwargs)


def _card(folder: Path, **changes: Any) -> Path:
    content: dict[str, Any] = card_yaml()
    content["baseline"]["to"] = (START + timedelta(days=BASE_DAYS - 1)).isoformat()
    content.update(changes)
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def _register(sessions: sessionmaker[Session], path: Path) -> None:
    with sessions.begin() as session:
        register_card(
            session=session,
            card=load_card(path),
            source_file=path,
            now=datetime.combine(START, time(0), tzinfo=UTC),
        )


def _replay(
    template: Path, folder: Path, scenario: Scenario, *, days: int, delay: timedelta | None = None
) -> Story:
    """Replay `scenario` into a copy of the migrated `template` database in `folder`."""
    write_days(folder / "data", scenario, days=days, rows=ROWS, seed=SEED)
    data = cast("dict[str, Any]", card_yaml()["data"])  # a fresh dict: ours to change
    if delay is not None:
        data["label_delay"] = f"{delay.days}d"
    path = _card(folder, data=data)
    shutil.copy(template, folder / "handoff.db")
    engine = db.make_engine(f"sqlite:///{folder / 'handoff.db'}")
    sessions = db.make_sessionmaker(engine)
    _register(sessions, path)
    source = None
    if delay is not None:
        files = FileSource(kind="csv", path=str(folder / "data" / "*.csv"))
        source = LateLabels(open_source(files, environ={}, base_dir=folder), delay)
    for day in range(BASE_DAYS, days):
        end = _end(day)
        if source is not None:
            source.now = end + timedelta(hours=6)
        run_check(
            sessions=sessions,
            model_id="credit-risk",
            window_end=end,
            now=end + timedelta(hours=6),
            environ={},
            source=source,
        )
    engine.dispose()
    return Story(folder, scenario, days)


@pytest.fixture(scope="module", name="steady")
def _steady(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Story:
    folder = tmp_path_factory.mktemp("steady")
    return _replay(sqlite_template, folder, stable, days=BASE_DAYS + 5)


@pytest.fixture(scope="module", name="drifting")
def _drifting(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Story:
    """Utilization runs out of what the model learned: its estimate holds as accuracy falls."""
    scenario = slow_drift(BASE_DAYS, per_week=6.0)
    folder = tmp_path_factory.mktemp("drifting")
    return _replay(sqlite_template, folder, scenario, days=BASE_DAYS + 4)


@pytest.fixture(scope="module", name="turning")
def _turning(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Story:
    """Inputs and scores unchanged, the labels' relation to them turned; labels 2 days late."""
    scenario = concept_drift(BASE_DAYS, per_week=7.0)
    folder = tmp_path_factory.mktemp("turning")
    return _replay(sqlite_template, folder, scenario, days=BASE_DAYS + 7, delay=timedelta(days=2))


# --- the verdicts


def test_a_stable_model_is_trusted(steady: Story) -> None:
    a = steady.assess()
    assert a.verdict == Verdict.TRUST, a.reasons
    assert a.headline.startswith("You can rely on Credit risk score")
    assert a.health.findings == ()
    perf = a.performance
    assert perf.estimate_believable and perf.doubts == ()
    assert perf.realized is not None and perf.labelled_runs == 5
    assert perf.realized.cases == 5 * ROWS  # labels arrive with the rows: every row is labelled
    assert perf.baseline is not None and abs(perf.drop or 0.0) < 0.03
    with steady.sessions()() as session:  # the numbers the check runs stored, computed again
        runs = session.scalars(select(CheckRun).order_by(CheckRun.window_end)).all()
        series = [run.metrics["metrics"]["series"] for run in runs]
    assert perf.realized.rate == pytest.approx(np.mean([s["accuracy@realized"] for s in series]))
    assert perf.estimated == pytest.approx(series[-1]["accuracy@estimated"])
    assert perf.baseline.rate == pytest.approx(series[-1]["accuracy@baseline"])
    assert any("labels arrived was" in r for r in a.reasons)
    assert a.freshness.rows_read == ROWS and a.freshness.hours_since == pytest.approx(6.0)
    assert not a.freshness.stale and a.freshness.check_every_hours == pytest.approx(24.0)
    text = trust_summary(a)
    assert text.splitlines()[0] == "Credit risk score (credit-risk): Trust it"
    assert text.endswith("Ask U024BE7LH in #credit-model-health.")
    assert a.builders == ("U024BE7LH",)


def test_a_segment_under_a_known_limitation_calls_for_caution(steady: Story) -> None:
    apac = steady.assess(segment={"region": "APAC"})
    assert apac.verdict == Verdict.CAUTION
    assert apac.headline.startswith("Use Credit risk score with caution: for region=APAC")
    assert "Less reliable in APAC" in apac.reasons[0]
    assert [n.rule for n in apac.limitations.covering] == ["in APAC"]
    eu = steady.assess(segment={"region": "EU"})
    assert eu.verdict == Verdict.TRUST
    assert eu.limitations.covering == () and len(eu.limitations.other) == 1
    assert "No limitation of the card covers region=EU." in eu.limitations.sentences
    assert "No limitation of the card covers region=EU." in eu.reasons


def test_a_numeric_segment_is_compared_with_below_and_above(steady: Story, tmp_path: Path) -> None:
    """history_months is standardized in the simulation: "below -1" is its lowest sixth."""
    sessions = steady.sessions(tmp_path)
    limitations = [
        {"text": "Weak for short histories.", "segment": {"column": "history_months", "below": -1}},
        {"text": "Not validated for small-business loans."},
        {"text": "Less reliable in APAC.", "segment": {"column": "region", "in": ["APAC"]}},
    ]
    shutil.copytree(steady.folder / "data", tmp_path / "data")
    _register(sessions, _card(tmp_path, limitations=limitations))  # a new version, same baseline
    with sessions() as session:

        def assess(**kwargs: Any) -> TrustAssessment:
            return assess_trust(session, model_id="credit-risk", now=steady.now, **kwargs)

        short = assess(segment={"history_months": -1.5})
        assert short.verdict == Verdict.CAUTION
        assert [n.text for n in short.limitations.covering] == ["Weak for short histories."]
        assert short.limitations.covering[0].rule == "below -1.00"
        long = assess(segment={"history_months": "0.5"})
        assert long.verdict == Verdict.TRUST and long.limitations.covering == ()
        assert [n.text for n in long.limitations.general] == [
            "Not validated for small-business loans."
        ]
        general = assess()
        assert general.limitations.sentences == (
            "Known limitation: Not validated for small-business loans.",
            "Segments with limitations: history_months below -1.00 (Weak for short histories); "
            "region in APAC (Less reliable in APAC).",
        )
        with pytest.raises(HandoffError, match="history_months is compared with numbers"):
            assess(segment={"history_months": "short"})


def test_a_model_not_checked_for_days_is_not_to_be_relied_on(steady: Story) -> None:
    a = steady.assess(now=steady.last_end + timedelta(days=5))
    assert a.verdict == Verdict.DO_NOT_RELY
    assert a.freshness.stale and a.freshness.hours_since == pytest.approx(120.0)
    assert a.reasons[0].startswith("No check has completed for 5.0 days")
    assert a.headline.startswith("Do not rely on Credit risk score for now: no check")


def test_a_last_check_without_rows_is_not_to_be_relied_on(steady: Story, tmp_path: Path) -> None:
    sessions = steady.sessions(tmp_path)
    end = steady.last_end + timedelta(days=1)  # no file holds that day
    run_check(
        sessions=sessions,
        model_id="credit-risk",
        window_end=end,
        now=end,
        environ={},
        source=open_source(
            FileSource(kind="csv", path=str(steady.folder / "data" / "*.csv")),
            environ={},
            base_dir=steady.folder,
        ),
    )
    with sessions() as session:
        a = assess_trust(session, model_id="credit-risk", now=end + timedelta(hours=1))
    assert a.verdict == Verdict.DO_NOT_RELY
    assert a.freshness.rows_read == 0 and not a.freshness.stale
    assert a.reasons[0].startswith("The last check found no rows scored between")
    assert [f.kind for f in a.health.findings] == ["no_data"]


def test_a_thin_last_window_calls_for_caution(steady: Story, tmp_path: Path) -> None:
    sessions = steady.sessions(tmp_path)
    write_days(tmp_path / "few", stable, days=steady.days + 1, rows=30, seed=SEED)
    shutil.copytree(steady.folder / "data", tmp_path / "data")
    day = START + timedelta(days=steady.days)
    shutil.copy(tmp_path / "few" / f"{day}.csv", tmp_path / "data")
    end = _end(steady.days)
    files = FileSource(kind="csv", path=str(tmp_path / "data" / "*.csv"))
    source = open_source(files, environ={}, base_dir=tmp_path)
    run_check(
        sessions=sessions,
        model_id="credit-risk",
        window_end=end,
        now=end,
        environ={},
        source=source,
    )
    with sessions() as session:
        a = assess_trust(session, model_id="credit-risk", now=end + timedelta(hours=1))
    assert a.verdict == Verdict.CAUTION
    assert any(
        r.startswith(f"The last check had only 30 usable rows, against about {ROWS}")
        for r in a.reasons
    ), a.reasons


def test_old_training_data_calls_for_caution(steady: Story, tmp_path: Path) -> None:
    sessions = steady.sessions(tmp_path)
    trained = {"trained_on": {"from": "2024-01-01", "to": "2024-06-30"}}
    _register(sessions, _card(tmp_path, context=trained))
    with sessions() as session:
        a = assess_trust(session, model_id="credit-risk", now=steady.now)
    assert a.verdict == Verdict.CAUTION
    assert a.freshness.training_age_days == (steady.now.date() - date(2024, 6, 30)).days
    assert a.reasons == (
        f"It was trained on data up to 2024-06-30, more than a year ago "
        f"({a.freshness.training_age_days} days).",
    )


def test_a_model_never_checked_is_not_to_be_relied_on(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copy(sqlite_template, tmp_path / "handoff.db")
    engine = db.make_engine(f"sqlite:///{tmp_path / 'handoff.db'}")
    sessions = db.make_sessionmaker(engine)
    _register(sessions, _card(tmp_path))  # registered without its data: no baseline yet
    with sessions() as session:
        a = assess_trust(session, model_id="credit-risk", now=_end(BASE_DAYS), score=0.5)
        with pytest.raises(NotFound):
            assess_trust(session, model_id="credit-risks", now=_end(BASE_DAYS))
        with pytest.raises(HandoffError, match="not a score"):
            assess_trust(session, model_id="credit-risk", now=_end(BASE_DAYS), score=1.5)
    engine.dispose()
    assert a.verdict == Verdict.DO_NOT_RELY and a.score_meaning is None
    assert a.reasons[0] == "Handoff has not completed a check of it yet, so nothing vouches for it."
    assert a.performance.realized is None and a.freshness.last_window_end is None


def test_a_drifted_model_is_not_to_be_relied_on_and_its_estimate_not_believed(
    drifting: Story,
) -> None:
    """The slow-drift story: the estimate stays up while realized accuracy falls."""
    a = drifting.assess()
    assert a.verdict == Verdict.DO_NOT_RELY
    assert a.health.counts.get("critical", 0) >= 1
    perf = a.performance
    assert perf.realized is not None and perf.realized.rate is not None
    assert perf.estimate_for_realized is not None and perf.baseline is not None
    assert perf.estimate_for_realized > perf.realized.rate  # blind to what the labels show
    assert (perf.drop or 0.0) > 0.03
    assert not perf.estimate_believable
    assert any(
        d.startswith("the inputs have moved away") and "utilization" in d for d in perf.doubts
    )
    assert any("lie outside the range seen at baseline" in d for d in perf.doubts)
    assert any("cannot be believed" in s for s in perf.sentences)


def test_concept_drift_the_estimate_cannot_be_believed(turning: Story) -> None:
    """Inputs and scores unchanged: only the labels (2 days late) show the fall."""
    a = turning.assess()
    assert a.verdict != Verdict.TRUST
    perf = a.performance
    assert perf.realized is not None and perf.estimate_for_realized is not None
    assert perf.realized_until == turning.last_end - timedelta(days=2)  # the matured windows
    assert perf.estimate_for_realized - (perf.realized.rate or 0.0) > 0.03
    assert perf.doubts and perf.doubts[0].startswith("the labels that have arrived disagree")
    assert not any("inputs have moved" in d for d in perf.doubts)
    assert not perf.estimate_believable
    assert any("estimate cannot be believed" in r for r in a.reasons)
    assert any("cannot be believed" in s for s in perf.sentences)


def test_findings_of_a_resolved_episode_no_longer_count(drifting: Story, tmp_path: Path) -> None:
    sessions = drifting.sessions(tmp_path)
    with sessions.begin() as session:
        act_on(session, target="E1", action="resolve", actor="U1", now=drifting.now, note="ok")
    with sessions() as session:
        a = assess_trust(session, model_id="credit-risk", now=drifting.now)
    assert a.health.findings == ()
    assert a.verdict == Verdict.DO_NOT_RELY  # the labels still show the fall
    assert any("past the critical level of 0.05" in r for r in a.reasons)


# --- what a score means


def _direct(story: Story, days: range, low: float, high: float) -> tuple[int, int, np.ndarray]:
    """Defaulted and all cases scored in [low, high) over `days`, straight from the simulation,
    and every score of the last of those days."""
    positives = cases = 0
    scores = np.empty(0)
    for day in days:
        columns = simulate_day(day, story.scenario, start=START, rows=ROWS, seed=SEED)
        inside = (columns["score"] >= low) & (columns["score"] < high)
        positives += int(columns["defaulted"][inside].sum())
        cases += int(inside.sum())
        scores = columns["score"]
    return positives, cases, scores


def test_the_score_meaning_matches_the_simulated_data(steady: Story) -> None:
    a = steady.assess(score=0.62)
    meaning = a.score_meaning
    assert meaning is not None and meaning.part is None and meaning.outcome == "defaulted"
    positives, cases, _ = _direct(steady, range(BASE_DAYS), meaning.band_low, meaning.band_high)
    assert meaning.baseline == Rate(positives, cases) and cases >= 30
    cases_at_baseline = cases
    recent = range(BASE_DAYS, steady.days)
    positives, cases, latest = _direct(steady, recent, meaning.band_low, meaning.band_high)
    assert meaning.recent == Rate(positives, cases)
    assert meaning.above_latest == pytest.approx(np.mean(latest < 0.62), abs=0.03)
    assert meaning.sentences[0].startswith(
        f"Of the baseline's cases scored {meaning.band_low:.2f} to {meaning.band_high:.2f}, "
        f"{meaning.baseline.rate or 0:.0%} defaulted (n = {cases_at_baseline:,}; 95% interval "
    )
    assert meaning.sentences[-1].startswith("A score of 0.62 is higher than ")


def test_a_score_band_with_few_cases_says_so(steady: Story) -> None:
    with steady.sessions()() as session:
        baseline = Baseline.from_bytes(session.scalars(select(StoredBaseline.data)).one())
    apac = baseline.reference.segments["region"]["APAC"].score_label
    labelled = apac[:-1, :2].sum(axis=1)
    index = int(np.flatnonzero((labelled > 0) & (labelled < 30))[0])
    low, high = band_bounds(baseline.bins, index)
    score = (low + high) / 2
    assert band_index(baseline.bins, score) == index
    a = steady.assess(score=score, segment={"region": "APAC"})
    meaning = a.score_meaning
    assert meaning is not None and meaning.part == "region=APAC"
    assert meaning.baseline is not None and meaning.baseline.cases == labelled[index]
    assert not meaning.baseline.enough
    assert "too few cases to say" in meaning.sentences[0]
    assert f"(95% interval {meaning.baseline.interval()})" in meaning.sentences[0]
    assert (meaning.baseline.high or 0) - (meaning.baseline.low or 0) > 0.1
    assert any("too few cases to say what such a score means" in r for r in a.reasons)
    assert a.verdict == Verdict.CAUTION


def test_wilson_intervals_match_scipy() -> None:
    for positives, cases in [(31, 100), (0, 12), (12, 12), (1240, 4000)]:
        expected = binomtest(positives, cases).proportion_ci(method="wilson")
        rate = Rate(positives, cases)
        assert (rate.low, rate.high) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert Rate(0, 0).rate is None and Rate(0, 0).low is None


def test_the_outcome_is_said_in_words() -> None:
    assert outcome_words("defaulted") == "defaulted"
    assert outcome_words("churned_90d") == "churned within 90 days"
    assert outcome_words("Cancelled_1w") == "cancelled within 1 week"
    assert outcome_words("is_fraud") == "had is_fraud = 1"
    assert outcome_words(None) == "had label 1"


# --- the queries it makes, on every backend


def test_the_trust_queries(sessions: sessionmaker[Session]) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    matured = {"metrics": {"matured": {"features": {"performance": {"accuracy_drop": {"n": [9]}}}}}}
    with sessions.begin() as session:
        session.add(Model(id="m", name="M", created_at=start, updated_at=start))
        session.flush()
        version = CardVersion(
            model_id="m",
            version=1,
            content={},
            content_hash="x",
            source_file="m.yaml",
            registered_at=start,
        )
        session.add(version)
        session.flush()
        base = dict(model_id="m", window_start=start, window_end=start, rows=1, data=b"")
        session.add(StoredBaseline(card_version_id=version.id, basis="b", created_at=start, **base))
        session.flush()
        for day in range(4):
            end = start + timedelta(days=day + 1)
            run = CheckRun(
                model_id="m",
                baseline_id=1,
                window_start=end - timedelta(days=1),
                window_end=end,
                status="failed" if day == 3 else "completed",
                rows_read=day,
                metrics=matured if day == 1 else {"metrics": {}},
                started_at=end,
            )
            session.add(run)
            session.flush()
            profile = dict(window_start=run.window_start, window_end=end, rows=day)
            session.add(
                WindowProfile(
                    check_run_id=run.id,
                    model_id="m",
                    baseline_id=1,
                    data=bytes([day]),
                    **profile,
                )
            )
    one = timedelta(days=1)
    with sessions() as session:
        runs = repo.run_digests(
            session=session, model_id="m", since=start + 2 * one, until=start + 4 * one
        )
        assert [(r.window_end, r.rows_read) for r in runs] == [
            (start + 2 * one, 1),
            (start + 3 * one, 2),
        ]
        latest = repo.latest_run_digest(session=session, model_id="m", until=start + 10 * one)
        assert latest is not None and latest.window_end == start + 3 * one  # not the failed run
        assert repo.latest_run_digest(session=session, model_id="m", until=start) is None
        found = repo.matured_accuracy(
            session=session, model_id="m", since=start, until=start + 9 * one
        )
        assert found == {start + 2 * one: {"n": [9]}}
        rows = repo.window_profile_rows(
            session=session,
            model_id="m",
            baseline_id=1,
            since=start + 2 * one,
            until=start + 3 * one,
        )
        assert rows == [(start + 2 * one, b"\x01"), (start + 3 * one, b"\x02")]
        assert (
            repo.window_profile_rows(
                session=session, model_id="m", baseline_id=2, since=start, until=start + 9 * one
            )
            == []
        )
