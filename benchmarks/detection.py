"""Detection at the limit: the six stories of issue 13 through the real check path, over seeds.

    nice .venv/bin/python -m benchmarks.detection [--seeds 20] [--stories ...] [--oracle]
        [--peers] [--cost]

Each story (jobs.simulation.story: 120 days, ~2,000 rows a day, weekly seasonality, four regions,
baseline = the first four weeks, onset on day 35) is registered and checked once a day in process
(tests/stories.py: `register_card` + `run_check`, SQLite). Per story: the delay from onset to the
first warn/critical day (median, worst; "-" = never within the story), false days (warn/critical
days before onset; on stable, every checked day), the lead of the first loud day before the 7-day
trailing accuracy has fallen 3 points below the baseline's, for segment the delay until the
drift is named in its region with its limitation, and the most episodes (root messages) any run
opened (a found drift is followed 14 days past onset: one drift should stay one episode).
`--oracle` adds the fastest delay an oracle test could reach (benchmarks/oracle.py), `--peers`
the same table for Evidently and NannyML with their defaults (benchmarks/peers.py, needs the
bench extra), `--cost` the check's cost with the scan over without it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from jobs.simulation import STORIES, STORY_BASELINE_DAYS, STORY_DAYS, STORY_ONSET
from jobs.stats import Baseline
from store.models import Notification, StoredBaseline
from tests.stories import StoryRun, start_story

FALL = 0.03
TRAILING = 7
DRIFT_CHECK_DAYS = 45
"""Checked days after onset for a drift story (enough for the concept drift's 3-point fall)."""
FOLLOW_DAYS = 14
"""A found drift story is followed this many days past onset, to count its episodes."""


@dataclass(frozen=True)
class Outcome:
    """One story on one seed."""

    delay: int | None
    false_days: int
    lead: int | None
    named: int | None
    seconds: float
    checks: int
    episodes: int


def accuracy_fall_day(run: StoryRun) -> int | None:
    """First day on or after onset whose 7-day trailing accuracy is 3 points under the
    baseline's (row-weighted realized accuracy at the decision threshold 0.5)."""
    correct, rows = [], []
    for day in range(STORY_DAYS):
        data = run.source.day(day)
        hit = (data["score"] >= 0.5) == (data["defaulted"] == 1.0)
        correct.append(float(hit.sum()))
        rows.append(float(hit.size))
    c, n = np.asarray(correct), np.asarray(rows)
    base = c[:STORY_BASELINE_DAYS].sum() / n[:STORY_BASELINE_DAYS].sum()
    for day in range(run.onset, STORY_DAYS):
        lo = day - TRAILING + 1
        if base - c[lo : day + 1].sum() / n[lo : day + 1].sum() >= FALL:
            return day
    return None


def _named(run: StoryRun, day: int) -> bool:
    return any(
        f.kind == "segment_degradation"
        and f.segment == "region=APAC"
        and "Less reliable in APAC" in str(f.summary)
        for f in run.loud.get(day, [])
    )


def play(name: str, seed: int, folder: Path) -> Outcome:
    """Check every day of one story (a drift story up to `DRIFT_CHECK_DAYS` after onset, and at
    least until it is found and named)."""
    started = time.perf_counter()
    run = start_story(name, seed, folder)
    last = STORY_DAYS if name == "stable" else min(STORY_DAYS, run.onset + DRIFT_CHECK_DAYS)
    delay = named = None
    checks = 0
    for day in range(STORY_BASELINE_DAYS, last):
        run.check(day)
        checks += 1
        if day >= run.onset and run.loud[day]:
            delay = day - run.onset if delay is None else delay
        if name == "segment" and named is None and day >= run.onset and _named(run, day):
            named = day - run.onset
        settled = day >= run.onset + FOLLOW_DAYS and name != "concept"
        if settled and delay is not None and (name != "segment" or named is not None):
            break
    if name == "stable":
        false_days = sum(1 for loud in run.loud.values() if loud)
    else:
        false_days = sum(1 for day, loud in run.loud.items() if day < run.onset and loud)
    fall = accuracy_fall_day(run) if name != "stable" else None
    lead = fall - (run.onset + delay) if fall is not None and delay is not None else None
    seconds = time.perf_counter() - started
    with run.sessions() as session:
        roots = session.scalars(
            select(Notification).where(Notification.kind == "episode.root")
        ).all()
    run.engine.dispose()
    return Outcome(delay, false_days, lead, named, seconds, checks, len(roots))


def _summary(values: Sequence[int | None]) -> str:
    if not values:
        return "-"
    if any(v is None for v in values):
        found = [v for v in values if v is not None]
        median = statistics.median(found) if found else None
        shown = "-" if median is None else f"{median:g}"
        return f"{shown}/never({sum(v is None for v in values)})"
    numbers = [v for v in values if v is not None]
    return f"{statistics.median(numbers):g}/{max(numbers)}"


def _leads(values: Sequence[int | None]) -> str:
    numbers = [v for v in values if v is not None]
    if not numbers:
        return "-"
    return f"{statistics.median(numbers):g}/{min(numbers)}"


def table(results: dict[str, list[Outcome]], title: str) -> None:
    print(f"\n{title}")
    print(
        f"{'story':<9} {'delay med/worst':>16} {'false days':>11} {'runs w/ false':>14} "
        f"{'lead med/min':>13} {'named med/worst':>16} {'episodes':>9} {'s/check':>8}"
    )
    for name, outcomes in results.items():
        delays = [o.delay for o in outcomes] if name != "stable" else []
        false = sum(o.false_days for o in outcomes)
        runs = sum(1 for o in outcomes if o.false_days)
        leads = _leads([o.lead for o in outcomes]) if name != "stable" else "-"
        named = _summary([o.named for o in outcomes]) if name == "segment" else "-"
        per_check = sum(o.seconds for o in outcomes) / max(1, sum(o.checks for o in outcomes))
        print(
            f"{name:<9} {_summary(delays) if delays else '-':>16} {false:>11} "
            f"{runs:>8}/{len(outcomes):<5} {leads:>13} {named:>16} "
            f"{max(o.episodes for o in outcomes):>9} {per_check:8.3f}"
        )


def _without_scan(run: StoryRun) -> None:
    """Rewrite the run's stored baseline without the scan's calibration: today's check path."""
    with run.sessions.begin() as session:
        for row in session.scalars(select(StoredBaseline)):
            old = Baseline.from_bytes(row.data)
            row.data = Baseline(
                old.bins, old.reference, old.spreads, old.days, old.sketches, old.complete
            ).to_bytes()


def cost(folder: Path, *, seed: int = 0, days: int = 40) -> float:
    """Seconds per check with the scan over seconds per check without it, measured in the same
    run: two copies of the stable story, one whose baseline lacks the scan's calibration, checked
    alternately day by day (so both see the same machine load)."""
    with_scan = start_story("stable", seed, folder / "with")
    without = start_story("stable", seed, folder / "without")
    with_scan.check(STORY_BASELINE_DAYS)
    without.check(STORY_BASELINE_DAYS)
    _without_scan(without)
    spent = {"with": 0.0, "without": 0.0}
    for day in range(STORY_BASELINE_DAYS + 1, STORY_BASELINE_DAYS + 1 + days):
        for label, run in (("with", with_scan), ("without", without)):
            started = time.perf_counter()
            run.check(day)
            spent[label] += time.perf_counter() - started
    ratio = spent["with"] / spent["without"]
    print(
        f"\ncheck cost: {spent['with'] / days * 1000:.0f} ms with the scan, "
        f"{spent['without'] / days * 1000:.0f} ms without, ratio {ratio:.2f} "
        f"(stable story, seed {seed}, {days} checks each, alternating)"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--stories", nargs="+", default=list(STORIES), choices=STORIES)
    parser.add_argument("--oracle", action="store_true")
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--peer-seeds", type=int, default=2)
    parser.add_argument("--cost", action="store_true", help="measure the scan's cost only")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.cost:
        with tempfile.TemporaryDirectory() as tmp:
            cost(Path(tmp))
        return
    print(f"stories: onset day {STORY_ONSET}, seeds {seeds.start}..{seeds.stop - 1}")
    results: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.stories if args.seeds else []:
            results[name] = []
            for seed in seeds:
                outcome = play(name, seed, Path(tmp) / f"{name}-{seed}")
                results[name].append(outcome)
            print(
                f"  {name}: delays {[o.delay for o in results[name]]} "
                f"false {[o.false_days for o in results[name]]}",
                flush=True,
            )
    if args.seeds:
        table(
            results, "handoff (delay in days after onset; false = warn/critical days before onset)"
        )
    if args.oracle:
        from benchmarks.oracle import oracle_table

        oracle_table(args.stories, seeds)
    if args.peers:
        from benchmarks.peers import peer_tables

        peer_tables(args.stories, range(args.first_seed, args.first_seed + args.peer_seeds))


if __name__ == "__main__":
    main()
