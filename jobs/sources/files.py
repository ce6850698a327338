"""csv and parquet sources: a path or glob, read in chunks with pyarrow and filtered to the window.

Files hold all history, so rows outside the window are skipped (counted, not rejected). Parquet
row groups whose timestamp statistics lie outside the window are not read at all. Imports numpy,
pyarrow, `jobs.errors` and the stdlib.
"""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from jobs.errors import SourceError
from jobs.sources.base import (
    DEFAULT_BATCH_ROWS,
    Batch,
    ColumnKind,
    ReadReport,
    SchemaKind,
    Window,
)
from jobs.sources.rows import Request, shape

__all__ = ["NULL_VALUES", "FileSource", "csv_batches", "kind_of", "read_csv_header"]

# Cells read as missing in csv files (besides an empty cell).
NULL_VALUES = ["", "NULL", "null", "None", "NA", "N/A", "NaN", "nan"]
_MIB = 1 << 20


class FileSource:
    """csv or parquet files matching `path` (a path or glob, relative to `base_dir`)."""

    def __init__(self, *, kind: Literal["csv", "parquet"], path: str, base_dir: Path) -> None:
        self.kind = kind
        self.path = path
        self.base_dir = base_dir

    def describe(self) -> str:
        return f"{self.kind} {self.path}"

    def files(self) -> list[Path]:
        """The matching files, sorted; a SourceError when there are none."""
        pattern = Path(self.path).expanduser()
        if not pattern.is_absolute():
            pattern = self.base_dir / pattern
        found = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        found = [p for p in found if p.is_file()]
        if not found:
            raise SourceError(self.describe(), f"no file matches {pattern}")
        return found

    def columns(self) -> dict[str, SchemaKind]:
        first = self.files()[0]
        try:
            if self.kind == "parquet":
                with pq.ParquetFile(first) as parquet:
                    schema = parquet.schema_arrow
            else:
                with closing(pcsv.open_csv(first, convert_options=_convert_options())) as reader:
                    schema = reader.schema
        except (OSError, pa.ArrowException) as error:
            raise SourceError(self.describe(), f"cannot read {first.name}: {error}") from error
        return {f.name: kind_of(f.type) for f in schema}

    def batches(
        self,
        *,
        start: datetime,
        end: datetime,
        columns: Mapping[str, ColumnKind],
        timestamp: str,
        score: str,
        label: str | None,
        report: ReadReport,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> Iterator[Batch]:
        request = Request(Window.of(start, end), dict(columns), timestamp, score, label)
        for path in self.files():
            try:
                if self.kind == "parquet":
                    yield from _parquet_batches(path, request, report, batch_rows)
                else:
                    yield from _csv_file_batches(path, request, report, batch_rows)
            except (OSError, pa.ArrowException) as error:
                reason = f"cannot read {path.name}: {error}"
                raise SourceError(self.describe(), reason) from error
        report.finish(request.numeric_columns)


def kind_of(arrow_type: pa.DataType) -> SchemaKind:
    """The kind of a column of this arrow type: numbers are numeric, times are timestamps."""
    if pa.types.is_dictionary(arrow_type):
        return kind_of(arrow_type.value_type)
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    ):
        return "numeric"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "timestamp"
    return "categorical"


def read_csv_header(stream: IO[str]) -> list[str]:
    """The column names on a csv file's first record."""
    return next(csv.reader(stream), [])


def _convert_options(
    present: list[str] | None = None,
) -> pcsv.ConvertOptions:
    if present is None:
        return pcsv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True)
    # Every requested column is read as text and converted per chunk (jobs.sources.cells): a
    # stray "n/a" in a numeric column then costs one cell, not the whole read (~20% slower).
    return pcsv.ConvertOptions(
        column_types={name: pa.string() for name in present},
        include_columns=present,
        null_values=NULL_VALUES,
        strings_can_be_null=True,
    )


def _block_size(batch_rows: int) -> int:
    """Bytes per csv block: 1 MiB for the default 65,536 rows. pyarrow's threaded reader keeps a
    few dozen blocks in flight, so this sets the peak memory (8 MiB blocks: ~400 MB peak RSS on a
    2 GB glob, 1 MiB: ~230 MB, at the same speed)."""
    return min(max(batch_rows * 16, _MIB // 2), 16 * _MIB)


def _csv_file_batches(
    path: Path, request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        header = read_csv_header(stream)
    present = [name for name in request.names if name in header]
    yield from csv_batches(
        path, header=header, present=present, request=request, report=report, batch_rows=batch_rows
    )


def csv_batches(
    source: Any,
    *,
    header: list[str],
    present: list[str],
    request: Request,
    report: ReadReport,
    batch_rows: int,
) -> Iterator[Batch]:
    """Batches of a csv `source` (a path or a binary file object) whose header is `header`."""
    for name in request.names:
        if name not in header:
            report.note_missing(name)
    if not present:
        return
    options = pcsv.ReadOptions(block_size=_block_size(batch_rows))
    with closing(
        pcsv.open_csv(source, read_options=options, convert_options=_convert_options(present))
    ) as reader:
        for chunk in reader:
            raw = {name: chunk.column(name) for name in present}
            batch = shape(raw, chunk.num_rows, request, report)
            if batch is not None:
                yield batch


def _parquet_batches(
    path: Path, request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
    # pre_buffer=False: with it, pyarrow buffers every selected row group at once (4.2 GB peak
    # RSS for a 3.7 GB file in benchmarks/parquet_profile.py; 0.3 GB without).
    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        names = set(parquet.schema_arrow.names)
        present = [name for name in request.names if name in names]
        for name in request.names:
            if name not in names:
                report.note_missing(name)
        groups = _row_groups_in_window(parquet, request, report)
        if not groups or not present:
            return
        chunks = parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=present)
        for chunk in chunks:
            raw = {name: chunk.column(name) for name in present}
            batch = shape(raw, chunk.num_rows, request, report)
            if batch is not None:
                yield batch


def _row_groups_in_window(
    parquet: pq.ParquetFile, request: Request, report: ReadReport
) -> list[int]:
    """Row groups that may hold rows of the window; the others are skipped by their statistics."""
    metadata = parquet.metadata
    groups = list(range(metadata.num_row_groups))
    schema = parquet.schema_arrow
    if request.timestamp not in schema.names:
        return groups
    if not (
        pa.types.is_timestamp(schema.field(request.timestamp).type)
        or pa.types.is_date(schema.field(request.timestamp).type)
    ):
        return groups
    column = next(
        (
            i
            for i in range(metadata.num_columns)
            if metadata.schema.column(i).path == request.timestamp
        ),
        None,
    )
    if column is None:
        return groups
    scale = _ns_per_unit(metadata.schema.column(column))
    if scale is None:
        return groups
    kept = []
    for group in groups:
        row_group = metadata.row_group(group)
        stats = row_group.column(column).statistics
        if stats is not None and stats.has_min_max and not stats.null_count:
            # Null timestamps are rejected rows: groups holding some are read to count them.
            low, high = int(stats.min_raw) * scale, int(stats.max_raw) * scale
            if high < request.window.start_ns or low >= request.window.end_ns:
                report.skip(row_group.num_rows, pruned=True)
                continue
        kept.append(group)
    return kept


def _ns_per_unit(column: pq.ColumnSchema) -> int | None:
    """Nanoseconds per raw statistics unit of a timestamp or date column (None: cannot prune)."""
    if column.physical_type not in ("INT32", "INT64"):
        return None
    logical = json.loads(column.logical_type.to_json())
    if logical.get("Type") == "Date":
        return 86_400 * 1_000_000_000
    if logical.get("Type") == "Timestamp":
        units = {"milliseconds": 1_000_000, "microseconds": 1_000, "nanoseconds": 1}
        return units.get(logical.get("timeUnit", ""))
    return None
