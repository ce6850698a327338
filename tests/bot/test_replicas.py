"""Two `handoff run` replicas on PostgreSQL: one leads (scheduler, sweeper, delivery), both serve
Slack, and every queued message reaches Slack once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.ids import ActionId
from jobs.simulation import slow_drift
from store import db
from store.models import Episode, Notification
from tests import signing
from tests.databases import postgres_url, scratch_postgres
from tests.replays import card_yaml, write_days
from tests.slack_api import FakeSlack
from tests.slack_fixtures import BOT_TOKEN

pytestmark = pytest.mark.postgres
HANDOFF = str(Path(sys.executable).with_name("handoff"))
SECRET = "replica-secret"


@pytest.fixture(name="database")
def _database() -> Iterator[str]:
    base = postgres_url()
    assert base is not None
    with scratch_postgres(base) as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return dict(json.load(reply))
    except OSError:
        return {}


def _key(metadata: object) -> str:
    data = json.loads(metadata) if isinstance(metadata, str) else metadata
    return str(data["event_payload"]["key"])  # type: ignore[index]


def _wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


def test_two_replicas_deliver_each_message_once(
    database: str, slack_api: FakeSlack, tmp_path: Path
) -> None:
    slack_api.add_user("maria", user_id="U024BE7LH")
    slack_api.add_channel("credit-model-health")
    write_days(tmp_path / "data", slow_drift(16, per_week=1.5), days=31, rows=400, seed=3)
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(card_yaml()))
    env = {**os.environ, "DATABASE_URL": database, "HOST": "127.0.0.1"}
    for command in (["register", str(card)], ["check", "credit-risk", "--as-of", "2026-02-05"]):
        subprocess.run([HANDOFF, *command], env=env, check=True, timeout=120, capture_output=True)
    slack = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api.url,
        "HANDOFF_LEADER_TTL_SECONDS": "3",
    }
    ports = [_port(), _port()]
    processes = []
    for port in ports:
        log = (tmp_path / f"run-{port}.log").open("w")
        processes.append(
            subprocess.Popen(
                [HANDOFF, "run"], env={**env, **slack, "PORT": str(port)}, stdout=log, stderr=log
            )
        )
        log.close()
    engine = db.make_engine(database)
    sessions = db.make_sessionmaker(engine)
    try:
        _wait(lambda: all(_health(p) for p in ports))
        _wait(lambda: sum(bool(_health(p).get("leader")) for p in ports) == 1)
        _wait(lambda: len(slack_api.messages("credit-model-health")) == 1)
        (root,) = slack_api.messages("credit-model-health")
        follower = next(p for p in ports if not _health(p).get("leader"))
        with sessions() as session:
            episode = session.scalars(select(Episode)).one()
        request = signing.block_actions(
            ActionId.ACKNOWLEDGE,
            str(episode.id),
            secret=SECRET,
            user_id="U024BE7LH",
            channel_id=episode.slack_channel or "",
            message={"type": "message", "ts": root["ts"], "text": root["text"]},
            response_url=slack_api.response_url(channel="credit-model-health", user="U024BE7LH"),
        )
        status, _h, _b = signing.post(
            f"http://127.0.0.1:{follower}/slack/events", request.body, request.headers
        )
        assert status == 200  # the follower serves Slack too

        def delivered() -> bool:
            with sessions() as session:
                statuses = set(session.scalars(select(Notification.status)))
            return statuses <= {"sent", "superseded"}

        thread = lambda: slack_api.thread("credit-model-health", root["ts"])  # noqa: E731
        _wait(lambda: any("acknowledged this" in m["text"] for m in thread()))
        _wait(delivered)
        time.sleep(3)  # a second deliverer would have posted by now
        posts = [c for c in slack_api.calls("chat.postMessage") if c.status == 200]
        keys = [_key(c.params["metadata"]) for c in posts]
        assert len(keys) == len(set(keys)), keys  # each message once
        assert len(slack_api.messages("credit-model-health")) == 1
    finally:
        engine.dispose()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    logs = "".join(p.read_text() for p in tmp_path.glob("run-*.log"))
    assert "Traceback" not in logs, logs
