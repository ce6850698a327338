"""`handoff manifest` asks for exactly the scopes, events, command and interactivity in use."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import cli

BOT = Path(__file__).parents[2] / "bot"
NEEDS = {  # Web API method (as slack_sdk spells it) -> the scope it needs
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_getPermalink": "chat:write",
    "conversations_list": "channels:read",
    "conversations_info": "channels:read",
    "conversations_members": "channels:read",
    "conversations_join": "channels:join",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    "files_upload_v2": "files:write",
}
FREE = {"auth_test", "views_open", "views_publish", "views_update", "views_push"}


def _manifest(*args: str) -> dict[str, object]:
    done = CliRunner().invoke(cli, ["manifest", *args])
    assert done.exit_code == 0, done.output
    return dict(yaml.safe_load(done.stdout))


def test_every_scope_is_one_the_code_needs_and_every_call_has_its_scope() -> None:
    scopes = set(_manifest()["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    called = set()
    for path in BOT.rglob("*.py"):
        called |= set(re.findall(r"\.(?:client\.)?([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()))
    used = {m for m in called if m in NEEDS or m in FREE}
    assert used, "no Web API call found"
    needed = {NEEDS[m] for m in used if m in NEEDS} | {"commands", "groups:read", "groups:history"}
    assert {NEEDS[m] for m in used if m in NEEDS} <= scopes
    assert scopes <= needed | {"files:write"}, scopes - needed


def test_http_mode_points_every_request_url_at_slack_events() -> None:
    data = _manifest("--url", "https://handoff.acme.io")
    settings = data["settings"]
    url = "https://handoff.acme.io/slack/events"
    assert settings["event_subscriptions"]["request_url"] == url  # type: ignore[index]
    assert settings["interactivity"] == {"is_enabled": True, "request_url": url}  # type: ignore[index]
    assert set(settings["event_subscriptions"]["bot_events"]) == {  # type: ignore[index]
        "app_home_opened",
        "message.channels",
        "message.groups",
    }
    (command,) = data["features"]["slash_commands"]  # type: ignore[index]
    assert command["command"] == "/model" and command["url"] == url
    assert data["features"]["app_home"]["home_tab_enabled"] is True  # type: ignore[index]


def test_socket_mode_has_no_request_urls() -> None:
    data = _manifest("--socket-mode")
    assert data["settings"]["socket_mode_enabled"] is True  # type: ignore[index]
    assert "request_url" not in data["settings"]["event_subscriptions"]  # type: ignore[index]
    assert "url" not in data["features"]["slash_commands"][0]  # type: ignore[index]
