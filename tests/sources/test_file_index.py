"""A check's cost follows its window: date templates list only the window's files, and the file
index (in the database) spares the files unchanged since they were read whose rows all lie
outside the window, with the same report as a read of every file."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session, sessionmaker

from jobs.errors import SourceError
from jobs.file_index import StoredFileIndex
from jobs.sources.files import FileSource
from jobs.sources.paths import PathTemplate
from store import repo
from store.cards import load_card
from tests.sources.test_files import read, write

DAY = timedelta(days=1)
JULY = datetime(2024, 7, 1, tzinfo=UTC)


def daily_csv(folder: Path, day: date, scores: list[float], *, name: str | None = None) -> Path:
    lines = ["scored_at,score,income,region,label"]
    lines += [f"{day}T{h:02d}:00:00,{s},{h * 10},DE,{h % 2}" for h, s in enumerate(scores)]
    return write(folder / (name or f"{day}.csv"), "\n".join(lines))


def garble(path: Path) -> None:
    """Overwrite `path` with bytes no reader accepts, keeping its size and modification time: a
    read of it fails, so a check that succeeds did not open it."""
    stat = path.stat()
    noise = np.random.default_rng(len(str(path)) + stat.st_ino).bytes(stat.st_size - 1)
    path.write_bytes(b"\x00" + noise)  # unlike every other garbled file: no copies
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def on(day: int) -> dict[str, object]:
    start = JULY + (day - 1) * DAY
    return {"start": start, "end": start + DAY}


def test_an_indexed_file_outside_the_window_is_not_opened(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    for day in range(1, 4):
        daily_csv(tmp_path, date(2024, 7, day), [0.1 * day, 0.2, 0.3])
    write(tmp_path / "bad-stamps.csv", "scored_at,score\nnot a time,0.5\n2024-07-02T01:00:00,0.5\n")
    plain = FileSource(kind="csv", path="*.csv", base_dir=tmp_path)
    indexed = FileSource(
        kind="csv", path="*.csv", base_dir=tmp_path, index=StoredFileIndex(sessions)
    )
    _, unindexed_report = read(plain, **on(3))
    first, first_report = read(indexed, **on(3))  # reads every file, and indexes them
    assert first_report == unindexed_report
    assert first_report.rows_pruned == 0

    for day in (1, 2):
        garble(tmp_path / f"2024-07-0{day}.csv")
    again, report = read(indexed, **on(3))

    assert again["score"].tolist() == first["score"].tolist() == [pytest.approx(0.3), 0.2, 0.3]
    # The same account as a read of every file: rows outside the window skipped (here pruned,
    # never parsed), rows that belong to no window charged to their file again.
    assert report.rows_skipped == unindexed_report.rows_skipped == 7
    assert report.rows_pruned == 7
    assert report.unplaced == {"bad-stamps.csv": 1}
    assert report.unplaced_reasons == {"bad-stamps.csv": {"bad_timestamp": 1}}
    with pytest.raises(SourceError, match=r"2024-07-01\.csv"):
        read(plain, **on(3))  # without the index, the garbled files are read (and fail)


def test_a_file_changed_after_it_was_indexed_is_read_again(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    old = daily_csv(tmp_path, date(2024, 7, 1), [0.1, 0.2])
    daily_csv(tmp_path, date(2024, 7, 2), [0.5])
    index = StoredFileIndex(sessions)
    source = FileSource(kind="csv", path="*.csv", base_dir=tmp_path, index=index)
    _, report = read(source, **on(2))
    assert report.rows_kept == 1
    assert index.spans(timestamp="scored_at", paths=[str(old)])[str(old)].rows == 2

    # Late rows of July 2nd land in July 1st's file: its size and mtime change.
    with old.open("a") as stream:
        stream.write("2024-07-02T09:00:00,0.9,1,FR,1\n")
    batch, report = read(source, **on(2))

    assert sorted(batch["score"].tolist()) == [0.5, 0.9]
    assert report.rows_pruned == 0
    span = index.spans(timestamp="scored_at", paths=[str(old)])[str(old)]
    assert (span.rows, span.size) == (3, old.stat().st_size)
    assert span.last_ns == int(np.datetime64("2024-07-02T09:00:00", "ns").astype(np.int64))


def test_spans_are_kept_per_timestamp_column(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    path = write(
        tmp_path / "s.csv",
        "scored_at,labelled_at,score\n2024-07-01T01:00:00,2024-08-01T00:00:00,0.5\n",
    )
    index = StoredFileIndex(sessions)
    source = FileSource(kind="csv", path="s.csv", base_dir=tmp_path, index=index)
    read(source, **on(1), columns={}, label=None)
    batch, _ = read(
        source,
        start=datetime(2024, 8, 1, tzinfo=UTC),
        end=datetime(2024, 8, 2, tzinfo=UTC),
        columns={},
        timestamp="labelled_at",
        label=None,
    )
    assert batch["score"].tolist() == [0.5]
    with sessions() as session:
        rows = repo.file_spans(session=session, timestamp_column="labelled_at", paths=[str(path)])
    assert [r.first_ns for r in rows] == [int(np.datetime64("2024-08-01", "ns").astype(np.int64))]


def test_parquet_files_are_indexed_from_their_row_group_statistics(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    stamps = np.array(["2024-07-01T01:00", "2024-07-01T02:00", "2024-07-02T03:00"], "M8[ns]")
    table = pa.table({"scored_at": stamps, "score": [0.1, 0.2, 0.3]})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=2)
    index = StoredFileIndex(sessions)
    source = FileSource(kind="parquet", path="*.parquet", base_dir=tmp_path, index=index)
    _, report = read(source, **on(2), columns={}, label=None)
    assert (report.rows_kept, report.rows_pruned) == (1, 2)  # the first row group, by statistics
    span = index.spans(timestamp="scored_at", paths=[str(tmp_path / "a.parquet")])
    [(_, indexed)] = span.items()
    assert (indexed.rows, indexed.first_ns, indexed.last_ns) == (
        3,
        int(stamps[0].astype(np.int64)),
        int(stamps[2].astype(np.int64)),
    )
    garble(tmp_path / "a.parquet")
    _, report = read(source, **on(3), columns={}, label=None)
    assert (report.rows_read, report.rows_skipped, report.rows_pruned) == (0, 3, 3)


def test_a_template_path_reads_only_the_windows_files(tmp_path: Path) -> None:
    for day in range(1, 11):
        daily_csv(tmp_path / "data", date(2024, 7, day), [0.05 * day])
    for day in (1, 2, 3, 6, 7, 8, 9, 10):
        garble(tmp_path / "data" / f"2024-07-{day:02d}.csv")  # would fail if opened
    source = FileSource(kind="csv", path="data/{date:%Y-%m-%d}.csv", base_dir=tmp_path)

    batch, report = read(source, start=JULY + 3 * DAY, end=JULY + 5 * DAY)

    assert batch["score"].tolist() == [pytest.approx(0.2), pytest.approx(0.25)]
    assert report.rows_skipped == 0  # the other days' files were not even listed
    # A window whose days have no file yet reads nothing (other days have files: no error).
    assert read(source, start=JULY + 20 * DAY, end=JULY + 21 * DAY)[1].rows_read == 0


def test_hive_style_folders_are_listed_by_the_windows_dates(tmp_path: Path) -> None:
    for day in range(1, 6):
        folder = tmp_path / "scores" / f"dt=2024-07-{day:02d}"
        folder.mkdir(parents=True)
        stamps = np.array([f"2024-07-{day:02d}T0{h}:00" for h in range(3)], "M8[ns]")
        for part in range(2):
            score = np.full(3, 0.1 * day + 0.01 * part)  # the parts differ: no copies
            table = pa.table({"scored_at": stamps, "score": score})
            pq.write_table(table, folder / f"part-{part}.parquet")
    (tmp_path / "scores" / "dt=2024-07-01" / "part-0.parquet").write_bytes(b"not parquet")
    source = FileSource(
        kind="parquet", path="scores/dt={date:%Y-%m-%d}/*.parquet", base_dir=tmp_path
    )
    batch, report = read(source, **on(4), columns={}, label=None)
    assert batch["score"].tolist() == pytest.approx([0.4] * 3 + [0.41] * 3)
    assert report.rows_skipped == 0
    assert len(source.files()) == 10


def test_no_file_on_any_day_is_a_source_error(tmp_path: Path) -> None:
    source = FileSource(kind="csv", path="data/{date}.csv", base_dir=tmp_path)
    with pytest.raises(SourceError, match=r"no file matches .*data/\*-\*-\*\.csv"):
        read(source, **on(1))


def test_template_days_are_the_utc_days_the_window_touches() -> None:
    template = PathTemplate("d/{date:%Y/%m/%d}/x-{date}.csv")
    start = datetime(2024, 6, 30, 22, tzinfo=UTC)
    assert template.between(start, start + 3 * DAY) == [
        f"d/2024/{m:02d}/{d:02d}/x-2024-{m:02d}-{d:02d}.csv"
        for m, d in ((6, 30), (7, 1), (7, 2), (7, 3))
    ]
    assert template.between(JULY, JULY + DAY) == ["d/2024/07/01/x-2024-07-01.csv"]
    assert template.every() == "d/*/*/*/x-*-*-*.csv"
    monthly = PathTemplate("m/{date:%Y-%m}.parquet")
    assert monthly.between(JULY, JULY + 40 * DAY) == ["m/2024-07.parquet", "m/2024-08.parquet"]
    assert PathTemplate("p/{date:%Y%m%d}%%.csv").every() == "p/*%%.csv"
    assert PathTemplate("a/{date:%Y%%%m}.csv").every() == "a/*%*.csv"
    assert PathTemplate("a/{date}.csv").between(JULY, JULY + 4000 * DAY) == ["a/*-*-*.csv"]


CARD = """
model: m
name: M
version: "1"
intent: {problem: p, good_outcome: g, decisions: d}
builders: [U024BE7LH]
channel: "#c"
data:
  source: {kind: csv, path: "%s"}
  timestamp: scored_at
  score: score
baseline: {from: 2024-07-01, to: 2024-07-31}
schedule: {check: "0 6 * * *", timezone: UTC}
escalation: {acknowledge_within: 4h, ladder: [builders]}
"""


def test_cards_accept_a_date_template_and_refuse_other_fields(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", CARD % "data/dt={date:%Y-%m-%d}/*.csv")
    assert load_card(good).data.source.path == "data/dt={date:%Y-%m-%d}/*.csv"  # type: ignore[union-attr]
    bad = write(tmp_path / "bad.yaml", CARD % "data/{day}.csv")
    with pytest.raises(Exception, match=r"data\.source.*only field a path may hold is \{date\}"):
        load_card(bad)


def test_index_reads_equal_plain_reads_over_many_windows(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    rng = np.random.default_rng(7)
    for day in range(1, 8):
        daily_csv(tmp_path, date(2024, 7, day), list(np.round(rng.random(5), 3)))
    # A copy of an old file is said in every window, as without the index (never read).
    (tmp_path / "z-copy.csv").write_bytes((tmp_path / "2024-07-02.csv").read_bytes())
    write(tmp_path / "no-stamps.csv", "score\n0.5\n")
    plain = FileSource(kind="csv", path="*.csv", base_dir=tmp_path)
    indexed = FileSource(
        kind="csv", path="*.csv", base_dir=tmp_path, index=StoredFileIndex(sessions)
    )
    for first in (1, 7, 3, 3, 5):
        window = {"start": JULY + (first - 1) * DAY, "end": JULY + (first + 1) * DAY}
        plain_batch, plain_report = read(plain, **window)
        batch, report = read(indexed, **window)
        assert batch["score"].tolist() == plain_batch["score"].tolist()
        pruned = report.rows_pruned
        report.rows_pruned = plain_report.rows_pruned
        assert report == plain_report
        assert report.duplicate_files == [("z-copy.csv", "2024-07-02.csv")]
        assert report.unplaced == {"no-stamps.csv": 1}
        assert pruned in (0, plain_report.rows_skipped)
