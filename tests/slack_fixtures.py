"""pytest fixtures for Slack: a running `FakeSlack` and a real `WebClient` pointed at it.

Make them available to every test by importing them in ``tests/conftest.py``::

    from tests.slack_fixtures import slack_api, slack_client  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from tests.slack_api import FakeSlack

BOT_TOKEN = "xoxb-handoff-test"


@pytest.fixture(name="slack_api")
def _slack_api() -> Iterator[FakeSlack]:
    """A fresh fake workspace per test; closed (threads joined, socket closed) at teardown."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(name="slack_client")
def _slack_client(slack_api: FakeSlack) -> WebClient:
    """The real slack_sdk client, with the bot token, talking to `slack_api`."""
    return WebClient(token=BOT_TOKEN, base_url=slack_api.url, timeout=5)
