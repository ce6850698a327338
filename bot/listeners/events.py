"""Events: people's replies in an episode's thread go to its audit trail (the bot's own are
ignored), and opening the app shows the App Home."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import home_view
from bot.listeners.deps import Deps
from jobs import episodes
from jobs.queries import model_views
from store import repo


def register(app: App, deps: Deps) -> None:
    @app.event("message")
    def handle_message_event(event: dict[str, Any]) -> None:
        thread, ts = event.get("thread_ts"), event.get("ts")
        if event.get("subtype") or event.get("bot_id") or not thread or thread == ts:
            return
        with deps.sessions.begin() as session:
            episode = repo.episode_by_message(
                session=session, channel=str(event.get("channel")), ts=str(thread)
            )
            if episode is None:
                return
            episodes.replied(
                session,
                episode=episode,
                actor=str(event.get("user")),
                text=str(event.get("text", "")),
                ts=str(ts),
                now=deps.now(),
            )

    @app.event("app_home_opened")
    def handle_home_event(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        with deps.sessions() as session:
            views = model_views(session=session)
        client.views_publish(user_id=str(event["user"]), view=home_view(views))
