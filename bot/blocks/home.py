"""The App Home: every model's health at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.episodes import ICONS
from bot.blocks.kit import MAX_VIEW_BLOCKS, context, divider, escape, header, section
from jobs.queries import ModelView


def home_view(models: Sequence[ModelView]) -> dict[str, Any]:
    """A home tab listing each model with its health, open findings and last check."""
    blocks = [header("Models watched by handoff")]
    if not models:
        blocks.append(
            section(
                "No model is registered yet. Write a handoff card (`docs/cards.md`) and run "
                "`handoff register card.yaml`."
            )
        )
    for model in models[: (MAX_VIEW_BLOCKS - 2) // 3]:
        icon = ICONS.get(model.health, "🟢" if model.health == "healthy" else "⚪")
        counts = ", ".join(f"{n} {s}" for s, n in sorted(model.open_findings.items())) or "none"
        last = f"{model.last_check.window_end:%Y-%m-%d %H:%M} UTC" if model.last_check else "never"
        blocks.append(
            section(f"{icon} *{escape(model.name)}* (`{model.model_id}`): {model.health}")
        )
        blocks.append(context(f"Open findings: {counts} · last check: {last} · {model.channel}"))
        blocks.append(divider())
    return {"type": "home", "blocks": [b.to_dict() for b in blocks]}
