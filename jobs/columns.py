"""Which columns a card asks handoff to watch, and of which kind.

When the baseline is built they come from the card and the source's schema; afterwards the
baseline's bins fix them, so a check never needs to read the schema again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.sources.base import ColumnKind, SchemaKind
from jobs.stats import BaselineSpec, Bins
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

    @classmethod
    def from_bins(cls, bins: Bins, timestamp: str) -> Watched:
        """The columns a baseline was fitted on, with the kinds it counts them as."""
        kinds: dict[str, ColumnKind] = {name: "numeric" for name in bins.numeric}
        kinds.update({name: "categorical" for name in [*bins.categorical, *bins.segments]})
        return cls(
            kinds,
            bins.features,
            timestamp,
            bins.score_column,
            bins.label_column,
            tuple(bins.segments),
        )

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
