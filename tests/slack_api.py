"""A fake Slack for tests: the real `slack_sdk.WebClient` talks to it over HTTP on 127.0.0.1.

    with FakeSlack() as slack:
        alerts = slack.add_channel("model-alerts")
        client = WebClient(token="xoxb-test", base_url=slack.url)
        client.chat_postMessage(channel="#model-alerts", text="PSI 0.31 on score")
        assert slack.messages(alerts)[0]["text"] == "PSI 0.31 on score"

It keeps real state (users, channels, messages and threads, ephemerals, views and the App Home,
uploaded files, response URLs), answers with Slack's errors and shapes, validates Block Kit limits
(``invalid_blocks`` for messages, ``invalid_arguments`` for views), checks tokens and scopes
(``not_authed``, ``invalid_auth``, ``account_inactive``, ``missing_scope``), records every call, and
scripts outages (HTTP 429 with ``Retry-After``, 5xx, hangs, a per-channel ``chat.postMessage``
rate limiter that is off until ``rate_limit()``). The code lives in `bot/fakeslack/`; this module
is the import point.

Where it differs from Slack, on purpose or for want of knowing better:

- Only the methods handoff uses exist; others answer ``unknown_method``.
- Checks are stricter where strict is safe: a ``thread_ts`` that matches no message answers
  ``thread_not_found`` (Slack may accept it); ``action_id`` must be unique in the whole message or
  view (Slack's docs ask it only per block); messages over 40,000 characters answer
  ``msg_too_long`` (Slack may truncate). Block Kit is checked for its limits, not its whole schema.
- Every token starting ``xoxb-`` is the bot's; scopes belong to the fake, not to a token.
- ``users.lookupByEmail`` finds deactivated users too (with ``deleted: true``), as ``users.info``.
- ``chat.postEphemeral`` follows ``chat.postMessage``'s channel rules and needs the user in the
  channel (``user_not_in_channel``).
- Files are shared at once and the ``files.completeUploadExternal`` answer carries ``shares``; Slack
  shares in the background. Unknown or un-uploaded file ids answer ``file_not_found``.
- ``views.push`` with a trigger not minted inside a modal starts a new stack instead of failing.
- Response URLs answer plain text (``ok``; ``404 used_url`` after 5 posts, ``expired_url`` after 30
  minutes): Slack documents the limits, not the bodies.
- Blocks without a top-level ``text`` are accepted (as Slack does) and noted in
  `FakeSlack.warnings`; slack_sdk itself also warns (a `UserWarning`, an error under our pytest
  settings).
- A hanging call is handled after its delay, so the post can land though the client gave up (as
  with real Slack, and why idempotency matters); closing the fake wakes it with a 503 instead.
- No Events API, Socket Mode, workspace-wide rate limits or method tiers.
"""

from bot.fakeslack.server import Call, FakeSlack
from bot.fakeslack.state import DEFAULT_SCOPES, Identity, UploadedFile

__all__ = ["DEFAULT_SCOPES", "Call", "FakeSlack", "Identity", "UploadedFile"]
