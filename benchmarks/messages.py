"""How many messages each scenario story queues over its whole life, through the real check path.

    .venv/bin/python benchmarks/messages.py [--seed N]

For each story of tests/scenarios (real CSV files, 2,000 rows a day, one check a day): root
messages posted (one per episode), thread replies, and edits of a root in place (which interrupt
nobody), with the findings behind them. A slow drift should be one root that grows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from jobs.simulation import concept_drift, seasonal, segment_drift, slow_drift, stable
from store import db
from store.models import Finding, Notification
from tests.replays import BASELINE_DAYS, replay

ONSET = 28
STORIES = {
    "seed story: slow drift, 42 days, no labels": (
        slow_drift(ONSET, per_week=0.4),
        42,
        {"label_column": False},
    ),
    "slow drift, 120 days": (slow_drift(ONSET, per_week=0.25), 120, {}),
    "weekly seasonal, 90 days, no labels": (seasonal, 90, {"label_column": False}),
    "stable, 42 days": (stable, 42, {}),
    "segment (APAC) drift, 38 days": (segment_drift(ONSET), 38, {}),
    "concept drift, 56 days": (concept_drift(ONSET), 56, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    seed = parser.parse_args().seed
    print(f"{'story':<44} {'roots':>5} {'replies':>7} {'edits':>5}  findings")
    for name, (scenario, days, options) in STORIES.items():
        with tempfile.TemporaryDirectory() as folder:
            engine = db.prepare(f"sqlite:///{folder}/handoff.db")
            sessions = db.make_sessionmaker(engine)
            started = time.monotonic()
            story = replay(sessions, Path(folder), scenario, days=days, seed=seed, **options)
            for day in range(BASELINE_DAYS, days):
                story.check(day)
            with sessions() as session:
                kinds = Counter(session.scalars(select(Notification.kind)))
                found = Counter(session.scalars(select(Finding.kind)))
            engine.dispose()
        roots = kinds.pop("episode.root", 0)
        edits = kinds.pop("episode.update", 0)
        replies = sum(kinds.values())
        what = ", ".join(f"{n} {k}" for k, n in sorted(found.items())) or "none"
        print(
            f"{name:<44} {roots:>5} {replies:>7} {edits:>5}  {what}"
            f"  [{', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}]"
            f" ({time.monotonic() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
