"""The sql source: a `table` or a `query` (with `:start`/`:end`) in any SQLAlchemy database, read
in streamed batches, or profiled *inside* the database (`profile`: GROUP BY over the baseline's
bins, so only counts travel). The only module of jobs.sources importing sqlalchemy (Core only).

Timestamps are compared as naive UTC (PostgreSQL sessions are set to UTC, so ``timestamptz``
columns compare correctly too). On SQLite, store them as SQLAlchemy's DateTime does
(``YYYY-MM-DD HH:MM:SS[.ffffff]``) so that the database compares them as times. The URL comes from
`environ[url_env]` and never appears in messages with its password.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

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
from jobs.sources.rows import Request, shape
from jobs.stats import Bins, CategoricalBins, NumericBins, Profile

__all__ = ["SqlSource"]

_EPOCH = datetime(1970, 1, 1)
_FAR_FUTURE = datetime(9999, 12, 31)
_PROBE_ROWS = 1000


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
        try:
            self.url = sa.make_url(environ[url_env])
            self.engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        except (ArgumentError, ValueError, ImportError) as error:
            raise SourceError(self.describe(), f"{url_env} is not a usable URL: {error}") from error

    def describe(self) -> str:
        what = f"table {self.table}" if self.table else "query"
        return f"sql ${self.url_env} {what}"

    def where(self) -> str:
        """The database, password hidden (for logs and messages)."""
        return self.url.render_as_string(hide_password=True)

    def columns(self) -> dict[str, SchemaKind]:
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
        window = Window.of(start, end)
        request = Request(window, dict(columns), timestamp, score, label, outside_rejected=True)
        with self._connect() as connection:
            names = self._names(connection)
            present = [name for name in request.names if name in names]
            for name in request.names:
                if name not in names:
                    report.note_missing(name)
            if not present:
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

        The rows counted are those `batches` would yield (same rejections, counted in `report`), so
        the result equals profiling the batches in memory. One statement: a CTE codes every row
        (a CASE per column over the bins), then a UNION ALL of GROUP BYs counts each column, overall
        and per segment value.
        """
        with self._connect() as connection:
            names = self._names(connection)
            wanted = [timestamp, *bins.features, bins.score_column, *bins.segments]
            wanted += [bins.label_column] if bins.label_column else []
            for name in dict.fromkeys(wanted):
                if name not in names:
                    report.note_missing(name)
            source = self._source(names)

            def col(name: str) -> sa.ColumnElement[Any]:
                return source.c[name] if name in names else sa.null()

            stamp, score = col(timestamp), col(bins.score_column)
            nan = _nan_test(connection.dialect.name)
            start_at: Any = sa.bindparam("start")
            end_at: Any = sa.bindparam("end")
            verdict = sa.case(
                (stamp.is_(None), sa.literal("bad_timestamp")),
                (sa.or_(stamp < start_at, stamp >= end_at), "outside_window"),
                (sa.or_(score.is_(None), nan(score)), "nan_score"),
                (sa.or_(score < 0.0, score > 1.0), "score_out_of_range"),
                else_=sa.literal("ok"),
            )
            status = verdict.label("status")
            checked = sa.select(status, sa.func.count()).select_from(source).group_by(status)
            if self.table is not None:
                checked = checked.where(stamp >= start_at, stamp < end_at)
            params = _params(start, end)
            for reason, n in connection.execute(checked, params).all():
                if reason == "ok":
                    report.keep(int(n))
                else:
                    report.reject(str(reason), int(n))
            label = bins.label_column
            boolean = label is not None and label in names and self._boolean(connection, label)
            codes = [
                *(_numeric_code(col(f), b, nan) for f, b in bins.numeric.items()),
                *(_categorical_code(col(f), b) for f, b in bins.categorical.items()),
                _numeric_code(score, bins.score, nan) * 3
                + _label_code(col(label) if label else sa.null(), boolean),
            ]
            segments = [_segment_code(col(s), b) for s, b in bins.segments.items()]
            coded = (
                sa.select(
                    *(c.label(f"c{i}") for i, c in enumerate(codes)),
                    *(s.label(f"s{j}") for j, s in enumerate(segments)),
                )
                .select_from(source)
                .where(verdict == "ok")
                .cte("coded")
            )
            parts = []
            for i in range(len(codes)):
                code = coded.c[f"c{i}"]
                overall = sa.literal(OVERALL), sa.literal(0)
                parts.append(
                    sa.select(sa.literal(i), *overall, code, sa.func.count()).group_by(code)
                )
                for j in range(len(segments)):
                    seg = coded.c[f"s{j}"]
                    parts.append(
                        sa.select(
                            sa.literal(i), sa.literal(j), seg, code, sa.func.count()
                        ).group_by(seg, code)
                    )
            rows = connection.execute(sa.union_all(*parts), params).all()
        return assemble(bins, [tuple(int(v) for v in row) for row in rows])

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SET TIME ZONE 'UTC'"))
                yield connection
        except SQLAlchemyError as error:
            detail = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise SourceError(self.describe(), f"{type(error).__name__}: {detail}") from None

    def _reflect(self, connection: sa.Connection) -> sa.Table:
        assert self.table is not None
        schema, _, name = self.table.rpartition(".")
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

    def _boolean(self, connection: sa.Connection, column: str) -> bool:
        source = self._source([column])
        probe = sa.select(source.c[column]).where(source.c[column].is_not(None)).limit(1)
        value = connection.execute(probe, _params(_EPOCH, _FAR_FUTURE)).scalar()
        return isinstance(value, bool)


def _params(start: datetime, end: datetime) -> dict[str, datetime]:
    """Window bounds as naive UTC datetimes."""
    return {"start": _naive_utc(start), "end": _naive_utc(end)}


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _nan_test(dialect: str) -> Any:
    """An expression builder testing for NaN: PostgreSQL has NaN = NaN, SQLite has no NaN."""
    if dialect == "sqlite":
        return lambda x: sa.false()
    if dialect == "postgresql":
        return lambda x: x == sa.cast(sa.literal("NaN"), sa.Float)
    return lambda x: x != x  # noqa: PLR0124 - IEEE semantics (Trino, DuckDB, ...)


def _numeric_code(x: Any, bins: NumericBins, nan: Any) -> Any:
    """Bin = number of edges <= x; NULL/NaN -> the missing bin (last)."""
    edges = [float(e) for e in bins.edges]
    whens = [(sa.or_(x.is_(None), nan(x)), bins.missing_index)]
    whens += [(x < sa.literal(edge, sa.Float), i) for i, edge in enumerate(edges)]
    return sa.case(*whens, else_=len(edges))


def _categorical_code(x: Any, bins: CategoricalBins) -> Any:
    """Known categories in order, then other (reference, not top K), unseen, missing."""
    text = sa.cast(x, sa.String)
    whens: list[tuple[Any, int]] = [(x.is_(None), bins.missing_index)]
    whens += [(text == category, i) for i, category in enumerate(bins.categories)]
    rest = sorted(bins.reference - set(bins.categories))
    if rest:
        whens.append((text.in_(rest), bins.other_index))
    return sa.case(*whens, else_=bins.unseen_index)


def _segment_code(x: Any, bins: CategoricalBins) -> Any:
    """Segment index: top values, then other (unseen pooled in), then missing."""
    text = sa.cast(x, sa.String)
    k = len(bins.categories)
    whens: list[tuple[Any, int]] = [(x.is_(None), k + 1)]
    whens += [(text == category, i) for i, category in enumerate(bins.categories)]
    return sa.case(*whens, else_=k)


def _label_code(y: Any, boolean: bool) -> Any:
    """0 for label 0, 1 for label 1, 2 for anything else (NULL, NaN, not yet known)."""
    if boolean:
        return sa.case((y.is_(True), 1), (y.is_(False), 0), else_=2)
    return sa.case((y == 0, 0), (y == 1, 1), else_=2)


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
