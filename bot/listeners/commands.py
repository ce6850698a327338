"""`/model`: acknowledged at once, answered through the command's `response_url` (ephemeral unless
the text says `share`). The reading lives in jobs (queries, trust); this module parses and renders.
The answer is worked out in `deps.answer`'s pool, not in bolt's listener pool, which also runs
every listener's ack(): slow answers there would hold back the acks of the requests behind them.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import answers
from bot.blocks.kit import Message
from bot.blocks.trust import trust_answer
from bot.listeners.deps import Deps
from jobs.errors import HandoffError
from jobs.queries import finding_views, model_detail, model_views
from jobs.trust import assess_trust
from store import repo

log = logging.getLogger(__name__)

SUBCOMMANDS = ("list", "trust", "limits", "findings", "check", "help")


def parse(text: str) -> tuple[str, list[str], bool]:
    """(sub-command, its words, share): `/model credit-risk` is `("show", ["credit-risk"])`."""
    words = text.split()
    share = "share" in words
    words = [w for w in words if w != "share"]
    if not words:
        return "help", [], share
    first = words[0].lower()
    if first in SUBCOMMANDS:
        return first, words[1:], share
    return "show", words, share


def trust_words(words: list[str]) -> tuple[float | None, dict[str, str | float]]:
    """The score and the rows a trust question names: `0.72 region=APAC history_months=8`."""
    score: float | None = None
    segment: dict[str, str | float] = {}
    for word in words:
        column, equals, value = word.partition("=")
        if equals:
            if not column or not value:
                raise HandoffError(f"`{word}` does not name a column and a value")
            try:
                segment[column] = float(value)
            except ValueError:
                segment[column] = value
            continue
        try:
            number = float(word.rstrip("%")) / (100 if word.endswith("%") else 1)
        except ValueError:
            raise HandoffError(f"`{word}` is neither a score nor column=value") from None
        if score is not None:
            raise HandoffError("ask about one score at a time")
        score = number
    return score, segment


def register(app: App, deps: Deps) -> None:
    @app.command("/model")
    def handle_model_command(
        ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        verb, words, share = parse(str(command.get("text", "")))
        user, channel = str(command.get("user_id")), str(command.get("channel_id"))
        answer = Answerer(deps, client, user=user, channel=channel, respond=respond)

        def work() -> None:
            message = answer.of(verb, words)
            if message is not None:
                respond(
                    text=message.text,
                    blocks=message.blocks,
                    response_type="in_channel" if share else "ephemeral",
                    replace_original=False,
                )

        deps.answer(work, respond)


class Answerer:
    """One `/model` request: the reading, who asked, and how to answer later (`check`)."""

    def __init__(
        self, deps: Deps, client: WebClient, *, user: str, channel: str, respond: Respond
    ) -> None:
        self.deps, self.client, self.user, self.channel = deps, client, user, channel
        self.respond = respond

    def of(self, verb: str, words: list[str]) -> Message | None:
        if verb == "help":
            return answers.help_answer()
        if verb == "list":
            with self.deps.sessions() as session:
                return answers.model_list(model_views(session=session))
        if not words:
            return answers.unknown("", [], what=f"model after `{verb}`")
        model = words[0]
        known = self._models()
        if model not in known:
            if verb == "show" and model.lower() not in known:
                near = difflib.get_close_matches(model, [*known, *SUBCOMMANDS], n=3, cutoff=0.5)
                return answers.unknown(model, near)
            near = difflib.get_close_matches(model, known, n=3, cutoff=0.5)
            return answers.unknown(model, near)
        handler: dict[str, Callable[[str, list[str]], Message | None]] = {
            "show": self._show,
            "limits": self._limits,
            "findings": self._findings,
            "trust": self._trust,
            "check": self._check,
        }
        return handler[verb](model, words[1:])

    def _models(self) -> list[str]:
        with self.deps.sessions() as session:
            return repo.model_ids(session=session)

    def _show(self, model: str, _rest: list[str]) -> Message:
        with self.deps.sessions() as session:
            detail = model_detail(session=session, model_id=model, now=self.deps.now())
        assert detail is not None
        people = self.deps.directory.people(detail.card.builders)
        return answers.model_detail(detail, people, self._permalinks(detail.findings))

    def _limits(self, model: str, _rest: list[str]) -> Message:
        with self.deps.sessions() as session:
            detail = model_detail(session=session, model_id=model, now=self.deps.now())
        assert detail is not None
        return answers.limits(detail.card)

    def _findings(self, model: str, _rest: list[str]) -> Message:
        with self.deps.sessions() as session:
            detail = model_detail(session=session, model_id=model, now=self.deps.now())
            found = finding_views(session=session, model_id=model)
        assert detail is not None
        return answers.findings_list(detail.card, found, self._permalinks(found))

    def _trust(self, model: str, rest: list[str]) -> Message:
        """`/model trust <model> [score] [column=value ...]`."""
        try:
            score, segment = trust_words(rest)
            with self.deps.sessions() as session:
                assessment = assess_trust(
                    session, model_id=model, now=self.deps.now(), score=score, segment=segment
                )
        except HandoffError as error:
            return Message(f"{error}. Ask like `/model trust {model} 0.72 region=APAC`.")
        return trust_answer(assessment, self.deps.directory.people(assessment.builders))

    def _check(self, model: str, _rest: list[str]) -> Message | None:
        with self.deps.sessions() as session:
            detail = model_detail(session=session, model_id=model, now=self.deps.now())
        assert detail is not None
        if not self.deps.access.may_check(self.user, detail.card):
            text = f"Only the builders of {detail.card.name} and handoff admins can check it now."
            return Message(text)
        self.deps.check_now(model, self.user, self.channel, self.respond)
        return Message(f"Checking {detail.card.name} now; the answer follows here when done.")

    def _permalinks(self, findings: Any) -> dict[int, str]:
        out: dict[int, str] = {}
        for finding in findings:
            episode = finding.episode
            if episode is None or not episode.slack_ts or episode.id in out:
                continue
            link = self.deps.permalink(str(episode.slack_channel), episode.slack_ts)
            if link:
                out[episode.id] = link
        return out


def permalinker(client: WebClient) -> Callable[[str, str], str | None]:
    """A cached `chat.getPermalink` (a message's permalink never changes)."""
    cache: dict[tuple[str, str], str] = {}

    def permalink(channel: str, ts: str) -> str | None:
        key = (channel, ts)
        if key not in cache:
            try:
                cache[key] = str(
                    client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
                )
            except SlackApiError as error:
                log.info("no permalink for %s %s: %s", channel, ts, error.response.get("error"))
                return None
        return cache[key]

    return permalink
