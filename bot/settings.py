"""Settings read once from the environment, at the edge (bot/cli.py), and passed down as values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from store.db import DEFAULT_DATABASE_URL

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    port: int = 3000
    admins: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from a mapping such as os.environ (the contract in design.md)."""

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        port = get("PORT") or "3000"
        if not port.isdigit():
            raise ValueError(f"PORT must be a number, got {port!r}")
        api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        return cls(
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
            port=int(port),
            admins=frozenset(
                user.strip() for user in (get("HANDOFF_ADMINS") or "").split(",") if user.strip()
            ),
        )
