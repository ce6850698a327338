"""Delivery: drains the outbox into Slack, never losing or duplicating a message.

`Deliverer.deliver` claims rows (jobs/outbox.py: one deliverer per row, even across replicas),
renders each from the store as it is now (roots and their edits) or from what the row says
happened (replies), and sends it through one `WebClient` whose base URL is `SLACK_API_URL`.

- **Order.** Rows of one episode go in order; a thread reply (or an edit) waits for its root, and
  dies with it when the root could not be posted. An edit overtaken by a newer edit or by the
  root's first post is superseded, not sent.
- **Pace.** Posts to one channel are paced to Slack's ~1 message a second; up to `SENDERS`
  channels are served at once, each by one sender in order, so a busy channel holds up no other.
- **Failures.** Timeouts, connection errors and 5xx are retried with backoff and jitter, 429 after
  the `Retry-After` it asks (and its channel pauses that long), all inside this job, never in a
  listener; slack_sdk's own retry handlers are off, so nothing sleeps behind our back. A permanent
  error (`channel_not_found`, `not_in_channel`, `invalid_auth`, `account_inactive`, `is_archived`,
  `invalid_blocks`, ...) or MAX_ATTEMPTS failures marks the row dead with the reason.
- **Never a second root.** Every post carries message `metadata` (`event_type` handoff_message,
  the row's idempotency key in `event_payload`). A send whose outcome is unknown (a timeout, a 5xx,
  or a deliverer that died between Slack's answer and its own commit) leaves the row `uncertain`,
  and the next attempt first looks for the key in the channel's history (a root) or the thread (a
  reply) and records the message it finds instead of posting again. The look-up costs one call
  only for uncertain rows; the common path is one call per message.
"""

from __future__ import annotations

import heapq
import http.client
import logging
import socket
import threading
import time
import urllib.error
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot import uploads
from bot.blocks.checkins import card_edited, check_in_message
from bot.blocks.episodes import reply, root_message
from bot.blocks.kit import Message, Person
from bot.blocks.notes import business_digest, business_note, card_changed
from bot.charts import week_chart
from bot.directory import Channel, ChannelError, Directory
from bot.ids import EVENT_TYPE
from jobs import outbox
from jobs.outbox import OutboxItem
from jobs.queries import CardView, CheckInView, EpisodeStory, check_in_view, story_of
from store import repo
from store.cards import Card, card_yaml
from store.states import THREAD_KINDS, NotificationKind, NotificationStatus

log = logging.getLogger(__name__)

POST_PACE = 1.0
"""Seconds from one post's answer to the next post in the same channel (Slack: ~1 a second)."""
EDIT_PACE = 0.2
SENDERS = 8
"""Channels served at once (each channel by one sender at a time, in order)."""
NETWORK_ERRORS = (
    TimeoutError,
    socket.timeout,
    ConnectionError,
    urllib.error.URLError,
    http.client.HTTPException,
)
PERMANENT = {
    "channel_not_found": "the channel does not exist or the app cannot see it",
    "not_in_channel": "the app is not in the channel: invite it (/invite @handoff)",
    "is_archived": "the channel is archived: point the card at a live channel",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid: reinstall the app and update the token",
    "account_inactive": "the app's token was revoked or its workspace deactivated",
    "token_revoked": "the app's token was revoked: reinstall the app",
    "invalid_blocks": "Slack refused the message's blocks (a handoff bug: please report it)",
    "invalid_blocks_format": "Slack refused the message's blocks (a handoff bug: report it)",
    "msg_too_long": "the message is too long for Slack (a handoff bug: please report it)",
    "no_text": "the message was empty (a handoff bug: please report it)",
    "message_not_found": "the episode's root message was deleted in Slack",
    "cant_update_message": "the root message cannot be edited by the app",
    "missing_scope": "the app lacks a scope: recreate it from `handoff manifest`",
    "restricted_action": "the workspace does not let the app post there",
}


@dataclass
class DeliveryReport:
    """What one `deliver` did."""

    sent: int = 0
    superseded: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    rate_limited: int = 0
    found_after_crash: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        for name in ("sent", "superseded", "retried", "dead", "waiting", "rate_limited"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.found_after_crash += other.found_after_crash
        self.errors += other.errors


class _Plan:
    """A batch as senders share it: a queue per channel, served in the order the channels become
    ready (their pace), one sender per channel at a time so each channel's rows keep their order.
    An episode whose row failed is blocked: its later rows in the batch wait for the next round."""

    def __init__(
        self, items: list[OutboxItem], ready_at: dict[str, float], clock: Callable[[], float]
    ) -> None:
        self.queues: dict[str, deque[OutboxItem]] = defaultdict(deque)
        for item in items:
            self.queues[item.channel].append(item)
        self._ready_at = ready_at
        self._clock = clock
        self._heap = [(ready_at[c], i, c) for i, c in enumerate(self.queues)]
        heapq.heapify(self._heap)
        self._seq = len(self._heap)
        self._busy: set[str] = set()
        self._blocked: set[str] = set()
        self._cond = threading.Condition()

    def take(self, deadline: float) -> tuple[str, OutboxItem] | None:
        with self._cond:
            while True:
                now = self._clock()
                if now >= deadline:
                    return None
                if not self._heap:
                    if not self._busy:
                        return None
                    self._cond.wait(0.05)
                    continue
                ready, _seq, channel = self._heap[0]
                if ready > now:
                    self._cond.wait(min(ready, deadline) - now)
                    continue
                heapq.heappop(self._heap)
                self._busy.add(channel)
                return channel, self.queues[channel].popleft()

    def give_back(self, channel: str) -> None:
        with self._cond:
            self._busy.discard(channel)
            if self.queues[channel]:
                self._seq += 1
                heapq.heappush(self._heap, (self._ready_at[channel], self._seq, channel))
            self._cond.notify_all()

    def is_blocked(self, item: OutboxItem) -> bool:
        thread = _thread(item)
        with self._cond:
            return thread is not None and thread in self._blocked

    def block(self, item: OutboxItem) -> None:
        thread = _thread(item)
        if thread is not None:
            with self._cond:
                self._blocked.add(thread)

    def leftovers(self) -> list[OutboxItem]:
        with self._cond:
            left = [item for queue in self.queues.values() for item in queue]
            for queue in self.queues.values():
                queue.clear()
            return left


def _thread(item: OutboxItem) -> str | None:
    """The thread a row belongs to (an episode's, or a check-in's), whose rows go in order."""
    if item.episode_id is not None:
        return f"episode:{item.episode_id}"
    check_in = item.payload.get("check_in_id")
    return f"checkin:{check_in}" if check_in is not None else None


class _Retry(Exception):
    def __init__(self, reason: str, *, after: float | None = None, uncertain: bool = False):
        self.reason = reason
        self.after = after
        self.uncertain = uncertain
        super().__init__(reason)


class _Dead(Exception):
    pass


class _Wait(Exception):
    pass


class Deliverer:
    """Delivers the outbox through `client` (see the module docstring)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        client: WebClient,
        holder: str,
        directory: Directory | None = None,
        post_pace: float = POST_PACE,
        workers: int = SENDERS,
        hold: timedelta = outbox.HOLD,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.holder = holder
        self.directory = directory or Directory(client)
        self.post_pace = post_pace
        self.workers = workers
        self.hold = hold
        self.clock = clock
        self.now = now
        self._ready_at: dict[str, float] = defaultdict(float)

    def deliver(self, *, budget: float = 30.0, model_id: str | None = None) -> DeliveryReport:
        """Send what is due, for at most about `budget` seconds (of one model, or all)."""
        report = DeliveryReport()
        deadline = self.clock() + budget
        while self.clock() < deadline:
            items = outbox.claim(
                self.sessions,
                holder=self.holder,
                now=self.now(),
                model_id=model_id,
                hold=self.hold,
            )
            if not items:
                break
            self._batch(items, deadline, report)
        return report

    # --- a batch: channels in turn, each paced, each episode in order

    def _batch(self, items: list[OutboxItem], deadline: float, report: DeliveryReport) -> None:
        plan = _Plan(items, self._ready_at, self.clock)
        workers = max(1, min(self.workers, len(plan.queues)))
        with ThreadPoolExecutor(workers, thread_name_prefix="handoff-deliver") as pool:
            reports = [pool.submit(self._work, plan, deadline) for _ in range(workers)]
        for done in reports:
            report.add(done.result())
        for item in plan.leftovers():  # the budget ran out: they wait for the next round
            outbox.release(self.sessions, item, at=self.now())
            report.waiting += 1

    def _work(self, plan: _Plan, deadline: float) -> DeliveryReport:
        """One sender: takes the channel that is ready first, sends its next row, gives it back."""
        mine = DeliveryReport()
        while (taken := plan.take(deadline)) is not None:
            channel, item = taken
            try:
                if plan.is_blocked(item):
                    outbox.release(self.sessions, item, at=self.now() + timedelta(seconds=2))
                    mine.waiting += 1
                elif not self._one(item, mine):
                    plan.block(item)
            finally:
                plan.give_back(channel)
        return mine

    def _one(self, item: OutboxItem, report: DeliveryReport) -> bool:
        """Deliver one row; False when it did not go out (later rows of its episode wait)."""
        try:
            posted = self._send(item, report)
        except _Wait:
            outbox.release(self.sessions, item, at=self.now() + timedelta(seconds=2))
            report.waiting += 1
            return False
        except _Dead as error:
            outbox.give_up(self.sessions, item, reason=str(error))
            report.dead += 1
            report.errors.append(f"{item.key}: {error}")
            log.warning("outbox %s dead: %s", item.key, error)
            return False
        except _Retry as error:
            report.rate_limited += int(error.after is not None)
            again = outbox.retry(
                self.sessions,
                item,
                error=error.reason,
                now=self.now(),
                retry_after=error.after,
                uncertain=error.uncertain,
            )
            report.retried += int(again)
            report.dead += int(not again)
            return False
        if posted is None:
            report.superseded += 1
        else:
            report.sent += 1
        return True

    # --- one row

    def _send(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        kind = item.kind
        special = {
            NotificationKind.CARD_CHANGED: self._card_changed,
            NotificationKind.CARD_FILE: self._card_file,
            NotificationKind.CHECK_IN: self._check_in,
            NotificationKind.CHECK_IN_UPDATE: self._check_in_update,
            NotificationKind.CHECK_IN_CHART: self._check_in_chart,
            NotificationKind.BUSINESS_DIGEST: self._digest,
        }.get(kind)
        if special is not None:
            return special(item, report)
        story = self._story(item)
        people = self.directory.people(
            [*story.card.builders, *story.card.ladder, *self._actors(story, item)]
        )
        if kind == NotificationKind.EPISODE_ROOT:
            channel = self._channel(item.channel)
            ts = self._post(item, channel, root_message(story, people), report)
            outbox.sent(
                self.sessions,
                item,
                channel_id=channel.id,
                ts=ts,
                now=self.now(),
                revision=story.episode.revision,
            )
            return ts
        if kind == NotificationKind.BUSINESS_NOTE:
            root = self._root(item)
            permalink = self._permalink(*root) if root else None
            return self._post(
                item, self._channel(item.channel), business_note(story, permalink, people), report
            )
        root = self._root(item)
        if root is None:
            raise _Wait
        channel_id, root_ts = root
        if kind == NotificationKind.EPISODE_UPDATE:
            return self._edit(item, story, people, channel_id, root_ts)
        if kind not in THREAD_KINDS:
            raise _Dead(f"unknown message kind {kind}")
        message = reply(kind, item.payload, story, people)
        ts = self._post(item, Channel(channel_id, "", False, True), message, report, thread=root_ts)
        if kind == NotificationKind.EPISODE_ESCALATED:
            self._tell_rung(item, story, channel_id, root_ts)
        return ts

    # --- check-ins, and cards edited in Slack

    def _card_changed(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        card = self._card(item.model_id)
        named = [*card.builders, *item.payload.get("welcome", [])]
        by = item.payload.get("by")
        people = self.directory.people([*named, by] if by else named)
        if item.payload.get("check_in_id") is None:  # registered from a file
            return self._post(
                item, self._channel(item.channel), card_changed(item.payload, card, people), report
            )
        channel_id, thread = self._check_in_thread(item)
        message = card_edited(item.payload, card, people)
        return self._post(item, _known(channel_id), message, report, thread=thread)

    def _card_file(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        version = int(item.payload["version"])
        with self.sessions() as session:
            row = repo.card_version(session=session, model_id=item.model_id, version=version)
        if row is None:
            raise _Dead(f"card version {version} is gone")
        filename = Path(row.source_file).name or f"{item.model_id}.yaml"
        note = (
            f"The card of {item.model_id}, version {version}, as edited in Slack on "
            f"{row.registered_at:%Y-%m-%d %H:%M} UTC by {row.registered_by or 'someone'}.\n"
            f"Commit it as {filename} so the next `handoff register` keeps the edit."
        )
        text = card_yaml(Card.model_validate(row.content), note=note)
        title = f"{filename} (card version {version})"
        where = self._check_in_thread(item)
        return self._upload(
            item, where, report, filename=filename, title=title, content=text.encode()
        )

    def _check_in(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        view = self._check_in_view(item)
        people = self.directory.people(view.card.builders)
        permalinks = {
            w.episode_id: link
            for w in view.recap.waiting
            if w.slack_channel
            and w.slack_ts
            and (link := self._permalink(w.slack_channel, w.slack_ts)) is not None
        }
        message = check_in_message(view, people, permalinks)
        return self._post(item, self._channel(item.channel), message, report)

    def _check_in_update(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        channel_id, ts = self._check_in_thread(item)
        view = self._check_in_view(item)
        people = self.directory.people(
            [*view.card.builders, *([view.answered_by] if view.answered_by else [])]
        )
        message = check_in_message(view, people, {})
        self._call(
            item,
            lambda: self.client.chat_update(
                channel=channel_id, ts=ts, text=message.text, blocks=message.blocks
            ),
            channel_id,
            pace=EDIT_PACE,
        )
        outbox.sent(self.sessions, item, channel_id=channel_id, ts=ts, now=self.now())
        return ts

    def _check_in_chart(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        where = self._check_in_thread(item)
        view = self._check_in_view(item)
        title = f"{view.card.name}: the last 8 weeks ({view.period})"
        png = week_chart(view.recap, title=title)
        if png is None:
            outbox.superseded(self.sessions, item)
            return None
        filename = f"{view.model_id}-{view.period}.png"
        return self._upload(item, where, report, filename=filename, title=title, content=png)

    def _digest(self, item: OutboxItem, report: DeliveryReport) -> str | None:
        card = self._card(item.model_id)
        people = self.directory.people(card.builders)
        message = business_digest(item.payload, card, people)
        return self._post(item, self._channel(item.channel), message, report)

    def _upload(
        self,
        item: OutboxItem,
        where: tuple[str, str],
        report: DeliveryReport,
        *,
        filename: str,
        title: str,
        content: bytes,
    ) -> str:
        channel_id, thread = where
        if item.uncertain:
            try:
                found = uploads.find(self.client, channel=channel_id, thread_ts=thread, title=title)
            except SlackApiError as error:
                self._failed(item, error)
            if found:
                report.found_after_crash += 1
                outbox.sent(self.sessions, item, channel_id=channel_id, ts=found, now=self.now())
                return found
        file_id = self._call(
            item,
            lambda: uploads.upload(
                self.client,
                channel=channel_id,
                thread_ts=thread,
                filename=filename,
                title=title,
                content=content,
            ),
            channel_id,
        )
        outbox.sent(self.sessions, item, channel_id=channel_id, ts=str(file_id), now=self.now())
        return str(file_id)

    def _check_in_view(self, item: OutboxItem) -> CheckInView:
        with self.sessions() as session:
            view = check_in_view(session=session, check_in_id=int(item.payload["check_in_id"]))
        if view is None:
            raise _Dead("its check-in or its model is gone")
        return view

    def _check_in_thread(self, item: OutboxItem) -> tuple[str, str]:
        """The check-in message's (channel ID, ts); _Wait until it is posted, _Dead with it."""
        check_in_id = int(item.payload["check_in_id"])
        thread = outbox.check_in_thread(self.sessions, check_in_id)
        if thread is not None:
            return thread
        with self.sessions() as session:
            dead = [
                row
                for row in repo.dead_notifications(session=session, model_id=item.model_id)
                if row.kind == NotificationKind.CHECK_IN
                and row.payload.get("check_in_id") == check_in_id
            ]
        if dead:
            raise _Dead(f"its check-in could not be posted: {dead[0].last_error}")
        raise _Wait

    def _edit(
        self,
        item: OutboxItem,
        story: EpisodeStory,
        people: dict[str, Person],
        channel_id: str,
        root_ts: str,
    ) -> str | None:
        with self.sessions() as session:
            row = repo.get_notification(session=session, notification_id=item.id)
            if row is None or row.status == NotificationStatus.SUPERSEDED:
                return None
        message = root_message(story, people)
        self._call(
            item,
            lambda: self.client.chat_update(
                channel=channel_id,
                ts=root_ts,
                text=message.text,
                blocks=message.blocks,
                metadata=self._metadata(item),
            ),
            channel_id,
            pace=EDIT_PACE,
        )
        outbox.sent(
            self.sessions,
            item,
            channel_id=channel_id,
            ts=root_ts,
            now=self.now(),
            revision=story.episode.revision,
        )
        return root_ts

    def _post(
        self,
        item: OutboxItem,
        channel: Channel,
        message: Message,
        report: DeliveryReport,
        *,
        thread: str | None = None,
    ) -> str:
        if item.uncertain:
            found = self._find_posted(item, channel.id, thread)
            if found is not None:
                report.found_after_crash += 1
                log.info("outbox %s was already posted (%s): not posting again", item.key, found)
                if item.kind != NotificationKind.EPISODE_ROOT:
                    outbox.sent(
                        self.sessions, item, channel_id=channel.id, ts=found, now=self.now()
                    )
                return found
        arguments: dict[str, Any] = {
            "channel": channel.id,
            "text": message.text,
            "blocks": message.blocks,
            "metadata": self._metadata(item),
            "unfurl_links": False,
        }
        if thread is not None:
            arguments.update(thread_ts=thread, reply_broadcast=message.broadcast)
        answer = self._call(item, lambda: self.client.chat_postMessage(**arguments), channel.id)
        ts = str(answer["ts"])
        if item.kind != NotificationKind.EPISODE_ROOT:
            outbox.sent(
                self.sessions, item, channel_id=str(answer["channel"]), ts=ts, now=self.now()
            )
        return ts

    def _call(
        self,
        item: OutboxItem,
        send: Callable[[], Any],
        channel_id: str,
        *,
        pace: float | None = None,
    ) -> Any:
        """Send once; the channel's next post waits `pace` from when this one was answered, so
        Slack sees them at least that far apart whatever the network's jitter."""
        wait = pace if pace is not None else self.post_pace
        try:
            return send()
        except SlackApiError as error:
            self._failed(item, error)
        except NETWORK_ERRORS as error:
            raise _Retry(f"{type(error).__name__}: {error}", uncertain=True) from None
        finally:
            self._ready_at[item.channel] = max(self._ready_at[item.channel], self.clock() + wait)

    def _failed(self, item: OutboxItem, error: SlackApiError) -> None:
        response = error.response
        status = response.status_code
        code = str(response.get("error", "") or "")
        if status == 429 or code == "ratelimited":
            after = float(
                response.headers.get("Retry-After", response.headers.get("retry-after", 1))
            )
            self._ready_at[item.channel] = self.clock() + after
            raise _Retry(f"rate limited by Slack for {after:g} s", after=after)
        if status >= 500:
            raise _Retry(f"Slack answered {status}", uncertain=True)
        if code in PERMANENT:
            needed = response.get("needed")
            extra = f" ({needed})" if needed else ""
            raise _Dead(f"{code}: {PERMANENT[code]}{extra}")
        raise _Retry(f"Slack answered {code or status}")

    def _find_posted(self, item: OutboxItem, channel_id: str, thread: str | None) -> str | None:
        """The ts of a message this row already posted (found by its key), if any."""
        oldest = (item.created_at - timedelta(minutes=5)).timestamp()
        cursor = None
        for _page in range(20):
            try:
                if thread is None:
                    page = self.client.conversations_history(
                        channel=channel_id,
                        oldest=f"{oldest:.6f}",
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
                else:
                    page = self.client.conversations_replies(
                        channel=channel_id,
                        ts=thread,
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
            except SlackApiError as error:
                self._failed(item, error)
            messages: list[dict[str, Any]] = page.get("messages", [])
            for posted in messages:
                metadata = posted.get("metadata") or {}
                if (
                    metadata.get("event_type") == EVENT_TYPE
                    and (metadata.get("event_payload") or {}).get("key") == item.key
                ):
                    return str(posted["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _tell_rung(
        self, item: OutboxItem, story: EpisodeStory, channel_id: str, root_ts: str
    ) -> None:
        """An escalation to a channel also says so in that channel, linking to the thread."""
        rung = str(item.payload.get("rung", ""))
        if not rung.startswith("#"):
            return
        try:
            target = self.directory.channel(rung)
            link = self._permalink(channel_id, root_ts)
            text = (
                f"⏫ *{story.card.name}* needs someone: nobody has acknowledged "
                f"<{link}|this episode> yet."
            )
            self.client.chat_postMessage(channel=target.id, text=text, unfurl_links=False)
        except (SlackApiError, ChannelError, *NETWORK_ERRORS) as error:
            log.warning("could not tell %s about %s: %s", rung, item.key, error)

    # --- reading the store

    def _story(self, item: OutboxItem) -> EpisodeStory:
        if item.episode_id is None:
            raise _Dead("the message belongs to no episode")
        with self.sessions() as session:
            story = story_of(session=session, episode_id=item.episode_id)
        if story is None:
            raise _Dead("its episode or its model is gone")
        return story

    def _card(self, model_id: str) -> CardView:
        with self.sessions() as session:
            version = repo.latest_card_version(session=session, model_id=model_id)
        if version is None:
            raise _Dead("the model is gone")
        return CardView.of(Card.model_validate(version.content), version.version)

    def _root(self, item: OutboxItem) -> tuple[str, str] | None:
        if item.episode_id is None:
            return None
        root = outbox.root_of(self.sessions, item.episode_id)
        if root is not None:
            return root
        with self.sessions() as session:
            roots = [
                row
                for row in repo.outbox(session=session, statuses=[NotificationStatus.DEAD])
                if row.episode_id == item.episode_id and row.kind == NotificationKind.EPISODE_ROOT
            ]
        if roots:
            raise _Dead(f"its root message could not be posted: {roots[0].last_error}")
        return None

    def _channel(self, card_channel: str) -> Channel:
        try:
            return self.directory.channel(card_channel)
        except ChannelError as error:
            if error.permanent:
                raise _Dead(error.reason) from None
            raise _Retry(error.reason) from None
        except SlackApiError as error:
            raise _Retry(f"could not look the channel up: {error.response.get('error')}") from None
        except NETWORK_ERRORS as error:
            raise _Retry(f"could not look the channel up: {error}") from None

    def _permalink(self, channel_id: str, ts: str) -> str | None:
        try:
            return str(
                self.client.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"]
            )
        except (SlackApiError, *NETWORK_ERRORS):
            return None

    @staticmethod
    def _actors(story: EpisodeStory, item: OutboxItem) -> list[str]:
        episode = story.episode
        who = [episode.acknowledged_by, episode.resolved_by, item.payload.get("actor")]
        return [str(w) for w in who if w and w != "handoff"]

    @staticmethod
    def _metadata(item: OutboxItem) -> dict[str, Any]:
        return {"event_type": EVENT_TYPE, "event_payload": {"key": item.key}}


def _known(channel_id: str) -> Channel:
    """A channel handoff already posted in (a thread's): no look-up needed."""
    return Channel(channel_id, "", False, True)


def make_client(*, token: str, base_url: str, timeout: int = 10) -> WebClient:
    """The WebClient handoff delivers with: every call to `base_url` (SLACK_API_URL), a bounded
    timeout, and no retry handlers (the deliverer retries, honouring Retry-After, off the
    listeners' threads)."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])
