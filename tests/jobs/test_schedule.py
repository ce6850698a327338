"""The scheduler: one cron job per model from its card, re-synced on a new card version, and a
check missed while handoff was down runs once at start (coalesced), not once per missed day."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jobs import schedule
from jobs.registration import register_card
from jobs.workers import CheckWorkers
from store import db
from store.cards import load_card
from tests.replays import card_yaml

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(name="engine")
def _sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.prepare(f"sqlite:///{tmp_path / 'handoff.db'}")
    yield engine
    engine.dispose()


def _register(sessions: sessionmaker[Session], tmp_path: Path, **changes: Any) -> None:
    content = card_yaml()
    content["schedule"] = {"check": "0 6 * * *", "timezone": "Europe/Berlin", **changes}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    with sessions.begin() as session:
        register_card(session=session, card=load_card(path), source_file=path, now=T0)


def test_jobs_follow_the_cards(engine: Engine, tmp_path: Path) -> None:
    sessions = db.make_sessionmaker(engine)
    _register(sessions, tmp_path)
    scheduler = schedule.build_scheduler(engine)
    scheduler.start(paused=True)
    try:
        assert schedule.sync_check_jobs(scheduler, sessions) == ["check:credit-risk"]
        job = scheduler.get_job("check:credit-risk")
        assert str(job.trigger.timezone) == "Europe/Berlin"
        assert job.next_run_time.hour == 6
        assert schedule.sync_check_jobs(scheduler, sessions) == []  # unchanged card: job kept
        _register(sessions, tmp_path, check="30 7 * * *")
        assert schedule.sync_check_jobs(scheduler, sessions) == ["check:credit-risk"]
        assert scheduler.get_job("check:credit-risk").next_run_time.minute == 30
    finally:
        scheduler.shutdown(wait=False)


def test_a_missed_check_runs_once_at_start(engine: Engine, tmp_path: Path) -> None:
    sessions = db.make_sessionmaker(engine)
    _register(sessions, tmp_path)
    scheduler = schedule.build_scheduler(engine)
    scheduler.start(paused=True)
    schedule.sync_check_jobs(scheduler, sessions)
    scheduler.shutdown(wait=False)
    # handoff was down for three days: the stored next run time lies three days back
    store = SQLAlchemyJobStore(engine=engine)
    job = store.lookup_job("check:credit-risk")
    job.next_run_time = datetime.now(UTC) - timedelta(days=3)
    store.update_job(job)

    calls: list[dict[str, Any]] = []
    ran = threading.Event()

    def check(**kwargs: Any) -> None:
        calls.append(kwargs)
        ran.set()

    workers = CheckWorkers(sessions=sessions, environ={}, check=check, abandon=lambda _guard: None)
    leader = schedule.Leader(
        engine=engine,
        sessions=sessions,
        holder="test",
        context=schedule.Context(workers=workers),
        renew_every=timedelta(seconds=0.2),
    )
    leader.start()
    try:
        assert ran.wait(20), "the missed check did not run at start"
        time.sleep(2)
        assert len(calls) == 1
        assert calls[0]["model_id"] == "credit-risk"
        assert leader.leading
    finally:
        leader.stop()
