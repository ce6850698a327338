"""The Slack app as Slack reaches it: real signed requests to POST /slack/events on a running
waitress server, bolt's handlers, the real slack_sdk client, and a fake Slack over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from waitress.server import create_server

from bot import slack as slack_link
from bot.ids import ActionId, BlockId, CallbackId, InputId
from bot.server import make_wsgi
from bot.settings import Settings
from store.models import AuditEvent, Episode
from tests import signing
from tests.bot.test_delivery import _model
from tests.slack_api import FakeSlack
from tests.slack_fixtures import BOT_TOKEN

SECRET = "test-signing-secret"
BUILDER = "U024BE7LH"
STRANGER = "U0STRANGER"


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


def _wait(condition: Callable[[], Any], timeout: float = 15) -> Any:
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
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack.url + "/",
        admins=frozenset({"U0ADMIN"}),
    )
    link = slack_link.connect(settings, sessions, "test")
    assert link is not None and link.wsgi is not None
    link.deliverer.deliver(budget=10)
    (root,) = slack.messages("credit-model-health")
    with sessions() as session:
        episode = session.scalars(select(Episode)).one()
    root = {**root, "channel": episode.slack_channel, "episode_id": episode.id}
    app = make_wsgi(health=lambda: {"ok": True}, metrics=lambda: b"", slack=link.wsgi)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.effective_port}/slack/events", link, slack, root)
    finally:
        server.close()
        link.stop()
        thread.join(timeout=5)


def _episode(sessions: sessionmaker[Session]) -> Episode:
    with sessions() as session:
        return session.scalars(select(Episode)).one()


def _audit(sessions: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_acknowledge_updates_the_root_and_says_so_in_the_thread(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    status, _ = served.click(ActionId.ACKNOWLEDGE)
    assert status == 200
    _wait(lambda: _episode(sessions).state == "acknowledged")
    _wait(lambda: any("acknowledged this" in m["text"] for m in served.thread()))
    edited = _wait(
        lambda: [
            m for m in served.slack.messages("credit-model-health") if "Acknowledged by" in str(m)
        ]
    )
    assert edited[0]["ts"] == served.root["ts"]  # the same message, edited in place


def test_a_stranger_is_refused_privately_and_nothing_changes(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    _status, response_url = served.click(ActionId.ACKNOWLEDGE, user=STRANGER)
    answer = _wait(lambda: served.slack.responses(response_url))
    assert answer[0]["response_type"] == "ephemeral"
    assert "Only its builders" in answer[0]["text"]
    assert _episode(sessions).state == "open"
    assert [e.actor for e in _wait(lambda: _audit(sessions, "refused"))] == [STRANGER]


@pytest.mark.parametrize(("action", "days"), [(ActionId.SNOOZE_DAY, 1), (ActionId.SNOOZE_WEEK, 7)])
def test_snooze_a_day_or_a_week(
    served: Served, sessions: sessionmaker[Session], action: str, days: int
) -> None:
    served.click(action)
    episode = _wait(lambda: (e := _episode(sessions)).state == "snoozed" and e)
    assert episode.snoozed_until is not None
    span = episode.snoozed_until - episode.updated_at
    assert timedelta(days=days) - timedelta(minutes=1) < span <= timedelta(days=days)


def test_resolve_opens_a_modal_and_its_submission_resolves_with_the_note(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    trigger = served.slack.trigger_id(BUILDER)
    served.click(ActionId.RESOLVE, trigger_id=trigger)
    opened = _wait(lambda: served.slack.calls("views.open"))
    view = (
        json.loads(opened[0].params["view"])
        if isinstance(opened[0].params["view"], str)
        else opened[0].params["view"]
    )
    assert view["callback_id"] == CallbackId.RESOLVE and opened[0].status == 200
    values = {
        BlockId.RESOLUTION: {
            InputId.RESOLUTION: {"type": "plain_text_input", "value": "Retrained on August"}
        }
    }
    status, body = served.send(
        signing.view_submission(
            CallbackId.RESOLVE,
            values,
            secret=SECRET,
            user_id=BUILDER,
            private_metadata=str(served.episode_id),
        )
    )
    assert status == 200 and body in (b"", b"{}")
    episode = _episode(sessions)
    assert (episode.state, episode.resolved_by, episode.resolution) == (
        "resolved",
        BUILDER,
        "Retrained on August",
    )
    reply = _wait(lambda: [m for m in served.thread() if "resolved this" in m["text"]])
    assert reply[0].get("subtype") == "thread_broadcast" or reply[0].get("reply_broadcast")


def test_a_strangers_resolve_submission_is_refused_in_the_modal(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    status, body = served.send(
        signing.view_submission(
            CallbackId.RESOLVE,
            {},
            secret=SECRET,
            user_id=STRANGER,
            private_metadata=str(served.episode_id),
        )
    )
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert _episode(sessions).state == "open"


def test_escalate_now_tags_the_next_rung_in_the_thread(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    served.click(ActionId.ESCALATE)
    reply = _wait(lambda: [m for m in served.thread() if "please have a look" in m["text"]])
    assert "<@U0ML1EAD>" in reply[0]["text"]
    assert _episode(sessions).escalation_step == 1


def test_explain_for_business_posts_a_plain_note_linked_to_the_thread(served: Served) -> None:
    _status, response_url = served.click(ActionId.EXPLAIN)
    note = _wait(lambda: served.slack.messages("underwriting"))
    assert "may be less reliable than usual" in str(note[0]["blocks"])
    assert "https://fake.slack.com/archives/" in str(note[0]["blocks"])
    assert (
        "on its way to #underwriting"
        in _wait(lambda: served.slack.responses(response_url))[0]["text"]
    )


def test_thread_replies_are_audited_once_even_when_slack_retries(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    event = signing.message_event(
        served.root["channel"],
        "Looking into it: a new data vendor since Monday",
        user=BUILDER,
        thread_ts=served.root["ts"],
    )
    first = signing.event_callback(event, secret=SECRET, event_id="Ev0RETRIED1")
    assert served.send(first)[0] == 200
    assert served.send(first.retried(1))[0] == 200
    _wait(lambda: _audit(sessions, "replied"))
    time.sleep(0.5)
    (kept,) = _audit(sessions, "replied")
    assert (kept.actor, kept.detail["text"]) == (
        BUILDER,
        "Looking into it: a new data vendor since Monday",
    )
    bot = {**event, "bot_id": "B0BOT", "ts": f"{time.time():.6f}"}
    served.send(signing.event_callback(bot, secret=SECRET))
    time.sleep(0.5)
    assert len(_audit(sessions, "replied")) == 1


@pytest.mark.parametrize("bad", ["forged", "stale"])
def test_forged_or_stale_requests_get_401_and_change_nothing(
    served: Served, sessions: sessionmaker[Session], bad: str
) -> None:
    request = signing.block_actions(
        ActionId.ACKNOWLEDGE,
        str(served.episode_id),
        secret=SECRET,
        user_id=BUILDER,
        forge=bad == "forged",
        timestamp=int(time.time()) - 600 if bad == "stale" else None,
    )
    assert served.send(request)[0] == 401
    time.sleep(0.3)
    assert _episode(sessions).state == "open"


def test_the_app_home_is_published_when_opened(served: Served) -> None:
    served.send(signing.event_callback(signing.app_home_opened(BUILDER), secret=SECRET))
    published = _wait(lambda: served.slack.home(BUILDER))
    assert "credit-risk" in json.dumps(published)


def test_the_same_click_through_socket_mode(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    """Socket Mode's handler runs the same app: the envelope is acknowledged and acted on."""
    handler = SocketModeHandler(served.link.app, "xapp-test", web_client=served.link.app.client)
    sent: list[Any] = []
    handler.client.send_socket_mode_response = sent.append  # type: ignore[method-assign]
    payload = signing.block_actions(
        ActionId.ACKNOWLEDGE,
        str(served.episode_id),
        secret=SECRET,
        user_id=BUILDER,
        response_url=served.slack.response_url(channel="credit-model-health", user=BUILDER),
    ).payload
    handler.handle(
        handler.client, SocketModeRequest(type="interactive", envelope_id="E1", payload=payload)
    )
    assert sent and sent[0].envelope_id == "E1"
    _wait(lambda: _episode(sessions).state == "acknowledged")
