"""Shared fixtures of the Slack tests: a fake Slack with people and channels, and the app served
on a real waitress server (`served`), with one model whose drift was delivered as an episode."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from waitress.server import create_server

from bot import slack as slack_link
from bot.server import make_wsgi
from bot.settings import Settings
from store.models import Episode
from tests import signing
from tests.bot.test_delivery import _model
from tests.slack_api import FakeSlack
from tests.slack_fixtures import BOT_TOKEN

SECRET = "test-signing-secret"
BUILDER = "U024BE7LH"
STRANGER = "U0STRANGER"


@pytest.fixture(name="database_url")
def _one_database(sqlite_url: str) -> str:
    """Slack's behaviour does not depend on the backend: these tests run on SQLite only (the
    replicas test covers delivery on PostgreSQL)."""
    return sqlite_url


@pytest.fixture(name="slack")
def _slack(slack_api: FakeSlack) -> FakeSlack:
    slack_api.add_user("maria", user_id=BUILDER, email="maria@example.com")
    slack_api.add_user("lead", user_id="U0ML1EAD")
    slack_api.add_user("stranger", user_id=STRANGER)
    slack_api.add_channel("credit-model-health", members=[BUILDER, STRANGER])
    slack_api.add_channel("underwriting")
    return slack_api


class Served:
    """The app on a real server, the episode it shows, and helpers to click and wait."""

    def __init__(
        self, url: str, link: slack_link.SlackLink, slack: FakeSlack, root: dict[str, Any]
    ):
        self.url, self.link, self.slack, self.root = url, link, slack, root

    def send(self, request: signing.SignedRequest) -> tuple[int, bytes]:
        status, _headers, body = signing.post(self.url, request.body, request.headers)
        return status, body

    def click(self, action: str, user: str = BUILDER, **extra: Any) -> tuple[int, str]:
        response_url = self.slack.response_url(channel="credit-model-health", user=user)
        request = signing.block_actions(
            action,
            str(self.episode_id),
            secret=SECRET,
            user_id=user,
            channel_id=self.root["channel"],
            message={"type": "message", "ts": self.root["ts"], "text": self.root["text"]},
            response_url=response_url,
            **extra,
        )
        started = time.monotonic()
        status, _ = self.send(request)
        assert time.monotonic() - started < 3, "acknowledged within Slack's 3 seconds"
        return status, response_url

    @property
    def episode_id(self) -> int:
        return int(self.root["episode_id"])

    def thread(self) -> list[dict[str, Any]]:
        return self.slack.thread("credit-model-health", self.root["ts"])[1:]


def wait_for(condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


@pytest.fixture(name="served")
def _served(sessions: sessionmaker[Session], slack: FakeSlack, tmp_path: Path) -> Iterator[Served]:
    _model(
        sessions,
        tmp_path,
        business_channel="#underwriting",
        escalation={"acknowledge_within": "4h", "ladder": ["builders", "U0ML1EAD"]},
    )
    link = connected(sessions, slack)
    link.deliverer.deliver(budget=10)
    (root,) = slack.messages("credit-model-health")
    with sessions() as session:
        episode = session.scalars(select(Episode)).one()
    root = {**root, "channel": episode.slack_channel, "episode_id": episode.id}
    with serving(link) as url:
        yield Served(url, link, slack, root)


def connected(sessions: sessionmaker[Session], slack: FakeSlack) -> slack_link.SlackLink:
    """The link to the fake Slack, as `handoff run` makes it (HTTP mode)."""
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack.url + "/",
        admins=frozenset({"U0ADMIN"}),
    )
    link = slack_link.connect(settings, sessions, "test")
    assert link is not None and link.wsgi is not None
    return link


@contextmanager
def serving(link: slack_link.SlackLink) -> Iterator[str]:
    """The app on a real waitress server; its /slack/events URL. Stops the link at the end."""
    app = make_wsgi(health=lambda: {"ok": True}, metrics=lambda: b"", slack=link.wsgi)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"
    finally:
        server.close()
        link.stop()
        thread.join(timeout=5)
