"""A file source's path with a date in it: ``data/{date:%Y-%m-%d}.csv``, or Hive-style folders
``data/dt={date:%Y-%m-%d}/*.parquet``. Imports the stdlib only.

The template promises that the file (or folder) named for a day holds rows of that day (UTC), so a
window lists only its own days' files: a check's cost follows its window, not the history. The
field is ``{date}`` (as ``%Y-%m-%d``) or ``{date:FORMAT}`` with strftime directives; several
fields may appear, and the rest of the path may hold glob wildcards. A format coarser than a day
(``{date:%Y-%m}``, monthly files) lists each month touched by the window once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["PathTemplate", "is_template"]

_FIELD = re.compile(r"\{date(?::([^{}]*))?\}")
_DIRECTIVE = re.compile(r"%%|%-?[A-Za-z]")
DEFAULT_FORMAT = "%Y-%m-%d"
MAX_DAYS = 3660
"""A window longer than this (ten years: a baseline over all time) lists every file instead."""


def is_template(path: str) -> bool:
    """Whether `path` holds a ``{date}`` field."""
    return _FIELD.search(path) is not None


class PathTemplate:
    """A path with ``{date...}`` fields (see the module docstring)."""

    def __init__(self, path: str) -> None:
        if not is_template(path):
            raise ValueError(f"{path!r} has no {{date}} field")
        self.path = path

    def every(self) -> str:
        """A glob matching the files of every day: each directive of a field becomes ``*``."""
        return _FIELD.sub(lambda m: _wild(m.group(1) or DEFAULT_FORMAT), self.path)

    def on(self, day: date) -> str:
        """The path (a glob when the rest of it has wildcards) of `day`'s files."""
        return _FIELD.sub(lambda m: day.strftime(m.group(1) or DEFAULT_FORMAT), self.path)

    def between(self, start: datetime, end: datetime) -> list[str]:
        """The distinct paths of the UTC days that `[start, end)` touches, in day order; the
        every-day glob when the window is longer than `MAX_DAYS`."""
        first = _utc(start).date()
        last = (_utc(end) - timedelta(microseconds=1)).date()
        if last < first:
            return []
        if (last - first).days > MAX_DAYS:
            return [self.every()]
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        return list(dict.fromkeys(self.on(day) for day in days))


def _wild(spec: str) -> str:
    """`spec` with its directives as ``*`` (runs of them collapsed, so never ``**``)."""
    wild = _DIRECTIVE.sub(lambda m: "%" if m.group(0) == "%%" else "*", spec)
    return re.sub(r"\*+", "*", wild)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
