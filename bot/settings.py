"""Settings read once from the environment, at the edge (bot/cli.py), and passed down as values.

The variables are design.md's contract (DATABASE_URL, SLACK_*, PORT, HANDOFF_ADMINS) plus the
`handoff run` knobs below; a value that cannot be used is a `SettingsError` naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from store.card_schema import parse_duration
from store.db import DEFAULT_DATABASE_URL
from store.errors import HandoffError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
CHECK_LIMIT = timedelta(minutes=10)


class SettingsError(HandoffError):
    """An environment variable handoff reads holds a value it cannot use."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    host: str = "0.0.0.0"  # all interfaces: a PaaS routes to $PORT
    port: int = 3000
    admins: frozenset[str] = frozenset()
    leader_ttl: timedelta = timedelta(seconds=30)
    check_workers: int = 4
    check_limit: timedelta = CHECK_LIMIT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from a mapping such as os.environ (the contract in design.md)."""

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        return cls(
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            host=get("HOST") or cls.host,
            port=_number(get("PORT"), "PORT", 3000, low=1, high=65535),
            admins=frozenset(
                user.strip() for user in (get("HANDOFF_ADMINS") or "").split(",") if user.strip()
            ),
            leader_ttl=timedelta(
                seconds=_number(get("HANDOFF_LEADER_TTL_SECONDS"), "HANDOFF_LEADER_TTL_SECONDS", 30)
            ),
            check_workers=_number(get("HANDOFF_CHECK_WORKERS"), "HANDOFF_CHECK_WORKERS", 4),
            check_limit=_duration(
                get("HANDOFF_CHECK_LIMIT"), "HANDOFF_CHECK_LIMIT", cls.check_limit
            ),
        )


def _number(value: str | None, name: str, default: int, *, low: int = 1, high: int = 10**6) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def _duration(value: str | None, name: str, default: timedelta) -> timedelta:
    if value is None:
        return default
    try:
        duration = parse_duration(value)
    except ValueError:
        raise SettingsError(f"{name} must be a duration like 10m or 1h, got {value!r}") from None
    if duration <= timedelta(0):
        raise SettingsError(f"{name} must be longer than zero, got {value!r}")
    return duration
