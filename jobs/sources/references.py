"""A baseline's fit pushed down: the facts its bins and KS sketches are made of, computed by the
database over the window's kept rows, so registering a model on a huge table reads kilobytes.
Imports sqlalchemy (Core) with warehouse.py and pushdown.py.

Per numeric column (and the score): the count of finite values, of -inf and of +inf, and the
finite values at the ranks asked for (0 = the smallest), read with ``row_number() OVER (ORDER BY
v)``: a window function every SQL database of note has (PostgreSQL, DuckDB, SQLite from 3.25,
Trino, Spark SQL, BigQuery). Ranks, not a dialect's percentile function, because the ranks are
chosen by the same numpy rule the in-memory fit uses (`jobs.fitting`), so both fits agree
exactly; the database still does the sort. Per categorical column (and segment): each value's
count (GROUP BY). A database that cannot answer these raises SourceError; the caller then reads
a sample instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from jobs.sources.warehouse import SqlSource, bounds

__all__ = ["NumericFacts", "ReferenceFacts", "reference_facts"]

_LARGEST = 1.7976931348623157e308
_RANKS_PER_QUERY = 5000  # one query per column (a sort each): SQLite takes 32,766 parameters


@dataclass(frozen=True)
class NumericFacts:
    """One numeric column of the kept rows: finite values, -inf and +inf counts, the finite values
    at the ranks asked for, and (when asked) the population standard deviation of the finite."""

    finite: int
    below: int
    above: int
    at: dict[int, float] = field(default_factory=dict)
    std: float | None = None


@dataclass(frozen=True)
class ReferenceFacts:
    """The window's kept rows: how many, their first and last timestamp, and per column."""

    rows: int
    first: datetime | None
    last: datetime | None
    numeric: dict[str, NumericFacts]
    categorical: dict[str, Counter[str]]


Ranks = Callable[[str, int, int, int], Sequence[int]]
"""(column, finite, below, above) -> the finite ranks whose values are wanted."""


def reference_facts(
    source: SqlSource,
    *,
    start: datetime,
    end: datetime,
    timestamp: str,
    score: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    ranks: Ranks,
    spread: Callable[[str, NumericFacts], bool],
) -> ReferenceFacts:
    """The facts of `[start, end)` (see the module docstring); `spread(column, facts)` says
    whether that column's standard deviation is needed (a robust scale of 0 falls back to it)."""
    params = bounds(start, end)
    with source.connect() as connection:
        types = source.column_types(connection)
        rows_of = source.window_rows(connection, types, timestamp, score)
        kept = rows_of.kept
        values = {name: rows_of.num(name).value for name in numeric}
        tallies: list[Any] = [
            sa.func.count(),
            sa.func.min(rows_of.stamp),
            sa.func.max(rows_of.stamp),
        ]
        for v in values.values():
            tallies += [
                sa.func.sum(sa.case((_finite(v), 1), else_=0)),
                sa.func.sum(sa.case((v < -_LARGEST, 1), else_=0)),
                sa.func.sum(sa.case((v > _LARGEST, 1), else_=0)),
            ]
        head = connection.execute(kept.add_columns(*tallies), params).one()
        rows, first, last = int(head[0] or 0), head[1], head[2]
        facts: dict[str, NumericFacts] = {}
        for k, (name, v) in enumerate(values.items()):
            finite, below, above = (int(x or 0) for x in head[3 + 3 * k : 6 + 3 * k])
            counted = NumericFacts(finite, below, above)
            wanted = sorted(set(ranks(name, finite, below, above))) if finite else []
            at = _at_ranks(connection, kept, v, wanted, params)
            std = _std(connection, kept, v, params) if finite and spread(name, counted) else None
            facts[name] = NumericFacts(finite, below, above, at, std)
        counts: dict[str, Counter[str]] = {}
        for name in categorical:
            text = sa.cast(rows_of.col(name), sa.String)
            grouped = kept.add_columns(text, sa.func.count()).where(text.is_not(None))
            found = connection.execute(grouped.group_by(text), params).all()
            counts[name] = Counter({str(value): int(n) for value, n in found})
    return ReferenceFacts(rows, _aware(first), _aware(last), facts, counts)


def _finite(v: Any) -> Any:
    return sa.and_(v >= -_LARGEST, v <= _LARGEST)


def _at_ranks(
    connection: sa.Connection, kept: Any, v: Any, ranks: list[int], params: dict[str, datetime]
) -> dict[int, float]:
    """The finite values of `v` at `ranks` of their ascending order."""
    if not ranks:
        return {}
    rank = (sa.func.row_number().over(order_by=v) - 1).label("rank")
    ordered = kept.add_columns(v.label("v"), rank).where(_finite(v)).subquery()
    out: dict[int, float] = {}
    for i in range(0, len(ranks), _RANKS_PER_QUERY):
        part = ranks[i : i + _RANKS_PER_QUERY]
        query = sa.select(ordered.c.rank, ordered.c.v).where(ordered.c.rank.in_(part))
        out.update({int(r): float(x) for r, x in connection.execute(query, params).all()})
    return out


def _std(connection: sa.Connection, kept: Any, v: Any, params: dict[str, datetime]) -> float:
    """Population standard deviation of the finite values, in two passes (mean, then squares)."""
    finite = kept.add_columns(v.label("v")).where(_finite(v)).subquery()
    mean = connection.execute(sa.select(sa.func.avg(finite.c.v)), params).scalar()
    squares = sa.func.avg((finite.c.v - mean) * (finite.c.v - mean))
    variance = connection.execute(sa.select(squares), params).scalar()
    return float(float(variance or 0.0) ** 0.5)


def _aware(moment: Any) -> datetime | None:
    if moment is None:
        return None
    stamp: datetime = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
