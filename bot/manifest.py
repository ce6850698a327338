"""`handoff manifest`: the Slack app manifest (YAML) with exactly what the code uses.

Scopes, each for a call handoff makes:

    chat:write         chat.postMessage, chat.update, chat.getPermalink (roots, replies, notes)
    channels:read      conversations.list / .info / .members (card channels by name, ladders)
    groups:read        the same for private channels the app was invited to
    channels:join      conversations.join (a public card channel the app is not in yet)
    channels:history   message.channels events (replies in threads) and conversations.history
    groups:history     message.groups events and history in private channels
    users:read         users.info (is a builder still active?)
    users:read.email   users.lookupByEmail (builders given as e-mails)
    commands           the /model slash command
    files:write        files.getUploadURLExternal / completeUploadExternal (check-in charts)

Events: `app_home_opened`, `message.channels`, `message.groups`; interactivity for the buttons
and modals; the App Home tab.
"""

from __future__ import annotations

from typing import Any

import yaml

SCOPES = (
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:join",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "commands",
    "files:write",
)
EVENTS = ("app_home_opened", "message.channels", "message.groups")
COMMAND = "/model"
USAGE = "list | <model> | trust <model> [score] [column=value] | limits | findings | check | help"


DEFAULT_URL = "https://handoff.example.com"


def manifest(*, url: str = DEFAULT_URL, socket_mode: bool = False) -> dict[str, Any]:
    """The manifest as data: `url` is where `handoff run` is reachable (HTTP mode)."""
    events_url = url.rstrip("/") + "/slack/events"
    command: dict[str, Any] = {
        "command": COMMAND,
        "description": "Ask handoff about a model: its health, its limits, can I trust a score?",
        "usage_hint": USAGE,
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": list(EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        command["url"] = events_url
        events["request_url"] = events_url
        interactivity["request_url"] = events_url
    return {
        "display_information": {
            "name": "handoff",
            "description": "Keeps a model's builders, operators and business users connected.",
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": False,
                "messages_tab_read_only_enabled": True,
            },
            "bot_user": {"display_name": "handoff", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(*, url: str = DEFAULT_URL, socket_mode: bool = False) -> str:
    return yaml.safe_dump(manifest(url=url, socket_mode=socket_mode), sort_keys=False)
