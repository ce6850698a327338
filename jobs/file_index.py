"""The file index in the database: what csv/parquet reads learnt of each file
(`jobs.sources.spans`), kept between checks so that a check's cost follows its window, not the
history.

The index is a cache: it is written in its own short transaction after a read, never in the
check's, and a write that loses a race with another process's (the same file indexed at once) is
dropped, since the other process wrote the same facts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs.sources import FileSpan
from store import repo

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoredFileIndex:
    """A `jobs.sources.FileIndex` kept in handoff's database."""

    def __init__(
        self, sessions: sessionmaker[Session], *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def spans(self, *, timestamp: str, paths: Sequence[str]) -> dict[str, FileSpan]:
        with self._sessions() as session:
            rows = repo.file_spans(session=session, timestamp_column=timestamp, paths=paths)
            return {
                row.path: FileSpan(
                    path=row.path,
                    timestamp=timestamp,
                    size=row.size,
                    mtime_ns=row.mtime_ns,
                    rows=row.rows,
                    first_ns=row.first_ns,
                    last_ns=row.last_ns,
                    unplaced={str(k): int(v) for k, v in (row.unplaced or {}).items()},
                    head=row.head_digest,
                )
                for row in rows
            }

    def record(self, spans: Sequence[FileSpan]) -> None:
        now = self._clock()
        try:
            with self._sessions.begin() as session:
                for span in spans:
                    repo.save_file_span(
                        session=session,
                        path=span.path,
                        timestamp_column=span.timestamp,
                        values={
                            "size": span.size,
                            "mtime_ns": span.mtime_ns,
                            "rows": span.rows,
                            "first_ns": span.first_ns,
                            "last_ns": span.last_ns,
                            "unplaced": dict(span.unplaced),
                            "head_digest": span.head,
                        },
                        now=now,
                    )
        except IntegrityError:
            log.info("file index: another process indexed the same files first")
