"""Messages outside an episode's thread: a new card version announced in the model's channel, and
the plain-language note for the business channel ("Explain for business")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.episodes import builders_line, when
from bot.blocks.kit import Message, Person, context, escape, lines, message, section
from jobs.queries import CardView, EpisodeStory


def card_changed(
    payload: Mapping[str, Any], card: CardView, people: Mapping[str, Person]
) -> Message:
    """The card of a model changed: what changed, in words, tagging its builders."""
    changes: Sequence[str] = payload.get("changes", [])
    tagged, _notes = builders_line(card, people)
    version = payload.get("version", card.version)
    title = f"📝 The handoff card of *{escape(card.name)}* is now version {version}"
    body = lines([escape(str(c)) for c in changes]) if changes else "• (no change in words)"
    text = f"{title}\n{body}"
    return message(
        f"The handoff card of {card.name} is now version {version}",
        [section(text), context(f"Builders: {tagged} · commit the card file if it changed here")],
    )


def business_note(
    story: EpisodeStory, permalink: str | None, people: Mapping[str, Person]
) -> Message:
    """What an episode means for the people who act on the scores, in plain words."""
    card, episode = story.card, story.episode
    findings = story.open_findings or story.findings
    what = lines([escape(f.summary) for f in findings[:5]])
    tagged, _notes = builders_line(card, people)
    decisions = (
        f" It {escape(card.decisions[0].lower() + card.decisions[1:])}" if card.decisions else ""
    )
    state = {
        "open": "The builders have been told and are looking into it.",
        "acknowledged": "The builders are working on it.",
        "snoozed": f"The builders will come back to it by {when(episode.snoozed_until)}.",
        "resolved": "The builders have resolved it.",
        "recovered": "It has passed: the scores look normal again.",
    }.get(episode.state, "")
    link = f"<{permalink}|the discussion>" if permalink else "the model's channel"
    text = (
        f"*{escape(card.name)}* may be less reliable than usual since {when(episode.opened_at)}."
        f"{decisions}\n*What changed:*\n{what}\n{state} Questions: {tagged}, or {link}."
    )
    return message(f"{card.name} may be less reliable than usual", [section(text)])


VERDICT_WORDS = {
    "trust": "✅ Yes: the scores behave as they did when the model was validated.",
    "caution": "🟠 With care: read what follows before acting on a score.",
    "do_not_rely": "🔴 No: do not act on the scores alone until the builders say otherwise.",
}


def business_digest(
    payload: Mapping[str, Any], card: CardView, people: Mapping[str, Person]
) -> Message:
    """The weekly note for the business channel, in plain words: can this week's scores be
    trusted (the trust assessment), for whom not (the limitations that bite now), who to ask."""
    verdict = str(payload.get("verdict", ""))
    reasons: Sequence[str] = payload.get("reasons", [])
    biting: Sequence[str] = payload.get("limitations", [])
    tagged, _notes = builders_line(card, people)
    blocks = [
        section(
            f"📋 *{escape(card.name)}* — the week to {escape(str(payload.get('week_to', '')))}\n"
            f"*Can this week's scores be trusted?* {VERDICT_WORDS.get(verdict, verdict)}\n"
            f"{escape(str(payload.get('headline', '')))}"
        )
    ]
    if reasons:
        blocks.append(section("*Why*\n" + lines([escape(r) for r in reasons[:6]])))
    if biting:
        blocks.append(section("*Not for*\n" + lines([escape(x) for x in biting[:6]])))
    blocks.append(
        context(
            f"Questions: {tagged} or {escape(card.channel)} · "
            f"`/model trust {card.model_id}` any time for the latest"
        )
    )
    text = f"{card.name} this week: {VERDICT_WORDS.get(verdict, verdict)}"
    return message(text, blocks)
