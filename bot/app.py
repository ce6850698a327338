"""The bolt app: `build_app` creates it and registers every listener explicitly; one error
handler turns what went wrong into words for the person (and a correlation id for the log).

Requests are verified by bolt (signature and a 5-minute timestamp window: forged or stale ones get
401 and change nothing). Listeners acknowledge at once and do their work after the ack (bolt runs
them in its thread pool). An event Slack retries (`X-Slack-Retry-Num`, the same `event_id`) is
handled once: the first delivery's `event_id` is stored, and a repeat is acknowledged unread.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.listeners import register
from bot.listeners.deps import Deps
from store import repo

log = logging.getLogger(__name__)


def build_app(
    *,
    client: WebClient,
    signing_secret: str,
    deps: Deps,
    executor: ThreadPoolExecutor | None = None,
    before_response: bool = False,
) -> App:
    """The app on `client` (whose base URL is SLACK_API_URL) with handoff's listeners; they run
    in `executor` after their ack (its owner shuts it down), or with `before_response` inside
    the request, before it is answered (`handoff demo` replays clicks one after another)."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,  # the runtime called auth.test already
        raise_error_for_unhandled_request=False,
        listener_executor=executor,
        process_before_response=before_response,
    )

    @app.middleware
    def handle_each_event_once(
        req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        body = req.body
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            try:
                with deps.sessions.begin() as session:
                    repo.remember_event(session=session, event_id=str(event_id), now=deps.now())
            except IntegrityError:
                log.info("event %s already handled (a retry): ignored", event_id)
                return BoltResponse(status=200, body="")
        return next()

    @app.error
    def handle_error(error: Exception, body: dict[str, Any], respond: Any) -> None:
        apologize(error, respond if body.get("response_url") else None)

    register(app, deps)
    return app


EVENT_MEMORY = timedelta(days=1)
"""How long an event id is remembered to tell Slack's retries from new events (Slack retries
within the hour: at once, after a minute, after five)."""


def forget_old_events(sessions: sessionmaker[Session], *, now: datetime) -> None:
    """Drop the ids of events handled longer ago than `EVENT_MEMORY` (the leader, hourly)."""
    with sessions.begin() as session:
        repo.forget_events(session=session, before=now - EVENT_MEMORY)


def apologize(error: Exception, respond: Any | None) -> None:
    """Log `error` under a correlation id and, when the person can be answered, tell them so."""
    correlation = uuid.uuid4().hex[:12]
    log.error("listener failed (id %s)", correlation, exc_info=error)
    if respond is not None:
        respond(
            text=f"Something went wrong on handoff's side (id {correlation}); "
            "the team can find the details in its log.",
            response_type="ephemeral",
            replace_original=False,
        )
