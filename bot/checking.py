"""`/model check <model>`: a check run now, off the listener's thread, answered in a thread.

The request is answered at once ("Checking … now"); the check runs in a small pool; when it is
done a message in the channel says so and its thread carries the result (a channel the app is not
in gets the result through the command's `response_url` instead). Its findings go to the outbox
as any check's do, and are delivered at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.kit import escape
from jobs.checks import run_check
from jobs.errors import HandoffError
from jobs.results import CheckResult

log = logging.getLogger(__name__)


class CheckNow:
    """Runs `/model check` requests, two at a time."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        client: WebClient,
        environ: Mapping[str, str] | None = None,
        delivered: Callable[[str], None] = lambda _model: None,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.environ = os.environ if environ is None else environ
        self.delivered = delivered
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="handoff-check-now")

    def __call__(self, model: str, user: str, channel: str, respond: Respond) -> None:
        self.pool.submit(self._run, model, user, channel, respond)

    def _run(self, model: str, user: str, channel: str, respond: Respond) -> None:
        thread = self._say(channel, f"🔎 Checking `{model}` now (asked by <@{user}>)…")
        try:
            result = run_check(
                sessions=self.sessions,
                model_id=model,
                window_end=None,
                now=datetime.now(UTC),
                environ=self.environ,
            )
            text = summary(result)
        except HandoffError as error:
            text = f"The check of `{model}` could not run: {escape(str(error))}"
        except Exception:
            log.exception("check of %s asked in Slack failed", model)
            text = f"The check of `{model}` failed on handoff's side; the details are in its log."
        if thread is None or self._say(channel, text, thread=thread) is None:
            respond(text=text, response_type="ephemeral", replace_original=False)
        self.delivered(model)

    def _say(self, channel: str, text: str, *, thread: str | None = None) -> str | None:
        arguments: dict[str, Any] = {"channel": channel, "text": text}
        if thread is not None:
            arguments["thread_ts"] = thread
        try:
            return str(self.client.chat_postMessage(**arguments)["ts"])
        except SlackApiError:
            return None

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def summary(result: CheckResult) -> str:
    """A check's result in a few lines: the window, the rows, what it found."""
    head = (
        f"Checked `{result.model}`: {result.window_start:%Y-%m-%d %H:%M} to "
        f"{result.window_end:%Y-%m-%d %H:%M} UTC, {result.rows_read:,} rows"
    )
    loud = [f for f in result.findings if f.severity in ("warn", "critical")]
    if not loud:
        return f"{head}. Nothing to report."
    items = "\n".join(f"• {f.severity}: {escape(f.summary)}" for f in loud[:8])
    more = f"\n…and {len(loud) - 8} more" if len(loud) > 8 else ""
    return f"{head}.\n{items}{more}"
