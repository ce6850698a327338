"""How the fake reads a Web API call: body decoding, typed parameters, errors and cursors.

Bodies arrive as slack_sdk sends them: ``application/json`` (``chat.postMessage``, ``views.*``) or
``application/x-www-form-urlencoded`` (everything else, with ``blocks``, ``metadata``, ``view`` or
``files`` as JSON strings inside the form). Query-string parameters (GET) are read too. Booleans
come as ``true``/``false`` or, from slack_sdk's form encoding, ``1``/``0``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

T = TypeVar("T")

# Form fields that Slack reads as JSON when they arrive as strings.
JSON_FIELDS = frozenset({"attachments", "blocks", "files", "metadata", "view", "unfurls"})
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer (HTTP 200), with any extra top-level fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def decode_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """The parameters of one call, JSON fields decoded (an undecodable one stays a string)."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind == "application/json" and body:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            params.update(decoded)
        return params
    if body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for key in JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):  # else left a string: answered as bad format
                params[key] = json.loads(value)
    return params


class Params:
    """Typed access to a call's parameters; a missing required one answers like Slack."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def string(self, key: str, default: str = "") -> str:
        value = self.values.get(key)
        if value is None:
            return default
        return value if isinstance(value, str) else str(value)

    def required(self, key: str) -> str:
        value = self.string(key)
        if not value:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {key}"]},
            )
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in TRUE_WORDS

    def integer(self, key: str, default: int) -> int:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None

    def json(self, key: str) -> Any:
        """A JSON field as decoded by `decode_params` (None when absent)."""
        return self.values.get(key)


def encode_cursor(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(cursor: str, kind: str) -> str:
    try:
        prefix, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if prefix != kind:
        raise SlackError("invalid_cursor")
    return value


def page(items: Sequence[T], params: Params, *, default_limit: int = 100) -> tuple[list[T], str]:
    """One page of ``items`` by ``cursor`` and ``limit`` (at most 1,000), and the next cursor."""
    limit = min(max(params.integer("limit", default_limit), 1), 1000)
    start = 0
    cursor = params.string("cursor")
    if cursor:
        offset = decode_cursor(cursor, "offset")
        if not offset.isdigit():
            raise SlackError("invalid_cursor")
        start = int(offset)
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return chunk, encode_cursor("offset", str(start + limit)) if more else ""
