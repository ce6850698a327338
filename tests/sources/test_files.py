"""csv and parquet sources: the window, rejections, missing columns, globs, row-group pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.errors import SourceError
from jobs.sources.base import Batch, ReadReport
from jobs.sources.files import FileSource

START = datetime(2024, 7, 1, tzinfo=UTC)
END = datetime(2024, 7, 2, tzinfo=UTC)
FEATURES = {"income": "numeric", "region": "categorical"}


def read(source: FileSource, **overrides: object) -> tuple[Batch, ReadReport]:
    report = ReadReport()
    arguments: dict[str, object] = {
        "start": START,
        "end": END,
        "columns": FEATURES,
        "timestamp": "scored_at",
        "score": "score",
        "label": "label",
        "report": report,
    }
    arguments.update(overrides)
    batches = list(source.batches(**arguments))  # type: ignore[arg-type]
    if not batches:
        return {}, report
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}, report


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.strip() + "\n")
    return path


def test_csv_counts_rows_read_rejected_and_why(tmp_path: Path) -> None:
    write(
        tmp_path / "scores.csv",
        """
scored_at,score,income,region,label
2024-06-30T23:59:59,0.5,1,DE,0
2024-07-01T00:00:00,0.1,100,DE,1
2024-07-01T06:00:00,0.2,n/a?,FR,0
2024-07-01T07:00:00,,300,NL,
2024-07-01T08:00:00,NaN,300,NL,1
2024-07-01T09:00:00,1.5,300,NL,1
2024-07-01T10:00:00,high,300,NL,1
not a time,0.3,300,NL,1
,0.3,300,NL,1
2024-07-01T11:00:00+02:00,0.4,-inf,,yes
2024-07-01T23:59:59.999,1,400,DE,1
2024-07-02T00:00:00,0.9,500,DE,1
""",
    )
    batch, report = read(FileSource(kind="csv", path="scores.csv", base_dir=tmp_path))

    assert report.rows_read == 8
    assert report.rows_skipped == 2
    assert report.rows_rejected == 4
    assert report.rows_kept == 4
    assert report.rejected == {"nan_score": 2, "score_out_of_range": 1, "wrong_type:score": 1}
    # Rows without a usable timestamp belong to no window: charged to their file instead.
    assert report.unplaced == {"scores.csv": 2}
    assert report.unplaced_reasons == {"scores.csv": {"bad_timestamp": 2}}
    assert report.bad_cells == {"wrong_type:income": 1, "wrong_type:label": 1}
    assert report.missing_columns == []
    assert batch["score"].tolist() == [0.1, 0.2, 0.4, 1.0]
    assert batch["income"][0] == 100 and np.isnan(batch["income"][1])
    assert batch["income"][2] == -np.inf
    assert batch["region"].tolist() == ["DE", "FR", None, "DE"]
    assert batch["label"][:2].tolist() == [1.0, 0.0] and np.isnan(batch["label"][2])
    assert batch["scored_at"].dtype == np.dtype("datetime64[ns]")
    assert batch["scored_at"][2] == np.datetime64("2024-07-01T09:00:00")  # +02:00 -> UTC
    summary = report.summary()
    assert summary.startswith("8 rows read; 4 rejected (")
    assert "1 with a score that is not a number" in summary
    assert "2 outside the window skipped" in summary
    assert (
        "2 rows that cannot be placed in time, in no window: "
        "2 in scores.csv (2 with a missing or unreadable timestamp)"
    ) in summary


def test_window_is_half_open(tmp_path: Path) -> None:
    write(
        tmp_path / "s.csv",
        """
scored_at,score
2024-06-30 23:59:59.999999,0.1
2024-07-01 00:00:00,0.2
2024-07-01 23:59:59.999999,0.3
2024-07-02 00:00:00,0.4
""",
    )
    batch, report = read(FileSource(kind="csv", path="s.csv", base_dir=tmp_path), columns={})
    assert batch["score"].tolist() == [0.2, 0.3]
    assert (report.rows_read, report.rows_skipped) == (2, 2)
    assert report.missing_columns == ["label"]


def test_missing_column_is_reported_and_all_missing(tmp_path: Path) -> None:
    write(tmp_path / "s.csv", "scored_at,score,income\n2024-07-01T01:00:00,0.5,1.5\n")
    batch, report = read(FileSource(kind="csv", path="s.csv", base_dir=tmp_path))
    assert report.missing_columns == ["label", "region"]
    assert batch["region"].tolist() == [None]
    assert np.isnan(batch["label"]).all()
    assert batch["income"].tolist() == [1.5]
    assert "missing columns: label, region" in report.summary()


def test_a_numeric_column_that_became_text_is_a_type_change(tmp_path: Path) -> None:
    rows = "\n".join(f"2024-07-01T0{i}:00:00,0.5,{v},DE" for i, v in enumerate("abcd1"))
    write(tmp_path / "s.csv", "scored_at,score,income,region\n" + rows)
    batch, report = read(FileSource(kind="csv", path="s.csv", base_dir=tmp_path), label=None)
    assert report.type_changes == {"income": "expected numeric, found string"}
    assert report.bad_cells["wrong_type:income"] == 4
    assert batch["income"][-1] == 1.0


def test_glob_reads_every_matching_file_in_order(tmp_path: Path) -> None:
    for day in range(3):
        write(
            tmp_path / "data" / f"2024-07-0{day + 1}.csv",
            f"scored_at,score,region\n2024-07-0{day + 1}T12:00:00,0.{day + 1},R{day}\n",
        )
    write(tmp_path / "data" / "notes.txt", "not data")
    source = FileSource(kind="csv", path="data/*.csv", base_dir=tmp_path)
    assert [p.name for p in source.files()] == [
        "2024-07-01.csv",
        "2024-07-02.csv",
        "2024-07-03.csv",
    ]
    batch, report = read(source, end=START + timedelta(days=3), label=None)
    assert batch["score"].tolist() == [0.1, 0.2, 0.3]
    assert batch["region"].tolist() == ["R0", "R1", "R2"]
    assert report.missing_columns == ["income"]
    assert source.describe() == "csv data/*.csv"


def test_glob_with_a_column_missing_in_one_file(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "scored_at,score,income\n2024-07-01T01:00:00,0.1,5\n")
    write(tmp_path / "b.csv", "scored_at,score\n2024-07-01T02:00:00,0.2\n")
    batch, report = read(
        FileSource(kind="csv", path=str(tmp_path / "*.csv"), base_dir=Path("/nowhere")),
        columns={"income": "numeric"},
        label=None,
    )
    assert batch["income"][0] == 5 and np.isnan(batch["income"][1])
    assert report.missing_columns == ["income"]


def test_no_matching_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no file matches"):
        read(FileSource(kind="csv", path="missing/*.csv", base_dir=tmp_path))


def test_a_malformed_row_costs_one_row(tmp_path: Path) -> None:
    write(
        tmp_path / "s.csv",
        "scored_at,score\n2024-07-01T01:00:00,0.1,extra\n2024-07-01T02:00:00,0.2\n",
    )
    batch, report = read(FileSource(kind="csv", path="s.csv", base_dir=tmp_path), columns={})
    assert batch["score"].tolist() == [0.2]
    assert report.rows_read == 1 and report.unplaced == {"s.csv": 1}


def test_columns_come_from_the_schema(tmp_path: Path) -> None:
    write(tmp_path / "s.csv", "scored_at,score,income,region\n2024-07-01T01:00:00,0.1,5,DE\n")
    source = FileSource(kind="csv", path="s.csv", base_dir=tmp_path)
    assert source.columns() == {
        "scored_at": "timestamp",
        "score": "numeric",
        "income": "numeric",
        "region": "categorical",
    }


def hourly_table(days: int, *, tz: str | None = None) -> pa.Table:
    stamps = np.datetime64("2024-06-28T00:00:00", "us") + np.arange(days * 24).astype(
        "timedelta64[h]"
    )
    n = len(stamps)
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "scored_at": pa.array(stamps, pa.timestamp("us", tz)),
            "score": rng.random(n),
            "income": rng.normal(size=n),
            "region": rng.choice(["DE", "FR"], n),
        }
    )


def test_parquet_prunes_row_groups_outside_the_window(tmp_path: Path) -> None:
    table = hourly_table(8)  # 2024-06-28 .. 2024-07-05, 24 rows per row group = one day each
    pq.write_table(table, tmp_path / "s.parquet", row_group_size=24)
    source = FileSource(kind="parquet", path="s.parquet", base_dir=tmp_path)
    batch, report = read(source, label=None, batch_rows=10)

    assert len(batch["score"]) == 24
    assert report.rows_read == 24 and report.rows_rejected == 0
    assert report.rows_pruned == 7 * 24  # every other day never read
    assert report.rows_skipped == 7 * 24
    assert batch["score"].tolist() == table["score"].to_numpy()[72:96].tolist()
    assert source.columns()["scored_at"] == "timestamp"


def test_parquet_window_inside_a_row_group_filters_rows(tmp_path: Path) -> None:
    pq.write_table(hourly_table(8, tz="UTC"), tmp_path / "s.parquet", row_group_size=100)
    source = FileSource(kind="parquet", path="s.parquet", base_dir=tmp_path)
    batch, report = read(
        source, start=START + timedelta(hours=5), end=START + timedelta(hours=7), label=None
    )
    expected = np.array(["2024-07-01T05:00:00", "2024-07-01T06:00:00"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(batch["scored_at"], expected)
    assert report.rows_pruned == 92  # the second group (hours 100..191) starts after the window
    assert report.rows_skipped == 8 * 24 - 2


def test_parquet_glob_with_string_timestamps_and_a_missing_column(tmp_path: Path) -> None:
    table = hourly_table(4).drop_columns(["region"])
    table = table.set_column(0, "scored_at", table["scored_at"].cast(pa.string()))
    pq.write_table(table.slice(0, 48), tmp_path / "a.parquet")
    pq.write_table(table.slice(48), tmp_path / "b.parquet")
    batch, report = read(FileSource(kind="parquet", path="*.parquet", base_dir=tmp_path))
    assert len(batch["score"]) == 24
    assert report.rows_pruned == 0 and report.rows_skipped == 72
    assert report.missing_columns == ["label", "region"]
