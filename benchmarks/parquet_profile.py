"""Profile a 20,000,000-row Parquet file in chunks: rows per second and peak RSS (target < 500 MB).

Run, in a venv with pyarrow and psutil (the `bench` extra):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/parquet_profile.py

The file (20 numeric features, a categorical feature, a segment column, score and label; row
groups of 250,000 rows, categoricals dictionary-encoded) is written first by a child process, so
the profiling process's peak RSS covers only reading and counting. The baseline's bins are fitted
on the first row group (a sample), every row group is counted with `profile_batch`, and the chunk
profiles are merged by addition into one window profile.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

NUMERIC = [f"x{i}" for i in range(20)]
REGIONS = np.array(["EU", "US", "APAC", "LATAM", "MEA"], dtype=object)
CATEGORIES = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)


def write_file(path: Path, rows: int, chunk: int) -> None:
    """Write the seeded test file row group by row group (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        columns = {name: rng.normal(size=n) for name in NUMERIC}
        columns["x0"][rng.random(n) < 0.01] = np.nan
        columns["c0"] = CATEGORIES[rng.integers(0, 6, n)]
        columns["region"] = REGIONS[rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])]
        score = 1.0 / (1.0 + np.exp(-rng.normal(-1.0, 1.5, n)))
        columns["score"] = score
        columns["label"] = (rng.random(n) < score).astype(np.float64)
        # 30 days of traffic, in order: what a model's scored rows look like in production
        columns["scored_at"] = np.datetime64("2026-01-01", "ns") + (
            np.arange(start, start + n) * (30 * 86_400_000_000_000 // rows)
        ).astype("timedelta64[ns]")
        table = pa.table(
            {
                k: pa.array(v).dictionary_encode() if v.dtype == object else v
                for k, v in columns.items()
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def to_numpy(column: Any) -> np.ndarray:
    """Arrow column -> numpy: floats without copying; a dictionary column as an object array that
    shares its few string objects (decode the small dictionary once, then index it)."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        categories = column.dictionary.to_numpy(zero_copy_only=False)
        indices = column.indices.to_numpy(zero_copy_only=False)
        if column.null_count:
            values = np.empty(len(column), dtype=object)
            valid = ~np.asarray(column.is_null())
            values[valid] = categories[indices[valid].astype(np.int64)]
            return values
        return categories[indices]
    array: np.ndarray = column.to_numpy(zero_copy_only=False)
    return array


def profile_file(path: Path) -> None:
    import pyarrow.parquet as pq

    from jobs.stats import BaselineSpec, Bins, merge, profile_batch

    spec = BaselineSpec(
        numeric=NUMERIC, categorical=["c0"], score="score", label="label", segments=["region"]
    )
    parquet = pq.ParquetFile(path, pre_buffer=False)
    names = parquet.schema_arrow.names
    started = time.perf_counter()
    bins = None
    profiles = []
    for group in range(parquet.metadata.num_row_groups):
        # One column of one row group at a time keeps Arrow's buffers to a few MB.
        batch = {
            name: to_numpy(parquet.read_row_group(group, columns=[name]).column(0).combine_chunks())
            for name in names
        }
        if bins is None:
            bins = Bins.fit(batch, spec)
        profiles.append(profile_batch(batch, bins))
        del batch
    rows = sum(p.rows for p in profiles)
    window = merge(*profiles)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"file: {path} ({path.stat().st_size / 2**30:.2f} GiB, {parquet.metadata.num_rows:,} rows)"
    )
    print(
        f"profiled {rows:,} rows in {len(profiles)} row-group chunks in {elapsed:.1f} s: "
        f"{rows / elapsed:,.0f} rows/s"
    )
    print(
        f"profile: {len(window.to_bytes()):,} bytes; rows counted {window.rows:,}; "
        f"segments {list(window.segments['region'])}"
    )
    print(f"peak RSS of the profiling process: {peak_mb:.0f} MB (target < 500 MB)")


def profile_through_source(path: Path) -> None:
    """The product's path: the parquet FileSource read in batches, counted by `profile_window`."""
    from datetime import UTC, datetime

    from jobs.columns import Watched
    from jobs.sources.base import ReadReport
    from jobs.sources.files import FileSource
    from jobs.stats import BaselineSpec, Bins
    from jobs.windows import profile_window, read_batches

    source = FileSource(kind="parquet", path=str(path), base_dir=path.parent)
    kinds = {name: "numeric" for name in NUMERIC} | {"c0": "categorical", "region": "categorical"}
    watched = Watched(kinds, (*NUMERIC, "c0"), "scored_at", "score", "label", ("region",))  # type: ignore[arg-type]
    spec = BaselineSpec(
        numeric=NUMERIC, categorical=["c0"], score="score", label="label", segments=["region"]
    )
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    sample = next(read_batches(source, watched, start=start, end=end, report=ReadReport()))
    bins = Bins.fit(sample, spec)
    del sample
    started = time.perf_counter()
    window, report = profile_window(source, watched, bins, start=start, end=end)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"through the parquet source: {window.rows:,} rows ({report.rows_rejected:,} rejected) "
        f"in {elapsed:.1f} s: {window.rows / elapsed:,.0f} rows/s; peak RSS {peak_mb:.0f} MB "
        "(target < 500 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--row-group", type=int, default=250_000, help="rows per row group")
    parser.add_argument("--path", type=Path, default=Path("/tmp/handoff_bench_20m.parquet"))
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--via", choices=["chunks", "source"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        write_file(args.path, args.rows, args.row_group)
        return
    if args.via == "chunks":
        profile_file(args.path)
        return
    if args.via == "source":
        profile_through_source(args.path)
        return
    meta_ok = False
    if args.path.exists():
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(args.path).metadata
        names = pq.ParquetFile(args.path).schema_arrow.names
        meta_ok = metadata.num_rows == args.rows and "scored_at" in names
    if not meta_ok:
        started = time.perf_counter()
        command = [
            sys.executable,
            __file__,
            "--write-only",
            "--rows",
            str(args.rows),
            "--path",
            str(args.path),
        ]
        subprocess.run(command, check=True)
        print(f"wrote the test file in {time.perf_counter() - started:.0f} s (child process)")
    for via in ("chunks", "source"):  # each in its own process: its own peak RSS
        command = [
            sys.executable,
            __file__,
            "--via",
            via,
            "--rows",
            str(args.rows),
            "--path",
            str(args.path),
        ]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
