"""csv files that are not clean: unreadable bytes are a SourceError naming the file and the fix; a
ragged row or a huge cell costs one row; .csv.gz is read; the line guard cuts only long lines."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.errors import SourceError
from jobs.sources.base import Batch, ReadReport
from jobs.sources.csvfiles import max_row_bytes
from jobs.sources.files import FileSource
from jobs.sources.streams import LineGuard

START = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2024, 7, 2, tzinfo=UTC)
HEADER = b"scored_at,score,region\n"


def rows(n: int, *, hour: int = 1) -> bytes:
    return b"".join(b"2024-07-01T%02d:00:00,0.%d,DE\n" % (hour, i % 10) for i in range(n))


def read(source: FileSource, batch_rows: int = 65536) -> tuple[Batch, ReadReport]:
    report = ReadReport()
    batches = list(
        source.batches(
            start=START,
            end=END,
            columns={"region": "categorical"},
            timestamp="scored_at",
            score="score",
            label=None,
            report=report,
            batch_rows=batch_rows,
        )
    )
    if not batches:
        return {}, report
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}, report


def put(folder: Path, name: str, data: bytes) -> None:
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / name).write_bytes(data)


LATIN1 = HEADER + rows(3000) + "2024-07-01T02:00:00,0.5,Zürich\n".encode("latin-1") + rows(5)
LATIN1_AT = LATIN1.index("ü".encode("latin-1"))
UNREADABLE = {
    "binary": (bytes(range(1, 256)) * 40 + b"\x00", "is not text (a NUL byte at offset 10,200)"),
    "gzip": (
        gzip.compress(HEADER + rows(10)),
        "is not UTF-8 text (byte 0x8b at offset 1: a gzip file?): save it as UTF-8 csv, "
        "or name it .csv.gz",
    ),
    "latin-1 rows": (
        LATIN1,
        f"is not UTF-8 text (byte 0xfc at offset {LATIN1_AT:,}, line 3,002): save it as UTF-8",
    ),
    "latin-1 header": (
        b"scored_at,score,r\xe9gion\n" + rows(3),
        "(byte 0xe9 at offset 17, line 1)",
    ),
    "utf-16": ("scored_at,score\n".encode("utf-16"), "is UTF-16 text, not UTF-8"),
    "excel": (b"PK\x03\x04" + bytes(100), "it starts like a zip file: an Excel workbook?"),
    "parquet": (
        b"PAR1" + bytes(100) + b"PAR1",
        "is a parquet file, not csv: set the source's kind",
    ),
    "first line too long": (
        b"scored_at,score," + b"x" * (3 << 20) + b"\n" + rows(3),
        "has a first line longer than 2 MiB",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_an_unreadable_csv_file_is_a_source_error_naming_it(tmp_path: Path, case: str) -> None:
    data, problem = UNREADABLE[case]
    put(tmp_path, "2025-01-02.csv", HEADER + rows(3))
    put(tmp_path, "2025-01-03.csv", data)
    source = FileSource(kind="csv", path="data/*.csv", base_dir=tmp_path)
    with pytest.raises(SourceError) as error:
        read(source)
    assert error.value.reason.startswith("data/2025-01-03.csv ")
    assert problem in error.value.reason
    if case != "latin-1 rows":  # pyarrow infers the schema from the first block only
        put(tmp_path, "2025-01-02.csv", b"")
        with pytest.raises(SourceError, match=r"^csv data/\*\.csv: data/2025-01-03\.csv "):
            source.columns()


def test_a_file_that_is_not_parquet_is_a_source_error_saying_what_it_is(tmp_path: Path) -> None:
    put(tmp_path, "2025-01-03.parquet", HEADER + rows(3))
    source = FileSource(kind="parquet", path="data/*.parquet", base_dir=tmp_path)
    for attempt in (lambda: read(source), source.columns):
        with pytest.raises(SourceError) as error:
            attempt()
        assert error.value.reason.startswith(
            "data/2025-01-03.parquet is not a parquet file (it starts with 'scored_at,score,region'"
            ": a csv file?): set the source's kind to csv"
        )


def test_a_parquet_file_cut_short_is_a_source_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"scored_at": [START], "score": [0.5]}), tmp_path / "a.parquet")
    whole = (tmp_path / "a.parquet").read_bytes()
    (tmp_path / "a.parquet").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SourceError, match=r"a\.parquet is not a complete parquet file"):
        read(FileSource(kind="parquet", path="*.parquet", base_dir=tmp_path))


def test_csv_gz_files_are_read(tmp_path: Path) -> None:
    put(tmp_path, "a.csv.gz", gzip.compress(HEADER + rows(4)))
    put(tmp_path, "b.csv", HEADER + rows(2))
    source = FileSource(kind="csv", path="data/*.csv*", base_dir=tmp_path)
    batch, report = read(source)
    assert report.rows_read == 6 and len(batch["score"]) == 6
    assert source.columns() == {
        "scored_at": "timestamp",
        "score": "numeric",
        "region": "categorical",
    }


def test_a_truncated_gzip_file_is_a_source_error(tmp_path: Path) -> None:
    put(tmp_path, "a.csv.gz", gzip.compress(HEADER + rows(4000))[:-200])
    with pytest.raises(SourceError, match=r"data/a\.csv\.gz is not a complete gzip file"):
        read(FileSource(kind="csv", path="data/*.csv.gz", base_dir=tmp_path))


def test_ragged_rows_are_malformed_and_the_rest_of_the_file_is_read(tmp_path: Path) -> None:
    put(
        tmp_path,
        "a.csv",
        HEADER
        + rows(3)
        + b"2024-07-01T05:00:00,0.5,DE,extra,fields\n"
        + b"2024-07-01T06:00:00\n"
        + b"\n"  # an empty line is no row
        + rows(2, hour=7),
    )
    batch, report = read(FileSource(kind="csv", path="data/a.csv", base_dir=tmp_path))
    assert len(batch["score"]) == 5 and report.rows_read == 5 and report.rows_rejected == 0
    assert report.unplaced == {"data/a.csv": 2}
    assert report.unplaced_reasons == {"data/a.csv": {"malformed": 2}}
    assert "2 in data/a.csv (2 malformed (wrong number of fields, or too long))" in report.summary()


@pytest.mark.parametrize("where", ["first row", "middle"])
def test_a_huge_cell_costs_one_row(tmp_path: Path, where: str) -> None:
    # batch_rows=10: 512 KiB blocks, so rows up to 1 MiB are read and longer ones are malformed.
    assert max_row_bytes(10) == 1 << 20
    huge = b"2024-07-01T03:00:00,0.5," + b"h" * (3 << 20) + b"\n"
    long = b"2024-07-01T04:00:00,0.25," + b"l" * (700 << 10) + b"\n"
    before = b"" if where == "first row" else rows(20_000)
    put(tmp_path, "a.csv", HEADER + before + huge + long + rows(30_000, hour=9))
    batch, report = read(FileSource(kind="csv", path="data/a.csv", base_dir=tmp_path), 10)
    expected = len(before) // len(rows(1)) + 1 + 30_000
    assert len(batch["score"]) == report.rows_read == expected  # each row once
    assert report.unplaced_reasons == {"data/a.csv": {"malformed": 1}}
    assert sum(len(r) > 1000 for r in batch["region"]) == 1  # the 700 KiB row was read


def test_a_long_header_still_fits(tmp_path: Path) -> None:
    name = "r" * (600 << 10)
    data = rows(3).replace(b"\n", b",x\n")
    put(tmp_path, "a.csv", b"scored_at,score,region," + name.encode() + b"\n" + data)
    _, report = read(FileSource(kind="csv", path="data/a.csv", base_dir=tmp_path), 10)
    assert report.rows_read == 3 and report.unplaced == {}


def test_the_line_guard_cuts_only_lines_longer_than_its_limit() -> None:
    text = b"ab\ncdefghijklmnopq\nqr\r\n0123456789\rst\r\n" + b"z" * 25 + b"\nend"
    guard = LineGuard(io.BytesIO(text), 10)
    out = io.BufferedReader(guard).read()
    assert out == b"ab\nqr\r\n0123456789\rst\r\nend"
    assert guard.dropped == 2
    tail = LineGuard(io.BytesIO(b"ok\n" + b"y" * 30), 10)
    assert io.BufferedReader(tail).read() == b"ok\n" and tail.dropped == 1
