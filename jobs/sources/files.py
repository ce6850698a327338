"""csv and parquet sources: a path or glob of files holding all history, read in chunks with pyarrow
and filtered to the window. Imports pyarrow, `jobs.errors` and the stdlib.

A check's cost follows its window, not the history: a date template (``data/{date:%Y-%m-%d}.csv``,
`jobs.sources.paths`) lists only the window's days' files, and a file index (`jobs.sources.spans`)
remembers each file's size, modification time and time span, so a file unchanged since it was read
whose rows all lie outside the window is not opened (it is counted as if it had been read).

Rows outside the window are skipped (counted, not rejected); parquet row groups whose timestamp
statistics lie outside the window are not read at all (`jobs.sources.parquetfiles`); csv rules are
in `jobs.sources.csvfiles`. Rows that cannot be placed in time are charged to their file
(`ReadReport.unplaced`). A file whose bytes equal an earlier file's (a copy, a hard link, a
symlink) is read once: the copy goes to `ReadReport.duplicate_files`. Of identical files the
*original* is one that is not a symlink, modified first, first in name order. A file that cannot
be read is a SourceError naming it, saying what is wrong and the fix.
"""

from __future__ import annotations

import glob
import hashlib
import os
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from stat import S_ISREG
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pcsv

from jobs.errors import SourceError
from jobs.sources.base import (
    DEFAULT_BATCH_ROWS,
    Batch,
    ColumnKind,
    ReadReport,
    SchemaKind,
    Window,
)
from jobs.sources.cells import kind_of
from jobs.sources.csvfiles import (
    TextError,
    block_size,
    convert_options,
    csv_file_batches,
    max_row_bytes,
    opener,
    read_header,
)
from jobs.sources.parquetfiles import NotParquet, parquet_batches, parquet_schema
from jobs.sources.paths import PathTemplate, is_template
from jobs.sources.rows import Request
from jobs.sources.spans import FileIndex, FileSpan, TimeSpan

__all__ = ["FileSource", "distinct_files"]

_FINGERPRINT = 64 << 10
_HASH_CHUNK = 1 << 20


class FileSource:
    """csv or parquet files matching `path` (a path, glob or date template, relative to
    `base_dir`); an `index` spares reading files whose rows all lie outside the window."""

    def __init__(
        self,
        *,
        kind: Literal["csv", "parquet"],
        path: str,
        base_dir: Path,
        index: FileIndex | None = None,
    ) -> None:
        self.kind = kind
        self.path = path
        self.base_dir = base_dir
        self.index = index
        self.template = PathTemplate(path) if is_template(path) else None

    def describe(self) -> str:
        """The kind and the path as the card gives them, e.g. ``csv data/*.csv``."""
        return f"{self.kind} {self.path}"

    def files(self) -> list[Path]:
        """Every matching file (of every day, for a template), sorted; a SourceError when there
        are none."""
        pattern = self._pattern(self.template.every() if self.template else self.path)
        found = [path for path in _matching([pattern]) if path.is_file()]
        if not found:
            raise SourceError(self.describe(), f"no file matches {pattern}")
        return found

    def window_files(self, start: datetime, end: datetime) -> list[Path]:
        """The paths that may hold rows of `[start, end)` (folders too: `batches` drops them): for
        a template, those of the window's days only (none when those days have no file yet), else
        every matching path. A SourceError when there are none on any day."""
        patterns = self.template.between(start, end) if self.template else [self.path]
        found = _matching([self._pattern(p) for p in patterns])
        if not found:
            self.files()  # no file on any day is an error; none on the window's days is not
        return found

    def _pattern(self, path: str) -> Path:
        pattern = Path(path).expanduser()
        return pattern if pattern.is_absolute() else self.base_dir / pattern

    def name_of(self, path: Path) -> str:
        """How messages and reports name a file: as the card would (relative to the card's folder
        for a relative glob, else absolute)."""
        if Path(self.path).expanduser().is_absolute():
            return str(path)
        return os.path.relpath(path, self.base_dir)

    def columns(self) -> dict[str, SchemaKind]:
        """Names and kinds of the first file with any bytes (pyarrow's type inference for csv)."""
        for path in self.files():
            with self._reading(path):
                schema = self._schema(path)
            if schema is not None:
                return {f.name: kind_of(f.type) for f in schema}
        return {}

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
        """The window's rows from every distinct file, in name order (see the module's rules)."""
        request = Request(Window.of(start, end), dict(columns), timestamp, score, label)
        try:
            stats = _stats(self.window_files(start, end))
            known = self._known(list(stats), timestamp)
            heads = {
                path: bytes.fromhex(span.head)
                for path, span in known.items()
                if span.head and span.current(stats[path].st_size, stats[path].st_mtime_ns)
            }
            paths, copies = distinct_files(list(stats), stats=stats, heads=heads)
        except OSError as error:
            reason = f"cannot read {error.filename}: {error.strerror}"
            raise SourceError(self.describe(), reason) from error
        for copy, original in copies:
            report.note_duplicate_file(self.name_of(copy), self.name_of(original))
        fresh: list[FileSpan] = []
        for path in paths:
            stat, span = stats[path], known.get(path)
            current = span is not None and span.current(stat.st_size, stat.st_mtime_ns)
            if span is not None and current and span.outside(request.window):
                report.skip(span.rows, pruned=True)
                for reason, rows in span.unplaced.items():
                    report.unplace(self.name_of(path), reason, rows)
                continue
            name = self.name_of(path)
            seen = TimeSpan() if self.index is not None and not current else None
            one = replace(request, file=name, span=seen)
            placed = report.rows_read + report.rows_skipped
            charged = Counter(report.unplaced_reasons.get(name, {}))
            with self._reading(path):
                if self.kind == "parquet":
                    yield from parquet_batches(path, one, report, batch_rows)
                else:
                    yield from csv_file_batches(path, one, report, batch_rows)
            if seen is not None:
                head = heads.get(path) or _digest(path, _FINGERPRINT)
                fresh.append(
                    FileSpan(
                        path=str(path),
                        timestamp=timestamp,
                        size=stat.st_size,  # from before the read: a file that changed while
                        mtime_ns=stat.st_mtime_ns,  # it was read is read again next time
                        rows=report.rows_read + report.rows_skipped - placed,
                        first_ns=seen.first,
                        last_ns=seen.last,
                        unplaced=dict(Counter(report.unplaced_reasons.get(name, {})) - charged),
                        head=head.hex(),
                    )
                )
        if fresh and self.index is not None:
            self.index.record(fresh)
        report.finish(request.numeric_columns)

    def _known(self, paths: list[Path], timestamp: str) -> dict[Path, FileSpan]:
        """The indexed spans of `paths` (absolute), by path."""
        if self.index is None or not paths:
            return {}
        spans = self.index.spans(timestamp=timestamp, paths=[str(p) for p in paths])
        return {Path(path): span for path, span in spans.items()}

    def _schema(self, path: Path) -> pa.Schema | None:
        if self.kind == "parquet":
            return parquet_schema(path)
        limit = max_row_bytes(DEFAULT_BATCH_ROWS)
        with opener(path)() as stream:
            header = read_header(stream, limit=limit)
        if not header.names:
            return None
        if header.last:  # no rows to infer types from (pyarrow refuses a lone header line)
            return pa.schema([(name, pa.string()) for name in header.names])
        block = max(block_size(DEFAULT_BATCH_ROWS), 2 * header.length)
        options = pcsv.ReadOptions(block_size=block)
        with closing(
            pcsv.open_csv(str(path), read_options=options, convert_options=convert_options())
        ) as reader:
            schema: pa.Schema = reader.schema
            return schema

    def _reading(self, path: Path) -> _Reading:
        return _Reading(self.describe(), self.name_of(path))


class _Reading:
    """Turns what goes wrong reading one file into a SourceError that names the file."""

    def __init__(self, source: str, name: str) -> None:
        self.source, self.name = source, name

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if error is None or isinstance(error, GeneratorExit | SourceError):
            return
        if isinstance(error, TextError | NotParquet):
            raise SourceError(self.source, f"{self.name} {error.problem}") from None
        if isinstance(error, EOFError | zlib.error) or "gzip" in type(error).__name__.lower():
            reason = f"{self.name} is not a complete gzip file ({error}): compress it again"
            raise SourceError(self.source, reason) from None
        if isinstance(error, OSError | pa.ArrowException):
            raise SourceError(self.source, f"{self.name} cannot be read: {error}") from error


def _matching(patterns: list[Path]) -> list[Path]:
    """The paths matching any of `patterns` (absolute), each once, in path order (part by part,
    as `Path` compares; sorting the strings split at separators is as exact and much faster)."""
    found = {
        os.path.abspath(p) for pattern in patterns for p in glob.glob(str(pattern), recursive=True)
    }
    return [Path(p) for p in sorted(found, key=lambda p: p.split(os.sep))]


def _stats(paths: list[Path]) -> dict[Path, os.stat_result]:
    """The files (not folders) among `paths`, in order, with their stat (symlinks followed)."""
    out = {}
    for path in paths:
        stat = path.stat()
        if S_ISREG(stat.st_mode):
            out[path] = stat
    return out


def distinct_files(
    paths: list[Path],
    *,
    stats: Mapping[Path, os.stat_result] | None = None,
    heads: dict[Path, bytes] | None = None,
) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """`paths` without the files whose bytes equal an earlier one's, and the pairs (copy, original).

    Only files of equal size are compared: by inode, then by a hash of their first 64 KiB, then by
    a hash of all their bytes. Zero-byte files are never duplicates (they hold no rows). `stats`
    and `heads` (hashes of first 64 KiB known from the file index) spare reading them again;
    the heads hashed here are added to `heads`.
    """
    stats = stats if stats is not None else {path: path.stat() for path in paths}
    heads = heads if heads is not None else {}
    position = {path: i for i, path in enumerate(paths)}
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path in paths:
        if stats[path].st_size:
            by_size[stats[path].st_size].append(path)
    copies: dict[Path, Path] = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        for same in _identical(group, stats, heads):
            ordered = sorted(
                same, key=lambda p: (p.is_symlink(), stats[p].st_mtime_ns, position[p])
            )
            for copy in ordered[1:]:
                copies[copy] = ordered[0]
    kept = [path for path in paths if path not in copies]
    return kept, [(copy, copies[copy]) for copy in paths if copy in copies]


def _identical(
    group: list[Path], stats: Mapping[Path, os.stat_result], heads: dict[Path, bytes]
) -> list[list[Path]]:
    """Groups of files (of one size) with identical bytes."""
    by_inode: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for path in group:
        by_inode[(stats[path].st_dev, stats[path].st_ino)].append(path)
    inodes = list(by_inode.values())
    by_head: dict[bytes, list[list[Path]]] = defaultdict(list)
    for same in inodes:
        head = heads.get(same[0])
        if head is None:
            head = heads[same[0]] = _digest(same[0], _FINGERPRINT)
        by_head[head].append(same)
    out = []
    for candidates in by_head.values():
        if len(candidates) == 1:
            out.append(candidates[0])
            continue
        by_body: dict[bytes, list[Path]] = defaultdict(list)
        for same in candidates:
            by_body[_digest(same[0], None)].extend(same)
        out.extend(by_body.values())
    return [same for same in out if len(same) > 1]


def _digest(path: Path, limit: int | None) -> bytes:
    """A hash of the first `limit` bytes of `path` (all of them when None)."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as stream:
        left = limit
        while left is None or left > 0:
            chunk = stream.read(_HASH_CHUNK if left is None else min(left, _HASH_CHUNK))
            if not chunk:
                break
            digest.update(chunk)
            if left is not None:
                left -= len(chunk)
    return digest.digest()
