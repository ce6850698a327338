"""Who and where in Slack: a card's channel (a name or an ID) as a channel ID the bot can post in,
and its builders and ladder members (member IDs or e-mails) as people to tag.

Channel names are resolved with `conversations.list` (paged; one listing cached for `ttl`, and
listed again at most once a minute on a miss: it is a Tier 2 method), the bot joins a public
channel it is not in, and a private channel it is not in is a permanent error with the fix.
E-mails are resolved with `users.lookupByEmail` and member IDs checked with `users.info` (both
cached): an unknown e-mail is shown as text with a note to fix the card, a deactivated user is
skipped and the skip said.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.kit import Person, escape

log = logging.getLogger(__name__)

DEFAULT_TTL = 900.0
RELIST_AFTER = 60.0


class ChannelError(Exception):
    """A channel the bot cannot post in; `permanent` when only a person can fix it."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        self.reason = reason
        self.permanent = permanent
        super().__init__(reason)


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_private: bool
    is_member: bool


class Directory:
    """Cached look-ups of channels and people through one WebClient (thread-safe)."""

    def __init__(self, client: WebClient, *, ttl: float = DEFAULT_TTL) -> None:
        self.client = client
        self.ttl = ttl
        self._lock = threading.Lock()
        self._channels: dict[str, Channel] = {}
        self._listed_at = 0.0
        self._people: dict[str, tuple[float, Person]] = {}
        self._joined: set[str] = set()

    # --- channels

    def channel(self, card_channel: str) -> Channel:
        """The channel a card names (`#name`, `name` or an ID), ready to post in: joined if public
        and the bot was not in it. ChannelError when it cannot be used."""
        found = self._find(card_channel)
        if found is None:
            raise ChannelError(
                f"channel {card_channel} was not found: check the card's channel, or if it is a "
                "private channel, invite the app to it (/invite @handoff in that channel)"
            )
        if found.is_member or found.id in self._joined:
            return found
        if found.is_private:
            raise ChannelError(
                f"handoff is not a member of the private channel {card_channel}: invite it "
                "(/invite @handoff in that channel)"
            )
        try:
            self.client.conversations_join(channel=found.id)
        except SlackApiError as error:
            code = error.response.get("error", "")
            raise ChannelError(
                f"handoff could not join {card_channel} ({code}): invite it to the channel",
                permanent=code not in ("ratelimited", "internal_error", "fatal_error"),
            ) from None
        with self._lock:
            self._joined.add(found.id)
        log.info("joined %s (%s)", card_channel, found.id)
        return found

    def _find(self, card_channel: str) -> Channel | None:
        wanted = card_channel.strip()
        if not wanted.startswith("#"):  # a card gives a channel as "#name" or as its ID
            try:
                info = self.client.conversations_info(channel=wanted)["channel"]
            except SlackApiError:
                return None
            return _channel(info)
        key = wanted.removeprefix("#").lower()
        with self._lock:
            fresh = time.monotonic() - self._listed_at < self.ttl
            hit = self._channels.get(key)
            stale_enough = time.monotonic() - self._listed_at > RELIST_AFTER
        if hit is not None and fresh:
            return hit
        if hit is None and not stale_enough and self._listed_at:
            return None
        self._list()
        with self._lock:
            return self._channels.get(key)

    def _list(self) -> None:
        channels: dict[str, Channel] = {}
        cursor = None
        while True:
            page = self.client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            listed: list[dict[str, object]] = page.get("channels", [])
            for info in listed:
                channel = _channel(info)
                channels[channel.name.lower()] = channel
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        with self._lock:
            self._channels = channels
            self._listed_at = time.monotonic()

    # --- people

    def people(self, names: Iterable[str]) -> dict[str, Person]:
        """Each builder or ladder member as a `Person` (see the module docstring)."""
        return {name: self.person(name) for name in dict.fromkeys(names)}

    def person(self, who: str) -> Person:
        if who == "builders" or who.startswith("#"):
            return Person(who, self._channel_mention(who) if who.startswith("#") else who)
        with self._lock:
            cached = self._people.get(who)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        person = self._look_up(who)
        with self._lock:
            self._people[who] = (time.monotonic(), person)
        return person

    def _look_up(self, who: str) -> Person:
        try:
            if "@" in who:
                user = self.client.users_lookupByEmail(email=who)["user"]
            else:
                user = self.client.users_info(user=who)["user"]
        except SlackApiError as error:
            code = error.response.get("error", "")
            if code in ("users_not_found", "user_not_found"):
                return Person(
                    who,
                    escape(who),
                    note=f"{who} is not a member of this Slack workspace: fix the card's builders",
                )
            raise
        if user.get("deleted"):
            return Person(
                who,
                escape(who),
                note=f"{who} is deactivated in Slack and was not tagged: hand the model over",
                active=False,
            )
        return Person(who, f"<@{user['id']}>")

    def _channel_mention(self, name: str) -> str:
        found = self._find(name)
        return f"<#{found.id}>" if found is not None else escape(name)

    def gone(self, names: Iterable[str]) -> list[str]:
        """Of a card's builders, those gone from Slack: deactivated, or not in the workspace
        (a `jobs.checkins.Roster`; a failed look-up raises, and the check-in then judges only
        whether anybody answered)."""
        people = self.people(names)
        return [n for n, p in people.items() if not p.active or not p.mention.startswith("<@")]

    def user_id(self, who: str) -> str | None:
        """The member ID of a builder or ladder member (None when Slack does not know them)."""
        person = self.person(who)
        if person.mention.startswith("<@"):
            return person.mention[2:-1]
        return None

    def members(self, channel: str) -> set[str]:
        """Member IDs of a ladder's channel (a rung everybody in it may act on)."""
        found = self._find(channel)
        if found is None:
            return set()
        members: set[str] = set()
        cursor = None
        while True:
            page = self.client.conversations_members(channel=found.id, cursor=cursor, limit=1000)
            members.update(page.get("members", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members


def _channel(info: dict[str, object]) -> Channel:
    return Channel(
        id=str(info["id"]),
        name=str(info.get("name", "")),
        is_private=bool(info.get("is_private")),
        is_member=bool(info.get("is_member")),
    )
