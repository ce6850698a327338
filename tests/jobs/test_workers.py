"""Checks under `handoff run`: bounded, time-limited, and never blocking each other or shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jobs.checks import record_abandoned, run_check
from jobs.registration import fit_for, register_card
from jobs.simulation import stable
from jobs.workers import CheckAbandoned, CheckWorkers, Guard
from store.cards import load_card
from store.models import CheckRun, Finding
from tests.replays import START, card_yaml, write_days
from tests.sources.scores_server import Reply, running_server

LIMIT = timedelta(seconds=1)


class Blocking:
    """A check that blocks (as a read that never finishes does) until released, ignoring its
    guard, for the models named; the others return at once."""

    def __init__(self, *stuck: str) -> None:
        self.stuck = set(stuck)
        self.release = threading.Event()
        self.ran: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, **kwargs: Any) -> None:
        model = kwargs["model_id"]
        if model in self.stuck:
            self.release.wait(60)
        with self.lock:
            self.ran.append(model)


@pytest.fixture(name="abandoned")
def _abandoned() -> list[str]:
    return []


def _workers(check: Blocking, abandoned: list[str], size: int = 2) -> CheckWorkers:
    return CheckWorkers(
        sessions=None,  # type: ignore[arg-type]
        environ={},
        check=check,
        abandon=lambda guard: abandoned.append(guard.model_id),
        size=size,
        limit=LIMIT,
        tick=0.1,
    )


def _wait(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def test_stuck_checks_are_abandoned_and_never_block_another_models(abandoned: list[str]) -> None:
    check = Blocking("a", "b", "c")
    workers = _workers(check, abandoned, size=2)
    try:
        for model in ("a", "b", "c", "ok"):
            assert workers.submit(model)
        _wait(lambda: "ok" in check.ran)  # two slots, three stuck: ok still runs
        _wait(lambda: sorted(abandoned) == ["a", "b", "c"])
        assert workers.counts.abandoned == 3 and workers.counts.done == 1
        assert workers.running() == []
    finally:
        check.release.set()
        workers.stop()


def test_a_model_is_not_checked_twice_at_once(abandoned: list[str]) -> None:
    check = Blocking("a")
    workers = _workers(check, abandoned)
    try:
        assert workers.submit("a")
        assert not workers.submit("a")
        assert workers.counts.skipped == 1
    finally:
        check.release.set()
        workers.stop()


def test_stop_returns_within_its_grace_with_a_check_blocked(abandoned: list[str]) -> None:
    check = Blocking("a")
    workers = _workers(check, abandoned)
    workers.submit("a")
    _wait(lambda: workers.counts.running == 1)
    started = time.monotonic()
    workers.stop(grace=1.0)
    assert time.monotonic() - started < 2.5
    check.release.set()


@pytest.fixture(name="slow")
def _slow(sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[str]:
    """A model whose HTTP source answers only after 3 s; baseline from local files."""
    write_days(tmp_path / "reference", stable, days=14, rows=300, seed=2)
    content = card_yaml()
    content["baseline"] = {"source": {"kind": "csv", "path": "reference/*.csv"}}
    with running_server() as server:
        url = server.script("/scores", Reply(200, b'{"data": []}', delay=3))
        content["data"]["source"] = {"kind": "http", "url": url}  # type: ignore[index]
        card_path = tmp_path / "card.yaml"
        card_path.write_text(yaml.safe_dump(content))
        card = load_card(card_path)
        fitted = fit_for(card, file=str(card_path), base_dir=tmp_path, environ={})
        with sessions.begin() as session:
            register_card(
                session=session, card=card, source_file=card_path, now=_now(), fitted=fitted
            )
        yield url


def _now() -> datetime:
    return datetime.combine(START + timedelta(days=21), datetime.min.time(), tzinfo=UTC)


def test_a_check_past_its_limit_stops_unwritten_and_is_recorded(
    sessions: sessionmaker[Session], slow: str
) -> None:
    guard = Guard("credit-risk", LIMIT)
    started = time.monotonic()
    with pytest.raises(CheckAbandoned):
        run_check(
            sessions=sessions,
            model_id="credit-risk",
            window_end=_now(),
            now=_now(),
            environ={},
            guard=guard,
        )
    assert time.monotonic() - started < 10
    with sessions() as session:
        assert session.scalars(select(CheckRun)).all() == []  # nothing written by the check
    record_abandoned(sessions, guard, now=_now())
    with sessions() as session:
        (run,) = session.scalars(select(CheckRun)).all()
        assert run.status == "failed" and "abandoned" in (run.error or "")
        (finding,) = session.scalars(select(Finding)).all()
        assert finding.kind == "source_error" and "limit of" in finding.summary
