"""Modal submissions: the resolve dialog (what was done), checked and applied before its ack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.ids import BlockId, CallbackId, InputId
from bot.listeners.deps import Deps, episode_and_card
from jobs import episodes
from jobs.errors import InvalidTransition


def register(app: App, deps: Deps) -> None:
    @app.view(CallbackId.RESOLVE)
    def handle_resolve_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, episode_id = body["user"]["id"], int(view["private_metadata"])
        state = view["state"]["values"].get(BlockId.RESOLUTION, {})
        note = str((state.get(InputId.RESOLUTION) or {}).get("value") or "").strip()
        now = deps.now()
        with deps.sessions.begin() as session:
            found = episode_and_card(session, episode_id)
            if found is None:
                ack(response_action="errors", errors={BlockId.RESOLUTION: "The episode is gone."})
                return
            episode, card = found
            if not deps.access.may_act(user, card):
                episodes.refused(session, episode=episode, actor=user, action="resolve", now=now)
                why = f"Only {deps.access.who_may(card)} can resolve this."
                ack(response_action="errors", errors={BlockId.RESOLUTION: why[:150]})
                return
            try:
                episodes.act(
                    session,
                    episode=episode,
                    action="resolve",
                    actor=user,
                    now=now,
                    channel=card.channel,
                    note=note or None,
                )
            except InvalidTransition as error:
                ack(response_action="errors", errors={BlockId.RESOLUTION: str(error)[:150]})
                return
            model = episode.model_id
        ack()
        deps.kick(model)
