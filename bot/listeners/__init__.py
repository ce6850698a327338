"""The Slack listeners, one module per surface; `register(app, deps)` wires them all explicitly."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, checkins, commands, events, views
from bot.listeners.deps import Deps


def register(app: App, deps: Deps) -> None:
    actions.register(app, deps)
    checkins.register(app, deps)
    commands.register(app, deps)
    views.register(app, deps)
    events.register(app, deps)
