"""A 2 GB csv glob is read and profiled in bounded memory (slow: run with -m slow).

The read runs in a fresh subprocess so that `ru_maxrss` is this read's peak alone. The files are
16 copies of one 130 MB table, each with its own first row: every row of the last 15 is a duplicate
of a row of the first, so the duplicate count is exercised at scale (estimated from a sample).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROWS_PER_FILE = 2_600_000
FILES = 16
PEAK_RSS_LIMIT_MB = 400

READER = """
import json, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
import numpy as np
from jobs.sources import open_source
from jobs.sources.base import ReadReport
from jobs.stats import BaselineSpec, Bins, merge, profile_batch

class Spec:
    kind = "csv"
    path = "big/*.csv"

source = open_source(Spec(), environ={}, base_dir=Path(sys.argv[1]))
columns = {"income": "numeric", "age": "numeric", "region": "categorical"}
report = ReadReport()
window = dict(start=datetime(2024, 7, 1, tzinfo=UTC), end=datetime(2024, 8, 1, tzinfo=UTC))
started = time.perf_counter()
bins, total = None, None
for batch in source.batches(**window, columns=columns, timestamp="scored_at", score="score",
                            label="label", report=report):
    if bins is None:
        spec = BaselineSpec(numeric=["income", "age"], categorical=["region"], label="label",
                            segments=["region"])
        bins = Bins.fit(batch, spec)
    profile = profile_batch(batch, bins)
    total = profile if total is None else total + profile
seconds = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": report.rows_read, "profiled": total.rows, "seconds": seconds,
                  "peak_rss_mb": peak_mb, "summary": report.summary(),
                  "duplicates": getattr(report, "duplicate_rows", None)}))
"""


WRITER = """
import sys
from pathlib import Path
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

folder, rows, files = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(11)
stamps = np.datetime64("2024-07-01T00:00:00", "s") + rng.integers(0, 31 * 86400, rows)
table = pa.table(
    {
        "scored_at": stamps.astype(str),
        "score": rng.random(rows).round(6),
        "income": rng.normal(50_000, 12_000, rows).round(2),
        "age": rng.integers(18, 90, rows),
        "region": rng.choice(["DE", "FR", "NL", "BE", "AT"], rows),
        "label": rng.integers(0, 2, rows),
    }
)
sink = pa.BufferOutputStream()
pcsv.write_csv(table, sink)
header, body = sink.getvalue().to_pybytes().split(b"\\n", 1)
folder.mkdir()
total = 0
for i in range(files):
    # Files differ from their first row on: copies of one file would be read once.
    first = f'"2024-07-31T23:59:{i:02d}",0.5,50000.0,40,"DE",1\\n'.encode()
    with (folder / f"part-{i:02d}.csv").open("wb") as out:
        total += out.write(header + b"\\n" + first) + out.write(body)
print(total)
"""


def python(script: str, *arguments: str) -> str:
    """Run `script` in a fresh interpreter (its own peak RSS: this process stays small)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_2gb_csv_glob_is_read_in_bounded_memory(tmp_path: Path) -> None:
    total_bytes = int(python(WRITER, str(tmp_path / "big"), str(ROWS_PER_FILE), str(FILES)))
    assert total_bytes > 2_000_000_000
    output = python(READER, str(tmp_path))
    result = json.loads(output)
    rows_per_second = result["rows"] / result["seconds"]
    print(
        f"\n{total_bytes / 1e9:.2f} GB, {result['rows']:,} rows in {result['seconds']:.1f} s "
        f"({rows_per_second:,.0f} rows/s, {total_bytes / 1e6 / result['seconds']:.0f} MB/s); "
        f"peak RSS {result['peak_rss_mb']:.0f} MB; {result['summary']}"
    )
    assert result["rows"] == (ROWS_PER_FILE + 1) * FILES == result["profiled"]
    assert result["peak_rss_mb"] < PEAK_RSS_LIMIT_MB
    duplicates = (FILES - 1) * ROWS_PER_FILE
    assert abs(result["duplicates"] - duplicates) < 0.02 * duplicates


PARQUET_WRITER = """
import sys
from pathlib import Path
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

path, groups, rows = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(12)
with pq.ParquetWriter(path, pa.schema([
    ("scored_at", pa.timestamp("ns")), ("score", pa.float64()), ("income", pa.float64()),
    ("age", pa.float64()), ("region", pa.dictionary(pa.int32(), pa.string())),
    ("label", pa.float64())])) as writer:
    for g in range(groups):
        start = np.datetime64("2024-07-01", "ns") + np.timedelta64(g * 12, "h")
        writer.write_table(pa.table({
            "scored_at": start + np.arange(rows).astype("timedelta64[ms]"),
            "score": rng.random(rows), "income": rng.normal(50_000, 12_000, rows),
            "age": rng.normal(40, 12, rows),
            "region": pa.array(rng.choice(["DE", "FR", "NL", "BE"], rows)).dictionary_encode(),
            "label": rng.integers(0, 2, rows).astype(float),
        }))
print(path.stat().st_size)
"""

PARQUET_ROW_GROUPS = 40
PARQUET_GROUP_ROWS = 250_000


@pytest.mark.slow
def test_a_large_parquet_file_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """One file of many row groups: a reader that pre-buffers them all peaks above 1 GB here."""
    (tmp_path / "big").mkdir()
    python(
        PARQUET_WRITER,
        str(tmp_path / "big" / "scores.parquet"),
        str(PARQUET_ROW_GROUPS),
        str(PARQUET_GROUP_ROWS),
    )
    reader = READER.replace('kind = "csv"', 'kind = "parquet"').replace(
        "big/*.csv", "big/*.parquet"
    )
    result = json.loads(python(reader, str(tmp_path)))
    print(
        f"\nparquet: {result['rows']:,} rows in {result['seconds']:.1f} s; "
        f"peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    assert result["rows"] == PARQUET_ROW_GROUPS * PARQUET_GROUP_ROWS == result["profiled"]
    assert result["peak_rss_mb"] < PEAK_RSS_LIMIT_MB
