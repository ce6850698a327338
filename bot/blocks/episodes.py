"""An episode in Slack: its root message (edited in place as the episode changes) and the replies
in its thread. Pure: an `EpisodeStory` (jobs.queries) and who people are (`Person`) in, `Message`s
out.

The root says what changed in plain words with the numbers, since when, the model's intent, the
limitations that bear on it (the segment's own first), the context it was trained and validated
in, the builders tagged, a state line, and the buttons. Replies say one thing each; only what the
channel must see (critical, escalated past the builders, reopened, resolved) is broadcast.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.blocks.kit import (
    Message,
    Person,
    actions,
    button,
    context,
    escape,
    header,
    lines,
    message,
    section,
)
from bot.ids import ActionId
from jobs.queries import CardView, EpisodeStory, FindingView
from store.states import EpisodeState, NotificationKind

ICONS = {"critical": "🔴", "warn": "🟠", "info": "🔵", "recovered": "✅"}
MAX_FINDINGS = 12
ACTIVE = (EpisodeState.OPEN, EpisodeState.ACKNOWLEDGED, EpisodeState.SNOOZED)


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def mention(people: Mapping[str, Person], who: str) -> str:
    """A person's mention, or their card text (escaped) when Slack does not know them."""
    person = people.get(who)
    if person is None:
        return who if who.startswith("<") else escape(who)
    return person.mention


def builders_line(card: CardView, people: Mapping[str, Person]) -> tuple[str, list[str]]:
    """The builders as mentions, and notes on those Slack could not tag."""
    tagged, notes = [], []
    for builder in card.builders:
        person = people.get(builder)
        if person is not None and not person.active:
            notes.append(person.note or f"{builder} is deactivated in Slack: hand the model over")
            continue
        tagged.append(mention(people, builder))
        if person is not None and person.note:
            notes.append(person.note)
    shown = " ".join(dict.fromkeys(tagged))  # a builder named by ID and by e-mail: tagged once
    return shown or "nobody (every builder is gone: hand the model over)", notes


def _finding_line(finding: FindingView) -> str:
    icon = ICONS["recovered"] if finding.state == "recovered" else ICONS.get(finding.severity, "")
    prefix = "recovered: " if finding.state == "recovered" else ""
    return f"{icon} {prefix}{escape(finding.summary)}"


def state_line(story: EpisodeStory, people: Mapping[str, Person]) -> str:
    """Open / acknowledged by whom and when / snoozed until / resolved by whom with the note /
    recovered; with the escalation so far."""
    episode = story.episode
    if episode.state == EpisodeState.ACKNOWLEDGED:
        who = mention(people, episode.acknowledged_by or "someone")
        text = f"👀 Acknowledged by {who} at {when(episode.acknowledged_at)}"
    elif episode.state == EpisodeState.SNOOZED:
        text = f"💤 Snoozed until {when(episode.snoozed_until)}"
    elif episode.state == EpisodeState.RESOLVED:
        who = mention(people, episode.resolved_by or "someone")
        note = f": {escape(episode.resolution)}" if episode.resolution else ""
        text = f"✅ Resolved by {who} at {when(episode.resolved_at)}{note}"
    elif episode.state == EpisodeState.RECOVERED:
        text = f"✅ Recovered at {when(episode.closed_at)}: every finding has cleared"
    else:
        text = f"{ICONS.get(episode.severity, '')} Open since {when(episode.opened_at)}, "
        text += "not acknowledged yet"
        if episode.next_escalation_at is not None:
            text += f"; escalates at {when(episode.next_escalation_at)} unless acknowledged"
    if episode.escalation_step:
        times = "once" if episode.escalation_step == 1 else f"{episode.escalation_step} times"
        text += f" · escalated {times}"
    return text


def root_message(story: EpisodeStory, people: Mapping[str, Person]) -> Message:
    """The episode's root message, as the episode is now."""
    card, episode = story.card, story.episode
    shown = story.findings[:MAX_FINDINGS]
    open_count = len(story.open_findings)
    title = f"{ICONS.get(episode.severity, '')} {card.name}: "
    title += f"{open_count} finding{'s' if open_count != 1 else ''}, {episode.severity}"
    if episode.state in (EpisodeState.RESOLVED, EpisodeState.RECOVERED):
        title = f"✅ {card.name}: {episode.state}"
    changed = lines(
        [_finding_line(f) for f in shown],
        more="and {n} more: `handoff findings " + card.model_id + "`",
    )
    if len(story.findings) > MAX_FINDINGS:
        changed += f"\n…and {len(story.findings) - MAX_FINDINGS} more in the thread"
    blocks = [
        header(title),
        section(f"*What changed* (since {when(episode.opened_at)})\n{changed}"),
        section(_intent(card)),
    ]
    if story.bearing:
        limits = lines([_limitation(x.text, x.rule) for x in story.bearing])
        blocks.append(section(f"*Known limitations that bear on this*\n{limits}"))
    facts = [f"Card v{card.version}"]
    if card.trained_on:
        facts.append(f"trained on {card.trained_on}")
    if card.validated_on:
        facts.append(f"validated on {escape(card.validated_on)}")
    blocks.append(context(" · ".join(facts)))
    tagged, notes = builders_line(card, people)
    blocks.append(section(f"*Builders:* {tagged}"))
    if notes:
        blocks.append(context(*(escape(n) for n in notes[:9])))
    blocks.append(context(state_line(story, people)))
    if episode.state in ACTIVE:
        blocks.append(_buttons(story))
    first = story.open_findings[0].summary if story.open_findings else "every finding cleared"
    more = f" (+{open_count - 1} more)" if open_count > 1 else ""
    text = f"{card.name} ({card.model_id}): {first}{more} — {episode.state}"
    return message(text, blocks)


def _intent(card: CardView) -> str:
    text = f"*What the model is for*\n{escape(card.problem)}"
    if card.decisions:
        text += f"\n_Decisions it drives:_ {escape(card.decisions)}"
    return text


def _limitation(text: str, rule: str | None) -> str:
    return f"{escape(text)} ({escape(rule)})" if rule else escape(text)


def _buttons(story: EpisodeStory) -> Any:
    value = str(story.episode.id)
    elements = []
    if story.episode.state != EpisodeState.ACKNOWLEDGED:
        elements.append(button("Acknowledge", ActionId.ACKNOWLEDGE, value, style="primary"))
    elements += [
        button("Snooze a day", ActionId.SNOOZE_DAY, value),
        button("Snooze a week", ActionId.SNOOZE_WEEK, value),
        button("Resolve…", ActionId.RESOLVE, value),
        button("Escalate now", ActionId.ESCALATE, value, style="danger"),
    ]
    if story.card.business_channel:
        elements.append(button("Explain for business", ActionId.EXPLAIN, value))
    return actions(*elements)


def reply(
    kind: NotificationKind,
    payload: Mapping[str, Any],
    story: EpisodeStory,
    people: Mapping[str, Person],
) -> Message:
    """A reply in the episode's thread for one outbox row (its payload says what happened)."""
    summary = escape(str(payload.get("summary", "")))
    severity = str(payload.get("severity", ""))
    icon = ICONS.get(severity, "")
    tagged, _notes = builders_line(story.card, people)
    critical = severity == "critical"
    if kind == NotificationKind.FINDING_JOINED:
        return _reply(f"🆕 Also: {icon} {summary}", broadcast=critical)
    if kind == NotificationKind.FINDING_WORSE:
        return _reply(f"⬆️ Worse, now {severity}: {summary}", broadcast=critical)
    if kind == NotificationKind.FINDING_RECOVERED:
        return _reply(f"✅ Recovered: {summary}")
    if kind == NotificationKind.FINDING_RETURNED:
        return _reply(f"↩️ Back: {icon} {summary}", broadcast=critical)
    if kind == NotificationKind.EPISODE_REOPENED:
        was = payload.get("was", "over")
        return _reply(f"🔁 Open again (it was {was}): {icon} {summary} {tagged}", broadcast=True)
    if kind == NotificationKind.EPISODE_RECOVERED:
        count = payload.get("findings", 0)
        return _reply(f"✅ Every finding of this episode has recovered ({count}): it is over.")
    if kind == NotificationKind.EPISODE_WOKE:
        return _reply(f"⏰ The snooze ended and the findings are still seen: open again. {tagged}")
    if kind == NotificationKind.EPISODE_ESCALATED:
        return _escalated(payload, story, people)
    if kind == NotificationKind.EPISODE_ACTION:
        return _action(payload, people)
    return _reply(summary or kind.value)


def _escalated(
    payload: Mapping[str, Any], story: EpisodeStory, people: Mapping[str, Person]
) -> Message:
    rung = str(payload.get("rung", "builders"))
    who = builders_line(story.card, people)[0] if rung == "builders" else mention(people, rung)
    reason = escape(str(payload.get("reason", "nobody has acknowledged it")))
    text = f"⏫ {reason[:1].upper()}{reason[1:]}: {who}, please have a look."
    if payload.get("last"):
        text += " This was the last step of the ladder: handoff stops escalating."
    return _reply(text, broadcast=rung != "builders")


def _action(payload: Mapping[str, Any], people: Mapping[str, Person]) -> Message:
    action = payload.get("action")
    actor = mention(people, str(payload.get("actor", "someone")))
    if action == "acknowledge":
        return _reply(f"👀 {actor} acknowledged this: escalation stopped.")
    if action == "snooze":
        until = payload.get("until")
        moment = datetime.fromisoformat(until) if isinstance(until, str) else None
        return _reply(f"💤 {actor} snoozed this until {when(moment)}.")
    note = payload.get("note")
    said = f": {escape(str(note))}" if note else "."
    return _reply(f"✅ {actor} resolved this{said}", broadcast=True)


def _reply(text: str, *, broadcast: bool = False) -> Message:
    return message(text, [section(text)], broadcast=broadcast)
