"""The stories of issue 13 replayed through the real check path, in process.

A story's days are simulated on demand (`jobs.simulation.simulate_story_day`) and served by an
in-memory source; the card is registered as `handoff register` would, and each day is checked as
the scheduler would, once, with `run_check`. Used by tests/scenarios and benchmarks/detection.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jobs.checks import run_check
from jobs.registration import register_card
from jobs.results import CheckResult
from jobs.simulation import (
    STORY_BASELINE_DAYS,
    STORY_ONSET,
    STORY_ROWS,
    Scenario,
    simulate_story_day,
    story,
)
from jobs.sources.base import Batch, ColumnKind, ReadReport, SchemaKind
from store import db
from store.cards import load_card
from tests.replays import card_yaml

START = date(2026, 1, 5)  # a Monday
LOUD = ("warn", "critical")
STRINGS = ("region", "product")


class StorySource:
    """A `Source` serving a simulated story from memory (one day simulated once, then cached)."""

    def __init__(self, scenario: Scenario, *, seed: int, rows: int = STORY_ROWS) -> None:
        self.scenario, self.seed, self.rows = scenario, seed, rows
        self.day = lru_cache(maxsize=16)(self._simulate)  # a day's columns, simulated once

    def _simulate(self, day: int) -> Batch:
        return simulate_story_day(day, self.scenario, start=START, rows=self.rows, seed=self.seed)

    def describe(self) -> str:
        return f"memory story (seed {self.seed})"

    def columns(self) -> dict[str, SchemaKind]:
        kinds: dict[str, SchemaKind] = {"scored_at": "timestamp"}
        for name in self.day(0):
            if name != "scored_at":
                kinds[name] = "categorical" if name in STRINGS else "numeric"
        return kinds

    def batches(
        self,
        *,
        start: datetime,
        end: datetime,
        columns: Mapping[str, ColumnKind],
        timestamp: str,
        score: str,
        label: str | None,
        report: ReadReport,
        batch_rows: int = 65536,
    ) -> Iterator[Batch]:
        first = (start.date() - START).days
        last = (end - timedelta(microseconds=1)).date() - START
        low = np.datetime64(start.replace(tzinfo=None), "ns")
        high = np.datetime64(end.replace(tzinfo=None), "ns")
        wanted = {timestamp, score, *columns, *([label] if label else [])}
        for day in range(max(first, 0), last.days + 1):
            data = self.day(day)
            inside = (data[timestamp] >= low) & (data[timestamp] < high)
            kept = int(inside.sum())
            report.skip(int(inside.size) - kept)
            if kept:
                report.keep(kept)
                yield {name: data[name][inside] for name in wanted}
        report.finish([name for name, kind in columns.items() if kind == "numeric"])


def story_card(folder: Path) -> Path:
    """The stories' card: the replays' card, baseline = the first four weeks."""
    content: dict[str, Any] = card_yaml()
    content["baseline"] = {
        "from": START.isoformat(),
        "to": (START + timedelta(days=STORY_BASELINE_DAYS - 1)).isoformat(),
    }
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@dataclass
class StoryRun:
    """One story on one seed: its sessions and source, and what each checked day said."""

    name: str
    seed: int
    sessions: sessionmaker[Session]
    source: StorySource
    engine: Engine
    onset: int = STORY_ONSET
    loud: dict[int, list[Any]] = field(default_factory=dict)

    def check(self, day: int) -> CheckResult:
        end = datetime.combine(START + timedelta(days=day + 1), time(0), tzinfo=UTC)
        result = run_check(
            sessions=self.sessions,
            model_id="credit-risk",
            window_end=end,
            now=end + timedelta(hours=6),
            environ={},
            source=self.source,
        )
        self.loud[day] = [
            f for f in result.findings if f.severity in LOUD and f.state != "recovered"
        ]
        return result


def start_story(name: str, seed: int, folder: Path, *, rows: int = STORY_ROWS) -> StoryRun:
    """Register the story's card (its baseline read from the story) in a fresh SQLite file."""
    folder.mkdir(parents=True, exist_ok=True)
    engine = db.prepare(f"sqlite:///{folder / 'handoff.db'}")
    sessions = db.make_sessionmaker(engine)
    source = StorySource(story(name), seed=seed, rows=rows)
    card = load_card(story_card(folder))
    with sessions.begin() as session:
        register_card(
            session=session,
            card=card,
            source_file=folder / "card.yaml",
            now=datetime.combine(START, time(0), tzinfo=UTC),
        )
    return StoryRun(name, seed, sessions, source, engine)
