"""Does a daily check's cost follow its window or the history? One daily check over 30, 180 and
365 daily csv files of 20,000 rows, three ways, in one run:

- ``glob, no index``: the card's ``data/*.csv`` read as before the file index (every file parsed);
- ``glob + index``: the same glob with handoff's file index (in the SQLite database): a file
  unchanged since it was read whose rows lie outside the window is not opened;
- ``template``: the card's path ``data/{date:%Y-%m-%d}.csv`` (only the window's day is listed).

The day modelled is a morning: the model was registered (its baseline of the first 7 days read,
and every file then present indexed) and checked yesterday; today's file has just arrived. Each
timing is the median of `--repeat` dry runs (``run_check(post=False)``: read, profile, compare,
judge; nothing stored, so every repeat does the same work) of the window of the newest day, taken
in rounds over every size and way (a shared machine's drifting load then weighs on all alike).

    nice python benchmarks/history.py                 # 30, 180, 365 files
    nice python benchmarks/history.py --days 30 365 --rows 20000 --repeat 7
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv

from benchmarks.sweep import day_table
from jobs.checks import run_check
from jobs.file_index import StoredFileIndex
from jobs.registration import fit_for, register_card
from jobs.sources.files import FileSource
from store import db
from store.cards import load_card

FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)

CARD = """
model: history
name: History benchmark
intent: {{problem: Rank things.}}
builders: [U024BE7LH]
channel: "#bench"
data:
  source: {{kind: csv, path: "{path}"}}
  timestamp: scored_at
  score: score
  label: label
  features: [x0, x1, x2, x3, x4, region]
  segments: [region]
baseline: {{from: {first}, to: {last}}}
schedule: {{check: "0 6 * * *"}}
"""


def write_day(folder: Path, day: datetime, rows: int, rng: np.random.Generator) -> None:
    """One day's scored rows (benchmarks/sweep.py's `day_table`) as data/YYYY-MM-DD.csv."""
    pcsv.write_csv(day_table(day, rows, rng), folder / f"{day:%Y-%m-%d}.csv")


def one_check(sessions: object, *, model: str, end: datetime, **kw: object) -> float:
    """Seconds of one dry-run check of the day ending at `end`."""
    began = time.perf_counter()
    result = run_check(
        sessions=sessions,  # type: ignore[arg-type]
        model_id=model,
        window_end=end,
        now=end + timedelta(hours=6),
        environ={},
        post=False,
        **kw,  # type: ignore[arg-type]
    )
    assert result.rows_read > 0, result
    return time.perf_counter() - began


Timed = dict[str, Callable[[], float]]


def prepare(days: int, rows: int, root: Path) -> Timed:
    """Write `days` daily files, register and check the model as of yesterday, let today's file
    arrive; returns the timed checks of today, one per way (module docstring)."""
    folder = root / f"h{days}"
    data = folder / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(days)
    for i in range(days - 1):
        write_day(data, FIRST_DAY + i * DAY, rows, rng)
    engine = db.prepare(f"sqlite:///{folder / 'handoff.db'}")
    sessions = db.make_sessionmaker(engine)
    first, last = FIRST_DAY.date(), (FIRST_DAY + 6 * DAY).date()
    for name, path in (("glob", "data/*.csv"), ("template", "data/{date:%Y-%m-%d}.csv")):
        card_file = folder / f"{name}.yaml"
        text = CARD.format(path=path, first=first, last=last).replace("history", f"h-{name}", 1)
        card_file.write_text(text)
        card = load_card(card_file)
        fitted = fit_for(
            card, file=str(card_file), base_dir=folder, environ={}, index=StoredFileIndex(sessions)
        )
        with sessions.begin() as session:
            register_card(
                session=session,
                card=card,
                source_file=card_file,
                now=FIRST_DAY + 9999 * DAY,
                fitted=fitted,
            )
    yesterday = FIRST_DAY + (days - 1) * DAY
    for model in ("h-glob", "h-template"):
        run_check(
            sessions=sessions, model_id=model, window_end=yesterday, now=yesterday, environ={}
        )
    write_day(data, yesterday, rows, rng)  # today's file arrives
    today = yesterday + DAY
    plain = FileSource(kind="csv", path="data/*.csv", base_dir=folder)
    return {
        "glob, no index": lambda: one_check(sessions, model="h-glob", end=today, source=plain),
        "glob + index": lambda: one_check(sessions, model="h-glob", end=today),
        "template": lambda: one_check(sessions, model="h-template", end=today),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, nargs="+", default=[30, 180, 365])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per daily file")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="handoff-history-") as tmp:
        checks = {days: prepare(days, args.rows, Path(tmp)) for days in args.days}
        for timed in checks.values():  # imports and first-call costs, not timed
            for check in timed.values():
                check()
        # Rounds over every size and way, so a machine whose load drifts weighs on all alike.
        times: dict[int, dict[str, list[float]]] = {d: {} for d in args.days}
        for _ in range(args.repeat):
            for days, timed in checks.items():
                for way, check in timed.items():
                    times[days].setdefault(way, []).append(check())
    results = {d: {w: statistics.median(t) for w, t in ways.items()} for d, ways in times.items()}
    for days, medians in results.items():
        cells = ", ".join(f"{k}: {v:.3f} s" for k, v in medians.items())
        print(f"{days:>4} files x {args.rows:,} rows: {cells}", flush=True)
    low, high = min(args.days), max(args.days)
    print(f"\nratio {high}/{low} files (goal <= 1.25x):")
    for way in results[low]:
        print(f"  {way:<16} {results[high][way] / results[low][way]:.2f}x")


if __name__ == "__main__":
    main()
