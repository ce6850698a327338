"""The answer to "can I trust this score?" (`/model trust`), for the people who act on scores: the
verdict in one line, why (most important first), what such a score has meant, how accurate the
model is now, the card's limitations for the rows asked about, how fresh the data is, and who to
ask. Pure: a `TrustAssessment` (jobs.trust) and who people are in, a `Message` out."""

from __future__ import annotations

from collections.abc import Mapping

from bot.blocks.episodes import mention
from bot.blocks.kit import Message, Person, context, escape, header, lines, message, section
from jobs.trust import TrustAssessment, Verdict

ICONS = {Verdict.TRUST: "✅", Verdict.CAUTION: "🟠", Verdict.DO_NOT_RELY: "🔴"}
REASONS_SHOWN = 8


def asked(assessment: TrustAssessment) -> str:
    """What was asked, in words: "a score of 0.72 for region=APAC"."""
    parts = [f"a score of {assessment.score:g}"] if assessment.score is not None else []
    if assessment.segment:
        parts.append("for " + ", ".join(f"{c}={v}" for c, v in assessment.segment))
    return " ".join(parts) or "this week's scores"


def trust_answer(assessment: TrustAssessment, people: Mapping[str, Person]) -> Message:
    a = assessment
    verdict = f"{ICONS[a.verdict]} *{a.verdict.label}* — {escape(a.headline)}"
    blocks = [
        header(f"Can I trust {a.name}? ({asked(a)})"),
        section(verdict),
    ]
    if a.reasons:
        why = lines([escape(r) for r in a.reasons[:REASONS_SHOWN]])
        blocks.append(section(f"*Why*\n{why}"))
    if a.score_meaning is not None and a.score_meaning.sentences:
        meaning = lines([escape(s) for s in a.score_meaning.sentences])
        blocks.append(section(f"*What a score of {a.score_meaning.score:g} has meant*\n{meaning}"))
    if a.performance.sentences:
        blocks.append(
            section(
                "*How accurate it is now*\n" + lines([escape(s) for s in a.performance.sentences])
            )
        )
    if a.limitations.sentences:
        blocks.append(
            section(
                "*What the card says about these rows*\n"
                + lines([escape(s) for s in a.limitations.sentences])
            )
        )
    ask = " ".join(
        mention(people, b) for b in a.builders if people.get(b, None) is None or people[b].active
    )
    facts = [escape(s) for s in a.freshness.sentences[:3]]
    blocks.append(context(*facts, f"Questions: {ask or 'its channel'} in {escape(a.channel)}"))
    text = f"{a.name}: {a.verdict.label}. {a.headline}"
    return message(text, blocks)
