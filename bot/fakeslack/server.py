"""`FakeSlack`: the fake Web API as a real HTTP server on 127.0.0.1, port 0, in its own thread.

Point the real client at it: ``WebClient(token="xoxb-…", base_url=fake.url)``. Each request is
recorded, then scripted faults apply (hang, failure, rate limit), then the token is checked, then
the method runs against the workspace state under one lock. Besides ``/api/<method>`` the server
answers the upload URLs it hands out (``/upload/<file id>``) and the response URLs it mints
(``/response/<id>``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from bot.fakeslack import chat, conversations, files, views
from bot.fakeslack.faults import ERRORS_BY_STATUS, Failure, Faults, Hang, RateLimiter
from bot.fakeslack.params import Params, SlackError, decode_params
from bot.fakeslack.responses import receive_response
from bot.fakeslack.state import (
    DEFAULT_SCOPES,
    Channel,
    Identity,
    Message,
    Method,
    ResponseUrl,
    Trigger,
    UploadedFile,
    User,
    Workspace,
)

METHODS: dict[str, Method] = {
    **conversations.METHODS,
    **chat.METHODS,
    **views.METHODS,
    **files.METHODS,
}
TOKEN_PREFIX = "xoxb-"
DEFAULT_USER = "U0USER"


@dataclass
class Call:
    """One Web API call as the fake saw it. Header names are lower-cased."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int | None = None  # HTTP status answered; None while hanging, or if closed first
    response: dict[str, Any] | None = None

    @property
    def error(self) -> str | None:
        """The ``error`` answered, or None for an ``ok`` answer (or none yet)."""
        if self.response is None or self.response.get("ok"):
            return None
        return str(self.response.get("error"))


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str]


class FakeSlack:
    """A Slack workspace with one bot, served over HTTP. Use it as a context manager.

    Set up state with `add_user`, `add_channel`, `add_message`, `set_scopes`; script outages with
    `fail`, `hang`, `rate_limit`; read what happened with `calls`, `messages`, `thread`,
    `ephemerals`, `views`, `home`, `files`, `counts`, `responses` and `warnings`.
    """

    def __init__(
        self,
        *,
        identity: Identity | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._httpd = _Server(self)
        port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.url = f"{self.base_url}/api/"  # what WebClient(base_url=...) takes
        self.identity = identity or Identity()
        self._ws = Workspace(self.identity, scopes=scopes, clock=clock, base_url=self.base_url)
        self._faults = Faults()
        self._limiter: RateLimiter | None = None
        self._calls: list[Call] = []
        self._bugs: list[str] = []
        self._thread: threading.Thread | None = None

    # lifecycle

    def __enter__(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake hanging calls, join every thread, close the socket.

        Raises if a method crashed inside the fake (a bug in the fake, not in the client).
        """
        self._closing.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()  # joins the request threads
        if self._bugs:
            raise RuntimeError("FakeSlack crashed handling: " + "; ".join(self._bugs))

    # workspace set-up

    def add_user(
        self,
        name: str,
        *,
        user_id: str | None = None,
        real_name: str = "",
        email: str | None = None,
        deleted: bool = False,
        tz: str = "UTC",
    ) -> str:
        """Add a person; answers their user ID."""
        with self._lock:
            user = User(user_id or self._ws.new_id("U"), name, real_name, email, deleted, tz)
            self._ws.users[user.id] = user
            return user.id

    def add_channel(
        self,
        name: str,
        *,
        private: bool = False,
        members: Iterable[str] = (),
        bot_member: bool = True,
        archived: bool = False,
        channel_id: str | None = None,
    ) -> str:
        """Add a public (``C…``) or private (``G…``) channel; answers its ID."""
        with self._lock:
            ws = self._ws
            channel = Channel(
                channel_id or ws.new_id("G" if private else "C"),
                name.removeprefix("#"),
                is_private=private,
                members=set(members),
                is_archived=archived,
                created=int(ws.now()),
            )
            if bot_member:
                channel.members.add(self.identity.bot_user_id)
            ws.add_channel(channel)
            return channel.id

    def archive(self, channel: str) -> None:
        with self._lock:
            self._find(channel).is_archived = True

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """A message someone else posted (e.g. a person replying in a thread); answers its ts."""
        with self._lock:
            found = self._find(channel)
            message = Message(found.id, self._ws.next_ts(), user, text, blocks, thread_ts=thread_ts)
            return self._ws.add_message(message).ts

    def channel_id(self, name: str) -> str:
        with self._lock:
            return self._find(name).id

    @property
    def scopes(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._ws.scopes)

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Replace the bot token's scopes (add ``chat:write.public`` to post without joining)."""
        with self._lock:
            self._ws.scopes = set(scopes)

    def revoke_token(self, token: str) -> None:
        """Calls with ``token`` answer ``invalid_auth`` from now on."""
        with self._lock:
            self._ws.revoked_tokens.add(token)

    def deactivate_token(self, token: str) -> None:
        """Calls with ``token`` answer ``account_inactive`` from now on."""
        with self._lock:
            self._ws.inactive_tokens.add(token)

    def trigger_id(
        self, user: str = DEFAULT_USER, *, view_id: str | None = None, age: float = 0.0
    ) -> str:
        """A trigger as an interaction would carry: good once, for 3 s after issue.

        ``view_id`` says the interaction came from inside that modal (for ``views.push``);
        ``age`` issues it that many seconds ago (``age=4`` gives an expired one).
        """
        with self._lock:
            ws = self._ws
            serial = ws.new_id("")
            trigger = Trigger(f"{int(ws.now())}.{serial}.fake", user, ws.now() - age, view_id)
            ws.triggers[trigger.id] = trigger
            return trigger.id

    def response_url(
        self,
        *,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """Mint a response URL; with the interaction's channel/user/message, posts change state."""
        with self._lock:
            ws = self._ws
            url = ResponseUrl(ws.new_id("R"), ws.now(), user=user, message_ts=message_ts)
            url.channel = self._find(channel).id if channel is not None else None
            ws.response_urls[url.id] = url
            return f"{self.base_url}/response/{url.id}"

    # faults

    def fail(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int | None = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (``"*"``: any) answer ``status`` instead.

        429 carries ``Retry-After`` and ``ratelimited``; 5xx carry ``internal_error`` or
        ``service_unavailable``; ``status=200, error="fatal_error"`` scripts any Slack error.
        """
        error = error or ERRORS_BY_STATUS.get(status, "internal_error")
        with self._lock:
            self._faults.failures.append(Failure(method, status, error, retry_after, times))

    def hang(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` calls wait ``seconds`` before they are handled (as usual, after)."""
        with self._lock:
            self._faults.hangs.append(Hang(method, seconds, times))

    def stall(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` calls are handled at once but answered only after ``seconds``: the
        message lands while the client (or the process) gives up waiting for the answer."""
        with self._lock:
            self._faults.stalls.append(Hang(method, seconds, times))

    def rate_limit(self, per_second: float | None = 1.0, *, burst: int = 1) -> None:
        """Limit ``chat.postMessage`` per channel (429 + ``Retry-After``); None turns it off."""
        with self._lock:
            self._limiter = None if per_second is None else RateLimiter(per_second, burst)

    # what happened

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [replace(c) for c in self._calls if method is None or c.method == method]

    def reset_calls(self) -> None:
        """Forget the recorded calls and warnings (state stays)."""
        with self._lock:
            self._calls.clear()
            self._ws.warnings.clear()

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel as people see it, oldest first: top-level messages and broadcasts."""
        with self._lock:
            found = self._find(channel)
            return [m.to_api(self.identity) for m in self._ws.channel_view(found.id)]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The thread of ``ts``: its root, then the replies, oldest first."""
        with self._lock:
            found = self._find(channel)
            return [m.to_api(self.identity) for m in self._ws.thread(found.id, ts)]

    def ephemerals(self, channel: str, user: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = self._find(channel)
            return [
                e.to_api()
                for e in self._ws.ephemerals
                if e.channel == found.id and (user is None or e.user == user)
            ]

    @property
    def views(self) -> list[dict[str, Any]]:
        """Every view opened, pushed or published, as Slack would answer it, oldest first."""
        with self._lock:
            return [v.to_api(self.identity) for v in self._ws.views.values()]

    def home(self, user: str) -> dict[str, Any] | None:
        """The App Home last published for ``user``."""
        with self._lock:
            view = self._ws.views.get(self._ws.homes.get(user, ""))
            return None if view is None else view.to_api(self.identity)

    @property
    def files(self) -> list[UploadedFile]:
        """Files announced by ``files.getUploadURLExternal``, with the bytes uploaded."""
        with self._lock:
            return [replace(f, shares=list(f.shares)) for f in self._ws.files.values()]

    def counts(self) -> dict[str, int]:
        """Successful ``chat.postMessage`` calls per channel ID."""
        with self._lock:
            return dict(self._ws.posts)

    def responses(self, url: str) -> list[dict[str, Any]]:
        """What a response URL (or its id) accepted, in order."""
        with self._lock:
            found = self._ws.response_urls.get(url.rstrip("/").rpartition("/")[2])
            return [] if found is None else [dict(post) for post in found.posts]

    @property
    def warnings(self) -> list[str]:
        """What Slack would accept but a careful app avoids (blocks without a text fallback)."""
        with self._lock:
            return list(self._ws.warnings)

    # serving

    def _find(self, channel: str) -> Channel:
        try:
            return self._ws.find_channel(channel)
        except SlackError:
            raise LookupError(f"the fake has no channel {channel!r}") from None

    def _route(self, verb: str, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        """Answer one HTTP request (called from the server's request threads)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        if path.startswith("/api/"):
            return self._api(path.removeprefix("/api/"), headers, body, parts.query)
        kind, _, rest = path.strip("/").partition("/")
        if verb == "POST" and kind == "upload":
            with self._lock:
                stored = files.receive_upload(self._ws, rest, headers.get("content-type", ""), body)
            return _text(200, f"OK - {len(body)}") if stored else _text(404, "file_not_found")
        if verb == "POST" and kind == "response":
            with self._lock:
                status, text = receive_response(self._ws, rest, body)
            return _text(status, text)
        return _text(404, "not_found")

    def _api(self, method: str, headers: dict[str, str], body: bytes, query: str) -> _Reply:
        params = decode_params(headers.get("content-type", ""), body, query)
        call = Call(method, params, headers, self._ws.now())
        with self._lock:
            self._calls.append(call)
            delay = self._faults.take_hang(method)
        if delay and self._closing.wait(delay):
            return _json(503, {"ok": False, "error": "service_unavailable"}, {})
        with self._lock:
            try:
                status, answer, extra = self._answer(method, Params(params), headers)
            except Exception as bug:  # a bug in the fake: fail loudly, at close
                self._bugs.append(f"{method}: {bug!r}")
                status, answer, extra = 500, {"ok": False, "error": "fake_slack_bug"}, {}
            call.status, call.response = status, answer
            stall = self._faults.take_stall(method)
        if stall:
            self._closing.wait(stall)  # handled already: the client sees no answer in time
        return _json(status, answer, extra)

    def _answer(
        self, method: str, params: Params, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        failure = self._faults.take_failure(method)
        if failure is not None:
            return failure.status, {"ok": False, "error": failure.error}, failure.headers()
        if method == "chat.postMessage" and self._limiter is not None:
            wait = self._limiter.retry_after(self._rate_key(params), self._ws.now())
            if wait is not None:
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
        scopes = {"X-OAuth-Scopes": ",".join(sorted(self._ws.scopes))}
        handler = METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        try:
            self._authenticate(params, headers)
            return 200, handler(self._ws, params), scopes
        except SlackError as error:
            return 200, error.body(), scopes

    def _authenticate(self, params: Params, headers: dict[str, str]) -> None:
        authorization = headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ").strip() or params.string("token")
        if not token:
            raise SlackError("not_authed")
        if not token.startswith(TOKEN_PREFIX) or token in self._ws.revoked_tokens:
            raise SlackError("invalid_auth")
        if token in self._ws.inactive_tokens:
            raise SlackError("account_inactive")

    def _rate_key(self, params: Params) -> str:
        ref = params.string("channel")
        try:
            return self._ws.find_channel(ref).id
        except SlackError:
            return ref


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> _Reply:
    data = json.dumps(body).encode()
    return _Reply(status, data, {"Content-Type": "application/json; charset=utf-8", **headers})


def _text(status: int, text: str) -> _Reply:
    return _Reply(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every request thread
    block_on_close = True

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a client that connects and sends nothing cannot hold close() for long

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake._route(self.command, self.path, headers, body)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing to answer

    def log_message(self, format: str, *args: object) -> None:
        pass
