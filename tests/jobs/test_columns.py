"""The columns a check reads are the ones its baseline was fitted on, without asking the source."""

from __future__ import annotations

from datetime import date

import yaml

from jobs.columns import Watched, watched_columns
from jobs.simulation import simulate_day, stable
from jobs.stats.bins import Bins
from store.cards import parse_card
from tests.replays import card_yaml


def test_a_baseline_remembers_the_watched_columns_and_their_kinds() -> None:
    card = parse_card(yaml.safe_dump(card_yaml()))
    batch = simulate_day(0, stable, start=date(2026, 1, 5), rows=500, seed=0)
    schema = {
        name: "categorical" if values.dtype == object else "numeric"
        for name, values in batch.items()
        if name != "scored_at"
    }
    schema["scored_at"] = "timestamp"
    watched = watched_columns(card, schema)  # type: ignore[arg-type]
    assert watched.kinds["product"] == "categorical"
    assert watched.kinds["region"] == "categorical"  # a segment, not listed as a feature
    bins = Bins.fit(batch, watched.spec(card))
    again = Watched.from_bins(bins, card.data.timestamp)
    assert again.kinds == watched.kinds
    assert set(again.features) == set(watched.features)
    assert (again.timestamp, again.score, again.label, again.segments) == (
        watched.timestamp,
        watched.score,
        watched.label,
        watched.segments,
    )
