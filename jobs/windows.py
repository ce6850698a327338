"""Reading a window of a model's source: batches of the watched columns, or its profile.

A source that can count inside itself (SQL pushdown) returns the profile directly, so only counts
travel; any other source is read in bounded batches that are counted here and merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from jobs.columns import Watched
from jobs.sources.base import Batch, CountingSource, ReadReport, Source
from jobs.stats import Bins, Profile, profile_batch


def read_batches(
    source: Source, watched: Watched, *, start: datetime, end: datetime, report: ReadReport
) -> Iterator[Batch]:
    """The rows of [start, end) with the watched columns, in bounded batches."""
    yield from source.batches(
        start=start,
        end=end,
        columns=watched.kinds,
        timestamp=watched.timestamp,
        score=watched.score,
        label=watched.label,
        report=report,
    )


def profile_window(
    source: Source,
    watched: Watched,
    bins: Bins,
    *,
    start: datetime,
    end: datetime,
    between: Callable[[], None] | None = None,
) -> tuple[Profile, ReadReport]:
    """The window's counts over `bins` and what reading it found (rows read, rejected, why).

    `between` is called after each batch (a running check's guard: it raises to stop the read).
    """
    report = ReadReport()
    if isinstance(source, CountingSource):
        profile = source.profile(
            start=start, end=end, bins=bins, timestamp=watched.timestamp, report=report
        )
        return profile, report
    profile = Profile.zeros(bins)
    for batch in read_batches(source, watched, start=start, end=end, report=report):
        profile = profile.merge(profile_batch(batch, bins))
        if between is not None:
            between()
    return profile, report
