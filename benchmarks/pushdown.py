"""The warehouse as the engine: a SQL table's window profiled two ways, on PostgreSQL and DuckDB.

- ``in memory``: `SqlSource.batches` streams the rows to Python, where they are counted
  (`profile_batch`), as for any source that cannot count;
- ``pushdown``: `SqlSource.profile` has the database count them (one GROUP BY per column over the
  baseline's bins), so only the counts travel.

The table (`--rows`, default 1,000,000; the issue's size is ``--rows 10000000``) holds a timestamp,
a score, a label, five numeric features and a categorical one (also the segment), over ten days;
the window is all of it. The bins are fitted on a 100,000-row sample, as a baseline's would be.
Printed per backend and way: seconds, rows per second, and the bytes moved out of the database
into handoff: the numpy arrays of the rows (in memory) or the serialized counts (pushdown), a lower
bound of what crossed the wire (PostgreSQL's text protocol sends more). Both profiles are checked
to be equal.

    nice python benchmarks/pushdown.py
    nice python benchmarks/pushdown.py --rows 10000000 --fit --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import sqlalchemy as sa

from jobs.sources.base import ReadReport
from jobs.sources.warehouse import SqlSource
from jobs.stats import BaselineSpec, Bins, Profile, profile_batch

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 10
CHUNK = 1_000_000
REGIONS = np.array(["DE", "FR", "NL", "ES", "IT", "PL", "SE"], dtype=object)
FEATURES = {f"x{i}": "numeric" for i in range(5)} | {"region": "categorical"}
COLUMNS = "scored_at TIMESTAMP, score DOUBLE PRECISION, label INTEGER, " + ", ".join(
    [f"x{i} DOUBLE PRECISION" for i in range(5)] + ["region VARCHAR(8)"]
)


def chunk(rows: int, offset: int, total: int, rng: np.random.Generator) -> pa.Table:
    """Rows `offset`..`offset + rows` of the table, in time order over `DAYS` days."""
    step = DAYS * 86_400_000_000 // total
    stamps = np.datetime64(START.replace(tzinfo=None), "us") + (
        (np.arange(offset, offset + rows) * step).astype("timedelta64[us]")
    )
    score = 1 / (1 + np.exp(-rng.normal(-1, 1.5, rows)))
    columns: dict[str, object] = {
        "scored_at": pa.array(stamps),
        "score": np.round(score, 6),
        "label": (rng.random(rows) < score).astype(np.int32),
    }
    for i in range(5):
        columns[f"x{i}"] = np.round(rng.normal(i, 1 + i, rows), 5)
    columns["region"] = REGIONS[
        rng.choice(len(REGIONS), rows, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05])
    ]
    return pa.table(columns)


def load_postgres(url: str, rows: int) -> None:
    import psycopg

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS scores"))
        connection.execute(sa.text(f"CREATE TABLE scores ({COLUMNS})"))
    engine.dispose()
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    rng = np.random.default_rng(0)
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        for offset in range(0, rows, CHUNK):
            buffer = io.BytesIO()
            pcsv.write_csv(chunk(min(CHUNK, rows - offset), offset, rows, rng), buffer)
            with cursor.copy("COPY scores FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(buffer.getvalue())
        cursor.execute("ANALYZE scores")


def load_duckdb(url: str, rows: int) -> None:
    import duckdb

    path = url.removeprefix("duckdb:///")
    rng = np.random.default_rng(0)
    with duckdb.connect(path) as connection:
        connection.execute("DROP TABLE IF EXISTS scores")
        connection.execute(f"CREATE TABLE scores ({COLUMNS.replace('DOUBLE PRECISION', 'DOUBLE')})")
        for offset in range(0, rows, CHUNK):
            part = chunk(min(CHUNK, rows - offset), offset, rows, rng)  # noqa: F841 - read by name
            connection.execute("INSERT INTO scores SELECT * FROM part")


def fitted_bins(rows: int) -> Bins:
    sample = chunk(min(100_000, rows), 0, rows, np.random.default_rng(1))
    batch = {
        name: sample.column(name).to_numpy(zero_copy_only=False) for name in sample.column_names
    }
    batch["label"] = batch["label"].astype(np.float64)
    spec = BaselineSpec(
        numeric=[f"x{i}" for i in range(5)],
        categorical=["region"],
        score="score",
        label="label",
        segments=["region"],
    )
    return Bins.fit(batch, spec)


def timed(work: Callable[[], tuple[Profile, int]]) -> tuple[Profile, float, int]:
    began = time.perf_counter()
    profile, moved = work()
    return profile, time.perf_counter() - began, moved


def both_ways(url: str, bins: Bins) -> dict[str, tuple[Profile, float, int]]:
    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    end = START + timedelta(days=DAYS)

    def in_memory() -> tuple[Profile, int]:
        profile, handed = Profile.zeros(bins), 0
        batches = source.batches(
            start=START,
            end=end,
            columns=FEATURES,
            timestamp="scored_at",
            score="score",
            label="label",
            report=ReadReport(),
            batch_rows=100_000,
        )
        for batch in batches:
            handed += sum(values.nbytes for values in batch.values())
            profile = profile.merge(profile_batch(batch, bins))
        return profile, handed

    def pushdown() -> tuple[Profile, int]:
        profile = source.profile(
            start=START, end=end, bins=bins, timestamp="scored_at", report=ReadReport()
        )
        return profile, len(profile.to_bytes())

    return {"pushdown": timed(pushdown), "in memory": timed(in_memory)}


def fit_both_ways(url: str) -> dict[str, tuple[float, int]]:
    """Seconds and rows of the baseline fit over the whole table, in the database and in memory."""
    from jobs.columns import Watched
    from jobs.fitting import build_baseline

    source = SqlSource(url_env="W", environ={"W": url}, table="scores")
    watched = Watched(dict(FEATURES), tuple(FEATURES), "scored_at", "score", "label", ("region",))
    spec = BaselineSpec(
        numeric=[f"x{i}" for i in range(5)],
        categorical=["region"],
        score="score",
        label="label",
        segments=["region"],
    )
    end = START + timedelta(days=DAYS)
    out = {}
    for way, pushdown in (("fit in db", True), ("fit read", False)):
        began = time.perf_counter()
        built = build_baseline(
            source=source, watched=watched, spec=spec, start=START, end=end, pushdown=pushdown
        )
        out[way] = (time.perf_counter() - began, built.rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HANDOFF_TEST_POSTGRES_URL"),
        help="a PostgreSQL database to create the table in (default $HANDOFF_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--backends", nargs="+", default=["postgresql", "duckdb"])
    parser.add_argument(
        "--fit", action="store_true", help="also time the baseline fit both ways (slow in memory)"
    )
    args = parser.parse_args()
    bins = fitted_bins(args.rows)
    with tempfile.TemporaryDirectory(prefix="handoff-pushdown-") as tmp:
        for backend in args.backends:
            if backend == "postgresql":
                if not args.postgres_url:
                    print("postgresql: skipped (give --postgres-url)")
                    continue
                url = args.postgres_url
                load = load_postgres
            else:
                url = f"duckdb:///{Path(tmp) / 'warehouse.duckdb'}"
                load = load_duckdb
            began = time.perf_counter()
            load(url, args.rows)
            print(f"{backend}: loaded {args.rows:,} rows in {time.perf_counter() - began:.0f} s")
            results = both_ways(url, bins)
            for way, (_, seconds, moved) in results.items():
                rate = args.rows / seconds
                print(
                    f"  {way:<9} {seconds:7.2f} s  {rate:12,.0f} rows/s  {moved:>14,} bytes moved"
                )
            assert results["pushdown"][0] == results["in memory"][0], "profiles differ"
            print("  profiles equal: yes")
            if args.fit:
                for way, (seconds, rows) in fit_both_ways(url).items():
                    print(f"  {way:<9} {seconds:7.2f} s  {rows / seconds:12,.0f} rows/s")
            if backend == "postgresql":
                engine = sa.create_engine(url)
                with engine.begin() as connection:
                    connection.execute(sa.text("DROP TABLE IF EXISTS scores"))
                engine.dispose()


if __name__ == "__main__":
    main()
