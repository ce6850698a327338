"""``views.open``, ``.push``, ``.update`` and ``.publish``: modals and the App Home.

A ``trigger_id`` must come from `FakeSlack.trigger_id` and is good once, for 3 seconds:
``invalid_trigger_id`` (unknown), ``exchanged_trigger_id`` (used), ``expired_trigger_id`` (old).
A bad view answers ``invalid_arguments`` with ``response_metadata.messages``, as Slack does for
views (messages answer ``invalid_blocks`` instead).
"""

from __future__ import annotations

from typing import Any

from bot.fakeslack.blocks import view_errors
from bot.fakeslack.params import Params, SlackError
from bot.fakeslack.state import TRIGGER_TTL, Method, Trigger, View, Workspace

PUSH_LIMIT = 3  # views in one modal stack


def take_trigger(ws: Workspace, p: Params) -> Trigger:
    trigger = ws.triggers.get(p.required("trigger_id"))
    if trigger is None:
        raise SlackError("invalid_trigger_id")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    if ws.now() - trigger.issued_at > TRIGGER_TTL:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger


def checked_view(ws: Workspace, p: Params, *, kind: str) -> dict[str, Any]:
    view = p.json("view")
    if isinstance(view, str):
        raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid json"]})
    errors = view_errors(view)
    if not errors and view.get("type") != kind:
        errors = [f"must be {kind} [json-pointer:/view/type]"]
    if errors:
        messages = [f"[ERROR] {error}" for error in errors]
        raise SlackError("invalid_arguments", response_metadata={"messages": messages})
    return dict(view)


def _unique_external_id(ws: Workspace, payload: dict[str, Any], keep: str | None = None) -> None:
    external_id = payload.get("external_id")
    if external_id and any(
        v.external_id == external_id and v.id != keep for v in ws.views.values()
    ):
        raise SlackError("duplicate_external_id")


def _answer(ws: Workspace, view: View) -> dict[str, Any]:
    return {"ok": True, "view": view.to_api(ws.identity)}


def views_open(ws: Workspace, p: Params) -> dict[str, Any]:
    trigger = take_trigger(ws, p)
    payload = checked_view(ws, p, kind="modal")
    _unique_external_id(ws, payload)
    view_id = ws.new_id("V")
    view = View(view_id, "modal", trigger.user, payload, ws.new_hash(), root_view_id=view_id)
    ws.views[view.id] = view
    return _answer(ws, view)


def views_push(ws: Workspace, p: Params) -> dict[str, Any]:
    trigger = take_trigger(ws, p)
    payload = checked_view(ws, p, kind="modal")
    _unique_external_id(ws, payload)
    view_id = ws.new_id("V")
    below = ws.views.get(trigger.view_id or "")
    if below is None:  # a trigger from outside any modal: the pushed view starts a stack
        view = View(view_id, "modal", trigger.user, payload, ws.new_hash(), root_view_id=view_id)
    else:
        stack = [v for v in ws.views.values() if v.root_view_id == below.root_view_id]
        if len(stack) >= PUSH_LIMIT:
            raise SlackError("push_limit_reached")
        view = View(
            view_id, "modal", trigger.user, payload, ws.new_hash(), below.root_view_id, below.id
        )
    ws.views[view.id] = view
    return _answer(ws, view)


def views_update(ws: Workspace, p: Params) -> dict[str, Any]:
    view_id, external_id = p.string("view_id"), p.string("external_id")
    if not view_id and not external_id:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] either view_id or external_id is required"]},
        )
    found = [
        v
        for v in ws.views.values()
        if (view_id and v.id == view_id) or (external_id and v.external_id == external_id)
    ]
    if not found:
        raise SlackError("not_found")
    view = found[0]
    if p.string("hash") and p.string("hash") != view.hash:
        raise SlackError("hash_conflict")
    payload = checked_view(ws, p, kind=view.type)
    _unique_external_id(ws, payload, keep=view.id)
    view.payload, view.hash = payload, ws.new_hash()
    return _answer(ws, view)


def views_publish(ws: Workspace, p: Params) -> dict[str, Any]:
    user = p.required("user_id")
    if user not in ws.users:
        raise SlackError("user_not_found")
    payload = checked_view(ws, p, kind="home")
    current = ws.views.get(ws.homes.get(user, ""))
    if current is not None and p.string("hash") and p.string("hash") != current.hash:
        raise SlackError("hash_conflict")
    if current is None:
        view_id = ws.new_id("V")
        current = View(view_id, "home", user, payload, ws.new_hash(), root_view_id=view_id)
        ws.views[view_id] = current
        ws.homes[user] = view_id
    else:
        current.payload, current.hash = payload, ws.new_hash()
    return _answer(ws, current)


METHODS: dict[str, Method] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
