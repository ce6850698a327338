"""Signed Slack requests for our HTTP endpoint (``POST /slack/events``), as Slack would send them:
the tests send them to a running server, `handoff demo` dispatches them to the app in-process.

Each builder returns a `SignedRequest` (raw body + headers) signed with slack_sdk's own
`SignatureVerifier.generate_signature`: ``v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`` over the
exact bytes sent. ``timestamp`` defaults to now; pass an old one for a stale request, or
``forge=True`` for a signature made with the wrong secret. `SignedRequest.retried` adds Slack's
``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``. `post` sends one to a URL.

Shapes follow Slack's payloads: slash commands and interactivity are form-encoded (interactivity
as one ``payload`` field of JSON), Events API callbacks and ``url_verification`` are JSON. Only the
fields a bolt app reads are filled in; pass more through ``extra``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

TEAM_ID = "T0TEAM"
APP_ID = "A0APP"
BOT_USER_ID = "U0BOT"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class SignedRequest:
    """The body and headers of one request from Slack."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def retried(self, num: int = 1, reason: str = "http_timeout") -> SignedRequest:
        """The same request as Slack's retry ``num`` sends it (the signature stays valid)."""
        headers = {**self.headers, "X-Slack-Retry-Num": str(num)}
        headers["X-Slack-Retry-Reason"] = reason
        return SignedRequest(self.body, headers)

    @property
    def form(self) -> dict[str, str]:
        """The fields of a form body (a slash command, or interactivity's one ``payload``)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded JSON: the body itself, or an interactivity request's ``payload`` field."""
        decoded: dict[str, Any] = json.loads(
            self.body if self.headers["Content-Type"] == JSON else self.form["payload"]
        )
        return decoded


def sign(
    body: bytes | str,
    *,
    secret: str,
    content_type: str,
    timestamp: int | None = None,
    forge: bool = False,
) -> SignedRequest:
    """Sign ``body`` as Slack does; ``forge`` signs with a wrong secret."""
    raw = body.encode() if isinstance(body, str) else body
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    key = secret + "-forged" if forge else secret
    signature = SignatureVerifier(key).generate_signature(timestamp=stamp, body=raw)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
        "User-Agent": USER_AGENT,
    }
    return SignedRequest(raw, headers)


def slash_command(
    command: str,
    text: str = "",
    *,
    secret: str,
    user_id: str = "U0USER",
    channel_id: str = "C0ALERTS",
    response_url: str = "",
    trigger_id: str = "",
    team_id: str = TEAM_ID,
    timestamp: int | None = None,
    forge: bool = False,
    **extra: str,
) -> SignedRequest:
    """A slash command (``/model status churn``) as Slack posts it: a form."""
    fields = {
        "token": "verification-token",
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "model-alerts",
        "user_id": user_id,
        "user_name": "someone",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger(),
        **extra,
    }
    return sign(
        urlencode(fields), secret=secret, content_type=FORM, timestamp=timestamp, forge=forge
    )


def block_actions(
    action_id: str,
    value: str = "",
    *,
    secret: str,
    block_id: str = "actions",
    user_id: str = "U0USER",
    channel_id: str = "C0ALERTS",
    message: dict[str, Any] | None = None,
    response_url: str = "",
    trigger_id: str = "",
    container: dict[str, Any] | None = None,
    timestamp: int | None = None,
    forge: bool = False,
    **extra: Any,
) -> SignedRequest:
    """A button press in a message: ``block_actions`` in a form's ``payload`` field."""
    message = message or {"type": "message", "ts": "1700000000.000100", "text": ""}
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": container
        or {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or _trigger(),
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "model-alerts"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": f"{time.time():.6f}",
            }
        ],
        **extra,
    }
    return _interaction(payload, secret=secret, timestamp=timestamp, forge=forge)


def view_submission(
    callback_id: str,
    values: dict[str, dict[str, Any]] | None = None,
    *,
    secret: str,
    private_metadata: str = "",
    user_id: str = "U0USER",
    view_id: str = "V0MODAL",
    trigger_id: str = "",
    timestamp: int | None = None,
    forge: bool = False,
    **extra: Any,
) -> SignedRequest:
    """A modal's submit: ``values`` is ``state.values`` (``{block_id: {action_id: {...}}}``)."""
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": trigger_id or _trigger(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values or {}},
            "hash": "1700000000.abcdef",
            "title": {"type": "plain_text", "text": "handoff"},
            "blocks": [],
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": "B0BOT",
            "external_id": "",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
        **extra,
    }
    return _interaction(payload, secret=secret, timestamp=timestamp, forge=forge)


def event_callback(
    event: dict[str, Any],
    *,
    secret: str,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    timestamp: int | None = None,
    forge: bool = False,
) -> SignedRequest:
    """An Events API delivery of ``event`` (see `message_event`, `app_home_opened`)."""
    body = {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev0{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return sign(
        json.dumps(body), secret=secret, content_type=JSON, timestamp=timestamp, forge=forge
    )


def message_event(
    channel: str,
    text: str,
    *,
    user: str = "U0USER",
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A ``message`` event: a person's post, or a thread reply when ``thread_ts`` is given."""
    ts = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_home_opened(user: str, *, channel: str = "D0HOME", tab: str = "home") -> dict[str, Any]:
    """An ``app_home_opened`` event for ``user``."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def url_verification(
    challenge: str, *, secret: str, timestamp: int | None = None, forge: bool = False
) -> SignedRequest:
    """The check Slack makes when the Request URL is set: answer the ``challenge``."""
    body = {"token": "verification-token", "challenge": challenge, "type": "url_verification"}
    return sign(
        json.dumps(body), secret=secret, content_type=JSON, timestamp=timestamp, forge=forge
    )


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` to ``url``: the status, headers and body answered (4xx/5xx included)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read()


def _interaction(
    payload: dict[str, Any], *, secret: str, timestamp: int | None, forge: bool
) -> SignedRequest:
    body = urlencode({"payload": json.dumps(payload)})
    return sign(body, secret=secret, content_type=FORM, timestamp=timestamp, forge=forge)


def _trigger() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:12]}"
