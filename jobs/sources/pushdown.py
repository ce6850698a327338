"""The SQL expressions of the warehouse pushdown: a cell read as a number *inside* the database by
the rule of `jobs.sources.cells` (so pushdown and in-memory profiles agree on bad data), and the
CASEs that code rows into a baseline's bins. Imports sqlalchemy (Core) with warehouse.py.

How a numeric column (feature, score, label) is read, per database:

- SQLite stores any value in any column: a cell is read by its own type (``typeof``). Integers and
  reals are numbers; a text cell is read by `cells.number_of` itself, registered as an SQL function
  on each connection (`register_functions`), so the rule is exactly the in-memory one; a blob is
  unreadable. SQLite has no NaN (it stores NULL).
- PostgreSQL types columns, so a column is read by its type: numbers as they are (NaN is missing),
  booleans as 0/1, text by the rule as regular expressions and a cast: trimmed, nan text is
  missing, inf/infinity are ±infinity, a decimal is cast through ``numeric`` and rounded to the
  nearest double as Python does (±infinity above the largest double, 0 below the smallest). A
  decimal text longer than 5,000 characters is the one disagreement: unreadable here, a number in
  memory. Any other type (dates, json, ...) is unreadable, as in memory.
- DuckDB (standing in for the analytical warehouses) types columns too: numbers as they are (NaN
  is missing), booleans as 0/1, text matching the rule's pattern cast to DOUBLE (DuckDB rounds as
  Python does), other text unreadable.
- Other databases: numbers as they are (``x != x`` is NaN, missing); text cells are not detected.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from jobs.sources.cells import NUMBER, SPACE, number_of
from jobs.stats import CategoricalBins, NumericBins

__all__ = [
    "ColumnType",
    "Number",
    "categorical_code",
    "label_code",
    "number",
    "numeric_code",
    "register_functions",
    "segment_code",
]

ColumnType = Literal["number", "text", "boolean", "other", "absent"]
"""What a column holds, as far as its database says (SQLite: "number" for every column)."""

_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_LONGEST_DECIMAL = 5000
_HUGE_EXPONENT = r"[eE]\+?0*[1-9][0-9]{4,}$"
_TINY_EXPONENT = r"[eE]-0*[1-9][0-9]{4,}$"
_ZERO = r"^[+-]?0*\.?0*([eE]|$)"
# Python rounds a decimal to infinity from 2**1024 - 2**970 up, and to 0 from 2**-1075 down.
_OVERFLOW = str(2**1024 - 2**970)
_UNDERFLOW = "0." + str(5**1075).rjust(1075, "0")


@dataclass(frozen=True)
class Number:
    """A cell read as a number: `value` (a double, NULL when missing or unreadable) and `bad`
    (true when the cell is present but unreadable)."""

    value: Any
    bad: Any


def register_functions(dbapi_connection: Any, _record: Any = None) -> None:
    """On a new SQLite connection: the SQL functions that read text cells by the in-memory rule."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("handoff_number", 1, _sql_number, deterministic=True)
        dbapi_connection.create_function(
            "handoff_unreadable", 1, _sql_unreadable, deterministic=True
        )


def _sql_number(cell: object) -> float | None:
    return number_of(cell) if isinstance(cell, str) else None


def _sql_unreadable(cell: object) -> int:
    return int(isinstance(cell, str) and number_of(cell) is None)


def number(x: Any, *, dialect: str, kind: ColumnType) -> Number:
    """Column `x` read as a number on `dialect`, given what its database says it holds."""
    if kind == "absent":
        return Number(sa.null(), sa.false())
    if dialect == "sqlite":
        typed = sa.func.typeof(x)
        value = sa.case(
            (typed.in_(("integer", "real")), x),
            (typed == "text", sa.func.handoff_number(x)),
            else_=sa.null(),
        )
        bad = sa.or_(typed == "blob", sa.and_(typed == "text", sa.func.handoff_unreadable(x) == 1))
        return Number(value, bad)
    if dialect == "postgresql":
        return _postgres(x, kind)
    if dialect == "duckdb":
        return _duckdb(x, kind)
    return Number(sa.case((x == x, x), else_=sa.null()), sa.false())  # noqa: PLR0124


def _postgres(x: Any, kind: ColumnType) -> Number:
    if kind == "number":
        return Number(sa.func.nullif(x, _float("NaN")), sa.false())
    if kind == "boolean":
        return Number(sa.case((x.is_(True), 1.0), (x.is_(False), 0.0), else_=sa.null()), sa.false())
    if kind != "text":
        return Number(sa.null(), x.is_not(None))
    text = sa.func.btrim(sa.cast(x, sa.Text), sa.literal(SPACE))

    def matches(pattern: str, *, case: bool = True) -> Any:
        return text.op("~" if case else "~*")(sa.literal(pattern))

    positive, negative = (
        matches(r"^\+?inf(inity)?$", case=False),
        matches("^-inf(inity)?$", case=False),
    )
    decimal = sa.and_(matches(_DECIMAL), sa.func.length(text) <= _LONGEST_DECIMAL)
    exact = sa.cast(text, sa.Numeric)
    value = sa.case(
        (positive, _float("Infinity")),
        (negative, _float("-Infinity")),
        (
            decimal,
            sa.case(
                (sa.or_(matches(_ZERO), matches(_TINY_EXPONENT)), _float("0")),
                (matches(_HUGE_EXPONENT), _infinity(matches("^-"))),
                (sa.func.abs(exact) >= sa.cast(sa.literal(_OVERFLOW), sa.Numeric), _sign(exact)),
                (sa.func.abs(exact) <= sa.cast(sa.literal(_UNDERFLOW), sa.Numeric), _float("0")),
                else_=sa.cast(exact, sa.Float),
            ),
        ),
        else_=sa.null(),
    )
    readable = sa.or_(matches("^[+-]?nan$", case=False), positive, negative, decimal)
    return Number(value, sa.and_(x.is_not(None), sa.not_(readable)))


def _duckdb(x: Any, kind: ColumnType) -> Number:
    """DuckDB types columns as PostgreSQL does; its cast of text to DOUBLE rounds as Python does
    (and past the largest double to ±infinity), so a text cell matching the rule's pattern is
    cast as it is. NaN equals NaN in DuckDB, so NULLIF makes it missing."""
    nan: Any = sa.cast(sa.literal("NaN"), sa.Double())
    if kind == "number":
        return Number(sa.func.nullif(sa.cast(x, sa.Double()), nan), sa.false())
    if kind == "boolean":
        return Number(sa.case((x.is_(True), 1.0), (x.is_(False), 0.0), else_=sa.null()), sa.false())
    if kind != "text":
        return Number(sa.null(), x.is_not(None))
    text = sa.func.trim(sa.cast(x, sa.String), sa.literal(SPACE))
    readable = sa.func.regexp_matches(text, sa.literal(NUMBER), sa.literal("i"))
    value = sa.case((readable, sa.func.nullif(sa.cast(text, sa.Double()), nan)), else_=sa.null())
    return Number(value, sa.and_(x.is_not(None), sa.not_(readable)))


def _float(text: str) -> Any:
    return sa.cast(sa.literal(text), sa.Float)


def _infinity(negative: Any) -> Any:
    return sa.case((negative, _float("-Infinity")), else_=_float("Infinity"))


def _sign(exact: Any) -> Any:
    return _infinity(exact < 0)


def numeric_code(n: Number, bins: NumericBins) -> Any:
    """Bin = number of edges <= the value; missing or unreadable -> the missing bin (last)."""
    edges = [float(e) for e in bins.edges]
    whens = [(n.value.is_(None), bins.missing_index)]
    whens += [(n.value < sa.literal(edge, sa.Float), i) for i, edge in enumerate(edges)]
    return sa.case(*whens, else_=len(edges))


def categorical_code(x: Any, bins: CategoricalBins) -> Any:
    """Known categories in order, then other (reference, not top K), unseen, missing."""
    text = sa.cast(x, sa.String)
    whens: list[tuple[Any, int]] = [(x.is_(None), bins.missing_index)]
    whens += [(text == category, i) for i, category in enumerate(bins.categories)]
    rest = sorted(bins.reference - set(bins.categories))
    if rest:
        whens.append((text.in_(rest), bins.other_index))
    return sa.case(*whens, else_=bins.unseen_index)


def segment_code(x: Any, bins: CategoricalBins) -> Any:
    """Segment index: top values, then other (unseen pooled in), then missing."""
    text = sa.cast(x, sa.String)
    k = len(bins.categories)
    whens: list[tuple[Any, int]] = [(x.is_(None), k + 1)]
    whens += [(text == category, i) for i, category in enumerate(bins.categories)]
    return sa.case(*whens, else_=k)


def label_code(y: Number) -> Any:
    """0 for label 0, 1 for label 1, 2 for anything else (missing, unreadable, not 0/1)."""
    return sa.case((y.value == 0, 0), (y.value == 1, 1), else_=2)
