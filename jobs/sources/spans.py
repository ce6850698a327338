"""What a file source remembers about a file between reads: its size, modification time and the
time span of its rows (`FileSpan`), kept by a `FileIndex` (the database's, `jobs.file_index`).
Imports numpy and the stdlib only.

A file whose size and modification time are those indexed, and whose rows all lie outside the
window, is not opened: its rows are counted as skipped (pruned) and its rows that belong to no
window are charged to it again, exactly as a read would. A file that changed, or was never read
whole, is read, and indexed as it is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from jobs.sources.base import Window

__all__ = ["FileIndex", "FileSpan", "TimeSpan"]


@dataclass(frozen=True)
class FileSpan:
    """One file as last read: `path` (absolute), the `timestamp` column its span is of, `size`
    and `mtime_ns` then, `rows` placed in time, their first and last timestamp (ns; None when
    none), the rows that cannot be placed by reason, and the hash of its first 64 KiB (hex: to
    tell copies apart without reading them, `jobs.sources.files.distinct_files`)."""

    path: str
    timestamp: str
    size: int
    mtime_ns: int
    rows: int
    first_ns: int | None
    last_ns: int | None
    unplaced: Mapping[str, int] = field(default_factory=dict)
    head: str | None = None

    def current(self, size: int, mtime_ns: int) -> bool:
        """Whether the file still has the size and modification time it was indexed with."""
        return self.size == size and self.mtime_ns == mtime_ns

    def outside(self, window: Window) -> bool:
        """Whether every row placed in time lies outside `window` (True for a file without any)."""
        if self.first_ns is None or self.last_ns is None:
            return True
        return self.last_ns < window.start_ns or self.first_ns >= window.end_ns


class FileIndex(Protocol):
    """Where file spans are kept (the database's in `jobs.file_index`)."""

    def spans(self, *, timestamp: str, paths: Sequence[str]) -> dict[str, FileSpan]:
        """The spans known for `paths` (absolute) of `timestamp`, by path."""
        ...

    def record(self, spans: Sequence[FileSpan]) -> None:
        """Keep `spans`, replacing what was known of their paths."""
        ...


class TimeSpan:
    """The first and last timestamp seen in a file's read (ns since the epoch)."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.last: int | None = None

    def see(self, stamps: np.ndarray) -> None:
        """Widen the span by `stamps` (int64 ns, all valid)."""
        if len(stamps):
            self.cover(int(stamps.min()), int(stamps.max()))

    def cover(self, low: int, high: int) -> None:
        """Widen the span to include `[low, high]`."""
        self.first = low if self.first is None else min(self.first, low)
        self.last = high if self.last is None else max(self.last, high)
