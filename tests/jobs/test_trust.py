"""Can I trust this score? The numbers behind the answer, and the queries it makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import binomtest
from sqlalchemy.orm import Session, sessionmaker

from jobs.trust_evidence import Rate, outcome_words
from store import repo
from store.models import CardVersion, CheckRun, Model, StoredBaseline, WindowProfile


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
