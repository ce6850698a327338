"""The fake workspace: users, channels, messages and threads, views, files, triggers, response URLs.

Plain data plus the rules every method shares (ids, ``ts``, channel look-up and Slack's posting
rules). It holds no lock and does no I/O: `FakeSlack` calls it under its one lock.
"""

from __future__ import annotations

import mimetypes
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.fakeslack.params import Params, SlackError

TRIGGER_TTL = 3.0  # seconds a trigger_id stays usable
RESPONSE_URL_TTL = 30 * 60.0
RESPONSE_URL_USES = 5

DEFAULT_SCOPES = frozenset(
    {
        "channels:history",
        "channels:join",
        "channels:read",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
        "groups:read",
        "im:history",
        "im:read",
        "im:write",
        "users:read",
        "users:read.email",
    }
)


@dataclass(frozen=True)
class Identity:
    """Who the fake workspace and its bot are (what ``auth.test`` answers)."""

    team_id: str = "T0TEAM"
    team_name: str = "Handoff Test"
    domain: str = "fake"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    bot_name: str = "handoff"
    app_id: str = "A0APP"


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    email: str | None = None
    deleted: bool = False
    tz: str = "UTC"
    is_bot: bool = False

    def to_api(self, team_id: str) -> dict[str, Any]:
        profile: dict[str, Any] = {"real_name": self.real_name, "display_name": self.name}
        if self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "tz": self.tz,
            "is_bot": self.is_bot,
            "profile": profile,
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    members: set[str] = field(default_factory=set)
    is_archived: bool = False
    created: int = 0
    im_user: str | None = None  # the person in a direct message (D…) with the bot

    @property
    def is_im(self) -> bool:
        return self.im_user is not None

    def to_api(self, viewer: str) -> dict[str, Any]:
        if self.im_user is not None:
            return {"id": self.id, "is_im": True, "user": self.im_user, "created": self.created}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "num_members": len(self.members),
        }


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None  # on replies; on a root once it has replies
    subtype: str | None = None
    files: list[dict[str, Any]] | None = None
    edited: dict[str, str] | None = None
    replies: list[str] = field(default_factory=list)  # a root's replies, oldest first
    reply_users: list[str] = field(default_factory=list)
    parent_user: str = ""  # a reply's root author

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def in_channel_view(self) -> bool:
        """Shown in the channel (``conversations.history``): roots and broadcast replies."""
        return not self.is_reply or self.subtype == "thread_broadcast"

    def to_api(self, identity: Identity, *, include_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user}
        out["text"] = self.text
        if self.user == identity.bot_user_id:
            out.update(bot_id=identity.bot_id, app_id=identity.app_id)
        out["team"] = identity.team_id
        optional = {
            "subtype": self.subtype,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "files": self.files,
            "edited": self.edited,
            "thread_ts": self.thread_ts,
        }
        out.update({key: value for key, value in optional.items() if value is not None})
        if self.files is not None:
            out["upload"] = True
        if self.is_reply:
            out["parent_user_id"] = self.parent_user
        if self.replies:
            out.update(
                reply_count=len(self.replies),
                reply_users_count=len(self.reply_users),
                reply_users=list(self.reply_users),
                latest_reply=self.replies[-1],
            )
        if include_metadata and self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass
class Ephemeral:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user}
        out["text"] = self.text
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        return out


@dataclass
class View:
    id: str
    type: str
    user: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None

    @property
    def external_id(self) -> str:
        return str(self.payload.get("external_id", ""))

    def to_api(self, identity: Identity) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": identity.team_id,
            "type": self.type,
            "blocks": self.payload.get("blocks", []),
            "title": self.payload.get("title"),
            "close": self.payload.get("close"),
            "submit": self.payload.get("submit"),
            "private_metadata": self.payload.get("private_metadata", ""),
            "callback_id": self.payload.get("callback_id", ""),
            "external_id": self.external_id,
            "state": {"values": {}},
            "hash": self.hash,
            "clear_on_close": bool(self.payload.get("clear_on_close", False)),
            "notify_on_close": bool(self.payload.get("notify_on_close", False)),
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": identity.app_id,
            "app_installed_team_id": identity.team_id,
            "bot_id": identity.bot_id,
        }


@dataclass
class UploadedFile:
    """A file from ``files.getUploadURLExternal``; ``content`` arrives by the upload POST."""

    id: str
    filename: str
    length: int
    created: int
    user: str
    title: str = ""
    alt_txt: str = ""
    content: bytes | None = None
    shares: list[tuple[str, str]] = field(default_factory=list)  # (channel id, message ts)
    completed: bool = False

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"

    def to_api(self, base_url: str, channels: dict[str, Channel]) -> dict[str, Any]:
        public: dict[str, list[dict[str, str]]] = {}
        private: dict[str, list[dict[str, str]]] = {}
        for channel_id, ts in self.shares:
            place = private if channels[channel_id].is_private else public
            place.setdefault(channel_id, []).append({"ts": ts})
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.filename,
            "title": self.title or self.filename,
            "mimetype": self.mimetype,
            "filetype": self.filename.rpartition(".")[2].lower() if "." in self.filename else "",
            "user": self.user,
            "size": len(self.content or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(public),
            "url_private": f"{base_url}/files/{self.id}/{self.filename}",
            "permalink": f"{base_url}/files/{self.id}",
            "channels": sorted(public),
            "groups": sorted(private),
            "shares": {"public": public, "private": private},
        }


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    view_id: str | None = None  # set when the interaction came from inside a modal
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    issued_at: float
    channel: str | None = None
    user: str | None = None
    message_ts: str | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)


class Workspace:
    """All the fake's state, and the rules shared by the methods that touch it."""

    def __init__(
        self,
        identity: Identity,
        *,
        scopes: Iterable[str],
        clock: Callable[[], float],
        base_url: str,
    ) -> None:
        self.identity = identity
        self.scopes: set[str] = set(scopes)
        self.clock = clock
        self.base_url = base_url
        self.revoked_tokens: set[str] = set()
        self.inactive_tokens: set[str] = set()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[Message]] = {}  # per channel: roots and replies, by ts
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.homes: dict[str, str] = {}  # user id → their App Home view id
        self.files: dict[str, UploadedFile] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.warnings: list[str] = []
        self.posts: Counter[str] = Counter()  # chat.postMessage successes per channel id
        self._serial = 0
        self._last_us = 0
        bot = User(identity.bot_user_id, identity.bot_name, identity.bot_name, is_bot=True)
        self.users[bot.id] = bot

    # ids and time

    def now(self) -> float:
        return self.clock()

    def new_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}0{self._serial:07X}"

    def next_ts(self) -> str:
        """A message ``ts`` from the clock: unique and increasing, like Slack's."""
        micros = max(int(self.now() * 1_000_000), self._last_us + 1)
        self._last_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_hash(self) -> str:
        self._serial += 1
        return f"{int(self.now())}.{self._serial:08x}"

    # scopes

    def require(self, *needed: str) -> None:
        """Answer ``missing_scope`` unless the app has every scope in ``needed``."""
        missing = [scope for scope in needed if scope not in self.scopes]
        if missing:
            raise SlackError(
                "missing_scope", needed=",".join(missing), provided=",".join(sorted(self.scopes))
            )

    # channels

    def find_channel(self, ref: str, *, by_name: bool = True) -> Channel:
        """A channel by ID, by ``#name`` / ``name`` when allowed, or a DM by user ID."""
        ref = ref.strip()
        if ref in self.channels:
            return self.channels[ref]
        if by_name and ref.startswith("U") and ref in self.users:
            return self.direct_message(ref)
        if by_name:
            name = ref.removeprefix("#")
            for channel in self.channels.values():
                if channel.name == name and channel.im_user is None:
                    return channel
        raise SlackError("channel_not_found")

    def direct_message(self, user_id: str) -> Channel:
        for channel in self.channels.values():
            if channel.im_user == user_id:
                return channel
        channel = Channel(self.new_id("D"), "", is_private=True, created=int(self.now()))
        channel.im_user = user_id
        channel.members = {self.identity.bot_user_id, user_id}
        self.add_channel(channel)
        return channel

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.id] = channel
        self.messages.setdefault(channel.id, [])

    def visible_channel(self, ref: str, *, by_name: bool = True) -> Channel:
        """A channel the bot may know of: private ones only when it is a member."""
        channel = self.find_channel(ref, by_name=by_name)
        if channel.is_private and self.identity.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def postable_channel(self, ref: str, *, by_name: bool = True) -> Channel:
        """Slack's rules for the bot posting in a channel."""
        channel = self.visible_channel(ref, by_name=by_name)
        if channel.is_archived:
            raise SlackError("is_archived")
        bot_in = self.identity.bot_user_id in channel.members
        if not bot_in and "chat:write.public" not in self.scopes:
            raise SlackError("not_in_channel")
        return channel

    def readable_channel(self, ref: str) -> Channel:
        """A channel whose history the bot may read (by ID, and it must be a member)."""
        channel = self.visible_channel(ref, by_name=False)
        if self.identity.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")
        if channel.is_im:
            self.require("im:history")
        else:
            self.require("groups:history" if channel.is_private else "channels:history")
        return channel

    # messages

    def find_message(self, channel_id: str, ts: str) -> Message:
        for message in self.messages.get(channel_id, []):
            if message.ts == ts:
                return message
        raise SlackError("message_not_found")

    def thread_root(self, channel_id: str, thread_ts: str) -> Message:
        """The root a reply goes under (a reply's ``ts`` leads to its root, as in Slack)."""
        try:
            message = self.find_message(channel_id, thread_ts)
        except SlackError:
            raise SlackError("thread_not_found") from None
        if message.is_reply and message.thread_ts is not None:
            return self.find_message(channel_id, message.thread_ts)
        return message

    def add_message(self, message: Message) -> Message:
        """Store a message, keeping the root's thread fields as Slack does."""
        if message.thread_ts is not None:
            root = self.thread_root(message.channel, message.thread_ts)
            message.thread_ts = root.ts
            message.parent_user = root.user
            root.thread_ts = root.ts
            root.replies.append(message.ts)
            if message.user not in root.reply_users:
                root.reply_users.append(message.user)
        self.messages[message.channel].append(message)
        return message

    def remove_message(self, message: Message) -> None:
        """Delete a message; a root with replies stays as a tombstone, as in Slack."""
        if message.replies:
            message.subtype = "tombstone"
            message.text = "This message was deleted."
            message.blocks = message.attachments = message.files = message.metadata = None
            return
        self.messages[message.channel].remove(message)
        if message.is_reply and message.thread_ts is not None:
            root = self.find_message(message.channel, message.thread_ts)
            root.replies.remove(message.ts)
            still = {self.find_message(message.channel, ts).user for ts in root.replies}
            root.reply_users = [user for user in root.reply_users if user in still]
            if not root.replies and root.subtype == "tombstone":
                self.messages[message.channel].remove(root)

    def channel_view(self, channel_id: str) -> list[Message]:
        """What the channel shows, oldest first: roots and broadcast replies."""
        return [m for m in self.messages.get(channel_id, []) if m.in_channel_view]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """A thread as ``conversations.replies`` returns it: the root, then replies by ts."""
        root = self.thread_root(channel_id, ts)
        replies = [m for m in self.messages[channel_id] if m.is_reply and m.thread_ts == root.ts]
        return [root, *replies]


Method = Callable[[Workspace, Params], dict[str, Any]]
"""A Web API method: reads the workspace and parameters, answers the ``ok: true`` body or raises
`SlackError`."""
