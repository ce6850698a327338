"""Connecting `handoff run` to Slack: check the token, build the app, choose HTTP or Socket Mode.

With SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, bolt's WSGI handler serves POST /slack/events on
the production server; with SLACK_APP_TOKEN too, Socket Mode (HTTP keeps /healthz and /metrics).
At start `auth.test` names the bot in the log; a token Slack refuses is one clear line and a
non-zero exit. Without the settings, Slack is off and the log says so once, with why.

Socket Mode connections have been reported to go silently deaf after reconnects (python-slack-sdk
1701, bolt-python 1529): a watchdog reconnects when the client says it is not connected or has not
seen a ping or pong for a while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.access import Access
from bot.app import apologize, build_app
from bot.checking import CheckNow
from bot.delivery import NETWORK_ERRORS, Deliverer, make_client
from bot.directory import Directory
from bot.listeners.commands import permalinker
from bot.listeners.deps import Deps
from bot.settings import Settings, SettingsError

log = logging.getLogger("handoff.slack")

WATCH_EVERY = 30.0
DEAF_AFTER = 120.0
ANSWER_WORKERS = 4  # answers wait on Slack too (respond over the network): a few overlap that


class Kicker:
    """Delivers a model's queued messages soon after a person's action, off the listener's
    thread (the claim on each row keeps this and the leader's delivery from sending twice)."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="handoff-kick")

    def kick(self, model_id: str) -> None:
        self._pool.submit(self._deliver, model_id)

    def _deliver(self, model_id: str) -> None:
        try:
            self.deliverer.deliver(budget=10, model_id=model_id)
        except Exception:  # the leader's delivery job retries whatever this missed
            log.exception("delivering %s after an action failed", model_id)

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Answers:
    """Works out `/model` answers in a pool of their own, after the ack. bolt runs each listener,
    its ack() included, in its listener pool: answers worked out there would, in a burst, leave
    the requests behind them unacknowledged until one is done (Slack gives up after 3 s)."""

    def __init__(self, workers: int = ANSWER_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handoff-answer")

    def __call__(self, work: Callable[[], None], respond: Any) -> None:
        self._pool.submit(self._run, work, respond)

    def _run(self, work: Callable[[], None], respond: Any) -> None:
        try:
            work()
        except Exception as error:  # as the app's error handler answers a failed listener
            apologize(error, respond)

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class SlackLink:
    """A live connection to Slack: the app, the deliverer, and the HTTP handler or socket."""

    app: App
    deliverer: Deliverer
    directory: Directory
    identity: str
    kicker: Kicker
    listeners: ThreadPoolExecutor
    check_now: CheckNow
    answers: Answers
    wsgi: SlackRequestHandler | None = None
    socket: SocketModeHandler | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        if self.socket is not None:
            self.socket.connect()  # type: ignore[no-untyped-call]
            threading.Thread(target=self._watch, name="handoff-socket-watch", daemon=True).start()

    def _watch(self) -> None:
        assert self.socket is not None
        client: Any = self.socket.client
        while not self._stop.wait(WATCH_EVERY):
            pinged = getattr(client, "last_ping_pong_time", None)
            deaf = pinged is not None and time.time() - pinged > DEAF_AFTER
            if not client.is_connected() or deaf:
                log.warning("Socket Mode connection lost (or deaf): reconnecting")
                try:
                    client.connect()
                except Exception:  # tried again at the next watch
                    log.exception("Socket Mode reconnect failed")

    def stop(self) -> None:
        """Close the socket, then let the listeners and kicks in flight finish (bounded by their
        own timeouts) so that none outlives the database it writes to."""
        self._stop.set()
        if self.socket is not None:
            self.socket.close()  # type: ignore[no-untyped-call]
        self.listeners.shutdown(wait=True, cancel_futures=True)
        self.answers.stop()
        self.check_now.stop()
        self.kicker.stop()


def off_reason(settings: Settings) -> str | None:
    """Why Slack is off with these settings (None when it is on)."""
    if not settings.slack_bot_token:
        return "SLACK_BOT_TOKEN is not set"
    if not settings.slack_app_token and not settings.slack_signing_secret:
        return "SLACK_SIGNING_SECRET is not set (and no SLACK_APP_TOKEN for Socket Mode)"
    return None


def connect(settings: Settings, sessions: sessionmaker[Session], holder: str) -> SlackLink | None:
    """The link to Slack, or None (logged once) when the settings leave Slack off."""
    reason = off_reason(settings)
    if reason is not None:
        log.warning(
            "Slack is off: %s. handoff checks and queues its messages; set SLACK_BOT_TOKEN and "
            "SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode) to deliver them",
            reason,
        )
        return None
    assert settings.slack_bot_token is not None
    client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    identity = _identity(client, settings)
    directory = Directory(client)
    deliverer = Deliverer(sessions=sessions, client=client, holder=holder, directory=directory)
    kicks = Deliverer(
        sessions=sessions, client=client, holder=f"{holder}:kick", directory=directory
    )
    kicker = Kicker(kicks)
    check_now = CheckNow(sessions=sessions, client=client, delivered=kicker.kick)
    answers = Answers()
    deps = Deps(
        sessions=sessions,
        directory=directory,
        access=Access(directory, settings.admins),
        kick=kicker.kick,
        check_now=check_now,
        permalink=permalinker(client),
        answer=answers,
    )
    listeners = ThreadPoolExecutor(max_workers=8, thread_name_prefix="handoff-listener")
    secret = settings.slack_signing_secret or ""
    app = build_app(client=client, signing_secret=secret, deps=deps, executor=listeners)
    link = SlackLink(
        app=app,
        deliverer=deliverer,
        directory=directory,
        identity=identity,
        kicker=kicker,
        listeners=listeners,
        check_now=check_now,
        answers=answers,
    )
    if settings.slack_app_token:
        link.socket = SocketModeHandler(app, settings.slack_app_token, web_client=client)
    else:
        link.wsgi = SlackRequestHandler(app)
    mode = "Socket Mode" if link.socket else "HTTP (POST /slack/events)"
    log.info("Slack is on as %s, over %s, API at %s", identity, mode, settings.slack_api_url)
    return link


def _identity(client: Any, settings: Settings) -> str:
    try:
        answer = client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error", "an error")
        raise SettingsError(
            f"Slack refused SLACK_BOT_TOKEN ({code}): copy the bot token (xoxb-...) of the app "
            "from its OAuth & Permissions page, or reinstall the app"
        ) from None
    except NETWORK_ERRORS as error:
        raise SettingsError(
            f"cannot reach Slack at SLACK_API_URL ({settings.slack_api_url}): {error}"
        ) from None
    return f"@{answer.get('user')} ({answer.get('user_id')}) in {answer.get('team')}"
