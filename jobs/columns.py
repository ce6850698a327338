"""Which columns a card asks handoff to watch, and of which kind, given the source's schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.sources.base import ColumnKind, SchemaKind
from jobs.stats.layouts import BaselineSpec
from store.cards import Card


@dataclass(frozen=True)
class Watched:
    """The feature columns with their kinds, plus the card's reserved columns."""

    kinds: dict[str, ColumnKind]  # features and segments, as read from the source
    features: tuple[str, ...]
    timestamp: str
    score: str
    label: str | None
    segments: tuple[str, ...]

    def spec(self, card: Card) -> BaselineSpec:
        return BaselineSpec(
            numeric=[c for c in self.features if self.kinds[c] == "numeric"],
            categorical=[c for c in self.features if self.kinds[c] == "categorical"],
            score=self.score,
            label=self.label,
            decision_threshold=card.data.decision_threshold or 0.5,
            segments=self.segments,
        )


def watched_columns(card: Card, schema: Mapping[str, SchemaKind]) -> Watched:
    """Features from the card (or every other column of the schema), kinds from the schema.

    Segment columns are always read as categorical (a segment is a group of rows with one value).
    A listed feature the schema lacks is kept as numeric; the source then reports it missing.
    """
    data = card.data
    names = data.feature_columns([c for c, k in schema.items() if k != "timestamp"])
    kinds: dict[str, ColumnKind] = {}
    for name in dict.fromkeys([*names, *data.segments]):
        found = schema.get(name, "numeric")
        kinds[name] = (
            "categorical" if name in data.segments or found == "categorical" else "numeric"
        )
    return Watched(
        kinds, tuple(names), data.timestamp, data.score, data.label, tuple(data.segments)
    )
