"""The weekly check-in in Slack: the message (the week in numbers, the findings of the week, the
threads still waiting, the age of the training data, the card and "Is this still true?" with its
three buttons), and the news in its thread of a card edited or handed over in Slack. Pure: a
`CheckInView` (jobs.queries) and who people are in, `Message`s out.

Numbers are written for a business reader: accuracy as a percentage with the points it moved,
drift as PSI beside the line it is judged against, each with a sparkline of its last eight weeks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.blocks.answers import sparkline
from bot.blocks.episodes import ICONS, builders_line, mention
from bot.blocks.kit import (
    Message,
    Person,
    actions,
    button,
    context,
    divider,
    escape,
    header,
    lines,
    message,
    section,
)
from bot.ids import ActionId
from jobs.queries import CardView, CheckInView
from jobs.recap import Metric, Recap
from jobs.stats import Severity

OLD_TRAINING_DAYS = 365
ANSWERS = {
    "still_true": "✅ Confirmed still true by {who} on {when}",
    "review": "📝 Reviewed by {who} on {when}: the card is now version {version}",
    "handed_over": "🤝 Handed over by {who} on {when}: the card is now version {version}",
}


def day(moment: datetime | str) -> str:
    """A day as people write it: `Mon 30 Nov`."""
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return f"{at:%a %d %b}"


def last_day(end: str) -> datetime:
    """The last day a window ending at `end` covers (one ending at midnight: the day before)."""
    return datetime.fromisoformat(end) - timedelta(microseconds=1)


def stamp(moment: datetime | None) -> str:
    return f"{moment:%a %d %b %H:%M} UTC" if moment else "—"


def check_in_message(
    view: CheckInView, people: Mapping[str, Person], permalinks: Mapping[int, str]
) -> Message:
    """The check-in as it is now (its answer so far shown above the buttons)."""
    card, week = view.card, view.recap
    tagged, notes = builders_line(card, people)
    checks = f"{week.checks} check{'s' if week.checks != 1 else ''}"
    failed = f", {week.failed} failed" if week.failed else ""
    blocks = [
        header(f"🗓️ Weekly check-in: {card.name} ({view.period})"),
        section(
            f"{tagged}: here is how *{escape(card.name)}* did in the week to "
            f"{day(last_day(week.end))} ({checks}{failed}), and the card it runs on."
        ),
        section("*The week in numbers*\n" + numbers(week)),
        section(_findings(week)),
    ]
    if week.waiting:
        waiting = [
            _waiting(w.episode_id, w.severity, w.summary, w.since, permalinks) for w in week.waiting
        ]
        blocks.append(section("*Still waiting for an answer*\n" + lines(waiting)))
    blocks.append(context(training_age(week)))
    blocks += [divider(), section(card_text(card)), section(_question(view))]
    if notes:
        blocks.append(context(*(escape(n) for n in notes[:9])))
    answer = answered(view, people)
    if answer:
        blocks.append(context(answer))
    blocks.append(
        actions(
            button("All still true", ActionId.STILL_TRUE, str(view.id), style="primary"),
            button("Needs review", ActionId.NEEDS_REVIEW, str(view.id)),
            button("Hand over", ActionId.HAND_OVER, str(view.id)),
            block_id=f"checkin_{view.id}",
        )
    )
    headline = "; ".join(_short(m) for m in week.metrics[:3]) or "no checks this week"
    return message(f"Weekly check-in: {card.name} ({view.period}): {headline}", blocks)


def numbers(week: Recap) -> str:
    """One line per key metric: this week, the week before, the line, the last eight weeks."""
    if not week.metrics:
        return "No completed check this week: nothing to compare."
    return lines([_metric_line(m) for m in week.metrics])


def _metric_line(metric: Metric) -> str:
    icon = ICONS.get(str(metric.level), "") if metric.level != Severity.NONE else ""
    spark = sparkline(metric.values)
    if metric.falling_is_worse:
        now = _pct(metric.this_week)
        moved = (
            f" ({_points(metric.change)} on the week before)" if metric.change is not None else ""
        )
        base = f"; baseline {_pct(metric.baseline)}" if metric.baseline is not None else ""
        line = f"; warn below {_pct(metric.warn)}" if metric.warn is not None else ""
        text = f"{escape(metric.label)}: *{now}*{moved}{base}{line}"
    else:
        now = _num(metric.this_week)
        before = (
            f" (week before {_num(metric.week_before)})" if metric.week_before is not None else ""
        )
        line = f"; warn at {_num(metric.warn)}" if metric.warn is not None else ""
        text = f"{escape(metric.label)}: *{now}*{before}{line}"
    return f"{icon} {text} `{spark}`".strip() if spark else f"{icon} {text}".strip()


def _short(metric: Metric) -> str:
    value = _pct(metric.this_week) if metric.falling_is_worse else _num(metric.this_week)
    return f"{metric.label} {value}"


def _pct(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "—"


def _points(change: float | None) -> str:
    if change is None:
        return "—"
    return f"{change * 100:+.1f} pts"


def _num(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "—"


def _findings(week: Recap) -> str:
    counts = (
        f"*Findings this week:* {len(week.opened)} opened, {len(week.acknowledged)} "
        f"acknowledged, {len(week.resolved)} resolved"
    )
    if not week.opened:
        return counts
    return (
        counts
        + "\n"
        + lines(
            [f"{ICONS.get(x.severity, '')} {escape(x.summary)}" for x in week.opened], limit=2000
        )
    )


def _waiting(
    episode_id: int, severity: str, summary: str, since: str, permalinks: Mapping[int, str]
) -> str:
    link = permalinks.get(episode_id)
    text = f"{ICONS.get(severity, '')} {escape(summary)} (since {day(since)})"
    return f"{text} · <{link}|thread>" if link else text


def training_age(week: Recap) -> str:
    if week.trained_to is None or week.training_age_days is None:
        return "The card does not say when the training data ends (context.trained_on)."
    age = week.training_age_days
    text = f"Training data ends {date.fromisoformat(week.trained_to):%d %b %Y}: {age} days old"
    return text + (" — over a year: is it time to retrain?" if age > OLD_TRAINING_DAYS else "")


def card_text(card: CardView) -> str:
    """The card in short: what the model is for, what it decides, where it must not be trusted."""
    parts = [f"*The card (version {card.version})*", f"*For:* {escape(card.problem)}"]
    if card.good_outcome:
        parts.append(f"*Good when:* {escape(card.good_outcome)}")
    if card.decisions:
        parts.append(f"*Decides:* {escape(card.decisions)}")
    limits = [
        f"{escape(x.text)} ({escape(x.rule)})" if x.rule else escape(x.text)
        for x in card.limitations
    ]
    parts.append("*Known limitations:*\n" + (lines(limits, limit=1500) if limits else "• none"))
    if card.trained_on or card.validated_on:
        bits = [f"trained on {card.trained_on}"] if card.trained_on else []
        bits += [f"validated on {escape(card.validated_on)}"] if card.validated_on else []
        parts.append("_" + " · ".join(bits) + "_")
    return "\n".join(parts)


def _question(view: CheckInView) -> str:
    ask = "*Is this still true?* The intent, the limitations, the builders."
    if view.unanswered_before == 1:
        ask += " Nobody answered last week's check-in."
    elif view.unanswered_before > 1:
        ask += f" Nobody answered the last {view.unanswered_before} check-ins."
    return ask


def answered(view: CheckInView, people: Mapping[str, Person]) -> str | None:
    if view.response is None or view.answered_by is None:
        return None
    return ANSWERS[view.response].format(
        who=mention(people, view.answered_by),
        when=stamp(view.answered_at),
        version=view.current_version,
    )


def card_edited(
    payload: Mapping[str, Any], card: CardView, people: Mapping[str, Person]
) -> Message:
    """In a check-in's thread: the card was edited (or handed over) in Slack, what changed, and
    the new builders welcomed with the card."""
    changes: Sequence[str] = payload.get("changes", [])
    version = payload.get("version", card.version)
    who = mention(people, str(payload.get("by", "")))
    welcome: Sequence[str] = payload.get("welcome", [])
    body = lines([escape(str(c)) for c in changes]) if changes else "• (no change in words)"
    blocks = [section(f"📝 {who} changed the card: it is now *version {version}*\n{body}")]
    if welcome:
        names = " ".join(mention(people, w) for w in welcome)
        role = "a builder" if len(welcome) == 1 else "its builders"
        blocks += [
            section(
                f"👋 Welcome {names}: you are now {role} of *{escape(card.name)}*. "
                "handoff will tag you when it drifts and check in with you every week. "
                "Here is what it is for and where it must not be trusted:"
            ),
            section(card_text(card)),
        ]
    blocks.append(context("The card's YAML follows: commit it back to the repository."))
    text = f"The card of {card.name} is now version {version}"
    return message(text, blocks, broadcast=bool(welcome))
