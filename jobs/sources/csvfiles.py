"""csv text read with pyarrow in blocks, where one bad row costs one row: for csv files (plain or
``.csv.gz``) and csv response bodies. Imports numpy, pyarrow and the stdlib.

Rules, checked in this order:

- the text must be UTF-8 (a BOM is allowed). Text that is not (a gzip, zip or parquet file named
  .csv, UTF-16, binary, Latin-1) is a `TextError` that says what the bytes look like and the fix;
- the first line holds the column names; an empty input has no rows (and no columns);
- a row with more or fewer fields than the header is *malformed*: skipped and counted;
- a row (a physical line) longer than `max_row_bytes` (2 MiB at the default batch size: twice the
  block size) is malformed too. pyarrow cannot parse a row longer than about one block, so a file
  that has one is read again from its start with blocks of that size, its over-long lines cut out
  as they stream past, and the rows already read are skipped (the parse is the same up to there,
  so no row is read twice or lost). A response body, which cannot be read again, is always read
  that second way. Malformed rows are counted by `jobs.sources.rows.charge_malformed`.
"""

from __future__ import annotations

import codecs
import gzip
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from jobs.sources.base import Batch, ReadReport
from jobs.sources.rows import Request, charge_malformed, shape
from jobs.sources.streams import LineGuard, Readable, first_line_end, replay

__all__ = [
    "NULL_VALUES",
    "Header",
    "TextError",
    "block_size",
    "convert_options",
    "csv_file_batches",
    "csv_stream_batches",
    "diagnose",
    "first_invalid_utf8",
    "max_row_bytes",
    "opener",
    "read_header",
]

# Cells read as missing in csv files (besides an empty cell).
NULL_VALUES = ["", "NULL", "null", "None", "NA", "N/A", "NaN", "nan"]
_MIB = 1 << 20
_HEAD = 64 << 10
_SCAN = 1 << 20


class TextError(Exception):
    """The input is not csv text we can read: `problem` says what and how to fix it, after a name
    (``data/a.csv`` + ``" is not UTF-8 text (...): save it as UTF-8 csv"``)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


def block_size(batch_rows: int) -> int:
    """Bytes per csv block: 1 MiB for the default 65,536 rows. pyarrow's threaded reader keeps a
    few dozen blocks in flight, so this sets the peak memory (8 MiB blocks: ~400 MB peak RSS on a
    2 GB glob, 1 MiB: ~230 MB, at the same speed)."""
    return min(max(batch_rows * 16, _MIB // 2), 16 * _MIB)


def max_row_bytes(batch_rows: int) -> int:
    """The longest row read; longer ones are malformed (rows up to this length fit a block of the
    second, guarded read, and pyarrow's first read never accepts a longer one)."""
    return 2 * block_size(batch_rows)


class Header:
    """The first line of a csv input: column names, the bytes read to find them (to replay), its
    length in bytes, and whether the input holds no row after it."""

    def __init__(self, names: list[str], head: bytes, length: int, last: bool) -> None:
        self.names, self.head, self.length, self.last = names, head, length, last


def read_header(stream: Readable, *, limit: int) -> Header:
    """The first line of `stream`, read in small pieces. Raises `TextError` when the bytes are not
    UTF-8 csv, or when no line ends within `limit` bytes."""
    head = bytearray()
    ended = False
    end = -1
    while True:
        chunk = stream.read(_HEAD) or b""
        if not head and chunk:
            problem = diagnose(chunk)
            if problem:
                raise TextError(problem)
        ended = not chunk
        head += chunk
        end = first_line_end(head)
        rest = head[end + 1 :].lstrip(b"\r\n") if end >= 0 else b""
        if ended or rest or len(head) > limit:
            break
    if end < 0 and not ended:
        raise TextError(
            f"has a first line longer than {_size(limit)}: save it as csv with one header line"
        )
    first = bytes(head if end < 0 else head[:end])
    try:
        first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TextError(_not_utf8(first[error.start], error.start, 1)) from None
    names = _names(first)
    return Header(names, bytes(head), len(first) + 1, ended and not rest)


def _names(line: bytes) -> list[str]:
    """The column names on a header line, as pyarrow parses them (quotes, BOM)."""
    if not line.strip():
        return []
    options = pcsv.ReadOptions(block_size=2 * len(line) + 1024)
    with closing(pcsv.open_csv(io.BytesIO(line + b"\n"), read_options=options)) as reader:
        names: list[str] = reader.schema.names
        return names


def diagnose(head: bytes) -> str | None:
    """What the first bytes of a file say it is, when that is not UTF-8 text, with the fix."""
    if head.startswith(b"\x1f\x8b"):
        return (
            "is not UTF-8 text (byte 0x8b at offset 1: a gzip file?): save it as UTF-8 csv, "
            "or name it .csv.gz"
        )
    if head.startswith(b"PK\x03\x04"):
        return "is not UTF-8 text (it starts like a zip file: an Excel workbook?): export it as csv"
    if head.startswith(b"PAR1"):
        return "is a parquet file, not csv: set the source's kind to parquet"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "is UTF-16 text, not UTF-8: save it as UTF-8 csv"
    zero = head.find(b"\x00")
    if zero >= 0:
        return f"is not text (a NUL byte at offset {zero:,}): save it as UTF-8 csv"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        return _not_utf8(head[error.start], error.start, head.count(b"\n", 0, error.start) + 1)
    return None


def _not_utf8(byte: int, offset: int, line: int) -> str:
    return (
        f"is not UTF-8 text (byte 0x{byte:02x} at offset {offset:,}, line {line:,}): "
        "save it as UTF-8 csv (it may be Latin-1 or Windows-1252)"
    )


def first_invalid_utf8(stream: Readable) -> str | None:
    """`diagnose`'s message for the first byte of `stream` that is not UTF-8, None if all is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    while chunk := stream.read(_SCAN) or b"":
        try:
            decoder.decode(chunk, final=False)
        except UnicodeDecodeError as error:
            at = error.start
            return _not_utf8(chunk[at], offset + at, lines + chunk.count(b"\n", 0, at) + 1)
        offset += len(chunk)
        lines += chunk.count(b"\n")
    return None


def csv_file_batches(
    path: Path, request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
    """Batches of the csv file at `path` (gzip-compressed when named ``.gz``). Raises `TextError`,
    or `pa.ArrowException`/`OSError` when it cannot be read at all."""
    reopen = opener(path)
    limit = max_row_bytes(batch_rows)
    with reopen() as stream:
        header = read_header(stream, limit=limit)
    if not header.names or header.last:
        return
    block = block_size(batch_rows)
    if header.length > block // 2:
        block = limit  # a long header needs a larger first block
    malformed = _Tally()
    rows_done = 0
    try:
        reader = _open_reader(str(path), header.names, request, block, malformed, threads=True)
        with closing(reader):
            for chunk in reader:
                rows_done += chunk.num_rows
                batch = _shape(chunk, header.names, request, report)
                if batch is not None:
                    yield batch
        too_long = False
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error):
            with reopen() as stream:
                problem = first_invalid_utf8(stream) or f"is not UTF-8 text ({error})"
            raise TextError(problem) from None
        if "straddl" not in str(error):
            raise
        too_long = True
    if too_long:
        # A row longer than a block: read again, over-long lines cut out, the rows done skipped.
        malformed = _Tally()
        with reopen() as stream:
            guard = LineGuard(stream, limit)
            with pa.PythonFile(guard, mode="r") as readable:
                yield from _guarded(
                    readable,
                    header.names,
                    request,
                    report,
                    block=limit,
                    malformed=malformed,
                    skip=rows_done,
                )
            malformed.add(guard.dropped)
    charge_malformed(request, report, malformed.rows)


def _guarded(
    readable: Any,
    header: list[str],
    request: Request,
    report: ReadReport,
    *,
    block: int,
    malformed: _Tally,
    skip: int,
) -> Iterator[Batch]:
    """Batches of a guarded input (no line longer than `block`), after its first `skip` rows."""
    try:
        reader = _open_reader(readable, header, request, block, malformed, threads=False)
    except pa.ArrowInvalid as error:
        raise TextError(f"cannot be read as csv ({error})") from None
    with closing(reader):
        for whole in reader:
            if skip >= whole.num_rows:
                skip -= whole.num_rows
                continue
            chunk, skip = whole.slice(skip) if skip else whole, 0
            batch = _shape(chunk, header, request, report)
            if batch is not None:
                yield batch


def csv_stream_batches(
    stream: Readable, request: Request, report: ReadReport, batch_rows: int
) -> Iterator[Batch]:
    """Batches of a csv byte stream read once (a response body), over-long lines cut out."""
    limit = max_row_bytes(batch_rows)
    header = read_header(stream, limit=limit)
    if not header.names or header.last:
        return
    malformed = _Tally()
    guard = LineGuard(replay(header.head, stream), limit)
    try:
        with pa.PythonFile(guard, mode="r") as readable:
            yield from _guarded(
                readable, header.names, request, report, block=limit, malformed=malformed, skip=0
            )
    except pa.ArrowInvalid as error:
        if "UTF8" in str(error):
            raise TextError("is not UTF-8 text: send UTF-8 csv") from None
        raise
    malformed.add(guard.dropped)
    charge_malformed(request, report, malformed.rows)


def opener(path: Path) -> Callable[[], io.BufferedIOBase]:
    """Opens `path` for reading bytes, decompressing it when named ``.gz``."""
    if path.name.lower().endswith(".gz"):
        return lambda: gzip.open(path, "rb")
    return lambda: path.open("rb")


def _present(header: list[str], request: Request) -> list[str]:
    present = [name for name in request.names if name in header]
    # With no requested column, one column is still read to count the rows (for `unplaced`).
    return present or header[:1]


def _open_reader(
    source: Any,
    header: list[str],
    request: Request,
    block: int,
    malformed: _Tally,
    *,
    threads: bool,
) -> Any:
    present = _present(header, request)
    return pcsv.open_csv(
        source,
        read_options=pcsv.ReadOptions(block_size=block, use_threads=threads),
        parse_options=pcsv.ParseOptions(invalid_row_handler=malformed.skip),
        convert_options=convert_options(present, _categorical(request)),
    )


def _categorical(request: Request) -> frozenset[str]:
    """The categorical features: read as dictionary-encoded text (not the reserved columns)."""
    reserved = {request.timestamp, request.score, request.label}
    kinds = request.columns.items()
    return frozenset(n for n, kind in kinds if kind == "categorical" and n not in reserved)


def _shape(chunk: Any, header: list[str], request: Request, report: ReadReport) -> Batch | None:
    raw = {name: chunk.column(name) for name in request.names if name in header}
    return shape(raw, chunk.num_rows, request, report)


def convert_options(
    present: list[str] | None = None, categorical: frozenset[str] = frozenset()
) -> pcsv.ConvertOptions:
    """Every requested column read as text, converted per chunk (jobs.sources.cells): a stray
    "n/a" in a numeric column then costs one cell, not the whole read (~20% slower); categorical
    columns as dictionary-encoded text (their few distinct values are converted and hashed once
    per chunk). With no columns given, pyarrow infers types (for a source's schema)."""
    if present is None:
        return pcsv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True)
    text, labels = pa.string(), pa.dictionary(pa.int32(), pa.string())
    return pcsv.ConvertOptions(
        column_types={name: labels if name in categorical else text for name in present},
        include_columns=present,
        null_values=NULL_VALUES,
        strings_can_be_null=True,
    )


class _Tally:
    """Counts the rows pyarrow's parser rejects (its reader threads call `skip`)."""

    def __init__(self) -> None:
        self.rows = 0
        self._lock = threading.Lock()

    def skip(self, row: Any) -> str:
        with self._lock:
            self.rows += 1
        return "skip"

    def add(self, rows: int) -> None:
        with self._lock:
            self.rows += rows


def _size(n: int) -> str:
    return f"{n / _MIB:g} MiB" if n >= _MIB else f"{n / 1024:g} KiB"
