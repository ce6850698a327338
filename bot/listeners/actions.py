"""Buttons of an episode's root message: acknowledge, snooze (a day, a week), resolve (a modal),
escalate now, explain for business. Each acknowledges at once and does its work in `deps.answer`'s
pool (off bolt's listener pool, which runs every ack): checks who may act (a refusal is an
ephemeral explanation, audited), and calls one jobs function."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.blocks.modals import resolve_view
from bot.ids import ActionId
from bot.listeners.deps import Deps, episode_and_card
from jobs import episodes, escalation
from jobs.errors import InvalidTransition
from jobs.queries import CardView
from store.models import Episode

SNOOZES = {ActionId.SNOOZE_DAY: timedelta(days=1), ActionId.SNOOZE_WEEK: timedelta(days=7)}
Listener = Callable[..., None]


def private(respond: Respond, text: str) -> None:
    """An answer only the clicking person sees, leaving the message as it is."""
    respond(text=text, response_type="ephemeral", replace_original=False)


def _do(
    verb: str,
    session: Session,
    episode: Episode,
    card: CardView,
    *,
    user: str,
    now: datetime,
    span: timedelta | None,
) -> str | None:
    """Call the jobs function for `verb`; what to tell the person privately, if anything."""
    if verb == "escalate":
        ladder = escalation.Ladder(card.ladder, card.acknowledge_within, card.channel)
        reason = f"<@{user}> escalated it"
        escalation.escalate(session, episode, ladder, now=now, actor=user, reason=reason)
        return None
    if verb == "explain":
        if not card.business_channel:
            return "This model's card names no business channel."
        channel = card.business_channel
        episodes.explain(session, episode=episode, actor=user, now=now, channel=channel)
        return f"A plain-language note is on its way to {channel}."
    until = now + span if span is not None else None
    episodes.act(
        session,
        episode=episode,
        action=verb,
        actor=user,
        now=now,
        channel=card.channel,
        until=until,
    )
    return None


def _episode_action(deps: Deps, verb: str, span: timedelta | None = None) -> Listener:
    def handle_episode_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user, episode_id = body["user"]["id"], int(body["actions"][0]["value"])
        now = deps.now()
        deps.answer(lambda: act(user, episode_id, now, respond), respond)

    def act(user: str, episode_id: int, now: datetime, respond: Respond) -> None:
        with deps.sessions.begin() as session:
            found = episode_and_card(session, episode_id)
            if found is None:
                private(respond, "This episode no longer exists.")
                return
            episode, card = found
            if not deps.access.may_act(user, card):
                episodes.refused(session, episode=episode, actor=user, action=verb, now=now)
                private(respond, f"Only {deps.access.who_may(card)} can {verb} this episode.")
                return
            try:
                said = _do(verb, session, episode, card, user=user, now=now, span=span)
            except InvalidTransition as error:
                private(respond, f"Nothing changed: {error}.")
                return
            model = episode.model_id
        if said:
            private(respond, said)
        deps.kick(model)

    return handle_episode_action


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.ACKNOWLEDGE)(_episode_action(deps, "acknowledge"))
    for action_id, span in SNOOZES.items():
        app.action(action_id)(_episode_action(deps, "snooze", span))
    app.action(ActionId.ESCALATE)(_episode_action(deps, "escalate"))
    app.action(ActionId.EXPLAIN)(_episode_action(deps, "explain"))

    @app.action(ActionId.RESOLVE)
    def handle_resolve_action(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Open the modal first (its trigger lasts 3 s); who may resolve is checked on submit."""
        ack()
        episode_id = int(body["actions"][0]["value"])
        title = str(body.get("message", {}).get("text", "")).split(" (", 1)[0] or "the model"
        client.views_open(trigger_id=body["trigger_id"], view=resolve_view(episode_id, title))
