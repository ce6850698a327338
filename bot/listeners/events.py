"""Events: people's replies in an episode's thread go to its audit trail (the bot's own are
ignored), and opening the app shows the App Home."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import HomeRow, home_view
from bot.listeners.deps import Deps
from jobs import episodes
from jobs.queries import cards, finding_views, model_views
from jobs.schedule import next_fire
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
        if event.get("tab", "home") == "home":
            user = str(event["user"])
            rows, permalinks = home_rows(deps, user)
            client.views_publish(user_id=user, view=home_view(rows, permalinks))


def home_rows(deps: Deps, user: str) -> tuple[list[HomeRow], dict[int, str]]:
    """Every model with what `user` is to it, and the permalinks of its findings' threads."""
    now = deps.now()
    with deps.sessions() as session:
        views = model_views(session=session)
        known = cards(session=session)
        findings = [f for f in finding_views(session=session) if f.wants_attention]
    rows = []
    for view in views:
        card = known.get(view.model_id)
        if card is not None:
            mine = tuple(f for f in findings if f.model_id == view.model_id)
            next_check_in = next_fire(card.check_in, card.timezone, now)
            rows.append(HomeRow(view, mine, next_check_in, deps.access.role(user, card)))
    permalinks = {}
    for finding in findings:
        episode = finding.episode
        if episode is not None and episode.slack_ts and episode.id not in permalinks:
            link = deps.permalink(str(episode.slack_channel), episode.slack_ts)
            if link:
                permalinks[episode.id] = link
    return rows, permalinks
