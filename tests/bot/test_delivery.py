"""Delivery of the outbox to a fake Slack over real HTTP, with the real slack_sdk client: one root
per episode edited in place, replies in its thread, and nothing lost or duplicated through 429s,
5xx, hangs and a deliverer killed between Slack's answer and its own commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.delivery import Deliverer, make_client
from jobs.checks import run_check
from jobs.episodes import act_on
from jobs.registration import fit_for, register_card
from jobs.simulation import slow_drift
from store.cards import load_card
from store.models import Episode, Notification
from tests.replays import START, card_yaml, write_days
from tests.slack_api import FakeSlack
from tests.slack_fixtures import BOT_TOKEN

HANDOFF = str(Path(sys.executable).with_name("handoff"))
CHECKED = datetime.combine(START + timedelta(days=31), datetime.min.time(), tzinfo=UTC)


def _model(
    sessions: sessionmaker[Session], folder: Path, model: str = "credit-risk", **card: object
) -> None:
    """A registered model whose check of day 31 finds a drift: one open episode, queued."""
    write_days(folder / "data", slow_drift(16, per_week=1.5), days=31, rows=400, seed=3)
    content = card_yaml()
    content.update(model=model, builders=["U024BE7LH", "maria@example.com"], **card)
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    loaded = load_card(path)
    fitted = fit_for(loaded, file=str(path), base_dir=folder, environ={})
    with sessions.begin() as session:
        register_card(session=session, card=loaded, source_file=path, now=CHECKED, fitted=fitted)
    run_check(sessions=sessions, model_id=model, window_end=CHECKED, now=CHECKED, environ={})


@pytest.fixture(name="database_url")
def _one_database(sqlite_url: str) -> str:
    """Slack's behaviour does not depend on the backend: these tests run on SQLite only (the
    replicas test covers delivery on PostgreSQL)."""
    return sqlite_url


@pytest.fixture(name="slack")
def _slack(slack_api: FakeSlack) -> FakeSlack:
    slack_api.add_user("maria", user_id="U024BE7LH", email="maria@example.com")
    slack_api.add_channel("credit-model-health")
    return slack_api


def _deliverer(sessions: sessionmaker[Session], slack: FakeSlack, **kw: object) -> Deliverer:
    client = make_client(token=BOT_TOKEN, base_url=slack.url, timeout=2)
    return Deliverer(sessions=sessions, client=client, holder="test", **kw)  # type: ignore[arg-type]


def _statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.scalars(select(Notification.status)).all()
    return {status: rows.count(status) for status in set(rows)}


def _drain(deliverer: Deliverer, sessions: sessionmaker[Session], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _statuses(sessions).keys() - {"sent", "superseded", "dead"}:
        assert time.monotonic() < deadline, _statuses(sessions)
        deliverer.deliver(budget=5)
        time.sleep(0.2)


def test_an_episode_is_one_root_edited_in_place_and_a_thread(
    sessions: sessionmaker[Session], slack: FakeSlack, tmp_path: Path
) -> None:
    _model(sessions, tmp_path)
    deliverer = _deliverer(sessions, slack)
    report = deliverer.deliver(budget=10)
    assert report.dead == 0 and report.sent >= 1, report
    (root,) = slack.messages("credit-model-health")
    assert "<@U024BE7LH>" in str(root["blocks"])  # the builder tagged (the e-mail resolved too)
    assert "Rank applications by risk of default." in str(root["blocks"])
    assert "Less reliable in APAC" in str(root["blocks"]) or "utilization" in root["text"]
    assert root["metadata"]["event_payload"]["key"].endswith(":root")
    assert {"Acknowledge", "Resolve…", "Escalate now"} <= {
        e["text"]["text"] for b in root["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    with sessions.begin() as session:
        episode = session.scalars(select(Episode)).one()
        posted = slack.calls("chat.postMessage")[0].response
        assert (episode.slack_ts, episode.slack_channel) == (root["ts"], posted["channel"])
        act_on(
            session,
            target=f"E{episode.id}",
            action="acknowledge",
            actor="U024BE7LH",
            now=CHECKED + timedelta(hours=1),
        )
    deliverer.deliver(budget=10)
    (edited,) = slack.messages("credit-model-health")
    assert edited["ts"] == root["ts"] and "Acknowledged by <@U024BE7LH>" in str(edited["blocks"])
    thread = slack.thread("credit-model-health", root["ts"])
    assert any("acknowledged this" in m["text"] for m in thread[1:])
    assert not slack.warnings  # every message had its text fallback


def test_an_outage_loses_nothing_and_posts_no_second_root(
    sessions: sessionmaker[Session], slack: FakeSlack, tmp_path: Path
) -> None:
    """Slack answers 429 and then 500 for a while, during which findings are raised."""
    slack.add_channel("churn-model-health")
    _model(sessions, tmp_path / "a")
    _model(sessions, tmp_path / "b", model="churn", channel="#churn-model-health")
    slack.fail("chat.postMessage", 429, retry_after=1, times=3)
    slack.fail("chat.postMessage", 500, times=2)
    slack.hang("chat.postMessage", 3, times=1)  # one send times out: its outcome is unknown
    deliverer = _deliverer(sessions, slack)
    _drain(deliverer, sessions)
    statuses = [c.status for c in slack.calls("chat.postMessage")]
    assert statuses.count(429) == 3 and statuses.count(500) == 2
    for channel in ("credit-model-health", "churn-model-health"):
        roots = [
            m
            for m in slack.messages(channel)
            if not m.get("thread_ts") or m["thread_ts"] == m["ts"]
        ]
        assert len(roots) == 1, (channel, [m["text"] for m in roots])
    assert _statuses(sessions).keys() <= {"sent", "superseded"}


def test_a_deliverer_killed_after_slack_answered_posts_no_second_root(
    database_url: str, sessions: sessionmaker[Session], slack: FakeSlack, tmp_path: Path
) -> None:
    """The process is SIGKILLed after Slack handled the root post and before the database knew."""
    _model(sessions, tmp_path)
    slack.stall("chat.postMessage", 30)  # posted at once, answered only after 30 s
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.url,
    }
    process = subprocess.Popen([HANDOFF, "outbox", "--deliver"], env=env)
    deadline = time.monotonic() + 30
    while not slack.messages("credit-model-health"):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert _statuses(sessions).get("sending") == 1  # claimed, never recorded
    with sessions.begin() as session:  # two minutes later: the dead deliverer's claim expired
        for row in session.scalars(select(Notification).where(Notification.status == "sending")):
            row.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
    report = _deliverer(sessions, slack).deliver(budget=10)
    assert report.found_after_crash == 1, report
    assert len(slack.messages("credit-model-health")) == 1
    with sessions() as session:
        episode = session.scalars(select(Episode)).one()
        assert episode.slack_ts == slack.messages("credit-model-health")[0]["ts"]


def test_a_private_channel_the_app_is_not_in_is_dead_with_the_fix(
    sessions: sessionmaker[Session], slack_api: FakeSlack, tmp_path: Path
) -> None:
    slack_api.add_channel("credit-model-health", private=True, bot_member=False)
    _model(sessions, tmp_path)
    report = _deliverer(sessions, slack_api).deliver(budget=5)
    assert report.sent == 0 and report.dead >= 1
    with sessions() as session:
        dead = session.scalars(select(Notification).where(Notification.status == "dead")).all()
    assert "invite the app" in (dead[0].last_error or "")


def test_a_public_channel_is_joined_and_people_are_looked_up(
    sessions: sessionmaker[Session], slack_api: FakeSlack, tmp_path: Path
) -> None:
    slack_api.add_user("maria", user_id="U024BE7LH", email="someone@example.com", deleted=True)
    slack_api.add_channel("credit-model-health", bot_member=False)
    _model(sessions, tmp_path)
    _deliverer(sessions, slack_api).deliver(budget=5)
    assert slack_api.calls("conversations.join")
    (root,) = slack_api.messages("credit-model-health")
    text = str(root["blocks"])
    assert "maria@example.com is not a member of this Slack workspace" in text
    assert "U024BE7LH is deactivated in Slack" in text
    assert "<@U024BE7LH>" not in text


def test_posts_are_paced_to_a_message_a_second_per_channel(
    sessions: sessionmaker[Session], slack: FakeSlack, tmp_path: Path
) -> None:
    slack.rate_limit(1.0, burst=1)
    _model(sessions, tmp_path)
    with sessions.begin() as session:
        episode = session.scalars(select(Episode)).one()
        for action, until in (("acknowledge", None), ("snooze", CHECKED + timedelta(days=1))):
            act_on(
                session,
                target=f"E{episode.id}",
                action=action,
                actor="U024BE7LH",
                now=CHECKED + timedelta(minutes=5),
                until=until,
            )
    report = _deliverer(sessions, slack).deliver(budget=20)
    assert report.rate_limited == 0 and report.retried == 0, report
    posts = [c for c in slack.calls("chat.postMessage")]
    assert all(c.status == 200 for c in posts)
