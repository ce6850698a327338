"""What every data source yields (`Batch`), how it accounts for what it read (`ReadReport`), and the
`Source` protocol. Imports numpy and the stdlib only.

A `Batch` maps column names to equal-length numpy arrays:

- the timestamp column: ``datetime64[ns]``, UTC (naive timestamps in the data are taken as UTC,
  aware ones are converted);
- the score and the label: ``float64``, NaN where missing (labels are 0/1; booleans become 0/1);
- numeric features: ``float64``, NaN where missing or unreadable (±inf are kept as values);
- categorical features: ``object`` arrays of ``str``, ``None`` where missing.

Every yielded row has ``start <= timestamp < end`` and a score in [0, 1].

Rows and cells that are not usable are counted, never raised:

- a row is *rejected* (counted in ``rows_rejected`` and by reason in ``rejected``) when its
  timestamp is missing or unparseable (``bad_timestamp``), its score is missing or NaN
  (``nan_score``), not a number (``wrong_type:<score>``) or outside [0, 1] (``score_out_of_range``),
  or, for sources that were *asked* for the window (sql ``query``, http), when its timestamp lies
  outside the window (``outside_window``: the query or endpoint did not honour ``start``/``end``);
- a row of a file source (csv, parquet: files hold all history) outside the window is *skipped*:
  counted in ``rows_skipped``, neither read nor rejected (a sql ``table`` is filtered in the
  database, so its out-of-window rows are never seen);
- a feature or label cell that is not of its kind becomes missing and is counted in
  ``bad_cells["wrong_type:<column>"]``; the row is kept;
- a requested column the source lacks is listed in ``missing_columns`` (its values are all
  missing); when most non-missing cells of a numeric column are not numbers,
  ``type_changes[column] = "expected numeric, found string"``.

``rows_read`` counts the rows that reached the window check or were rejected before it: kept plus
rejected. Rows with a bad timestamp cannot be placed in time, so they are counted in every window
that reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from jobs.stats.bins import Bins
    from jobs.stats.profiles import Profile

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
    # Per numeric column: non-missing cells seen, to judge a type change at the end of a read.
    cells_seen: Counter[str] = field(default_factory=Counter)

    @property
    def rows_kept(self) -> int:
        return self.rows_read - self.rows_rejected

    def reject(self, reason: str, rows: int) -> None:
        """Count `rows` rows rejected for `reason` (they also count as read)."""
        if rows:
            self.rows_read += rows
            self.rows_rejected += rows
            self.rejected[reason] += rows

    def keep(self, rows: int) -> None:
        self.rows_read += rows

    def skip(self, rows: int, *, pruned: bool = False) -> None:
        """Count rows outside the window; `pruned`: never read (excluded by file statistics)."""
        self.rows_skipped += rows
        if pruned:
            self.rows_pruned += rows

    def note_missing(self, column: str) -> None:
        if column not in self.missing_columns:
            self.missing_columns.append(column)

    def note_cells(self, column: str, *, seen: int, bad: int) -> None:
        """Count `seen` non-missing cells of `column`, `bad` of which were not of its kind."""
        self.cells_seen[column] += seen
        if bad:
            self.bad_cells[f"wrong_type:{column}"] += bad

    def finish(self, numeric_columns: list[str]) -> None:
        """Judge type changes once the read is over: most non-missing cells were not numbers."""
        for column in numeric_columns:
            bad = self.bad_cells.get(f"wrong_type:{column}", 0)
            if bad and bad * 2 > self.cells_seen[column]:
                self.type_changes[column] = "expected numeric, found string"

    def summary(self) -> str:
        """One plain sentence, e.g. '1,000 rows read, 3 rejected (2 with a NaN score, ...)'."""
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
        return "; ".join(parts) + "."


_REASONS = {
    "nan_score": "with a missing or NaN score",
    "score_out_of_range": "with a score outside [0, 1]",
    "bad_timestamp": "with a missing or unreadable timestamp",
    "outside_window": "with a timestamp outside the window",
}


def _words(reason: str) -> str:
    if reason.startswith("wrong_type:"):
        return f"with a {reason.removeprefix('wrong_type:')} that is not a number"
    return _REASONS.get(reason, reason)


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
