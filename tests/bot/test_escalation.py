"""End to end: a drifted CSV → the scheduler's check job → the root message in the channel, the
builder tagged, the intent and the segment's limitation in it; nobody acknowledges within the
card's acknowledge_within (a controllable clock) → the next rung is tagged in the thread; and a
new card version is announced in the channel."""

from __future__ import annotations

import csv
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer, make_client
from jobs import escalation, schedule
from jobs.checks import record_abandoned, run_check
from jobs.registration import fit_for, register_card
from jobs.simulation import segment_drift, simulate_day
from jobs.workers import CheckWorkers
from store.cards import load_card
from store.models import Episode
from tests.replays import card_yaml
from tests.slack_api import FakeSlack
from tests.slack_fixtures import BOT_TOKEN


@pytest.fixture(name="database_url")
def _one_database(sqlite_url: str) -> str:
    """Slack's behaviour does not depend on the backend: these tests run on SQLite only (the
    replicas test covers delivery on PostgreSQL)."""
    return sqlite_url


def _recent_days(folder: Path, *, days: int) -> datetime:
    """Simulated days ending now (the last file holds today's rows so far); the first day."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    first = (now - timedelta(days=days - 1)).date()
    for day in range(days):
        columns = simulate_day(day, segment_drift(16, per_week=2.5), start=first, rows=1500, seed=8)
        stamps = columns["scored_at"]
        keep = stamps < np.datetime64(now.replace(tzinfo=None), "ns")
        names = list(columns)
        with (folder / f"{first + timedelta(days=day)}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            cells = [
                np.datetime_as_string(stamps[keep], unit="s")
                if n == "scored_at"
                else columns[n][keep]
                for n in names
            ]
            writer.writerows(zip(*cells, strict=True))
    return datetime.combine(first, datetime.min.time(), tzinfo=UTC)


def _register(
    sessions: sessionmaker[Session], folder: Path, first: datetime, **changes: object
) -> None:
    content = card_yaml()
    content["baseline"] = {
        "from": first.date().isoformat(),
        "to": (first + timedelta(days=13)).date().isoformat(),
    }
    content["escalation"] = {"acknowledge_within": "4h", "ladder": ["builders", "U0ML1EAD"]}
    content.update(changes)
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    card = load_card(path)
    fitted = fit_for(card, file=str(path), base_dir=folder, environ={})
    with sessions.begin() as session:
        register_card(
            session=session, card=card, source_file=path, now=datetime.now(UTC), fitted=fitted
        )


def test_a_drift_reaches_the_channel_and_climbs_the_ladder_when_nobody_answers(
    sessions: sessionmaker[Session], slack_api: FakeSlack, tmp_path: Path
) -> None:
    slack_api.add_user("maria", user_id="U024BE7LH")
    slack_api.add_user("lead", user_id="U0ML1EAD")
    slack_api.add_channel("credit-model-health")
    first = _recent_days(tmp_path / "data", days=33)
    _register(sessions, tmp_path, first)

    workers = CheckWorkers(
        sessions=sessions,
        environ={},
        check=run_check,
        abandon=lambda guard: record_abandoned(sessions, guard, now=datetime.now(UTC)),
    )
    schedule.use(schedule.Context(workers=workers))
    try:
        schedule.run_check_job("credit-risk", 1)  # what the cron job calls
        deadline = time.monotonic() + 60
        while workers.counts.done + workers.counts.failed < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert workers.counts.done == 1
    finally:
        workers.stop()

    deliverer = Deliverer(
        sessions=sessions,
        client=make_client(token=BOT_TOKEN, base_url=slack_api.url),
        holder="test",
    )
    deliverer.deliver(budget=10)
    (root,) = slack_api.messages("credit-model-health")
    blocks = str(root["blocks"])
    assert "<@U024BE7LH>" in blocks
    assert "Rank applications by risk of default." in blocks
    assert "Less reliable in APAC: few APAC applicants in training." in blocks
    assert "region=APAC" in blocks

    with sessions() as session:
        opened = session.scalars(select(Episode)).one().opened_at
    assert escalation.sweep(sessions, now=opened + timedelta(hours=3)) == 0  # not yet due
    later = opened + timedelta(hours=4, minutes=1)
    assert escalation.sweep(sessions, now=later) == 1
    deliverer.now = lambda: later
    deliverer.deliver(budget=10)
    thread = slack_api.thread("credit-model-health", root["ts"])[1:]
    (step,) = [m for m in thread if "please have a look" in m["text"]]
    assert "<@U0ML1EAD>" in step["text"] and "4 hours" in step["text"]
    (edited,) = slack_api.messages("credit-model-health")[:1]
    assert "escalated once" in str(edited["blocks"])
    # past the last rung it repeats the last rung at a growing interval, at most three times
    waits = []
    for _ in range(4):
        with sessions() as session:
            due = session.scalars(select(Episode)).one().next_escalation_at
        if due is None:
            break
        waits.append(due - later)
        later = due
        assert escalation.sweep(sessions, now=later) == 1
    assert waits == [timedelta(hours=h) for h in (4, 8, 16)]  # then it stops, and says so


def test_a_new_card_version_is_announced_with_what_changed(
    sessions: sessionmaker[Session], slack_api: FakeSlack, tmp_path: Path
) -> None:
    slack_api.add_user("maria", user_id="U024BE7LH")
    slack_api.add_channel("credit-model-health")
    first = _recent_days(tmp_path / "data", days=15)
    _register(sessions, tmp_path, first)
    changed = [
        {
            "text": "Less reliable in APAC and in LATAM.",
            "segment": {"column": "region", "in": ["APAC", "LATAM"]},
        }
    ]
    _register(sessions, tmp_path, first, limitations=changed)
    Deliverer(
        sessions=sessions, client=make_client(token=BOT_TOKEN, base_url=slack_api.url), holder="t"
    ).deliver(budget=10)
    (note,) = slack_api.messages("credit-model-health")
    text = str(note["blocks"])
    assert "is now version 2" in text and "limitation changed" in text
    assert "<@U024BE7LH>" in text
