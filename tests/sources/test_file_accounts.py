"""What a glob of files says about a window, and only about it: rows that cannot be placed in time
are charged to their file, the schema is judged on the files that contributed rows, copies of a
file are read once and duplicate rows are counted."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.sources.files import FileSource
from tests.sources.test_files import read

DAY1 = datetime(2024, 7, 1, tzinfo=UTC)
FEATURES = {"income": "numeric", "region": "categorical"}


def day(n: int) -> dict[str, datetime]:
    return {"start": DAY1 + timedelta(days=n - 1), "end": DAY1 + timedelta(days=n)}


def daily_files(folder: Path, *, renamed_on: int | None = None, days: int = 3) -> FileSource:
    (folder / "data").mkdir()
    for n in range(1, days + 1):
        income = "income_usd" if n == renamed_on else "income"
        lines = [f"scored_at,score,{income},region,label"]
        lines += [f"2024-07-0{n}T{h:02d}:00:00,0.{h % 9 + 1},{h * 10},DE,{h % 2}" for h in range(6)]
        (folder / "data" / f"2024-07-0{n}.csv").write_text("\n".join(lines) + "\n")
    return FileSource(kind="csv", path="data/*.csv", base_dir=folder)


def test_the_schema_is_judged_on_the_files_of_the_window(tmp_path: Path) -> None:
    source = daily_files(tmp_path, renamed_on=3)
    _, first = read(source, **day(1))
    assert first.missing_columns == []  # the renamed column of day 3 says nothing about day 1
    _, third = read(source, **day(3))
    assert third.missing_columns == ["income"]
    assert third.rows_read == 6


def test_parquet_files_pruned_or_outside_the_window_say_nothing_of_its_schema(
    tmp_path: Path,
) -> None:
    for n, names in ((1, ["scored_at", "score", "income"]), (2, ["scored_at", "score"])):
        stamps = [DAY1 + timedelta(days=n - 1, hours=h) for h in range(3)]
        columns = {"scored_at": stamps, "score": [0.5] * 3, "income": [1.0] * 3}
        pq.write_table(pa.table({k: columns[k] for k in names}), tmp_path / f"{n}.parquet")
    source = FileSource(kind="parquet", path="*.parquet", base_dir=tmp_path)
    _, first = read(source, columns={"income": "numeric"}, label=None, **day(1))
    assert first.missing_columns == [] and first.rows_pruned == 3
    _, second = read(source, columns={"income": "numeric"}, label=None, **day(2))
    assert second.missing_columns == ["income"]


def test_zero_byte_and_header_only_files_contribute_nothing(tmp_path: Path) -> None:
    source = daily_files(tmp_path, days=1)
    (tmp_path / "data" / "2024-07-02.csv").write_bytes(b"")
    (tmp_path / "data" / "2024-07-03.csv").write_text("scored_at,score\n")
    (tmp_path / "data" / "2024-07-04.csv").write_text("ts,other")  # no line end either
    for n in (1, 2):
        batch, report = read(source, columns=FEATURES, **day(n))
        assert report.missing_columns == []
        assert report.unplaced == {}
    assert report.rows_read == 0 and batch == {}
    empty = FileSource(kind="parquet", path="data/2024-07-02.csv", base_dir=tmp_path)
    assert read(empty, **day(1))[1].rows_read == 0
    lone = FileSource(kind="csv", path="data/2024-07-04.csv", base_dir=tmp_path)
    assert lone.columns() == {"ts": "categorical", "other": "categorical"}


def test_rows_that_cannot_be_placed_in_time_are_charged_to_their_file(tmp_path: Path) -> None:
    source = daily_files(tmp_path, days=2)
    with (tmp_path / "data" / "2024-07-01.csv").open("a") as january:
        january.write("not a time,0.5,1,DE,1\n,0.5,1,DE,1\n2024-07-01T09:00:00,0.5,1\n")
    (tmp_path / "data" / "old.csv").write_text("when,score\n2024-07-02,0.5\n")

    _, report = read(source, **day(2))

    # Day 2 reads day 1's file too (files hold all history) but is not charged for its rows.
    assert report.rows_read == 6 and report.rows_rejected == 0
    assert report.unplaced == {"data/2024-07-01.csv": 3, "data/old.csv": 1}
    assert report.unplaced_reasons == {
        "data/2024-07-01.csv": {"bad_timestamp": 2, "malformed": 1},
        "data/old.csv": {"missing_column:scored_at": 1},
    }
    assert report.missing_columns == []
    summary = report.summary()
    assert "4 rows that cannot be placed in time, in no window: 3 in data/2024-07-01.csv" in summary
    assert "1 in data/old.csv (1 in a file without the column scored_at)" in summary


def test_an_absolute_glob_names_files_by_their_absolute_path(tmp_path: Path) -> None:
    daily_files(tmp_path, days=1)
    with (tmp_path / "data" / "2024-07-01.csv").open("a") as out:
        out.write("soon,0.5,1,DE,1\n")
    source = FileSource(kind="csv", path=str(tmp_path / "data" / "*.csv"), base_dir=Path("/"))
    _, report = read(source, **day(1))
    assert report.unplaced == {str(tmp_path / "data" / "2024-07-01.csv"): 1}


def test_a_copied_file_is_read_once_and_named(tmp_path: Path) -> None:
    source = daily_files(tmp_path, days=2)
    data = tmp_path / "data"
    shutil.copyfile(data / "2024-07-01.csv", data / "2024-07-01 (1).csv")  # modified later
    os.link(data / "2024-07-02.csv", data / "2024-07-02.hardlink.csv")
    (data / "2024-07-02-symlink.csv").symlink_to(data / "2024-07-02.csv")
    (data / "2024-07-01-other.csv").write_text(  # same size, other bytes: not a copy
        (data / "2024-07-01.csv").read_text().replace("DE", "FR")
    )

    batch, report = read(source, start=DAY1, end=DAY1 + timedelta(days=2))

    assert sorted(report.duplicate_files) == [
        ("data/2024-07-01 (1).csv", "data/2024-07-01.csv"),
        ("data/2024-07-02-symlink.csv", "data/2024-07-02.csv"),
        ("data/2024-07-02.hardlink.csv", "data/2024-07-02.csv"),
    ]
    assert report.rows_read == 18 and len(batch["score"]) == 18
    assert report.duplicate_rows == 0
    assert "3 files not read as copies: data/2024-07-01 (1).csv (same as data/2024-07-01.csv)" in (
        report.summary()
    )


def test_duplicate_rows_of_the_window_are_counted_and_kept(tmp_path: Path) -> None:
    source = daily_files(tmp_path, days=1)
    lines = (tmp_path / "data" / "2024-07-01.csv").read_text().splitlines()
    # An export that overlaps the first: rows 1-3 again, and row 4 with another label.
    again = [lines[0], *lines[1:4], lines[4][:-1] + ("0" if lines[4].endswith("1") else "1")]
    (tmp_path / "data" / "export.csv").write_text("\n".join(again) + "\n")

    batch, report = read(source, **day(1))

    assert len(batch["score"]) == 10
    assert report.duplicate_rows == 3 and report.duplicate_rows_exact
    assert "3 duplicate rows (identical in every column read)" in report.summary()
    _, narrower = read(source, columns={}, label=None, **day(1))  # fewer columns read
    assert narrower.duplicate_rows == 4
