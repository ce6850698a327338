"""What every data source yields (`Batch`), how it accounts for what it read (`ReadReport`), and the
`Source` protocol. Imports numpy and the stdlib only (and `jobs.sources.duplicates`).

A `Batch` maps column names to equal-length numpy arrays:

- the timestamp column: ``datetime64[ns]``, UTC (naive timestamps in the data are taken as UTC,
  aware ones are converted);
- the score and the label: ``float64``, NaN where missing (labels are 0/1; booleans become 0/1);
- numeric features: ``float64``, NaN where missing or unreadable (±inf are kept as values);
- categorical features: ``object`` arrays of ``str``, ``None`` where missing.

Every yielded row has ``start <= timestamp < end`` and a score in [0, 1].

Rows and cells that are not usable are counted, never raised:

- a row is *rejected* (counted in ``rows_rejected`` and by reason in ``rejected``) when its score
  is missing or NaN (``nan_score``), not a number (``wrong_type:<score>``) or outside [0, 1]
  (``score_out_of_range``). Sources that were *asked* for the window (sql ``query``, http) also
  reject a row whose timestamp lies outside the window (``outside_window``: the query or endpoint
  did not honour ``start``/``end``), whose timestamp is missing or unparseable (``bad_timestamp``:
  it was served for this window), or, for http csv, that cannot be parsed (``malformed``: wrong
  number of fields, or a line too long, see `jobs.sources.csvfiles`);
- a row of a file source (csv, parquet: files hold all history) outside the window is *skipped*:
  counted in ``rows_skipped``, neither read nor rejected (a sql ``table`` is filtered in the
  database, so its out-of-window rows are never seen, nor are rows with a NULL timestamp);
- a row of a file source that cannot be placed in time (``bad_timestamp``; ``malformed``; or
  ``missing_column:<timestamp>``, a file without the timestamp column) belongs to no window: it is
  counted in no window's ``rows_read``, but charged to its file in ``unplaced`` (file -> rows) and
  ``unplaced_reasons`` (file -> reason -> rows). Files hold all history, so every read of the
  glob finds those rows again: the account is per file, to be reported once per file, not per
  window. Files are named as the card names them: relative to the card's folder when the glob is
  relative, else absolute;
- a feature or label cell that is not of its kind becomes missing and is counted in
  ``bad_cells["wrong_type:<column>"]``; the row is kept;
- a requested column is listed in ``missing_columns`` (its values are all missing) when a file or
  chunk that contributed rows to the window lacks it: a file whose rows all lie outside the window
  (or that has no rows: a zero-byte or header-only file) says nothing about the window's schema.
  For an asked source, every row served counts as contributed. When most non-missing cells of a
  numeric column are not numbers, ``type_changes[column] = "expected numeric, found string"``;
- a file whose bytes are identical to an earlier file of the glob is read once: the copy is listed
  in ``duplicate_files`` as ``(copy, original)`` and not read;
- kept rows identical in every column read to an earlier kept row of the same read are counted in
  ``duplicate_rows`` (they are kept: duplicates are said, not removed). The count is exact up to
  about half a million distinct rows, then estimated from a hash sample
  (``duplicate_rows_exact`` False; see `jobs.sources.duplicates`).

``rows_read`` counts the rows that reached the window check or were rejected before it: kept plus
rejected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from jobs.sources.duplicates import DuplicateCounter

if TYPE_CHECKING:
    from jobs.stats import Bins, Profile

__all__ = [
    "Batch",
    "ColumnKind",
    "CountingSource",
    "ReadReport",
    "SchemaKind",
    "Source",
    "Window",
]

Batch = dict[str, np.ndarray]
ColumnKind = Literal["numeric", "categorical"]
SchemaKind = Literal["numeric", "categorical", "timestamp"]

DEFAULT_BATCH_ROWS = 65536
_LISTED = 3


@dataclass
class ReadReport:
    """What one read of one window saw. Filled in by `Source.batches` as it runs."""

    rows_read: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    rows_pruned: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    bad_cells: Counter[str] = field(default_factory=Counter)
    missing_columns: list[str] = field(default_factory=list)
    type_changes: dict[str, str] = field(default_factory=dict)
    unplaced: Counter[str] = field(default_factory=Counter)
    unplaced_reasons: dict[str, Counter[str]] = field(default_factory=dict)
    duplicate_files: list[tuple[str, str]] = field(default_factory=list)
    duplicate_rows: int = 0
    duplicate_rows_exact: bool = True
    # Per numeric column: non-missing cells seen, to judge a type change at the end of a read.
    cells_seen: Counter[str] = field(default_factory=Counter)
    _rows: DuplicateCounter = field(default_factory=DuplicateCounter, compare=False, repr=False)

    @property
    def rows_kept(self) -> int:
        """Rows read and not rejected: those the window's profile counts."""
        return self.rows_read - self.rows_rejected

    def reject(self, reason: str, rows: int) -> None:
        """Count `rows` rows rejected for `reason` (they also count as read)."""
        if rows:
            self.rows_read += rows
            self.rows_rejected += rows
            self.rejected[reason] += rows

    def keep(self, rows: int) -> None:
        """Count `rows` rows kept (read, usable, inside the window)."""
        self.rows_read += rows

    def skip(self, rows: int, *, pruned: bool = False) -> None:
        """Count rows outside the window; `pruned`: never read (excluded by file statistics)."""
        self.rows_skipped += rows
        if pruned:
            self.rows_pruned += rows

    def unplace(self, file: str, reason: str, rows: int) -> None:
        """Charge `rows` rows of `file` that cannot be placed in time to the file, not a window."""
        if rows:
            self.unplaced[file] += rows
            self.unplaced_reasons.setdefault(file, Counter())[reason] += rows

    def note_missing(self, column: str) -> None:
        """List `column` as missing (once), for a chunk that contributed rows without it."""
        if column not in self.missing_columns:
            self.missing_columns.append(column)

    def note_cells(self, column: str, *, seen: int, bad: int) -> None:
        """Count `seen` non-missing cells of `column`, `bad` of which were not of its kind."""
        self.cells_seen[column] += seen
        if bad:
            self.bad_cells[f"wrong_type:{column}"] += bad

    def note_duplicate_file(self, copy: str, original: str) -> None:
        """`copy` has the same bytes as `original` and is not read."""
        self.duplicate_files.append((copy, original))

    def count_rows(self, columns: Sequence[Any]) -> None:
        """Hash kept rows (one array per column read) to count duplicates at `finish`."""
        self._rows.add(columns)

    def finish(self, numeric_columns: list[str]) -> None:
        """Judge type changes once the read is over (most non-missing cells were not numbers) and
        count the duplicate rows hashed during the read."""
        for column in numeric_columns:
            bad = self.bad_cells.get(f"wrong_type:{column}", 0)
            if bad and bad * 2 > self.cells_seen[column]:
                self.type_changes[column] = "expected numeric, found string"
        if self._rows.rows:
            self.duplicate_rows = self._rows.duplicates
            self.duplicate_rows_exact = self._rows.exact

    def summary(self) -> str:
        """One plain sentence, e.g. '1,000 rows read; 3 rejected (2 with a NaN score, ...)'."""
        parts = [f"{self.rows_read:,} rows read"]
        if self.rows_rejected:
            why = ", ".join(f"{n:,} {_words(reason)}" for reason, n in self.rejected.most_common())
            parts.append(f"{self.rows_rejected:,} rejected ({why})")
        else:
            parts.append("none rejected")
        if self.rows_skipped:
            parts.append(f"{self.rows_skipped:,} outside the window skipped")
        if self.bad_cells:
            cells = ", ".join(
                f"{n:,} in {key.removeprefix('wrong_type:')}"
                for key, n in self.bad_cells.most_common()
            )
            parts.append(f"unreadable cells made missing: {cells}")
        if self.missing_columns:
            parts.append("missing columns: " + ", ".join(self.missing_columns))
        if self.type_changes:
            parts.append(
                "type changes: " + ", ".join(f"{c} {why}" for c, why in self.type_changes.items())
            )
        if self.unplaced:
            parts.append(self._unplaced_summary())
        if self.duplicate_files:
            copies = ", ".join(f"{c} (same as {o})" for c, o in self.duplicate_files[:_LISTED])
            more = _more(len(self.duplicate_files))
            parts.append(f"{_files(len(self.duplicate_files))} not read as copies: {copies}{more}")
        if self.duplicate_rows:
            about = "" if self.duplicate_rows_exact else "about "
            parts.append(
                f"{about}{self.duplicate_rows:,} duplicate rows (identical in every column read"
                f"{'' if self.duplicate_rows_exact else ', estimated from a sample'})"
            )
        return "; ".join(parts) + "."

    def _unplaced_summary(self) -> str:
        total = sum(self.unplaced.values())
        listed = []
        for file, rows in self.unplaced.most_common(_LISTED):
            why = ", ".join(
                f"{n:,} {_words(reason)}" for reason, n in self.unplaced_reasons[file].most_common()
            )
            listed.append(f"{rows:,} in {file} ({why})")
        more = _more(len(self.unplaced))
        return (
            f"{total:,} rows that cannot be placed in time, in no window: "
            + ", ".join(listed)
            + more
        )


_REASONS = {
    "nan_score": "with a missing or NaN score",
    "score_out_of_range": "with a score outside [0, 1]",
    "bad_timestamp": "with a missing or unreadable timestamp",
    "outside_window": "with a timestamp outside the window",
    "malformed": "malformed (wrong number of fields, or too long)",
}


def _words(reason: str) -> str:
    if reason.startswith("wrong_type:"):
        return f"with a {reason.removeprefix('wrong_type:')} that is not a number"
    if reason.startswith("missing_column:"):
        return f"in a file without the column {reason.removeprefix('missing_column:')}"
    return _REASONS.get(reason, reason)


def _files(n: int) -> str:
    return "1 file" if n == 1 else f"{n:,} files"


def _more(n: int) -> str:
    return f" and {n - _LISTED:,} more" if n > _LISTED else ""


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` in integer nanoseconds since the epoch, UTC."""

    start_ns: int
    end_ns: int

    @classmethod
    def of(cls, start: datetime, end: datetime) -> Window:
        return cls(to_ns(start), to_ns(end))


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class Source(Protocol):
    """A model's data source: where its scored rows live."""

    def describe(self) -> str:
        """A short name for messages, e.g. ``csv data/*.csv``; never contains a secret."""
        ...

    def columns(self) -> dict[str, SchemaKind]:
        """Column names and kinds as the source's schema has them (first file, table, page)."""
        ...

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
        """Yield the rows with ``start <= timestamp < end``, about `batch_rows` at a time.

        `columns` are the features to read (the timestamp, score and label are read anyway).
        Memory stays bounded by the batch size whatever the window's size.
        """
        ...


@runtime_checkable
class CountingSource(Source, Protocol):
    """A source that can count a window over a baseline's bins itself (SQL pushdown)."""

    def profile(
        self, *, start: datetime, end: datetime, bins: Bins, timestamp: str, report: ReadReport
    ) -> Profile:
        """The window's profile, equal to profiling `batches` in memory, computed at the source."""
        ...
