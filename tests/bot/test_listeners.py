"""The Slack app as Slack reaches it: real signed requests to POST /slack/events on a running
waitress server, bolt's handlers, the real slack_sdk client, and a fake Slack over HTTP."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.ids import ActionId, BlockId, CallbackId, InputId
from store.models import AuditEvent, Episode
from tests import signing
from tests.bot.served import (  # noqa: F401 - the fixtures
    BUILDER,
    SECRET,
    STRANGER,
    Served,
    _one_database,
    _served,
    _slack,
    wait_for,
)


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
    wait_for(lambda: _episode(sessions).state == "acknowledged")
    wait_for(lambda: any("acknowledged this" in m["text"] for m in served.thread()))
    edited = wait_for(
        lambda: [
            m for m in served.slack.messages("credit-model-health") if "Acknowledged by" in str(m)
        ]
    )
    assert edited[0]["ts"] == served.root["ts"]  # the same message, edited in place


def test_a_stranger_is_refused_privately_and_nothing_changes(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    _status, response_url = served.click(ActionId.ACKNOWLEDGE, user=STRANGER)
    answer = wait_for(lambda: served.slack.responses(response_url))
    assert answer[0]["response_type"] == "ephemeral"
    assert "Only its builders" in answer[0]["text"]
    assert _episode(sessions).state == "open"
    assert [e.actor for e in wait_for(lambda: _audit(sessions, "refused"))] == [STRANGER]


@pytest.mark.parametrize(("action", "days"), [(ActionId.SNOOZE_DAY, 1), (ActionId.SNOOZE_WEEK, 7)])
def test_snooze_a_day_or_a_week(
    served: Served, sessions: sessionmaker[Session], action: str, days: int
) -> None:
    served.click(action)
    episode = wait_for(lambda: (e := _episode(sessions)).state == "snoozed" and e)
    assert episode.snoozed_until is not None
    span = episode.snoozed_until - episode.updated_at
    assert timedelta(days=days) - timedelta(minutes=1) < span <= timedelta(days=days)


def test_resolve_opens_a_modal_and_its_submission_resolves_with_the_note(
    served: Served, sessions: sessionmaker[Session]
) -> None:
    trigger = served.slack.trigger_id(BUILDER)
    served.click(ActionId.RESOLVE, trigger_id=trigger)
    opened = wait_for(lambda: served.slack.calls("views.open"))
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
    reply = wait_for(lambda: [m for m in served.thread() if "resolved this" in m["text"]])
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
    reply = wait_for(lambda: [m for m in served.thread() if "please have a look" in m["text"]])
    assert "<@U0ML1EAD>" in reply[0]["text"]
    assert _episode(sessions).escalation_step == 1


def test_explain_for_business_posts_a_plain_note_linked_to_the_thread(served: Served) -> None:
    _status, response_url = served.click(ActionId.EXPLAIN)
    note = wait_for(lambda: served.slack.messages("underwriting"))
    assert "may be less reliable than usual" in str(note[0]["blocks"])
    assert "https://fake.slack.com/archives/" in str(note[0]["blocks"])
    assert (
        "on its way to #underwriting"
        in wait_for(lambda: served.slack.responses(response_url))[0]["text"]
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
    wait_for(lambda: _audit(sessions, "replied"))
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
    published = wait_for(lambda: served.slack.home(BUILDER))
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
    wait_for(lambda: _episode(sessions).state == "acknowledged")


def test_handled_event_ids_are_forgotten_after_a_day(sessions: sessionmaker[Session]) -> None:
    """Before, the ids kept to tell Slack's retries apart were never dropped (the table grew by
    every event for ever); the leader now forgets them hourly, a day after."""
    from datetime import UTC, datetime

    from bot.app import EVENT_MEMORY, forget_old_events
    from store import repo
    from store.models import SlackEvent

    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    with sessions.begin() as session:
        repo.remember_event(session=session, event_id="Ev0OLD", now=now - EVENT_MEMORY * 2)
        repo.remember_event(session=session, event_id="Ev0NEW", now=now - timedelta(minutes=5))
    forget_old_events(sessions, now=now)
    with sessions() as session:
        assert list(session.scalars(select(SlackEvent.event_id))) == ["Ev0NEW"]
