"""Parquet files read in batches, skipping row groups whose timestamp statistics lie outside the
window. Imports pyarrow and the stdlib.

A zero-byte file has no rows. Bytes that are not parquet are a `TextError`-like `NotParquet` that
says what they look like (csv text, gzip) and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.sources.base import Batch, ReadReport
from jobs.sources.rows import Request, shape

__all__ = ["NotParquet", "parquet_batches", "parquet_schema"]

_MAGIC = b"PAR1"


class NotParquet(Exception):
    """The file is not parquet: `problem` follows its name (``"is not a parquet file ..."``)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


def parquet_schema(path: Path) -> pa.Schema | None:
    """The file's arrow schema, None for a zero-byte file; `NotParquet` for other bytes."""
    if _empty(path):
        return None
    with _open(path) as parquet:
        schema: pa.Schema = parquet.schema_arrow
        return schema


def parquet_batches(
    path: Path, request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
    """Batches of the row groups of `path` that may hold rows of the window."""
    if _empty(path):
        return
    # pre_buffer=False: with it, pyarrow buffers every selected row group at once (4.2 GB peak
    # RSS for a 3.7 GB file in benchmarks/parquet_profile.py; 0.3 GB without).
    with _open(path, pre_buffer=False) as parquet:
        names = parquet.schema_arrow.names
        present = [name for name in request.names if name in names]
        groups = _row_groups_in_window(parquet, request, report)
        if not groups or not names:
            return
        # With no requested column, one column is still read to count the rows (for `unplaced`).
        columns = present or names[:1]
        chunks = parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns)
        for chunk in chunks:
            raw = {name: chunk.column(name) for name in present}
            batch = shape(raw, chunk.num_rows, request, report)
            if batch is not None:
                yield batch


def _empty(path: Path) -> bool:
    return path.stat().st_size == 0


def _open(path: Path, *, pre_buffer: bool = True) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, pre_buffer=pre_buffer)
    except pa.ArrowInvalid as error:
        if "magic bytes" not in str(error) and "size is" not in str(error):
            raise
        raise NotParquet(_what_it_is(path)) from None


def _what_it_is(path: Path) -> str:
    """Why `path` is not parquet, from its first and last bytes, with the fix."""
    with path.open("rb") as stream:
        head = stream.read(64)
    if head.startswith(b"\x1f\x8b"):
        return "is not a parquet file (it starts like a gzip file): decompress it, or fix its name"
    if head.startswith(_MAGIC):
        return (
            "is not a complete parquet file (no PAR1 footer: cut short, or still being "
            "written?): write it again"
        )
    text = head.decode("utf-8", errors="replace")
    if text.isprintable() or "," in text:
        start = text.splitlines()[0][:30] if text.strip() else ""
        return (
            f"is not a parquet file (it starts with {start!r}: a csv file?): set the source's "
            "kind to csv, or name the files .parquet only when they are"
        )
    return "is not a parquet file (no PAR1 marker): write it as parquet"


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
            # Null timestamps are rows to charge to the file: groups holding some are read.
            low, high = int(stats.min_raw) * scale, int(stats.max_raw) * scale
            if high < request.window.start_ns or low >= request.window.end_ns:
                report.skip(row_group.num_rows, pruned=True)
                if request.span is not None:
                    request.span.cover(low, high)
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
