"""The sql source: a `table` or a `query` (with `:start`/`:end`) in any SQLAlchemy database, read
in streamed batches, or profiled *inside* the database (`profile`: GROUP BY over the baseline's
bins, so only counts travel). With pushdown.py, the only modules of jobs.sources importing
sqlalchemy (Core only).

Timestamps are compared as naive UTC (PostgreSQL sessions are set to UTC, so ``timestamptz``
columns compare correctly too). On SQLite, store them as SQLAlchemy's DateTime does
(``YYYY-MM-DD HH:MM:SS[.ffffff]``) so that the database compares them as times. The URL comes from
`environ[url_env]`; driver messages are scrubbed of its password and query-string values
(`jobs.sources.secrets`) before they reach a SourceError. The source was asked for the window, so
a row with a bad timestamp is rejected (``bad_timestamp``; a `table` never selects NULL ones).
The pushdown reads numbers by the rule of `jobs.sources.cells` (see `jobs.sources.pushdown`), and
counts what `batches` counts: rejections, unreadable cells, type changes, missing columns (when the
window has rows) and duplicate rows (exactly, with one more DISTINCT over the window's rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, NoSuchTableError, SQLAlchemyError

from jobs.errors import SourceError
from jobs.sources.base import (
    DEFAULT_BATCH_ROWS,
    Batch,
    ColumnKind,
    ReadReport,
    SchemaKind,
    Window,
)
from jobs.sources.counts import OVERALL, ProfileCounts, assemble
from jobs.sources.pushdown import (
    ColumnType,
    Number,
    categorical_code,
    label_code,
    number,
    numeric_code,
    register_functions,
    segment_code,
)
from jobs.sources.rows import Request, shape
from jobs.sources.secrets import scrub, url_secrets
from jobs.stats import Bins, Profile

__all__ = ["SqlSource"]

_EPOCH = datetime(1970, 1, 1)
_FAR_FUTURE = datetime(9999, 12, 31)
_PROBE_ROWS = 1000
# PostgreSQL type oids, for the columns of a query (a table's come from reflection).
_PG_TYPES: dict[int, ColumnType] = {
    **dict.fromkeys((20, 21, 23, 26, 700, 701, 1700), "number"),
    **dict.fromkeys((19, 25, 1042, 1043), "text"),
    16: "boolean",
}


class SqlSource:
    """Rows of `table` or of `query` in the database at `environ[url_env]`."""

    def __init__(
        self,
        *,
        url_env: str,
        environ: Mapping[str, str],
        table: str | None = None,
        query: str | None = None,
    ) -> None:
        if (table is None) == (query is None):
            raise SourceError(f"sql ${url_env}", "give exactly one of table or query")
        self.url_env, self.table, self.query = url_env, table, query
        if url_env not in environ:
            raise SourceError(self.describe(), f"environment variable {url_env} is not set")
        raw = environ[url_env]
        self._secrets: list[str | None] = [raw, *url_secrets(raw)]
        try:
            self.url = sa.make_url(raw)
            self._secrets += [self.url.password, *_query_values(self.url)]
            self.engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        except (ArgumentError, ValueError, ImportError) as error:
            reason = scrub(f"{url_env} is not a usable URL: {error}", self._secrets)
            raise SourceError(self.describe(), reason) from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", register_functions)

    def describe(self) -> str:
        """``sql $URL_ENV table name`` or ``sql $URL_ENV query``: never the URL itself."""
        what = f"table {self.table}" if self.table else "query"
        return f"sql ${self.url_env} {what}"

    def where(self) -> str:
        """The database, password and query-string values hidden (for logs and messages)."""
        return scrub(self.url.render_as_string(hide_password=True), self._secrets)

    def columns(self) -> dict[str, SchemaKind]:
        """Kinds from the table's types, or from the first non-NULL value of a query's rows."""
        with self._connect() as connection:
            if self.table is not None:
                table = self._reflect(connection)
                return {column.name: _kind_of_type(column.type) for column in table.columns}
            rows = connection.execute(
                sa.select(sa.text("*")).select_from(self._source(None)).limit(_PROBE_ROWS),
                _params(_EPOCH, _FAR_FUTURE),
            )
            names, values = list(rows.keys()), rows.all()
        kinds: dict[str, SchemaKind] = {}
        for i, name in enumerate(names):
            seen = next((row[i] for row in values if row[i] is not None), None)
            kinds[name] = _kind_of_value(seen)
        return kinds

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
        """The window's rows, streamed `batch_rows` at a time; a table is filtered to the window
        in the database, a query is trusted to be (its rows outside it are rejected)."""
        window = Window.of(start, end)
        request = Request(window, dict(columns), timestamp, score, label, outside_rejected=True)
        with self._connect() as connection:
            names = self._names(connection)
            present = [name for name in request.names if name in names]
            if not present:  # nothing to read: the table or query has none of the columns
                for name in request.names:
                    report.note_missing(name)
                return
            source = self._source(names)
            statement = sa.select(*(source.c[name] for name in present))
            if self.table is not None:
                stamp = source.c[timestamp]
                statement = statement.where(
                    stamp >= sa.bindparam("start"), stamp < sa.bindparam("end")
                )
            result = connection.execution_options(yield_per=batch_rows).execute(
                statement, _params(start, end)
            )
            for rows in result.partitions():
                raw = {
                    name: np.fromiter((row[i] for row in rows), dtype=object, count=len(rows))
                    for i, name in enumerate(present)
                }
                batch = shape(raw, len(rows), request, report)
                if batch is not None:
                    yield batch
        report.finish(request.numeric_columns)

    def profile(
        self, *, start: datetime, end: datetime, bins: Bins, timestamp: str, report: ReadReport
    ) -> Profile:
        """The window's profile over `bins`, counted by the database (see `profile_counts`)."""
        return self.profile_counts(
            start=start, end=end, bins=bins, timestamp=timestamp, report=report
        ).to_profile(bins)

    def profile_counts(
        self, *, start: datetime, end: datetime, bins: Bins, timestamp: str, report: ReadReport
    ) -> ProfileCounts:
        """Counts of the window over `bins`, computed with GROUP BY inside the database.

        The rows counted are those `batches` would yield, with the same rejections, unreadable
        cells, missing columns and duplicate rows counted in `report`, so the result equals
        profiling the batches in memory. Three statements: the verdict per row (with unreadable
        cells counted), then a CTE that codes every kept row (a CASE per column over the bins) and
        a UNION ALL of GROUP BYs that counts each column, overall and per segment value; then a
        DISTINCT over the kept rows for the duplicates.
        """
        with self._connect() as connection:
            types = self._types(connection)
            rows_of = self.window_rows(connection, types, timestamp, bins.score_column)
            col, num, stamp, score = rows_of.col, rows_of.num, rows_of.stamp, rows_of.score
            source, verdict, window, kept = (
                rows_of.source,
                rows_of.verdict,
                rows_of.window,
                rows_of.kept,
            )
            label = bins.label_column
            params = _params(start, end)
            read_before, kept_before = report.rows_read, report.rows_kept
            numbers = {name: num(name) for name in [*bins.numeric, *([label] if label else [])]}
            self._count_verdicts(
                connection,
                source=source,
                verdict=verdict,
                window=window,
                numbers=numbers,
                params=params,
                report=report,
            )
            if report.rows_read > read_before:
                wanted = [timestamp, *bins.features, bins.score_column, *bins.segments]
                for name in dict.fromkeys([*wanted, *([label] if label else [])]):
                    if name not in types:
                        report.note_missing(name)
            codes = [
                *(numeric_code(numbers[f], b) for f, b in bins.numeric.items()),
                *(categorical_code(col(f), b) for f, b in bins.categorical.items()),
                numeric_code(score, bins.score) * 3 + label_code(num(label)),
            ]
            segments = [segment_code(col(s), b) for s, b in bins.segments.items()]
            labelled = kept.add_columns(
                *(c.label(f"c{i}") for i, c in enumerate(codes)),
                *(s.label(f"s{j}") for j, s in enumerate(segments)),
            )
            if connection.dialect.name in _GROUPING_SETS:
                rows = _grouping_sets(connection, labelled, len(codes), len(segments), params)
            else:
                rows = _union_of_group_bys(connection, labelled, len(codes), len(segments), params)
            kept_rows = report.rows_kept - kept_before
            if kept_rows:
                texts = dict.fromkeys([*bins.categorical, *bins.segments])
                values = [stamp, score.value, *(n.value for n in numbers.values())]
                values += [col(name) for name in texts]
                distinct = kept.add_columns(*(v.label(f"v{i}") for i, v in enumerate(values)))
                counted = sa.select(sa.func.count()).select_from(distinct.distinct().subquery())
                found = int(connection.execute(counted, params).scalar() or 0)
        report.finish(list(numbers))
        if kept_rows:
            report.duplicate_rows += kept_rows - found
        return assemble(bins, [tuple(int(v) for v in row) for row in rows])

    def window_rows(
        self, connection: sa.Connection, types: dict[str, ColumnType], timestamp: str, score: str
    ) -> WindowRows:
        """The SQL of the window's rows: each row's verdict, and a SELECT of the kept ones (the
        rows `batches` would yield), with `:start` and `:end` to bind (`bounds`)."""
        source = self._source(list(types))
        dialect = connection.dialect.name

        def col(name: str) -> Any:
            return source.c[name] if name in types else sa.null()

        def num(name: str | None) -> Number:
            kind = types.get(name, "absent") if name else "absent"
            return number(col(name) if name else sa.null(), dialect=dialect, kind=kind)

        stamp, scored = col(timestamp), num(score)
        start_at: Any = sa.bindparam("start")
        end_at: Any = sa.bindparam("end")
        window = (stamp >= start_at, stamp < end_at)
        verdict = sa.case(
            (stamp.is_(None), sa.literal("bad_timestamp")),
            (sa.or_(stamp < start_at, stamp >= end_at), "outside_window"),
            (scored.bad, f"wrong_type:{score}"),
            (scored.value.is_(None), "nan_score"),
            (sa.or_(scored.value < 0.0, scored.value > 1.0), "score_out_of_range"),
            else_=sa.literal("ok"),
        )
        kept = self._where(sa.select(), window).select_from(source).where(verdict == "ok")
        return WindowRows(source, col, num, stamp, scored, verdict, window, kept)

    def connect(self) -> Any:
        """A connection to the database (a context manager; errors become SourceErrors)."""
        return self._connect()

    def column_types(self, connection: sa.Connection) -> dict[str, ColumnType]:
        """Each column and what it holds (see `jobs.sources.pushdown.ColumnType`)."""
        return self._types(connection)

    def _where(self, statement: Any, window: tuple[Any, Any]) -> Any:
        """`statement` filtered to the window in the database, for a table (a query filters)."""
        return statement.where(*window) if self.table is not None else statement

    def _count_verdicts(
        self,
        connection: sa.Connection,
        *,
        source: Any,
        verdict: Any,
        window: tuple[Any, Any],
        numbers: dict[str, Number],
        params: dict[str, datetime],
        report: ReadReport,
    ) -> None:
        """Count rows kept and rejected by reason, and the unreadable cells of the kept rows."""
        status = verdict.label("status")
        tallies: list[Any] = []
        for n in numbers.values():
            tallies.append(sa.func.sum(sa.case((n.bad, 1), else_=0)))
            present = sa.or_(n.value.is_not(None), n.bad)
            tallies.append(sa.func.sum(sa.case((present, 1), else_=0)))
        statement = sa.select(status, sa.func.count(), *tallies).select_from(source)
        statement = self._where(statement, window).group_by(status)
        for reason, rows, *cells in connection.execute(statement, params).all():
            if reason != "ok":
                report.reject(str(reason), int(rows))
                continue
            report.keep(int(rows))
            for k, name in enumerate(numbers):
                bad, seen = int(cells[2 * k] or 0), int(cells[2 * k + 1] or 0)
                report.note_cells(name, seen=seen, bad=bad)

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SET TIME ZONE 'UTC'"))
                yield connection
        except SQLAlchemyError as error:
            detail = str(getattr(error, "orig", None) or error).splitlines()[0]
            reason = scrub(f"{type(error).__name__}: {detail}", self._secrets)
            raise SourceError(self.describe(), reason) from None

    def _reflect(self, connection: sa.Connection) -> sa.Table:
        assert self.table is not None
        schema, _, name = self.table.rpartition(".")
        if connection.dialect.name == "duckdb":
            return _described(connection, name, schema or None)
        return sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=connection)

    def _names(self, connection: sa.Connection) -> list[str]:
        if self.table is not None:
            return [column.name for column in self._reflect(connection).columns]
        probe = sa.select(sa.text("*")).select_from(self._source(None)).limit(0)
        return list(connection.execute(probe, _params(_EPOCH, _EPOCH)).keys())

    def _source(self, names: Sequence[str] | None) -> Any:
        """A FROM clause: the table, or the query as a subquery (with its columns when known)."""
        if self.table is not None:
            schema, _, name = self.table.rpartition(".")
            return sa.table(name, *(sa.column(n) for n in names or ()), schema=schema or None)
        assert self.query is not None
        query = sa.text(self.query).bindparams(
            sa.bindparam("start", type_=sa.DateTime()), sa.bindparam("end", type_=sa.DateTime())
        )
        return query.columns(*(sa.column(n) for n in names or ())).subquery("q")

    def _types(self, connection: sa.Connection) -> dict[str, ColumnType]:
        """Each column and what it holds: from reflection (a table) or the cursor (a query)."""
        if self.table is not None:
            table = self._reflect(connection)
            return {column.name: _column_type(column.type) for column in table.columns}
        probe = sa.select(sa.text("*")).select_from(self._source(None)).limit(0)
        result = connection.execute(probe, _params(_EPOCH, _EPOCH))
        names = list(result.keys())
        if connection.dialect.name == "duckdb":  # the cursor names each column's DuckDB type
            kinds = [str(d[1]) for d in result.cursor.description or ()]
            return {n: _column_type(_sql_type(k)) for n, k in zip(names, kinds, strict=False)}
        if connection.dialect.name != "postgresql":
            return dict.fromkeys(names, "number")
        oids = [int(getattr(d, "type_code", 0)) for d in result.cursor.description or ()]
        return {name: _PG_TYPES.get(oid, "other") for name, oid in zip(names, oids, strict=False)}


_GROUPING_SETS = frozenset({"postgresql", "duckdb"})
"""Databases that count every column (and every segment's) in one scan with GROUPING SETS."""


def _union_of_group_bys(
    connection: sa.Connection, labelled: Any, codes: int, segments: int, params: dict[str, Any]
) -> list[tuple[int, ...]]:
    """Counts as `assemble` takes them: a UNION ALL of one GROUP BY per column (and per column
    and segment) over the coded rows (a CTE)."""
    coded = labelled.cte("coded")
    parts = []
    for i in range(codes):
        code = coded.c[f"c{i}"]
        overall = sa.literal(OVERALL), sa.literal(0)
        parts.append(sa.select(sa.literal(i), *overall, code, sa.func.count()).group_by(code))
        for j in range(segments):
            seg = coded.c[f"s{j}"]
            parts.append(
                sa.select(sa.literal(i), sa.literal(j), seg, code, sa.func.count()).group_by(
                    seg, code
                )
            )
    return [tuple(int(v) for v in row) for row in connection.execute(sa.union_all(*parts), params)]


def _grouping_sets(
    connection: sa.Connection, labelled: Any, codes: int, segments: int, params: dict[str, Any]
) -> list[tuple[int, ...]]:
    """The same counts in one scan of the coded rows: GROUP BY GROUPING SETS ((c_i), (s_j, c_i)).
    A code is never NULL, so the columns a result row's set did not group by are the NULL ones."""
    coded = labelled.subquery("coded")
    c = [coded.c[f"c{i}"] for i in range(codes)]
    s = [coded.c[f"s{j}"] for j in range(segments)]
    sets = [sa.tuple_(ci) for ci in c] + [sa.tuple_(sj, ci) for ci in c for sj in s]
    statement = sa.select(*c, *s, sa.func.count()).group_by(sa.func.grouping_sets(*sets))
    out: list[tuple[int, ...]] = []
    for row in connection.execute(statement, params):
        i = next(k for k in range(codes) if row[k] is not None)
        j = next((k for k in range(segments) if row[codes + k] is not None), None)
        code = int(row[i])
        count = int(row[-1])
        if j is None:
            out.append((i, OVERALL, 0, code, count))
        else:
            out.append((i, j, int(row[codes + j]), code, count))
    return out


@dataclass(frozen=True)
class WindowRows:
    """`SqlSource.window_rows`: the FROM clause, a column by name (`col`) or read as a number
    (`num`), the timestamp and score, each row's verdict, the window's WHERE, and the kept rows."""

    source: Any
    col: Callable[[str], Any]
    num: Callable[[str | None], Number]
    stamp: Any
    score: Number
    verdict: Any
    window: tuple[Any, Any]
    kept: Any


def bounds(start: datetime, end: datetime) -> dict[str, datetime]:
    """The values of `:start` and `:end` for a window (naive UTC)."""
    return _params(start, end)


def _described(connection: sa.Connection, name: str, schema: str | None) -> sa.Table:
    """A table's columns from ``information_schema`` (for DuckDB: duckdb_engine inherits
    SQLAlchemy's PostgreSQL reflection, which asks for catalogs DuckDB does not have)."""
    info = sa.table(
        "columns",
        *(sa.column(c) for c in ("table_schema", "table_name", "column_name", "data_type")),
        sa.column("ordinal_position"),
        schema="information_schema",
    )
    query = sa.select(info.c.column_name, info.c.data_type).where(info.c.table_name == name)
    if schema is not None:
        query = query.where(info.c.table_schema == schema)
    found = connection.execute(query.order_by(info.c.ordinal_position)).all()
    if not found:
        raise NoSuchTableError(name)
    columns = [sa.Column(column, _sql_type(kind)) for column, kind in found]
    return sa.Table(name, sa.MetaData(), *columns, schema=schema)


def _sql_type(name: str) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy type of a SQL type's name (as information_schema spells it)."""
    upper = name.upper()
    if upper.startswith("BOOL"):
        return sa.Boolean()
    if "INT" in upper:
        return sa.Integer()
    if upper.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return sa.Float()
    if upper.startswith(("TIMESTAMP", "DATE")):
        return sa.DateTime()
    if upper.startswith(("VARCHAR", "TEXT", "STRING", "CHAR")):
        return sa.String()
    return sa.types.NullType()


def _params(start: datetime, end: datetime) -> dict[str, datetime]:
    """Window bounds as naive UTC datetimes."""
    return {"start": _naive_utc(start), "end": _naive_utc(end)}


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _query_values(url: sa.URL) -> list[str]:
    """The values of a URL's query string (sslpassword=..., options=...): secrets to scrub."""
    values = url.query.values()
    return [v for value in values for v in ((value,) if isinstance(value, str) else value)]


def _column_type(kind: sa.types.TypeEngine[Any]) -> ColumnType:
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
        return "number"
    if isinstance(kind, sa.String):
        return "text"
    return "other"


def _kind_of_type(kind: sa.types.TypeEngine[Any]) -> SchemaKind:
    if isinstance(kind, sa.Boolean):
        return "categorical"
    if isinstance(kind, sa.Integer | sa.Numeric | sa.Float):
        return "numeric"
    if isinstance(kind, sa.DateTime | sa.Date):
        return "timestamp"
    return "categorical"


def _kind_of_value(value: object) -> SchemaKind:
    if isinstance(value, bool) or value is None:
        return "categorical"
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return "numeric"
    if isinstance(value, datetime | date):
        return "timestamp"
    if isinstance(value, str) and len(value) >= 10:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "categorical"
        return "timestamp"
    return "categorical"
