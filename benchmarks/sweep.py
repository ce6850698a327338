"""The morning sweep: many models' checks due at one minute, run by `handoff run`'s check workers.

Registers `--models` models (default 1,000; csv, parquet and sql sources in turn, `--rows` rows per
model per day, `--days` days of history: daily csv or parquet files per model, or a table per
model in one SQLite warehouse), then, in a fresh process (so its peak RSS is the sweep's own),
hands every model's check to `jobs.workers.CheckWorkers` at once, as the cron jobs of a shared
minute do, and waits for the sweep to end. Prints the wall time, checks per second, the peak RSS
and the slowest check. Goal on a 2-core machine: 1,000 models under 5 minutes, under 1 GB.

    nice python benchmarks/sweep.py                      # 1,000 models, 4 workers
    nice python benchmarks/sweep.py --models 60 --workers 2
    nice python benchmarks/sweep.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

Registration stores every model's card and baseline (its first 14 days) and, as `handoff register`
does, indexes every file of its glob, so the sweep's csv/parquet checks open only the newest day's
file; the sql checks are counted inside the warehouse (GROUP BY over the baseline's bins). Fitting
a baseline costs ~0.5 s, so by default the models of one kind share one fit (their data are
alike); `--fit-each` fits every one. Registration is not timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
KINDS = ("csv", "parquet", "sql")
REGIONS = np.array(["DE", "FR", "NL", "ES", "IT"], dtype=object)
FEATURES = ["x0", "x1", "x2", "x3", "x4", "region"]
BASELINE_DAYS = 14

CARD = """
model: {model}
name: Sweep benchmark {model}
intent: {{problem: Rank things.}}
builders: [U024BE7LH]
channel: "#bench"
data:
  source: {source}
  timestamp: scored_at
  score: score
  label: label
  features: [x0, x1, x2, x3, x4, region]
  segments: [region]
baseline: {{from: {first}, to: {last}}}
schedule: {{check: "0 6 * * *"}}
"""


def day_table(day: datetime, rows: int, rng: np.random.Generator) -> pa.Table:
    """One model's scored rows of one day, in time order."""
    seconds = np.sort(rng.integers(0, 86_400, rows))
    stamps = np.datetime64(day.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")
    columns: dict[str, object] = {"scored_at": pa.array(stamps.astype("datetime64[ms]"))}
    for i in range(5):
        columns[f"x{i}"] = np.round(rng.normal(i, 1 + i, rows), 4)
    columns["region"] = REGIONS[rng.integers(0, len(REGIONS), rows)]
    score = 1 / (1 + np.exp(-rng.normal(-1, 1.5, rows)))
    columns["score"] = np.round(score, 5)
    columns["label"] = (rng.random(rows) < score).astype(np.int64)
    return pa.table(columns)


def write_model(
    root: Path, i: int, *, kind: str, days: int, rows: int, warehouse: sqlite3.Connection
) -> Path:
    """The model's data and card; returns the card's path."""
    model = f"m{i:04d}"
    folder = root / model
    (folder / "data").mkdir(parents=True)
    rng = np.random.default_rng(i)
    if kind == "sql":
        names = ["scored_at", "x0", "x1", "x2", "x3", "x4", "region", "score", "label"]
        warehouse.execute(
            f"CREATE TABLE scores_{i} (scored_at DATETIME, x0 FLOAT, x1 FLOAT, x2 FLOAT, "
            "x3 FLOAT, x4 FLOAT, region VARCHAR(8), score FLOAT, label INTEGER)"
        )
    for d in range(days):
        table = day_table(FIRST_DAY + d * DAY, rows, rng)
        if kind == "csv":
            pcsv.write_csv(table, folder / "data" / f"{FIRST_DAY + d * DAY:%Y-%m-%d}.csv")
        elif kind == "parquet":
            pq.write_table(table, folder / "data" / f"{FIRST_DAY + d * DAY:%Y-%m-%d}.parquet")
        else:
            stamps = np.datetime_as_string(table.column("scored_at").to_numpy(), unit="us")
            values = [np.char.replace(stamps, "T", " ")] + [
                table.column(n).to_numpy(zero_copy_only=False) for n in names[1:]
            ]
            records = zip(*(v.tolist() for v in values), strict=True)
            warehouse.executemany(f"INSERT INTO scores_{i} VALUES (?,?,?,?,?,?,?,?,?)", records)
    if kind == "sql":
        warehouse.execute(f"CREATE INDEX scores_{i}_at ON scores_{i} (scored_at)")
        source = f"{{kind: sql, url_env: WAREHOUSE_URL, table: scores_{i}}}"
    else:
        source = f'{{kind: {kind}, path: "data/*.{kind}"}}'
    last = FIRST_DAY + (BASELINE_DAYS - 1) * DAY
    card = folder / "card.yaml"
    card.write_text(
        CARD.format(
            model=model, source=source, first=f"{FIRST_DAY:%Y-%m-%d}", last=f"{last:%Y-%m-%d}"
        )
    )
    return card


def prepare(args: argparse.Namespace, root: Path) -> tuple[str, str]:
    """Write every model's data and register it; returns (DATABASE_URL, WAREHOUSE_URL)."""
    from jobs.columns import Watched
    from jobs.file_index import StoredFileIndex
    from jobs.fitting import BuiltBaseline
    from jobs.registration import fit_for, register_card
    from jobs.sources import ReadReport, open_source
    from jobs.windows import read_batches
    from store import db
    from store.cards import load_card

    warehouse_path = root / "warehouse.db"
    warehouse_url = f"sqlite:///{warehouse_path}"
    database_url = args.database_url or f"sqlite:///{root / 'handoff.db'}"
    began = time.perf_counter()
    warehouse = sqlite3.connect(warehouse_path)
    cards = []
    for i in range(args.models):
        cards.append(
            write_model(
                root,
                i,
                kind=KINDS[i % len(KINDS)],
                days=args.days,
                rows=args.rows,
                warehouse=warehouse,
            )
        )
        if i % 100 == 99:
            warehouse.commit()
    warehouse.commit()
    warehouse.close()
    print(f"wrote {args.models:,} models' data in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    engine = db.prepare(database_url)
    sessions = db.make_sessionmaker(engine)
    environ = {"WAREHOUSE_URL": warehouse_url}
    index = StoredFileIndex(sessions)
    fits: dict[str, BuiltBaseline] = {}
    for i, path in enumerate(cards):
        card = load_card(path)
        kind = KINDS[i % len(KINDS)]
        fitted = fits.get(kind) if not args.fit_each else None
        if fitted is None:
            fitted = fit_for(
                card, file=str(path), base_dir=path.parent, environ=environ, index=index
            )
            fits[kind] = fitted
        elif kind != "sql":  # what fitting would have done besides: index every file of the glob
            source = open_source(
                card.data.source, environ=environ, base_dir=path.parent, index=index
            )
            watched = Watched.from_bins(fitted.baseline.bins, card.data.timestamp)
            for _ in read_batches(
                source, watched, start=FIRST_DAY, end=FIRST_DAY + DAY, report=ReadReport()
            ):
                pass
        with sessions.begin() as session:
            register_card(
                session=session, card=card, source_file=path, now=FIRST_DAY, fitted=fitted
            )
    engine.dispose()
    how = "each fitted" if args.fit_each else "one fit per kind shared, every file indexed"
    print(f"registered them in {time.perf_counter() - began:.0f} s ({how})", flush=True)
    return database_url, warehouse_url


def sweep(database_url: str, warehouse_url: str, workers: int, days: int) -> dict[str, object]:
    """One sweep of every registered model (run in its own process)."""
    from jobs.checks import record_abandoned, run_check
    from jobs.workers import CheckWorkers
    from store import db, repo

    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    now = FIRST_DAY + days * DAY  # the morning after the last day: its check reads that day
    with sessions() as session:
        models = repo.model_ids(session=session)
    pool = CheckWorkers(
        sessions=sessions,
        environ={"WAREHOUSE_URL": warehouse_url},
        check=run_check,
        abandon=lambda guard: record_abandoned(sessions, guard, now=now),
        size=workers,
        clock=lambda: now,
    )
    began = time.perf_counter()
    for model in models:
        pool.submit(model)
    pool.idle()
    wall = time.perf_counter() - began
    progress = pool.progress()
    pool.stop()
    engine.dispose()
    assert progress.sweep is not None
    return {
        "models": len(models),
        "workers": workers,
        "wall_s": wall,
        "checks_per_s": len(models) / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "slowest_s": progress.sweep.slowest[0],
        "slowest_model": progress.sweep.slowest[1],
        "done": progress.counts.done,
        "failed": progress.counts.failed,
        "abandoned": progress.counts.abandoned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2000, help="rows per model per day")
    parser.add_argument("--workers", type=int, default=4, help="HANDOFF_CHECK_WORKERS")
    parser.add_argument("--database-url", help="handoff's database (default: a SQLite file)")
    parser.add_argument(
        "--fit-each",
        action="store_true",
        help="fit every model's baseline (slow: ~0.5 s a model); by default models of one kind "
        "share one fit (their data are alike) and every file is indexed as a fit would",
    )
    parser.add_argument(
        "--sweep-only", nargs=2, metavar=("DATABASE_URL", "WAREHOUSE_URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.sweep_only:
        print(json.dumps(sweep(*args.sweep_only, args.workers, args.days)))
        return
    with tempfile.TemporaryDirectory(prefix="handoff-sweep-") as tmp:
        database_url, warehouse_url = prepare(args, Path(tmp))
        command = [
            sys.executable,
            __file__,
            "--workers",
            str(args.workers),
            "--days",
            str(args.days),
            "--sweep-only",
            database_url,
            warehouse_url,
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"sweep of {result['models']:,} models with {result['workers']} workers: "
        f"{result['wall_s']:.1f} s wall, {result['checks_per_s']:.1f} checks/s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, slowest check {result['slowest_s']:.2f} s "
        f"({result['slowest_model']}); done {result['done']}, failed {result['failed']}, "
        f"abandoned {result['abandoned']}"
    )


if __name__ == "__main__":
    main()
