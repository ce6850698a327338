"""The App Home: the models a person builds, escalates for or administers, each with its health,
open findings (linked to their threads), last check and next check-in; or, for someone with none,
every model's health and how to get a card registered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks.episodes import ICONS, when
from bot.blocks.kit import MAX_VIEW_BLOCKS, context, divider, escape, header, lines, section
from jobs.queries import FindingView, ModelView


@dataclass(frozen=True)
class HomeRow:
    """One model on someone's home tab."""

    model: ModelView
    findings: tuple[FindingView, ...]
    next_check_in: datetime | None
    role: str | None  # builder, on the ladder, admin (None: not theirs)


def home_view(rows: Sequence[HomeRow], permalinks: Mapping[int, str]) -> dict[str, Any]:
    mine = [r for r in rows if r.role is not None]
    blocks = [header("Your models" if mine else "Models watched by handoff")]
    if not mine:
        blocks.append(
            section(
                "You build no model handoff watches, and are on no escalation ladder. To put a "
                "model here, write its handoff card (see `docs/cards.md`: intent, limitations, "
                "builders, channel, schedule) and run `handoff register card.yaml`."
            )
        )
    shown = mine or list(rows)
    if not shown:
        blocks.append(section("No model is registered yet."))
    per_model = 4
    for row in shown[: (MAX_VIEW_BLOCKS - len(blocks) - 1) // per_model]:
        model = row.model
        icon = ICONS.get(model.health, "🟢" if model.health == "healthy" else "⚪")
        role = f" · you are {row.role}" if row.role else ""
        blocks.append(
            section(f"{icon} *{escape(model.name)}* (`{model.model_id}`): {model.health}{role}")
        )
        found = [_finding(f, permalinks) for f in row.findings]
        blocks.append(section(lines(found) if found else "No open findings."))
        last = when(model.last_check.window_end) if model.last_check else "never"
        blocks.append(
            context(
                f"Last check {last} · next check-in {when(row.next_check_in)} · {model.channel}"
            )
        )
        blocks.append(divider())
    return {"type": "home", "blocks": [b.to_dict() for b in blocks[:MAX_VIEW_BLOCKS]]}


def _finding(finding: FindingView, permalinks: Mapping[int, str]) -> str:
    icon = ICONS.get(finding.severity, "")
    link = permalinks.get(finding.episode.id) if finding.episode else None
    text = f"{icon} {escape(finding.summary)}"
    return f"{text} · <{link}|thread>" if link else text
