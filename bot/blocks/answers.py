"""Answers to `/model`: pure functions of read models (jobs.queries) returning messages.

/model list                       the models, their health, open findings, last check
/model <model>                    the card in short, the latest check, open findings, trends
/model trust <model> [score] [column=value ...]   can I trust this score? (jobs.trust)
/model limits <model>             the limitations and context, for decision-makers
/model findings <model>           open findings, newest first, linked to their threads
/model check <model>              run a check now (builders and admins)
/model help
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.blocks.episodes import ICONS, builders_line, when
from bot.blocks.kit import Message, Person, context, escape, header, lines, message, section
from jobs.queries import CardView, CheckView, FindingView, ModelDetail, ModelView, SeriesView

SPARKS = "▁▂▃▄▅▆▇█"
HELP = """*Ask handoff about a model* (add `share` to answer in the channel):
• `/model list`: every model, its health and open findings
• `/model <model>`: the card in short, the latest check, open findings, trends
• `/model trust <model> [score] [column=value …]`: can I trust this score?
• `/model limits <model>`: what the model is not validated for, and its context
• `/model findings <model>`: what wants attention, newest first
• `/model check <model>`: check it now (its builders and admins)"""


def help_answer() -> Message:
    return message("How to ask handoff about a model", [section(HELP)])


def unknown(word: str, closest: Sequence[str], *, what: str = "model") -> Message:
    """A helpful answer for a name that is neither a model nor a sub-command."""
    near = " or ".join(f"`{c}`" for c in closest)
    hint = f" Did you mean {near}?" if closest else ""
    text = f"There is no {what} `{escape(word)}`.{hint} Try `/model list` or `/model help`."
    return message(text, [section(text)])


def _health(model: ModelView) -> str:
    icon = ICONS.get(model.health, "🟢" if model.health == "healthy" else "⚪")
    return f"{icon} {model.health}"


def _check(check: CheckView | None) -> str:
    if check is None:
        return "never checked"
    rows = f"{check.rows_read:,} rows"
    failed = f", failed: {escape(check.error or '')}" if check.status == "failed" else ""
    return f"last check {when(check.window_end)} ({rows}{failed})"


def model_list(models: Sequence[ModelView]) -> Message:
    if not models:
        text = "No model is registered yet: write a card (docs/cards.md), `handoff register` it."
        return message(text, [section(text)])
    items = []
    for model in models:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(model.open_findings.items()))
        items.append(
            f"{_health(model)} *{escape(model.name)}* (`{model.model_id}`): "
            f"{counts or 'no open findings'}; {_check(model.last_check)}"
        )
    return message(
        f"{len(models)} models", [header("Models watched by handoff"), section(lines(items))]
    )


def _finding(finding: FindingView, permalinks: Mapping[int, str]) -> str:
    icon = ICONS.get(finding.severity, "")
    text = f"{icon} {escape(finding.summary)} (since {when(finding.opened_at)})"
    link = permalinks.get(finding.episode.id) if finding.episode else None
    return f"{text} · <{link}|thread>" if link else text


def sparkline(values: Sequence[float]) -> str:
    """The values as a line of block characters, lowest ▁ to highest █."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low or 1.0
    return "".join(
        SPARKS[min(int((v - low) / span * len(SPARKS)), len(SPARKS) - 1)] for v in values
    )


def _trend(series: SeriesView) -> str:
    first, last = series.values[0], series.values[-1]
    return f"{series.label}: {sparkline(series.values)} {first:.3g} → {last:.3g}"


def model_detail(
    detail: ModelDetail, people: Mapping[str, Person], permalinks: Mapping[int, str]
) -> Message:
    card, model = detail.card, detail.model
    tagged, notes = builders_line(card, people)
    blocks = [
        header(f"{card.name} ({card.model_id})"),
        section(
            f"*For:* {escape(card.problem)}"
            + (f"\n*Decides:* {escape(card.decisions)}" if card.decisions else "")
            + f"\n*Builders:* {tagged} · *Health:* {_health(model)} · {_check(model.last_check)}"
        ),
    ]
    if card.limitations:
        blocks.append(
            section(
                "*Known limitations*\n" + lines([_limit(x.text, x.rule) for x in card.limitations])
            )
        )
    if detail.findings:
        found = lines(
            [_finding(f, permalinks) for f in detail.findings],
            more="and {n} more: `/model findings " + card.model_id + "`",
        )
        blocks.append(section(f"*Open findings*\n{found}"))
    else:
        blocks.append(section("*Open findings:* none"))
    key = [s for s in detail.series if s.name.startswith("accuracy@") or s.name.startswith("psi:")]
    if key:
        blocks.append(section("*Last 4 weeks*\n" + lines([_trend(s) for s in key[:10]])))
    blocks.append(context(_context(card)))
    if notes:
        blocks.append(context(*(escape(n) for n in notes[:9])))
    return message(f"{card.name}: {model.health}", blocks)


def _limit(text: str, rule: str | None) -> str:
    return f"{escape(text)} ({escape(rule)})" if rule else escape(text)


def _context(card: CardView) -> str:
    parts = [f"card v{card.version}"]
    if card.trained_on:
        parts.append(f"trained on {card.trained_on}")
    if card.validated_on:
        parts.append(f"validated on {escape(card.validated_on)}")
    if card.notes:
        parts.append(escape(card.notes))
    return " · ".join(parts)


def limits(card: CardView) -> Message:
    """The limitations and context, written for the people who decide with the scores."""
    rows = [_limit(x.text, x.rule) for x in card.limitations] or ["none written down"]
    text = (
        f"*{escape(card.name)}* is meant to: {escape(card.problem)}"
        + (f"\nIt decides: {escape(card.decisions)}" if card.decisions else "")
        + (f"\nIt is good when: {escape(card.good_outcome)}" if card.good_outcome else "")
        + "\n\n*Do not lean on it for:*\n"
        + lines(rows)
    )
    return message(
        f"What {card.name} is not validated for", [section(text), context(_context(card))]
    )


def findings_list(
    card: CardView, findings: Sequence[FindingView], permalinks: Mapping[int, str]
) -> Message:
    if not findings:
        text = f"*{escape(card.name)}* has no open findings."
        return message(text, [section(text)])
    items = [_finding(f, permalinks) for f in findings]
    return message(
        f"{len(findings)} open findings of {card.name}",
        [header(f"Open findings of {card.name}"), section(lines(items))],
    )
