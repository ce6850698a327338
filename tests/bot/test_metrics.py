"""GET /metrics per model: a real database of a few models, rendered and parsed back with
prometheus_client's own parser; the number of queries a scrape makes; a scrape of 1,000 models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session, sessionmaker

from bot.metrics import metrics_registry
from jobs.vitals import MAX_FEATURES, read_metrics
from store import db
from store.models import (
    CardVersion,
    CheckIn,
    CheckRun,
    Episode,
    Finding,
    Model,
    Notification,
)

FEATURES = ("income", "region", "tenure")


def _card(model: str, *, score: str = "score") -> dict[str, Any]:
    return {
        "model": model,
        "name": model.title(),
        "channel": f"#{model}-health",
        "data": {"score": score, "features": list(FEATURES)},
    }


def _stored(series: dict[str, float]) -> dict[str, Any]:
    """A run's `metrics` as `CheckResult.stored()` keeps it (bulky reports beside `series`)."""
    return {"metrics": {"series": series, "window": {"results": []}}, "findings": []}


def add_model(
    session: Session, model: str, now: datetime, *, version: int = 1, score: str = "score"
) -> None:
    session.add(
        Model(id=model, name=model.title(), current_version=version, created_at=now, updated_at=now)
    )
    session.flush()
    for v in range(1, version + 1):
        content = _card(model, score=score) if v == version else {"channel": "#old"}
        session.add(
            CardVersion(
                model_id=model,
                version=v,
                content=content,
                content_hash=str(v),
                source_file=f"{model}.yaml",
                registered_at=now,
            )
        )


def add_run(
    session: Session,
    model: str,
    end: datetime,
    series: dict[str, float],
    *,
    status: str = "completed",
    finished: datetime | None = None,
) -> None:
    session.add(
        CheckRun(
            model_id=model,
            window_start=end - timedelta(days=1),
            window_end=end,
            status=status,
            metrics=_stored(series),
            started_at=end,
            finished_at=finished,
        )
    )


def add_finding(
    session: Session,
    model: str,
    severity: str,
    now: datetime,
    *,
    state: str = "open",
    episode: str | None = None,
) -> None:
    episode_id = None
    if episode is not None:
        row = Episode(
            model_id=model,
            state=episode,
            severity=severity,
            worst_severity=severity,
            opened_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        episode_id = row.id
    session.add(
        Finding(
            model_id=model,
            episode_id=episode_id,
            key=f"{severity}:{state}:{episode}",
            kind="drift",
            severity=severity,
            worst_severity=severity,
            summary="s",
            state=state,
            opened_at=now,
            last_seen_at=now,
            last_window_end=now,
        )
    )


def add_notification(session: Session, model: str, status: str, now: datetime, key: str) -> None:
    session.add(
        Notification(
            idempotency_key=key,
            model_id=model,
            kind="episode.root",
            channel="#c",
            status=status,
            next_attempt_at=now,
            created_at=now,
        )
    )


def seed(sessions: sessionmaker[Session], now: datetime) -> None:
    """alpha: checked, findings, dead messages, answered check-ins; beta: checked, an info
    finding, no answer; gamma: registered, never checked."""
    day = timedelta(days=1)
    with sessions.begin() as session:
        add_model(session, "alpha", now, version=2)
        add_model(session, "beta", now, score="p_default")
        add_model(session, "gamma", now)
        add_run(session, "alpha", now - 3 * day, {"psi:income": 0.9}, finished=now - 3 * day)
        add_run(
            session,
            "alpha",
            now - day,
            {
                "psi:income": 0.31,
                "psi:region": 0.02,
                "psi:score": 0.12,
                "accuracy@estimated": 0.81,
                "accuracy@realized": 0.78,
                "accuracy@baseline": 0.84,
            },
            finished=now - timedelta(hours=18),
        )
        add_run(session, "alpha", now, {}, status="failed", finished=now)  # not a success
        add_run(session, "beta", now - 2 * day, {"psi:p_default": 0.01, "accuracy@estimated": 0.7})
        add_finding(session, "alpha", "warn", now, episode="open")
        add_finding(session, "alpha", "critical", now, episode="acknowledged")
        add_finding(session, "alpha", "critical", now, episode="resolved")  # accepted: no
        add_finding(session, "alpha", "info", now, state="recovered")  # over: no
        add_finding(session, "beta", "info", now)
        add_notification(session, "alpha", "dead", now, "a1")
        add_notification(session, "alpha", "dead", now, "a2")
        add_notification(session, "alpha", "sent", now, "a3")
        add_notification(session, "beta", "pending", now, "b1")
        for period, answered in (("2026-W46", now - 10 * day), ("2026-W47", now - 3 * day)):
            session.add(
                CheckIn(model_id="alpha", period=period, sent_at=answered, answered_at=answered)
            )
        session.add(CheckIn(model_id="alpha", period="2026-W48", sent_at=now))  # not yet
        session.add(CheckIn(model_id="beta", period="2026-W47", sent_at=now - 3 * day))


def scrape(sessions: sessionmaker[Session], now: datetime) -> str:
    return metrics_registry(sessions, lambda: True, clock=lambda: now)().decode()


def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> {sorted labels: value}, every family checked for HELP on the way."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.documentation, f"{family.name} has no HELP"
        sample: Sample
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _by(
    values: dict[tuple[tuple[str, str], ...], float], *keep: str
) -> dict[tuple[str, ...], float]:
    return {tuple(dict(labels)[k] for k in keep): v for labels, v in values.items()}


def test_every_model_family_has_help_and_the_values_of_the_database(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    seed(sessions, now)
    got = samples(scrape(sessions, now))

    assert got["handoff_up"] == {(): 1.0}
    assert got["handoff_models"] == {(): 3.0}
    assert _by(got["handoff_model_info"], "model", "name", "channel") == {
        ("alpha", "Alpha", "#alpha-health"): 1.0,  # the current card, not version 1
        ("beta", "Beta", "#beta-health"): 1.0,
        ("gamma", "Gamma", "#gamma-health"): 1.0,
    }
    assert _by(got["handoff_model_drift"], "model", "feature", "metric") == {
        ("alpha", "income", "psi"): 0.31,  # the latest completed run, not the older 0.9
        ("alpha", "region", "psi"): 0.02,
        ("alpha", "score", "psi"): 0.12,
        ("beta", "p_default", "psi"): 0.01,  # the score, under its own column's name
    }
    assert _by(got["handoff_model_performance"], "model", "metric", "kind") == {
        ("alpha", "accuracy", "estimated"): 0.81,
        ("alpha", "accuracy", "realized"): 0.78,
        ("alpha", "accuracy", "baseline"): 0.84,
        ("beta", "accuracy", "estimated"): 0.7,
    }
    findings = _by(got["handoff_model_open_findings"], "model", "severity")
    assert findings == {
        ("alpha", "info"): 0,
        ("alpha", "warn"): 1,
        ("alpha", "critical"): 1,
        ("beta", "info"): 1,
        ("beta", "warn"): 0,
        ("beta", "critical"): 0,
        ("gamma", "info"): 0,
        ("gamma", "warn"): 0,
        ("gamma", "critical"): 0,
    }
    assert sum(findings.values()) == sum(got["handoff_open_findings"].values())
    hours = _by(got["handoff_model_hours_since_check"], "model")
    assert hours == {
        ("alpha",): pytest.approx(18),
        ("beta",): pytest.approx(48),
    }  # beta: window end
    days = _by(got["handoff_model_days_since_check_in_answer"], "model")
    assert days == {("alpha",): pytest.approx(3)}  # beta never answered, gamma never asked
    dead = _by(got["handoff_model_dead_notifications"], "model")
    assert dead == {("alpha",): 2, ("beta",): 0, ("gamma",): 0}
    assert got["handoff_outbox_messages"][(("status", "dead"),)] == 2
    assert got["handoff_failed_checks_total"] == {(): 1.0}


def test_drift_keeps_the_score_and_the_largest_features(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    series = {f"psi:f{i:03}": i / 1000 for i in range(MAX_FEATURES + 20)}
    series["psi:score"] = 0.0  # the smallest of all, and kept
    with sessions.begin() as session:
        add_model(session, "wide", now)
        add_run(session, "wide", now, series, finished=now)
    drift = _by(samples(scrape(sessions, now))["handoff_model_drift"], "feature")
    assert len(drift) == MAX_FEATURES + 1
    assert drift[("score",)] == 0.0
    assert min(v for (f,), v in drift.items() if f != "score") == 20 / 1000


def test_a_database_that_does_not_answer_is_handoff_up_0_and_no_model_samples(
    tmp_path: Path, now: datetime
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'missing' / 'handoff.db'}")
    got = samples(scrape(db.make_sessionmaker(engine), now))
    engine.dispose()
    assert got["handoff_up"] == {(): 0.0}
    assert not [name for name in got if name.startswith("handoff_model_")]


@pytest.fixture(name="statements")
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_scrape_makes_the_same_queries_for_three_models_or_thirty(
    sessions: sessionmaker[Session], now: datetime, statements: list[str]
) -> None:
    seed(sessions, now)
    statements.clear()
    scrape(sessions, now)
    few = len(statements)
    with sessions.begin() as session:
        for i in range(27):
            add_model(session, f"m{i}", now)
            add_run(session, f"m{i}", now, {"psi:score": 0.1}, finished=now)
            add_finding(session, f"m{i}", "warn", now)
    statements.clear()
    text = scrape(sessions, now)
    assert len(statements) == few <= 12
    assert len(samples(text)["handoff_model_info"]) == 30


def _bulk(sessions: sessionmaker[Session], now: datetime, *, models: int, runs: int) -> None:
    """`models` models with `runs` daily runs each, 20 features, inserted in bulk. The latest run
    of each carries a ~70 kB report beside its series, as a real run of the replay card does."""
    series = {f"psi:f{i}": i / 100 for i in range(20)} | {
        "psi:score": 0.05,
        "accuracy@estimated": 0.8,
        "accuracy@baseline": 0.82,
    }
    small = {"features": {f"f{i}": {"psi": {"value": 0.1, "n": [2000, 9000]}} for i in range(20)}}
    bulky = {"features": {f"f{i}": {"bins": [j / 7 for j in range(180)]} for i in range(20)}}
    ids = [f"m{m:04}" for m in range(models)]
    with sessions.begin() as session:
        session.execute(
            insert(Model),
            [
                {"id": m, "name": m, "current_version": 1, "created_at": now, "updated_at": now}
                for m in ids
            ],
        )
        session.execute(
            insert(CardVersion),
            [
                {
                    "model_id": m,
                    "version": 1,
                    "content": _card(m),
                    "content_hash": "h",
                    "source_file": "c.yaml",
                    "registered_at": now,
                }
                for m in ids
            ],
        )
        for day in range(runs):
            report = bulky if day == 0 else small
            metrics = {"metrics": {"series": series, "window": report}, "findings": []}
            end = now - timedelta(days=day)
            session.execute(
                insert(CheckRun),
                [
                    {
                        "model_id": m,
                        "window_start": end - timedelta(days=1),
                        "window_end": end,
                        "status": "completed",
                        "metrics": metrics,
                        "started_at": end,
                        "finished_at": end,
                    }
                    for m in ids
                ],
            )


@pytest.mark.slow
def test_a_scrape_of_a_thousand_models_with_thirty_runs_each(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    """A measurement (run with `-m slow -s`): prints the time of a scrape and of its reading."""
    _bulk(sessions, now, models=1000, runs=30)
    render = metrics_registry(sessions, lambda: True, clock=lambda: now)
    render()  # warm: the first connection and the database's cache
    took = []
    for _ in range(3):
        started = time.perf_counter()
        text = render().decode()
        took.append(time.perf_counter() - started)
        started = time.perf_counter()
        read_metrics(sessions, now=now)
        took.append(time.perf_counter() - started)
    scrape, reading = min(took[::2]), min(took[1::2])
    print(
        f"\n/metrics, 1,000 models x 30 runs: {scrape * 1000:.0f} ms a scrape, of which "
        f"{reading * 1000:.0f} ms reading; {len(text) / 1e6:.1f} MB"
    )
    assert len(samples(text)["handoff_model_drift"]) == 1000 * 21
    assert scrape < 2.0  # a busy 2-core machine; well under a second when quiet
