"""The check-in's buttons and modals: All still true (recorded at once), Needs review (a modal
to edit the intent and limitations: a new card version), Hand over (a modal to pick the new
builders: a new card version, the new builders welcomed). Who may answer: whoever may act on the
model's episodes (bot/access.py); a refusal is explained privately and changes nothing.

A modal is opened before anything slow (its trigger lasts 3 seconds); the submission is checked
and applied before its ack, so a bad edit is shown under the input it came from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.blocks.modals import hand_over_view, review_view
from bot.ids import ActionId, BlockId, CallbackId, InputId
from bot.listeners.actions import private
from bot.listeners.deps import Deps
from jobs import checkins
from jobs.errors import NotFound
from jobs.queries import CardView, CheckInView, cards, check_in_view

Listener = Callable[..., None]
GONE = "This check-in is gone (its model was removed)."


def _view(deps: Deps, check_in_id: int) -> CheckInView | None:
    with deps.sessions() as session:
        return check_in_view(session=session, check_in_id=check_in_id)


def _refusal(deps: Deps, view: CheckInView, user: str) -> str | None:
    if deps.access.may_act(user, view.card):
        return None
    return f"Only {deps.access.who_may(view.card)} can answer this check-in."


def register(app: App, deps: Deps) -> None:
    app.action(ActionId.STILL_TRUE)(_still_true(deps))
    app.action(ActionId.NEEDS_REVIEW)(_needs_review(deps))
    app.action(ActionId.HAND_OVER)(_hand_over(deps))
    app.view(CallbackId.REVIEW)(_review_submitted(deps))
    app.view(CallbackId.HAND_OVER)(_hand_over_submitted(deps))


def _still_true(deps: Deps) -> Listener:
    def handle_still_true(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user, check_in_id = body["user"]["id"], int(body["actions"][0]["value"])
        now = deps.now()
        deps.answer(lambda: record(user, check_in_id, now, respond), respond)

    def record(user: str, check_in_id: int, now: datetime, respond: Respond) -> None:
        view = _view(deps, check_in_id)
        if view is None:
            private(respond, GONE)
            return
        refused = _refusal(deps, view, user)
        if refused:
            private(respond, refused)
            return
        with deps.sessions.begin() as session:
            checkins.answer(
                session, check_in_id=check_in_id, actor=user, response="still_true", now=now
            )
        private(respond, f"Thanks: recorded that the card of {view.card.name} is still true.")
        deps.kick(view.model_id)

    return handle_still_true


def _needs_review(deps: Deps) -> Listener:
    def handle_needs_review(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = _view(deps, int(body["actions"][0]["value"]))
        if view is not None:
            card = _current(deps, view)
            client.views_open(trigger_id=body["trigger_id"], view=review_view(view.id, card))

    return handle_needs_review


def _hand_over(deps: Deps) -> Listener:
    def handle_hand_over(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = _view(deps, int(body["actions"][0]["value"]))
        if view is None:
            return
        card = _current(deps, view)
        ids = [i for b in card.builders if (i := deps.directory.user_id(b)) is not None]
        client.views_open(trigger_id=body["trigger_id"], view=hand_over_view(view.id, card, ids))

    return handle_hand_over


def _review_submitted(deps: Deps) -> Listener:
    def handle_review(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, check_in_id = body["user"]["id"], int(view["private_metadata"])
        values = view["state"]["values"]
        shown = _view(deps, check_in_id)
        if shown is None:
            ack(response_action="errors", errors={BlockId.PROBLEM: GONE})
            return
        refused = _refusal(deps, shown, user)
        if refused:
            ack(response_action="errors", errors={BlockId.PROBLEM: refused[:150]})
            return
        limitations = [
            _value(values, block)
            for block in sorted(
                (b for b in values if b.startswith(BlockId.LIMITATION)),
                key=lambda b: int(b.removeprefix(BlockId.LIMITATION)),
            )
        ]
        try:
            with deps.sessions.begin() as session:
                checkins.revise(
                    session,
                    check_in_id=check_in_id,
                    actor=user,
                    now=deps.now(),
                    problem=_value(values, BlockId.PROBLEM),
                    good_outcome=_value(values, BlockId.GOOD_OUTCOME),
                    decisions=_value(values, BlockId.DECISIONS),
                    limitations=limitations,
                )
        except checkins.CardEditError as error:
            block = BlockId.PROBLEM if error.field == "intent" else error.field
            ack(response_action="errors", errors={block: error.message[:150]})
            return
        except NotFound:
            ack(response_action="errors", errors={BlockId.PROBLEM: GONE})
            return
        ack()
        deps.kick(shown.model_id)

    return handle_review


def _hand_over_submitted(deps: Deps) -> Listener:
    def handle_hand_over_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, check_in_id = body["user"]["id"], int(view["private_metadata"])
        state = view["state"]["values"].get(BlockId.BUILDERS, {})
        chosen = list((state.get(InputId.BUILDERS) or {}).get("selected_users") or [])
        shown = _view(deps, check_in_id)
        if shown is None:
            ack(response_action="errors", errors={BlockId.BUILDERS: GONE})
            return
        refused = _refusal(deps, shown, user)
        if refused:
            ack(response_action="errors", errors={BlockId.BUILDERS: refused[:150]})
            return
        try:
            with deps.sessions.begin() as session:
                checkins.hand_over(
                    session, check_in_id=check_in_id, actor=user, now=deps.now(), builders=chosen
                )
        except checkins.CardEditError as error:
            ack(response_action="errors", errors={BlockId.BUILDERS: error.message[:150]})
            return
        ack()
        deps.kick(shown.model_id)

    return handle_hand_over_submission


def _current(deps: Deps, view: CheckInView) -> CardView:
    """The model's newest card: an edit starts from it, not from the version the check-in showed."""
    with deps.sessions() as session:
        return cards(session=session).get(view.model_id, view.card)


def _value(values: dict[str, Any], block: str) -> str:
    return str((values.get(block, {}).get(block) or {}).get("value") or "")
